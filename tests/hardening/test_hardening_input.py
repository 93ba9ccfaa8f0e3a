"""Hostile input: every bad value is a ``RegkitError`` with a useful one-line message, quickly;
never a traceback, a hang or a MemoryError. And data never becomes a workflow command.

- the duration parser (``--older-than``, input ``older-than``);
- ``--match`` patterns: invalid ones, and ones that backtrack catastrophically (Python's ``re``
  has no timeout: regkit gives matching a time budget);
- the SOPS parser on malformed ``ENC[...]`` values, bad base64, wrong types, truncated and huge
  files, deep nesting and billion-laughs YAML aliases;
- the action input readers, through ``regkit action promote|prune|login`` with inputs that
  carry shell and workflow-command syntax, read by a model of the runner's command parser.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import warnings
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from regkit import actions
from regkit.errors import UsageError
from regkit.ops.prune.plan import (
    MAX_MATCH_LENGTH,
    PrunePolicy,
    TagInfo,
    compile_match,
    matching_tags,
    plan_prune,
)
from regkit.sops import SopsError, decrypt_file, decrypt_text, load_identities
from regkit.timeparse import CreatedTime, format_duration, parse_duration
from tests.clirun import regkit
from tests.rig import Rig
from tests.sops_helpers import encrypt, new_age_key

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _one_line(err: BaseException) -> str:
    message = str(err)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    return message


# -- durations -----------------------------------------------------------------------------


@FAST
@given(st.text(max_size=40))
def test_any_duration_text_parses_or_is_a_usage_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except UsageError as err:
        assert "duration" in _one_line(err)
        return
    assert timedelta(0) <= value <= timedelta(days=100 * 366)
    assert parse_duration(format_duration(value)) == value or value == timedelta(0)


@FAST
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=10**15), st.sampled_from("wdhms")),
        min_size=1,
        max_size=5,
    )
)
def test_huge_numbers_in_durations_are_refused_not_overflowed(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    try:
        parse_duration(text)
    except UsageError as err:
        _one_line(err)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("99999999999999w", "longer than 100 years"),
        ("1" * 5000 + "d", "longer than 100 years"),  # int() refuses 4300+ digits
        ("\u0663d", ""),  # Arabic-Indic three: only ASCII digits are numbers here
        ("30d; rm -rf /", ""),
        ("1d\n::set-output name=x::y", ""),
        ("1d12h2d", "largest first"),
    ],
)
def test_bad_durations_name_the_problem(text: str, why: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_duration(text)
    message = _one_line(err.value)
    assert message.startswith("invalid duration ")
    assert why in message
    assert len(message) < 300  # a 5000-digit input is shortened in the message


# -- --match patterns ------------------------------------------------------------------------

TAGS = [f"{i:07x}" for i in range(50)] + ["latest", "v1.2.3", "a" * 40 + "-", "x" * 128]


@FAST
@given(st.text(max_size=30))
def test_any_match_pattern_compiles_or_is_a_usage_error(pattern: str) -> None:
    try:
        compiled = compile_match(pattern)
    except UsageError as err:
        assert "--match" in _one_line(err)
        return
    matching_tags(compiled, TAGS, budget=1.0)  # a short random pattern matches at once


@pytest.mark.parametrize(
    "pattern",
    [
        "(" * 1000 + ")" * 1000,  # RecursionError inside re
        "a{99999999999}",  # OverflowError inside re
        "[z-a]",
        "a" * (MAX_MATCH_LENGTH + 1),
        "(?P<x>a)(?P<x>b)",
        "\\",
    ],
)
def test_invalid_match_patterns_are_one_usage_error(pattern: str) -> None:
    with pytest.raises(UsageError) as err:
        PrunePolicy(match=pattern)
    message = _one_line(err.value)
    assert message.startswith("invalid --match pattern ")
    assert len(message) < 300


def test_a_pattern_that_draws_a_future_warning_compiles_quietly() -> None:
    """POSIX-looking classes make re warn ("possible nested set"): not the user's problem."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compile_match("[[:alpha:]]").search("a]")


@pytest.mark.parametrize("pattern", ["^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "^(.*a){20}$"])
def test_catastrophic_patterns_are_refused_within_the_budget(pattern: str) -> None:
    tags = [f"{i:07x}" for i in range(100)] + ["a" * 60 + "-"]
    started = time.monotonic()
    with pytest.raises(UsageError) as err:
        matching_tags(compile_match(pattern), tags, budget=0.3)
    assert time.monotonic() - started < 2.0
    assert "catastrophically" in _one_line(err.value)


@pytest.mark.slow  # waits on purpose (deadlines, retries, budgets, 10,000 tags)
def test_the_planner_applies_the_budget() -> None:
    """plan_prune is where the pattern meets the tags; a normal pattern over 10,000 tags is far
    inside the budget, a catastrophic one is refused (with the default budget)."""
    created = CreatedTime(datetime(2024, 1, 1, tzinfo=UTC))
    now = created.when + timedelta(days=1)
    infos = [TagInfo(f"{i:07x}", f"sha256:{i:064x}", created) for i in range(10_000)]
    started = time.monotonic()
    plan = plan_prune(infos, PrunePolicy(keep=10), now)
    assert time.monotonic() - started < 5
    assert len(plan.removed) == 9_990
    hostile = [*infos[:10], TagInfo("a" * 60 + "-", "sha256:" + "f" * 64, created)]
    started = time.monotonic()
    with pytest.raises(UsageError):
        plan_prune(hostile, PrunePolicy(match="^(a+)+$"), now)
    assert time.monotonic() - started < 10


def test_catastrophic_match_on_the_command_line_fails_fast(
    rig_basic: Rig, repo_prefix: str
) -> None:
    rig_basic.ensure_running()
    repo = f"{repo_prefix}/app"
    rig_basic.pusher().push_image(repo, ["a" * 60 + "-", "aaaaaaa"], "oci")
    env = {
        "REGISTRY_USERNAME": rig_basic.username,
        "REGISTRY_PASSWORD": rig_basic.password,
        "DOCKER_CONFIG": "/nonexistent",
    }
    started = time.monotonic()
    out = regkit("prune", f"{rig_basic.host}/{repo}", "--match", "^(a+)+$", "--dry-run", env=env)
    assert time.monotonic() - started < 30
    stderr = out.stderr.decode()
    assert out.returncode == 2, stderr
    assert out.stdout == b""
    assert stderr.count("\n") == 1 and "catastrophically" in stderr
    assert set(rig_basic.pusher().tags(repo)) == {"a" * 60 + "-", "aaaaaaa"}


# -- the SOPS parser -------------------------------------------------------------------------

KEY = new_age_key()
IDS = load_identities({"SOPS_AGE_KEY": KEY.identity, "HOME": "/nonexistent"})
PLAIN = """\
registry_username: ci-bot
registry_password: hunter2-but-longer
registry_domain: registry.example.test
nested:
    list: [1, two, 3.5, true]
    deeper: {a: b}
"""


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("sops-hostile")
    yaml_path = encrypt(base, PLAIN, "secrets.yaml", recipients=[KEY.recipient])
    json_text = json.dumps({"user": "ci-bot", "password": "hunter2-but-longer", "n": [1, 2]})
    json_path = encrypt(base, json_text, "secrets.json", recipients=[KEY.recipient])
    return {"yaml": yaml_path.read_text(), "json": json_path.read_text()}


def _decrypts_or_refuses(path: Path, started: float | None = None) -> None:
    """The one acceptable outcome of a hostile file: a document or a SopsError, fast."""
    started = started or time.monotonic()
    try:
        decrypt_file(path, IDS)
    except SopsError as err:
        message = _one_line(err)
        assert "hunter2" not in message and KEY.identity not in message
    assert time.monotonic() - started < 10


ENC_RE = re.compile(r"ENC\[[^\]]*\]")

_fields = st.sampled_from(["data", "iv", "tag", "type"])
_junk = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@FAST
@given(st.data())
def test_mutated_enc_values_are_refused(
    encrypted: dict[str, str], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    fmt = data.draw(st.sampled_from(["yaml", "json"]))
    text = encrypted[fmt]
    values = ENC_RE.findall(text)
    target = data.draw(st.sampled_from(values))
    how = data.draw(st.sampled_from(["field", "replace", "cut", "base64"]))
    if how == "field":  # one field's content replaced by junk
        name = data.draw(_fields)
        junk = data.draw(_junk).replace(",", "").replace("]", "").replace('"', "")
        new = re.sub(rf"{name}:[^,\]]*", lambda _m: f"{name}:{junk}", target)
    elif how == "replace":  # the whole value replaced
        new = "ENC[" + data.draw(_junk).replace("]", "").replace('"', "") + "]"
    elif how == "cut":  # the value cut short
        new = target[: data.draw(st.integers(0, len(target) - 1))]
    else:  # base64 broken inside data/iv/tag
        name = data.draw(st.sampled_from(["data", "iv", "tag"]))
        new = re.sub(rf"({name}:)([^,\]]*)", lambda m: m.group(1) + "!" + m.group(2)[1:], target)
    assume(new != target)
    if fmt == "json":
        new = new.replace("\\", "")
    path = tmp_path_factory.mktemp("mutated") / f"secrets.{fmt}"
    path.write_text(text.replace(target, new, 1))
    _decrypts_or_refuses(path)


@FAST
@given(st.data())
def test_truncated_files_are_refused(
    encrypted: dict[str, str], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    fmt = data.draw(st.sampled_from(["yaml", "json"]))
    text = encrypted[fmt]
    cut = data.draw(st.integers(0, len(text) - 1))
    assume(text[cut:].strip())
    path = tmp_path_factory.mktemp("cut") / f"secrets.{fmt}"
    path.write_text(text[:cut])
    try:
        doc = decrypt_file(path, IDS)
    except SopsError as err:
        _one_line(err)
        return
    # only a cut in metadata sops does not check (the tail of "version: 3.11.0") can pass
    assert doc.data == decrypt_file(_whole(tmp_path_factory, fmt, text), IDS).data


def _whole(factory: pytest.TempPathFactory, fmt: str, text: str) -> Path:
    path = factory.mktemp("whole") / f"secrets.{fmt}"
    path.write_text(text)
    return path


WRONG_TYPES: list[tuple[str, Any]] = [
    ("age", "not-a-list"),
    ("age", [{"recipient": 5, "enc": None}]),
    ("age", [{"recipient": "RECIPIENT", "enc": ["x"]}]),
    ("mac", 12),
    ("mac", None),
    ("version", 3.7),
    ("lastmodified", {"a": 1}),
    ("encrypted_regex", "("),
    ("unencrypted_suffix", ["x"]),
    ("shamir_threshold", "two"),
]


@pytest.mark.parametrize(
    ("key", "value"), WRONG_TYPES, ids=[f"{k}={v!r}"[:30] for k, v in WRONG_TYPES]
)
def test_wrong_types_in_the_metadata_are_refused(
    encrypted: dict[str, str], tmp_path: Path, key: str, value: Any
) -> None:
    doc = json.loads(encrypted["json"])
    doc["sops"][key] = json.loads(json.dumps(value).replace("RECIPIENT", KEY.recipient))
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(doc))
    _decrypts_or_refuses(path)


@pytest.mark.parametrize(
    "value",
    [None, 5, 1.5, True, [], {}, ["ENC[x]"], {"a": "ENC[AES256_GCM,data:,iv:,tag:,type:str]"}],
)
def test_wrong_types_in_encrypted_positions_are_refused(
    encrypted: dict[str, str], tmp_path: Path, value: Any
) -> None:
    doc = json.loads(encrypted["json"])
    doc["password"] = value
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(doc))
    _decrypts_or_refuses(path)


LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        ("billion-laughs", LAUGHS, "too many values"),
        ("alias-cycle-seq", "a: &a [*a]\n", "alias inside its own anchor"),
        ("alias-cycle-map", "a: &a {b: *a}\n", "alias inside its own anchor"),
        ("deep-flow", "a: " + "[" * 20_000 + "]" * 20_000 + "\n", "nested deeper"),
        ("deep-flow-open", "a: " + "{x: " * 5_000 + "\n", "nested deeper"),
        (
            "deep-block",
            "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v\n",
            "nested deeper",
        ),
        ("deep-json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested deeper"),
        ("deep-json-moderate", '{"a": ' + "[" * 900 + "]" * 900 + "}", "nested deeper"),
    ],
)
def test_yaml_and_json_bombs_are_refused_quickly(name: str, text: str, why: str) -> None:
    started = time.monotonic()
    with pytest.raises(SopsError) as err:
        decrypt_text(text, "json" if name.startswith("deep-json") else "yaml", identities=IDS)
    assert time.monotonic() - started < 3, name
    assert why in _one_line(err.value)


def test_sensible_aliases_still_work() -> None:
    """The alias budget does not refuse what people write: an anchor used a few times."""
    from regkit.sops.yamlio import load_yaml

    text = "base: &base {user: a, list: [1, 2, 3]}\n" + "".join(
        f"env{i}: *base\n" for i in range(50)
    )
    (branch,) = load_yaml(text)
    assert len(branch) == 51


@pytest.mark.parametrize("fmt", ["yaml", "json", "binary"])
def test_huge_files_are_refused_without_reading_them(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / {"yaml": "big.yaml", "json": "big.json", "binary": "big.bin"}[fmt]
    with path.open("wb") as handle:
        handle.truncate(512 * 1024 * 1024)  # sparse: 512 MiB of zeros, instantly
    started = time.monotonic()
    with pytest.raises(SopsError) as err:
        decrypt_file(path, IDS)
    assert time.monotonic() - started < 2
    assert "too large" in _one_line(err.value)


def test_decrypt_command_reports_a_bomb_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS)
    out = regkit("decrypt", str(path), env={"SOPS_AGE_KEY": KEY.identity})
    stderr = out.stderr.decode()
    assert out.returncode == 1, stderr
    assert out.stdout == b""
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


# -- action inputs and the runner's command parser --------------------------------------------

ALLOWED_COMMANDS = {"add-mask", "error", "warning", "notice", "group", "endgroup", "debug"}
V1_COMMANDS = {"add-mask", "set-env", "set-output", "add-path", "warning", "error", "debug"}


def runner_commands(log: str) -> list[tuple[str, str]]:
    """The workflow commands a GitHub runner would act on in ``log`` (stdout or stderr): per
    line (split at CR, LF, CRLF), ``::name props::data`` after leading whitespace (v2), or
    ``##[name props]data`` anywhere (v1); ``::stop-commands::TOKEN`` ignores every command
    until ``::TOKEN::``."""
    found: list[tuple[str, str]] = []
    resume: str | None = None
    for line in re.split(r"\r\n|\r|\n", log):
        text = line.lstrip()
        if resume is not None:
            if text == f"::{resume}::":
                resume = None
            continue
        if text.startswith("::"):
            end = text.find("::", 2)
            if end > 2:
                name = text[2:end].split(" ", 1)[0]
                data = text[end + 2 :]
                if name == "stop-commands":
                    resume = data
                    continue
                found.append(
                    (name, data.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%"))
                )
                continue
        start = line.find("##[")
        if start >= 0 and "]" in line[start:]:
            name = line[start + 3 : line.index("]", start)].split(" ", 1)[0]
            if name in V1_COMMANDS:
                found.append((name, line[line.index("]", start) + 1 :]))
    return found


def test_runner_model_sees_injections() -> None:
    """The model is not blind: plain injections are commands, stop-commands hides them."""
    assert runner_commands("a\n  ::warning::x\r::set-output name=a::b\nz ##[add-mask]s") == [
        ("warning", "x"),
        ("set-output", "b"),
        ("add-mask", "s"),
    ]
    assert runner_commands("::stop-commands::t1\n::warning::x\n::t1::\n::error::y") == [
        ("error", "y")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "tag x\n::warning::pwned",
        "a\r  ::add-mask::pwned",
        "see ##[add-mask]pwned here",
        "::error::pwned",
    ],
)
def test_info_lines_never_become_commands(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    from regkit import gha

    gha.info(text)
    gha.info("plain line")
    out = capsys.readouterr().out
    assert text in out and out.endswith("plain line\n")  # printed as it is, then normal again
    assert runner_commands(out) == []


HOSTILE = [
    "latest; rm -rf /",
    "latest\n::set-output name=promoted::true",
    "v1%0A::add-mask::x",
    "x\r::warning::pwned",
    "x ##[add-mask]pwned",
    "$(touch /tmp/regkit-pwned)",
    "`touch /tmp/regkit-pwned`",
    "::add-mask::pwned",
    "  ::error::pwned",
]


def _check_action_output(stdout: str, stderr: str, files: dict[str, Path]) -> None:
    commands = runner_commands(stdout) + runner_commands(stderr)
    names = {name for name, _data in commands}
    assert names <= ALLOWED_COMMANDS, commands
    masks = [data for name, data in commands if name == "add-mask"]
    assert not [m for m in masks if "pwned" in m or m == "x"], masks  # no injected masks
    assert not [d for n, d in commands if n in ("warning", "notice") and "pwned" in d], commands
    assert "Traceback" not in stdout + stderr
    for name, path in files.items():
        if name == "GITHUB_OUTPUT":
            for line in path.read_text().splitlines():
                assert not line.startswith(("promoted", "x=")) or "<<ghadelimiter_" in line


def _action(
    tmp_path: Path, name: str, inputs: dict[str, str], **env: str
) -> tuple[int, str, str, dict[str, Path]]:
    gh = tmp_path / "gh"
    gh.mkdir(exist_ok=True)
    files = {n: gh / n.lower() for n in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        path.write_text("")
    full = {
        "GITHUB_ACTIONS": "true",
        "RUNNER_TEMP": str(tmp_path),
        "DOCKER_CONFIG": "/nonexistent",
        **{n: str(p) for n, p in files.items()},
        **{f"INPUT_{k.upper()}": v for k, v in inputs.items()},
        **env,
    }
    out = regkit("action", name, env=full, cwd=str(tmp_path))
    return out.returncode, out.stdout.decode(), out.stderr.decode(), files


def _spread(fields: list[str], values: list[str]) -> list[tuple[str, str]]:
    """Each value once, the fields in rotation (each field gets several values): the in-process
    property test below covers the field x value space; these run the real subprocess."""
    return [(fields[i % len(fields)], value) for i, value in enumerate(values)]


@pytest.mark.parametrize(
    ("field", "value"),
    _spread(["targets", "source", "image", "expect-digest"], HOSTILE + HOSTILE[:3]),
)
def test_promote_action_refuses_hostile_inputs(tmp_path: Path, field: str, value: str) -> None:
    inputs = {"image": "127.0.0.1:9/app", "source": "abc1234", "targets": "v1.2.3"}
    inputs[field] = value
    code, stdout, stderr, files = _action(tmp_path, "promote", inputs)
    assert code == 2, stdout + stderr
    errors = [d for n, d in runner_commands(stdout) if n == "error"]
    assert len(errors) == 1, stdout
    _check_action_output(stdout, stderr, files)
    assert files["GITHUB_OUTPUT"].read_text() == ""  # refused before anything was written
    assert not Path("/tmp/regkit-pwned").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    _spread(
        ["images", "registry", "keep", "older-than", "protect-tags", "protect-digests"],
        HOSTILE + HOSTILE[:3],
    ),
)
def test_prune_action_refuses_hostile_inputs(tmp_path: Path, field: str, value: str) -> None:
    inputs = {"registry": "127.0.0.1:9", "images": "app", "dry-run": "true"}
    inputs[field] = value
    code, stdout, stderr, files = _action(tmp_path, "prune", inputs)
    _check_action_output(stdout, stderr, files)
    errors = [d for n, d in runner_commands(stdout) if n == "error"]
    assert len(errors) == 1, stdout
    # Either refused as input (2) or, where the value happens to be a valid list item (a
    # repository named "x" after the split at the line break), the registry at port 9 is
    # unreachable (1). Nothing else.
    assert code in (1, 2), stdout + stderr


@pytest.mark.parametrize(
    ("field", "value"),
    _spread(["secrets-file", "registry", "docker-config", "password-key"], HOSTILE[:8]),
)
def test_login_action_refuses_hostile_inputs(tmp_path: Path, field: str, value: str) -> None:
    inputs = {"sops-age-key": KEY.identity, "secrets-file": str(tmp_path / "missing.yml")}
    inputs[field] = value
    code, stdout, stderr, files = _action(tmp_path, "login", inputs)
    assert code in (1, 2), stdout + stderr
    _check_action_output(stdout, stderr, files)
    assert next(d for n, d in runner_commands(stdout) if n == "add-mask") == KEY.identity
    assert files["GITHUB_ENV"].read_text() == ""


def test_a_match_pattern_in_the_log_cannot_inject_commands(
    rig_basic: Rig, repo_prefix: str, tmp_path: Path
) -> None:
    """input 'match' is a valid regular expression holding line breaks and commands; the plan
    printed in the log quotes it ("does not match ..."): printed as data, never acted on."""
    rig_basic.ensure_running()
    repo = f"{repo_prefix}/app"
    rig_basic.pusher().push_images(repo, ["1111111", "2222222"], "oci")
    # "[add-mask]" is a character class to re (a, d-m, s, k) and a v1 command to the runner
    pattern = "^zz$|\n::warning::pwned\r::add-mask::pwned\n##[add-mask]pwned"
    code, stdout, stderr, files = _action(
        tmp_path,
        "prune",
        {"registry": rig_basic.host, "images": repo, "match": pattern, "dry-run": "true"},
        REGISTRY_USERNAME=rig_basic.username,
        REGISTRY_PASSWORD=rig_basic.password,
    )
    assert code == 0, stdout + stderr
    assert "::warning::pwned" in stdout  # printed, as data ...
    _check_action_output(stdout, stderr, files)  # ... and not a command


# In-process, many examples: every action's input readers under random and hostile values. The
# registry is 127.0.0.1:9 (nothing listens): whatever passes validation fails at the first ping,
# so no example waits on a network. Host fields are not drawn (a drawn host would be resolved).

_hostile_text = (
    st.text(max_size=30)
    | st.sampled_from(HOSTILE)
    | st.tuples(st.sampled_from(HOSTILE), st.text(max_size=8)).map("".join)
)
PROMOTE_FIELDS = ["targets", "source", "expect-digest", "latest", "semver-aliases", "dry-run"]
PRUNE_FIELDS = ["keep", "older-than", "match", "protect-tags", "protect-digests", "dry-run", "jobs"]


def _run_in_process(name: str, inputs: dict[str, str]) -> tuple[int, str]:
    environ = {f"INPUT_{k.upper()}": v for k, v in inputs.items()}
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": "/nonexistent",
        "DOCKER_CONFIG": "/nonexistent",
    }
    buf = io.StringIO()
    with mock.patch.dict(os.environ, clean, clear=True), redirect_stdout(buf):
        code = actions.run(name, environ)
    return code, buf.getvalue()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    action=st.sampled_from(["promote", "prune"]),
    values=st.dictionaries(
        st.sampled_from(PROMOTE_FIELDS + PRUNE_FIELDS), _hostile_text, max_size=4
    ),
)
def test_action_input_readers_never_crash_or_inject(action: str, values: dict[str, str]) -> None:
    if action == "promote":
        inputs = {"image": "127.0.0.1:9/app", "source": "abc1234", "targets": "v1"}
        inputs.update({k: v for k, v in values.items() if k in PROMOTE_FIELDS})
    else:
        inputs = {"registry": "127.0.0.1:9", "images": "app"}
        inputs.update({k: v for k, v in values.items() if k in PRUNE_FIELDS})
    code, stdout = _run_in_process(action, inputs)
    commands = runner_commands(stdout)
    assert {n for n, _d in commands} <= ALLOWED_COMMANDS, commands
    errors = [d for n, d in commands if n == "error"]
    assert code in (1, 2) and len(errors) == 1, (code, stdout)
    assert "bug in regkit" not in errors[0], errors[0]
    if code == 1:  # valid input: the unreachable registry is the problem, and says so
        assert "127.0.0.1:9" in errors[0], errors[0]
