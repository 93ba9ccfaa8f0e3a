"""The GitHub Actions contract (regkit.gha) and the `regkit action` dispatcher.

File commands are parsed back with the runner's own algorithm (actions/runner,
FileCommandManager: `NAME=VALUE` or `NAME<<DELIMITER` ... `DELIMITER`, lines split on LF), and
workflow commands with its unescaping rules, so a test fails whenever a value could make the
runner see a different output, variable or command than the one written.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from regkit import gha
from regkit.actions import ACTIONS, ActionSpec, as_inputs, load, run
from regkit.cli import main as cli_main
from regkit.errors import Param, UsageError

SRC = Path(__file__).resolve().parents[2] / "src"


# --- the runner's parsers, as the runner implements them ---------------------------------------


def parse_file_commands(text: str) -> list[tuple[str, str]]:
    """actions/runner's EnvFileKeyValuePairs on Linux: a list of (key, value) in file order."""
    pairs: list[tuple[str, str]] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            key, value = line.split("=", 1)
        elif heredoc >= 0:
            key, delimiter = line.split("<<", 1)
            value_lines = []
            while True:
                if i >= len(lines):
                    raise AssertionError(f"delimiter {delimiter!r} not found")
                if lines[i] == delimiter:
                    i += 1
                    break
                value_lines.append(lines[i])
                i += 1
            value = "\n".join(value_lines)
        else:
            raise AssertionError(f"invalid line {line!r}")
        assert key, "empty key"
        pairs.append((key, value))
    return pairs


COMMAND_RE = re.compile(r"^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$")


def unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(text: str) -> str:
    return unescape_data(text.replace("%3A", ":").replace("%2C", ","))


def parse_commands(stdout: str) -> list[tuple[str, dict[str, str], str]]:
    """Every workflow command in ``stdout``: (name, properties, data), unescaped."""
    found = []
    for line in stdout.splitlines():
        m = COMMAND_RE.match(line)
        if not m:
            continue
        props = {}
        if m.group(2):
            for pair in m.group(2).split(","):
                key, _, value = pair.partition("=")
                props[key] = unescape_property(value)
        found.append((m.group(1), props, unescape_data(m.group(3))))
    return found


def raw(path: Path) -> str:
    """A file's text exactly as written (no newline translation: a CR must stay a CR)."""
    return path.read_bytes().decode("utf-8")


def command_files(
    directory: Path, names: tuple[str, ...] = ("OUTPUT", "ENV", "STEP_SUMMARY")
) -> dict[str, Path]:
    """Empty GitHub file-command files (``GITHUB_OUTPUT`` and so on) in ``directory``, by name."""
    files = {}
    for name in names:
        files[name] = directory / f"github_{name.lower()}"
        files[name].write_text("")
    return files


@pytest.fixture
def gh_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    files = command_files(tmp_path, ("OUTPUT", "ENV", "PATH", "STEP_SUMMARY"))
    for name, path in files.items():
        monkeypatch.setenv(f"GITHUB_{name}", str(path))
    return files


# --- inputs ------------------------------------------------------------------------------------


def test_input_names_follow_githubs_convention() -> None:
    assert gha.input_env_name("sops-age-key") == "INPUT_SOPS-AGE-KEY"
    assert gha.input_env_name("my input") == "INPUT_MY_INPUT"
    inputs = gha.Inputs({"INPUT_SOPS-AGE-KEY": " key ", "INPUT_MY_INPUT": "x"})
    assert inputs.get("sops-age-key") == "key"
    assert inputs.get("my input") == "x"
    assert inputs.get("sops_age_key") is None  # underscores are not hyphens


def test_input_reads_os_environ_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = gha.Inputs()  # the module-level gha.get_* helpers were unused and are gone
    monkeypatch.setenv("INPUT_DRY-RUN", "true")
    assert inputs.get_bool("dry-run", False) is True
    monkeypatch.setenv("INPUT_DRY-RUN", "false")
    assert inputs.get_bool("dry-run", True) is False


def test_empty_input_is_not_given() -> None:
    inputs = gha.Inputs({"INPUT_REGISTRY": "   ", "INPUT_KEEP": ""})
    assert inputs.get("registry") is None
    assert inputs.get("registry", default="r.example") == "r.example"
    assert inputs.get_int("keep", 10) == 10
    with pytest.raises(UsageError, match="input 'registry' is required") as err:
        inputs.get("registry", required=True)
    assert err.value.exit_code == 2
    with pytest.raises(UsageError, match="input 'image' is required"):
        inputs.require("image")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("  true\n", True),
    ],
)
def test_bool_accepts_yaml_core_schema(text: str, expected: bool) -> None:
    assert gha.Inputs({"INPUT_VERIFY": text}).get_bool("verify", not expected) is expected


@pytest.mark.parametrize("text", ["yes", "no", "1", "0", "on", "tRue", "y", "true false"])
def test_bool_refuses_anything_else_naming_the_input(text: str) -> None:
    with pytest.raises(UsageError, match=r"input 'verify' must be true or false") as err:
        gha.Inputs({"INPUT_VERIFY": text}).get_bool("verify", True)
    assert err.value.exit_code == 2
    assert repr(text.strip()) in str(err.value)


def test_int_input() -> None:
    inputs = gha.Inputs({"INPUT_KEEP": " 3 ", "INPUT_JOBS": "ten", "INPUT_N": "-1"})
    assert inputs.get_int("keep", 10) == 3
    with pytest.raises(UsageError, match="input 'jobs' must be a whole number, got 'ten'"):
        inputs.get_int("jobs")
    with pytest.raises(UsageError, match="input 'n' must be at least 0, got -1"):
        inputs.get_int("n", minimum=0)
    with pytest.raises(UsageError, match="input 'keep' must be at most 2, got 3"):
        inputs.get_int("keep", maximum=2)
    assert inputs.get_int("absent") is None


def test_list_input_newlines_or_commas_trimmed_empty_dropped() -> None:
    inputs = gha.Inputs({"INPUT_TARGETS": " v1.2.3, latest\n\n  stable ,,\r\nrc \n"})
    assert inputs.get_list("targets") == ["v1.2.3", "latest", "stable", "rc"]
    assert inputs.get_list("absent") == []


def test_choice_input() -> None:
    inputs = gha.Inputs({"INPUT_LATEST": "auto", "INPUT_BAD": "Auto"})
    assert inputs.get_choice("latest", ("false", "true", "auto"), "false") == "auto"
    assert inputs.get_choice("absent", ("a", "b"), "a") == "a"
    with pytest.raises(
        UsageError, match="input 'bad' must be one of false, true, auto, got 'Auto'"
    ):
        inputs.get_choice("bad", ("false", "true", "auto"))


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(UsageError) as err:
        gha.Inputs({"INPUT_KEEP": "9" * 50 + "x" * 500}).get_int("keep")
    assert len(str(err.value)) < 140


# --- outputs and environment files ------------------------------------------------------------

INJECTIONS = [
    "latest; rm -rf /",
    "v1\nother=evil",
    "v1\nother<<EOF\nevil\nEOF",
    "%0A::set-output name=promoted::true",
    "::add-mask::x\n::error::boom",
    "ghadelimiter_00000000-0000-0000-0000-000000000000",
    "line one\r\nline two\n",
    "",
    "$(id) `id` ${{ secrets.X }}",
    "ünïcødé ✓",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_output_value_cannot_forge_other_outputs(value: str, gh_files: dict[str, Path]) -> None:
    gha.set_output("digest", value)
    gha.set_output("promoted", True)
    text = raw(gh_files["OUTPUT"])
    assert parse_file_commands(text) == [("digest", value), ("promoted", "true")]


def test_output_delimiters_are_random(gh_files: dict[str, Path]) -> None:
    gha.set_output("a", "1")
    gha.set_output("a", "1")
    first, second = re.findall(r"^a<<(.+)$", raw(gh_files["OUTPUT"]), re.MULTILINE)
    assert first != second
    assert re.fullmatch(r"ghadelimiter_[0-9a-f-]{36}", first)


def test_non_string_outputs_are_json(gh_files: dict[str, Path]) -> None:
    gha.set_output("targets", [{"tag": "v1", "action": "created"}])
    gha.set_output("deleted-count", 3)
    gha.set_output("promoted", False)
    assert parse_file_commands(raw(gh_files["OUTPUT"])) == [
        ("targets", '[{"tag":"v1","action":"created"}]'),
        ("deleted-count", "3"),
        ("promoted", "false"),
    ]


@pytest.mark.parametrize("name", ["a<<b", "a=b", "a\nb", "", "a b", "1a", "a.b"])
def test_bad_output_names_are_refused(name: str, gh_files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="invalid output name"):
        gha.set_output(name, "x")
    assert raw(gh_files["OUTPUT"]) == ""


def test_outputs_without_github_output_write_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    gha.set_output("digest", "sha256:x")
    assert capsys.readouterr() == ("", "")  # no deprecated ::set-output fallback


@pytest.mark.parametrize("value", INJECTIONS)
def test_export_variable(
    value: str, gh_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    gha.export_variable("DOCKER_CONFIG", value)
    assert os.environ["DOCKER_CONFIG"] == value
    assert parse_file_commands(raw(gh_files["ENV"])) == [("DOCKER_CONFIG", value)]


@pytest.mark.parametrize("name", ["A-B", "A=B", "A<<B", "", "1A", "A\nB"])
def test_export_variable_refuses_bad_names(name: str, gh_files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="invalid environment variable name"):
        gha.export_variable(name, "x")
    assert raw(gh_files["ENV"]) == ""


def test_add_path(gh_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin")
    gha.add_path("/opt/regkit/bin")
    assert gh_files["PATH"].read_text() == "/opt/regkit/bin\n"
    assert os.environ["PATH"] == "/opt/regkit/bin" + os.pathsep + "/usr/bin"
    for bad in ("/a\n/evil", "/a\r/evil", ""):
        with pytest.raises(UsageError):
            gha.add_path(bad)
    assert gh_files["PATH"].read_text() == "/opt/regkit/bin\n"


# --- workflow commands -------------------------------------------------------------------------


def test_mask_registers_the_value_and_each_line(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "# created: 2026-01-01\n  AGE-SECRET-KEY-1ABC  \n\nAGE-SECRET-KEY-1DEF\n"
    gha.mask(secret)
    out = capsys.readouterr().out
    masks = [data for name, _, data in parse_commands(out) if name == "add-mask"]
    assert masks[0] == secret
    for line in ("AGE-SECRET-KEY-1ABC", "AGE-SECRET-KEY-1DEF", "# created: 2026-01-01"):
        assert line in masks
    assert all(m.strip() for m in masks)  # no empty mask
    assert all(line.startswith("::add-mask::") for line in out.splitlines())


def test_mask_escapes_percent_and_skips_empty(capsys: pytest.CaptureFixture[str]) -> None:
    gha.mask("")
    gha.mask(None)
    gha.mask("   ")
    gha.mask("pa%0Ass")
    out = capsys.readouterr().out
    assert out == "::add-mask::pa%250Ass\n"
    assert parse_commands(out) == [("add-mask", {}, "pa%0Ass")]


@pytest.mark.parametrize("kind", ["error", "warning", "notice"])
@pytest.mark.parametrize(
    "message",
    [
        "tag 'x' not found\n::add-mask::nothing\n::error::forged",
        "100% done%0A::stop-commands::token",
        "ends with CR\r::warning::x",
        "plain",
    ],
)
def test_annotations_cannot_inject_commands(
    kind: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    getattr(gha, kind)(message, title="a: b, c")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("\n")  # exactly one log line
    assert parse_commands(out) == [(kind, {"title": "a: b, c"}, message)]


def test_annotation_sends_only_given_properties(capsys: pytest.CaptureFixture[str]) -> None:
    gha.error("boom")
    gha.warning("careful", file="a.yml", line=3)
    assert capsys.readouterr().out == "::error::boom\n::warning file=a.yml,line=3::careful\n"


def test_group(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), gha.group("Plan for a\nb"):
        print("inside")
        raise RuntimeError
    assert capsys.readouterr().out == "::group::Plan for a%0Ab\ninside\n::endgroup::\n"


# --- job summary -------------------------------------------------------------------------------


def split_row(row: str) -> list[str]:
    """Cells of a GFM table row: split on pipes not escaped by a backslash."""
    assert row.startswith("| ") and row.endswith(" |")
    cells, current, i = [], "", 1
    body = row[1:-1]
    while i <= len(body):
        ch = body[i - 1]
        if ch == "\\" and i < len(body):
            current += ch + body[i]
            i += 2
            continue
        if ch == "|":
            cells.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    cells.append(current.strip())
    return cells


def unescape_markdown(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell.replace("<br>", "\n"))


def test_summary_table_escapes_pipes_newlines_and_markup(gh_files: dict[str, Path]) -> None:
    rows = [
        ["v1|evil", "line1\nline2", "<script>x</script>"],
        ["*bold* _i_ `code`", "[link](http://x)", "back\\slash|"],
        ["sha256:abc", "", "a | b | c"],
    ]
    gha.summary.heading("Promote rednaw/hello-world").table(["TAG", "DIGEST", "NOTE"], rows)
    text = gh_files["STEP_SUMMARY"].read_text()
    lines = text.splitlines()
    assert lines[0] == "## Promote rednaw/hello-world"
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + len(rows)  # newlines in cells did not add rows
    assert split_row(table[0]) == ["TAG", "DIGEST", "NOTE"]
    for row, expected in zip(table[2:], rows, strict=True):
        cells = split_row(row)
        assert len(cells) == 3
        assert [unescape_markdown(c) for c in cells] == [e.strip() for e in expected]
    assert "<script>" not in text and "\\<script\\>" in text


def test_summary_without_file_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    gha.summary.heading("x").text("y").table(["a"], [["b"]])  # no error, nowhere to write


def test_summary_code_block_fence_outgrows_content(tmp_path: Path) -> None:
    path = tmp_path / "s.md"
    gha.Summary(str(path)).code("a ``` b\n````\n", "text")
    assert path.read_text() == "`````text\na ``` b\n````\n`````\n\n"


def test_table_rows_must_match_headers() -> None:
    with pytest.raises(ValueError, match="2 cells, expected 3"):
        gha.markdown_table(["a", "b", "c"], [["1", "2"]])


# --- the dispatcher ----------------------------------------------------------------------------


@pytest.fixture
def fake_action(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register action 'fake' from a module written in tmp_path."""
    (tmp_path / "fake_action_mod.py").write_text(
        textwrap.dedent(
            """
            from regkit import gha
            from regkit.errors import RegkitError, UsageError

            def main(inputs):
                mode = inputs.get_choice("mode", ("ok", "fail", "usage", "bug"), "ok")
                if mode == "fail":
                    raise RegkitError("registry r.example refused the credentials (401):\\n"
                                      "check them")
                if mode == "usage":
                    inputs.get_bool("verify", True)
                if mode == "bug":
                    raise KeyError("oops")
                gha.set_output("result", "done")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(
        ACTIONS, "fake", ActionSpec("fake", "test", ("token",), module_name="fake_action_mod")
    )
    return "fake"


def test_unknown_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("nope", environ={}) == 2
    out = capsys.readouterr().out
    assert (
        out == "::error::unknown action 'nope': expected one of login, promote, prune, overview\n"
    )


def test_cli_action_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["action", "nope"]) == 2
    assert capsys.readouterr().out.startswith("::error::unknown action 'nope'")


def test_action_success_masks_secrets_first(
    fake_action: str, gh_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake_action, environ={"INPUT_TOKEN": "s3cret"}) == 0
    assert capsys.readouterr().out == "::add-mask::s3cret\n"
    assert parse_file_commands(raw(gh_files["OUTPUT"])) == [("result", "done")]


def test_regkit_error_becomes_one_error_annotation(
    fake_action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake_action, environ={"INPUT_MODE": "fail"}) == 1
    out, err = capsys.readouterr()
    assert out == "::error::registry r.example refused the credentials (401): check them\n"
    assert "Traceback" not in err and err == ""


def test_usage_error_in_inputs_exits_2(
    fake_action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake_action, environ={"INPUT_MODE": "usage", "INPUT_VERIFY": "yes"}) == 2
    out = capsys.readouterr().out
    assert out.startswith("::error::input 'verify' must be true or false")
    assert out.count("\n") == 1


def test_unexpected_exception_is_reported_as_a_bug(
    fake_action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake_action, environ={"INPUT_MODE": "bug"}) == 1
    out, err = capsys.readouterr()
    assert out.startswith("::error::regkit action fake failed unexpectedly (KeyError)")
    assert "Traceback" in err


def test_action_without_module_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(
        ACTIONS, "ghost", ActionSpec("ghost", "x", module_name="regkit_no_such_mod")
    )
    assert run("ghost", environ={}) == 1
    assert "action 'ghost' is not available" in capsys.readouterr().out


def test_every_registered_action_has_a_module_name_matching_its_file() -> None:
    assert set(ACTIONS) == {"login", "promote", "prune", "overview"}
    for name, spec in ACTIONS.items():
        assert spec.name == name
        assert spec.module == f"regkit.actions.{name}"
    assert ACTIONS["login"].secret_inputs == ("sops-age-key", "password")


def test_masks_come_before_any_other_output_through_real_pipes(tmp_path: Path) -> None:
    """In a real process (stdout a pipe, block-buffered; stderr separate), merged as the runner
    merges them: the masks must be the first lines, before what the action's module prints on
    import, before its stderr, and before the error that names the secret."""
    secret = "AGE-SECRET-KEY-1QQQ"
    (tmp_path / "noisy_action_mod.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            print("import-time stderr noise", file=sys.stderr)
            print("import-time stdout noise")
            from regkit.errors import RegkitError

            def main(inputs):
                print("stdout before failing")
                print("stderr before failing", file=sys.stderr)
                raise RegkitError("key {secret} was refused")
            """
        )
    )
    script = textwrap.dedent(
        """
        import sys
        from regkit.actions import ACTIONS, ActionSpec, run
        ACTIONS["noisy"] = ActionSpec(
            "noisy", "t", ("sops-age-key",), module_name="noisy_action_mod"
        )
        sys.exit(run("noisy"))
        """
    )
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(SRC)]),
        "INPUT_SOPS-AGE-KEY": f"# comment\n{secret}\n",
    }
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one pipe, like the runner's log
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    masks = [i for i, line in enumerate(lines) if line.startswith("::add-mask::")]
    assert masks == list(range(len(masks))) and len(masks) >= 2, proc.stdout
    assert f"::add-mask::{secret}" in lines
    for i, line in enumerate(lines):
        if secret in line:
            assert i in masks or any(lines[m] == f"::add-mask::{secret}" for m in masks[:i])
    assert lines[-1] == f"::error::key {secret} was refused"
    assert "Traceback" not in proc.stdout


def test_every_registered_action_loads() -> None:
    """Each action module exists and exposes main(inputs)."""
    for spec in ACTIONS.values():
        main = load(spec)
        assert callable(main), spec.name
        assert list(inspect.signature(main).parameters) == ["inputs"], spec.name


def test_action_errors_name_inputs_not_cli_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An action's user has inputs, not flags: an error from the shared code that names a CLI
    flag names the action's input instead (flags the action has no input for stay)."""
    env = {"INPUT_IMAGES": "127.0.0.1:9/x", "INPUT_MATCH": "(", "RUNNER_TEMP": str(tmp_path)}
    assert run("prune", environ=env) == 2
    assert capsys.readouterr().out == (
        "::error::invalid input 'match' pattern '(': missing ), unterminated subpattern at "
        "position 0\n"
    )
    # The shared code names parameters (errors.Param, issue 22); these are the errors that
    # were CLI-worded strings before, now as the shared code raises them.
    login = ACTIONS["login"]
    registry, registry_key = Param("registry", "HOST", ask=True), Param("registry-key", "KEY")
    assert as_inputs(UsageError(("fix it or ", registry, " or ", registry_key)), login) == (
        "fix it or set input 'registry' or input 'registry-key'"
    )
    keys = ("check ", Param("registry-key"), " / ", Param("password-key"))
    assert as_inputs(UsageError(keys), login) == (
        "check input 'registry-key' / input 'password-key'"
    )
    stdin = as_inputs(UsageError((Param("password-stdin"), ": nothing was read")), login)
    assert stdin == "input 'password': nothing was read"
    # no input of that name: the flag stays
    force = UsageError((Param("force", ask=True), " to move it"))
    assert as_inputs(force, ACTIONS["promote"]) == "pass --force to move it"
    tag = UsageError((Param("protect-tag"), " v1"))
    assert as_inputs(tag, ACTIONS["prune"]) == "input 'protect-tags' v1"
