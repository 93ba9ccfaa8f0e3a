"""One pattern module for every verb that takes ``--match``: prune and sync share the length
cap, the clean one-line errors and the time budget, and the budget holds off the main thread
(a worker thread, the API called from a thread), where no SIGALRM can reach the matching."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from regkit import patterns
from regkit.errors import UsageError
from regkit.ops import sync as sy
from regkit.ops.prune import plan
from tests.clirun import regkit
from tests.rig import Rig

T = TypeVar("T")
HOSTILE = "a" * 29 + "!"  # ^(a+)+$ takes about 2**29 steps on it: many seconds without a budget
NORMAL = [f"{i:07x}" for i in range(10_000)]


def _in_thread(fn: Callable[[], T]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def test_prune_and_sync_share_one_pattern_module() -> None:
    assert plan.compile_match is patterns.compile_match
    assert plan.matching_tags is patterns.matching_tags
    assert plan.MAX_MATCH_LENGTH == patterns.MAX_MATCH_LENGTH
    assert plan.MATCH_BUDGET == patterns.MATCH_BUDGET


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("a{99999999999}", "too large"),  # an OverflowError traceback in sync before
        ("(" * 500 + ")" * 500, "nested too deeply"),
        ("a" * (patterns.MAX_MATCH_LENGTH + 1), "longer than 1024 characters"),
        ("(", "missing )"),
    ],
)
def test_sync_refuses_bad_patterns_in_one_line(pattern: str, why: str) -> None:
    with pytest.raises(UsageError) as err:
        sy.compile_match(pattern)
    message = str(err.value)
    assert message.startswith("invalid --match pattern ") and why in message, message
    assert "\n" not in message and len(message) < 300


def test_sync_cli_refuses_an_overflowing_pattern_without_a_traceback() -> None:
    out = regkit("sync", "localhost:1/a", "localhost:1/b", "--match", "a{99999999999}")
    stderr = out.stderr.decode()
    assert out.returncode == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stderr.startswith("regkit: error: invalid --match pattern 'a{99999999999}'")


@pytest.mark.slow  # waits on purpose (deadlines, retries, budgets, 10,000 tags)
def test_sync_selection_has_the_budget() -> None:
    started = time.monotonic()
    with pytest.raises(UsageError, match="catastrophically"):
        sy.select_tags(["1a2b3c4", HOSTILE], sy.compile_match("^(a+)+$"))
    assert time.monotonic() - started < patterns.MATCH_BUDGET + 2


@pytest.mark.slow  # waits on purpose (deadlines, retries, budgets, 10,000 tags)
@pytest.mark.parametrize("pattern", ["^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "^(.*a){20}$"])
def test_the_budget_holds_off_the_main_thread(pattern: str) -> None:
    compiled = patterns.compile_match(pattern)
    started = time.monotonic()
    with pytest.raises(UsageError) as err:
        _in_thread(lambda: patterns.matching_tags(compiled, [*NORMAL[:100], "a" * 60 + "-"], 0.3))
    assert time.monotonic() - started < 3.0
    assert "catastrophically" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow  # waits on purpose (deadlines, retries, budgets, 10,000 tags)
def test_plan_prune_called_from_a_thread_is_refused_in_time() -> None:
    """An API user's scheduled job may plan in a worker thread."""
    from datetime import UTC, datetime, timedelta

    from regkit.timeparse import CreatedTime

    created = CreatedTime(datetime(2024, 1, 1, tzinfo=UTC))
    infos = [plan.TagInfo(HOSTILE, "sha256:" + "f" * 64, created)]
    started = time.monotonic()
    with pytest.raises(UsageError, match="catastrophically"):
        _in_thread(
            lambda: plan.plan_prune(
                infos, plan.PrunePolicy(match="^(a+)+$"), created.when + timedelta(days=1)
            )
        )
    assert time.monotonic() - started < patterns.MATCH_BUDGET + 3


@pytest.mark.parametrize(
    "pattern",
    [plan.DEFAULT_MATCH, "^v", "latest", ".*", r"^v[0-9]+\.[0-9]+\.[0-9]+$", "-rc[0-9]+$"],
)
@pytest.mark.parametrize("where", ["main", "thread"])
def test_normal_patterns_match_the_same_on_any_thread(pattern: str, where: str) -> None:
    tags = [*NORMAL, "latest", "v1.2.3", "v1.2.3-rc1", "x" * 300]
    compiled = patterns.compile_match(pattern)
    expected = frozenset(t for t in tags if compiled.search(t))
    run = lambda: patterns.matching_tags(compiled, tags)  # noqa: E731
    started = time.monotonic()
    assert (run() if where == "main" else _in_thread(run)) == expected
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("pattern", "simple"),
    [
        (plan.DEFAULT_MATCH, True),
        ("^v", True),
        (".*", True),
        ("^[0-9a-f]{40}$", True),
        ("^(?:ab){3}-[0-9]+$", True),
        ("^(a+)+$", False),
        ("^(a|a)*$", False),
        ("^(.*a){20}$", False),
        ("(a)\\1", False),
        ("(?=a+)a", False),
        ("a?" * 30 + "a" * 30, False),
        (".*a.*b", False),
    ],
)
def test_what_counts_as_simple(pattern: str, simple: bool) -> None:
    assert patterns.is_simple(patterns.compile_match(pattern)) is simple


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no interval timers")
def test_the_budget_keeps_the_callers_own_alarm() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, _frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        assert patterns.matching_tags(patterns.compile_match("^v"), ["v1", "x"]) == {"v1"}
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0  # still set
        time.sleep(0.8)
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_the_budget_is_cheap_on_and_off_the_main_thread() -> None:
    """10,000 tags, the default pattern and a version pattern (a timed matcher process off the
    main thread): milliseconds, not seconds."""
    for pattern in (plan.DEFAULT_MATCH, r"^v[0-9]+\.[0-9]+\.[0-9]+$"):
        compiled = patterns.compile_match(pattern)
        for runner in (lambda f: f(), _in_thread):
            started = time.monotonic()
            runner(lambda c=compiled: patterns.matching_tags(c, NORMAL))
            assert time.monotonic() - started < 0.5


def test_catastrophic_sync_match_on_the_command_line_fails_fast(
    rig_basic: Rig, repo_prefix: str
) -> None:
    rig_basic.ensure_running()
    src = f"{repo_prefix}/src"
    rig_basic.pusher().push_image(src, ["a" * 60 + "-", "aaaaaaa"], "oci")
    started = time.monotonic()
    out = regkit(
        "sync",
        rig_basic.ref(src),
        rig_basic.ref(f"{repo_prefix}/dst"),
        "--match",
        "^(a+)+$",
        "--dry-run",
        env=rig_basic.env(),
        timeout=90,
    )
    assert time.monotonic() - started < 30
    stderr = out.stderr.decode()
    assert out.returncode == 2, stderr
    assert out.stdout == b""
    assert stderr.count("\n") == 1 and "catastrophically" in stderr
