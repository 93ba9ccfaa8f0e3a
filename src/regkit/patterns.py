"""Tag patterns (``--match``, ``match=``, input ``match``): one set of guards for every verb.

Python's ``re`` backtracks and has no timeout, so a pattern such as ``(a+)+$`` takes
exponential time on a tag like ``aaaa...a!``, and a tag is data a registry sends. Every verb
that takes a pattern compiles it with ``compile_match`` (length cap, clean errors) and matches
with ``matching_tags`` (a time budget per call):

- On the main thread, matching runs in process under a ``SIGALRM`` timer (``re`` checks for
  signals while it backtracks), which costs microseconds.
- Off the main thread (a worker thread, an API call from a thread) no signal can reach the
  matching, so the pattern is first read (``re``'s parser, no matching): a pattern whose
  backtracking is provably small (no repetition of something that is not a fixed run of
  single characters, no backreference or look-around, at most ``SIMPLE_DEGREE`` places where
  the engine can choose, tags of at most ``SIMPLE_TAG_LENGTH`` characters) matches in
  process; any other runs in a separate Python process (``python -I -S``) that is killed when
  the budget is spent. That costs a process start (about 15 ms) for those patterns only.
"""

from __future__ import annotations

import importlib
import json
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from regkit.errors import Param, UsageError

#: Longest --match pattern accepted (a tag is at most 128 characters).
MAX_MATCH_LENGTH = 1024
#: Seconds that matching every tag of one repository may take. Past this budget the pattern is
#: refused instead of hanging the run (a normal pattern needs milliseconds for ten thousand tags).
MATCH_BUDGET = 2.0
#: Off the main thread: the most choice points (optional or variable repetitions, alternations,
#: an unanchored start) a pattern may have to be matched in process without a timer.
SIMPLE_DEGREE = 2
#: Off the main thread: tags longer than this always go to the timed matcher process.
SIMPLE_TAG_LENGTH = 256
#: Seconds a matcher process gets to start, on top of the budget.
_STARTUP_ALLOWANCE = 1.0

_FLAG = Param("match")

_WORKER = (
    "import json,re,sys\n"
    "d=json.load(sys.stdin)\n"
    "p=re.compile(d['pattern'],d['flags'])\n"
    "sys.stdout.write(json.dumps([i for i,t in enumerate(d['tags']) if p.search(t)]))\n"
)


def _shown(pattern: str, limit: int = 80) -> str:
    return repr(pattern if len(pattern) <= limit else pattern[: limit - 3] + "...")


def compile_match(pattern: str, *, what: str | Param = _FLAG) -> re.Pattern[str]:
    """``pattern`` compiled, or one ``UsageError`` line (too long, invalid, too deep, too big).
    ``what`` names where the pattern came from (``--match``, ``sops.encrypted_regex``)."""
    if len(pattern) > MAX_MATCH_LENGTH:
        raise UsageError(
            (
                "invalid ",
                what,
                f" pattern {_shown(pattern)}: longer than {MAX_MATCH_LENGTH} characters",
            )
        )
    try:
        with warnings.catch_warnings():  # "possible nested set" FutureWarnings are not errors
            warnings.simplefilter("ignore")
            return re.compile(pattern)
    except re.error as err:
        raise UsageError(("invalid ", what, f" pattern {_shown(pattern)}: {err}")) from None
    except RecursionError:
        raise UsageError(
            ("invalid ", what, f" pattern {_shown(pattern)}: nested too deeply")
        ) from None
    except (OverflowError, ValueError) as err:  # a{99999999999}: "repetition number too large"
        raise UsageError(("invalid ", what, f" pattern {_shown(pattern)}: {err}")) from None


class _MatchTimeout(Exception):
    pass


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise ``_MatchTimeout`` inside the block after ``seconds`` (SIGALRM; ``re`` checks for
    signals while it backtracks). Only on the main thread: callers check ``_on_main_thread``.
    A timer the caller had set keeps running (what is left of it is set again afterwards)."""
    if not _on_main_thread():
        yield
        return

    def expired(_signum: int, _frame: object) -> None:
        raise _MatchTimeout

    previous = signal.signal(signal.SIGALRM, expired)
    started = time.monotonic()
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
        if outer > 0:  # the caller's own alarm: what is left of it (at least a tick)
            left = max(outer - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


def _on_main_thread() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


# -- reading a pattern (no matching) ----------------------------------------------------------

_SINGLE = {"LITERAL", "NOT_LITERAL", "ANY", "IN", "CATEGORY"}
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_STARTS = {"AT_BEGINNING", "AT_BEGINNING_STRING"}


class _NotSimple(Exception):
    pass


def _fixed_run(items: Any) -> bool:
    """Every item matches exactly one character, or a fixed number of a fixed run."""
    for op, av in items:
        name = str(op)
        if name in _SINGLE:
            continue
        if name == "SUBPATTERN" and _fixed_run(av[-1]):
            continue
        if name in _REPEATS and av[0] == av[1] and _fixed_run(av[2]):
            continue
        return False
    return True


def _degree(items: Any) -> int:
    """Choice points of a parsed sequence; ``_NotSimple`` for what can backtrack without
    bound (a repetition of something that is not a fixed run, a backreference, a look-around)."""
    total = 0
    for op, av in items:
        name = str(op)
        if name in _SINGLE or name == "AT":
            continue
        if name in _REPEATS:
            low, high, body = av
            if high > 1:
                if not _fixed_run(body):
                    raise _NotSimple
                total += low != high
            else:  # ``x?``: its body, plus the choice of taking it
                total += _degree(body) + (low != high)
        elif name == "SUBPATTERN":
            total += _degree(av[-1])
        elif name == "ATOMIC_GROUP":
            total += _degree(av)
        elif name == "BRANCH":
            total += 1 + max(_degree(branch) for branch in av[1])
        else:  # GROUPREF, GROUPREF_EXISTS, ASSERT, ASSERT_NOT, anything newer
            raise _NotSimple
    return total


def is_simple(pattern: re.Pattern[str]) -> bool:
    """True when ``pattern`` cannot backtrack much on any tag of ``SIMPLE_TAG_LENGTH``
    characters: at most ``SIMPLE_DEGREE`` choice points and nothing that backtracks without
    bound. Conservative: a pattern this cannot read is not simple."""
    try:
        parser: Any = importlib.import_module("re._parser")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = parser.parse(pattern.pattern, pattern.flags)
        items = list(parsed)
        degree = _degree(items)
    except (_NotSimple, Exception):
        return False
    anchored = (
        bool(items)
        and str(items[0][0]) == "AT"
        and str(items[0][1]) in _STARTS
        and not pattern.flags & re.MULTILINE
    )
    return degree + (not anchored) <= SIMPLE_DEGREE


# -- matching ---------------------------------------------------------------------------------


def _too_slow(pattern: re.Pattern[str], count: int, budget: float, what: str | Param) -> UsageError:
    return UsageError(
        (
            what,
            f" pattern {_shown(pattern.pattern)} takes more than {budget:g} s to match "
            f"{count} {'tags' if what == _FLAG else 'names'}: it backtracks catastrophically "
            "(nested repetition such as (a+)+ or (.*)*); simplify it",
        )
    )


def _match_in_process(pattern: re.Pattern[str], names: Sequence[str]) -> frozenset[str]:
    return frozenset(tag for tag in names if pattern.search(tag))


def _match_in_child(
    pattern: re.Pattern[str], names: Sequence[str], budget: float, what: str | Param
) -> frozenset[str]:
    """Match in a separate Python process, killed after ``budget`` (plus its start)."""
    if not sys.executable:
        raise UsageError(
            (
                "cannot bound the time ",
                what,
                f" pattern {_shown(pattern.pattern)} takes off the main thread (no Python "
                "executable to run it in); simplify it or call from the main thread",
            )
        )
    request = json.dumps({"pattern": pattern.pattern, "flags": pattern.flags, "tags": names})
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _WORKER],
            input=request.encode(),
            capture_output=True,
            timeout=budget + _STARTUP_ALLOWANCE,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _too_slow(pattern, len(names), budget, what) from None
    except OSError as err:
        raise UsageError(
            (
                "cannot run a matcher process for ",
                what,
                f" pattern {_shown(pattern.pattern)}: {err.strerror or err}; simplify the "
                "pattern or call from the main thread",
            )
        ) from None
    if done.returncode != 0:
        raise UsageError(
            (
                "the matcher process for ",
                what,
                f" pattern {_shown(pattern.pattern)} failed (exit {done.returncode}); simplify "
                "the pattern or call from the main thread",
            )
        )
    return frozenset(names[i] for i in json.loads(done.stdout))


def matching_tags(
    pattern: re.Pattern[str],
    tags: Iterable[str],
    budget: float = MATCH_BUDGET,
    *,
    what: str | Param = _FLAG,
) -> frozenset[str]:
    """The tags that ``pattern`` finds (``re.search``), refused (UsageError) past ``budget``
    seconds, on any thread (see the module's docstring for how)."""
    names = list(tags)
    if not names:
        return frozenset()
    if _on_main_thread():
        try:
            with _deadline(budget):
                return _match_in_process(pattern, names)
        except _MatchTimeout:
            raise _too_slow(pattern, len(names), budget, what) from None
    if is_simple(pattern) and max(map(len, names)) <= SIMPLE_TAG_LENGTH:
        return _match_in_process(pattern, names)
    return _match_in_child(pattern, names, budget, what)


__all__ = [
    "MATCH_BUDGET",
    "MAX_MATCH_LENGTH",
    "SIMPLE_DEGREE",
    "SIMPLE_TAG_LENGTH",
    "compile_match",
    "is_simple",
    "matching_tags",
]
