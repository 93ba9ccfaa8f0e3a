"""An error names a parameter as a structured ``Param``; each adapter says it in its own words:
the CLI ``--all-repos HOST``, the Python API ``all_repos=``, an action input ``all-repos``.
Nothing rewords text (issue 22: "Errors carry structured parameter names; no regex
rewording"). No server: these errors come before any request."""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from regkit import api
from regkit.actions import ACTIONS, ActionSpec, run
from regkit.errors import Hint, Param, RegkitError, UsageError, cli_words, with_hint

SRC = Path(__file__).resolve().parents[2] / "src" / "regkit"

#: A command line quoted in a message ('regkit check --storage DIR', 'registry garbage-collect
#: --delete-untagged'): a command to run, not a parameter of the call that failed.
_QUOTED_COMMAND = re.compile(r"'(?:regkit|registry|docker|sops|crane) [^']*'")
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")

#: Strings outside src/regkit/cli that name a regkit flag and are not error messages, each with
#: why: (path under src/regkit, the whole string) -> reason ...
NOT_ERRORS_EXACT = {
    ("ops/login.py", "--registry"): "LoginTarget.source: where the host came from (data)",
    ("actions/login.py", "--registry"): "LoginTarget.source, as ops/login.py sets it",
    ("sops/document.py", "--input-type"): "argv of the sops binary",
    ("sops/document.py", "--output-type"): "argv of the sops binary",
    ("sops/document.py", "--ignore-mac"): "argv of the sops binary",
}
#: ... and (path under src/regkit, a piece of the string) -> reason.
NOT_ERRORS_PIECE = {
    (
        "ops/prune/render.py",
        "no --delete-untagged is needed",
    ): "registry garbage-collect's own flag (GC_GUIDANCE), not regkit's",
}


def _cli_flags() -> frozenset[str]:
    """Every long option of the parser ``regkit.cli`` builds, without its dashes."""
    from regkit.cli import build_parser

    found: set[str] = set()

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            found.update(o[2:] for o in action.option_strings if o.startswith("--"))
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)

    walk(build_parser())
    return frozenset(found - {"help", "version"})


def _strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of every string in ``tree`` but docstrings and other bare string
    statements; an f-string is one text with ``{}`` for each value."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.JoinedStr):
            skip.update(id(n) for n in ast.walk(node))
        elif isinstance(node, ast.JoinedStr) and id(node) not in skip:
            skip.update(id(n) for n in ast.walk(node))
            pieces = (v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            yield node.lineno, "".join(map(str, pieces))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def _flags_in_text() -> list[str]:
    flags = _cli_flags()
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("cli/"):
            continue
        for line, text in _strings(ast.parse(path.read_text(), str(path))):
            named = [f for f in _FLAG.findall(_QUOTED_COMMAND.sub("", text)) if f in flags]
            allowed = (relative, text) in NOT_ERRORS_EXACT or any(
                p == relative and piece in text for (p, piece) in NOT_ERRORS_PIECE
            )
            if named and not allowed:
                found.append(f"src/regkit/{relative}:{line}: --{', --'.join(named)} in {text!r}")
    return found


def test_no_message_outside_the_cli_names_a_cli_flag_in_its_text() -> None:
    """Shared code names a parameter with ``Param("keep")``, never by writing ``--keep``
    into its text: the words are the adapter's."""
    assert _flags_in_text() == []


def test_the_guard_sees_a_flag_written_into_a_message(tmp_path: Path) -> None:
    """The guard's scan finds ``--keep`` in an error's f-string and skips docstrings and
    quoted command lines (the guard cannot pass by seeing nothing)."""
    source = (
        '"""Module doc with --keep."""\n'
        "def f(n):\n"
        '    """Doc with --match."""\n'
        "    raise UsageError(f\"--keep {n} is too few; see 'regkit check --storage DIR'\")\n"
    )
    strings = list(_strings(ast.parse(source)))
    assert strings == [(4, "--keep {} is too few; see 'regkit check --storage DIR'")]
    assert _FLAG.findall(_QUOTED_COMMAND.sub("", strings[0][1])) == ["keep"]
    assert {"keep", "all-repos", "match", "password-stdin"} <= _cli_flags()


# -- one error, three adapters ------------------------------------------------------------------

ALL_REPOS = UsageError(
    ("name at least one repository (HOST/REPO) or ", Param("all-repos", "HOST", ask=True))
)


def test_one_error_says_its_parameter_in_each_adapters_words(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = "name at least one repository (HOST/REPO) or pass --all-repos HOST"
    assert str(ALL_REPOS) == ALL_REPOS.message == cli
    assert ALL_REPOS.render(cli_words) == cli
    assert with_hint(ALL_REPOS, {}) == cli

    # the Python API: the keyword of the function that was called
    def refused(*_args: object, **_kwargs: object) -> None:
        raise UsageError(ALL_REPOS.parts)

    monkeypatch.setattr("regkit.ops.prune.session.prune_targets", refused)
    with (
        api.connect("127.0.0.1:9", username="u", password="p") as reg,
        pytest.raises(UsageError) as caught,
    ):
        api.prune(reg, ["team/app"])
    assert str(caught.value) == "name at least one repository (HOST/REPO) or pass all_repos="
    # the same object still knows its parameter: the CLI's words come back from it
    assert with_hint(caught.value, {}) == cli

    # an action: its input, "set" for "pass"
    def main(_inputs: object) -> None:
        raise UsageError(ALL_REPOS.parts)

    monkeypatch.setitem(ACTIONS, "demo", ActionSpec("demo", "a demo", inputs=("all-repos",)))
    monkeypatch.setattr("regkit.actions.load", lambda _spec: main)
    assert run("demo", environ={}) == 2
    out = capsys.readouterr().out
    assert out == "::error::name at least one repository (HOST/REPO) or set input 'all-repos'\n"


def test_a_parameter_an_adapter_does_not_have_stays_in_the_cli_words(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No input or keyword of that name: the flag stays as the CLI says it (as before)."""

    def main(_inputs: object) -> None:
        raise RegkitError(("refusing to move it; ", Param("force", ask=True), " to move it"))

    monkeypatch.setattr("regkit.actions.load", lambda _spec: main)
    assert run("promote", environ={}) == 1
    assert capsys.readouterr().out == "::error::refusing to move it; pass --force to move it\n"


@pytest.mark.parametrize(
    ("parts", "action", "said"),
    [
        (
            (
                "fix it or ",
                Param("registry", "HOST", ask=True),
                " or ",
                Param("registry-key", "KEY"),
            ),
            "login",
            "fix it or set input 'registry' or input 'registry-key'",
        ),
        (
            ("check ", Param("registry-key"), " / ", Param("password-key")),
            "login",
            "check input 'registry-key' / input 'password-key'",
        ),
        (
            (Param("password-stdin"), ": nothing was read"),
            "login",
            "input 'password': nothing was read",
        ),
        ((Param("protect-tag"), " v1"), "prune", "input 'protect-tags' v1"),
        ((Param("force", ask=True), " to move it"), "promote", "pass --force to move it"),
    ],
)
def test_actions_name_their_inputs(
    parts: tuple[str | Param, ...],
    action: str,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The words test_gha's as_inputs checks said, from a structured error: an input of the
    flag's name, or of another name (``flag_inputs``); a flag with no input stays."""

    def main(_inputs: object) -> None:
        raise RegkitError(parts)

    monkeypatch.setattr("regkit.actions.load", lambda _spec: main)
    run(action, environ={})
    assert capsys.readouterr().out == f"::error::{said}\n"


def test_the_api_says_keywords_for_the_shared_codes_errors(tmp_path: Path) -> None:
    """Real errors of the shared code, through the API: ``keyword=``, "pass" kept."""
    with api.connect("127.0.0.1:9", username="u", password="p") as reg:
        with pytest.raises(UsageError) as caught:
            api.plan_prune(reg, ["team/app"], keep=0)
        assert caught.value.message == (
            "keep= 0 with the default match= deletes every short-SHA tag, the newest build "
            "included; keep at least 1, add older_than= or a narrower match=, or pass force= "
            "to delete them all"
        )
        with pytest.raises(UsageError) as caught:
            api.prune(reg, ["team/app"], then="")
        assert caught.value.message.startswith("then= needs a command, e.g. 'docker exec")
        with pytest.raises(UsageError) as caught:
            api.prune(reg, ["team/app"], then=str(tmp_path / "nowhere"))
        assert caught.value.message == (
            f"then=: {tmp_path / 'nowhere'} does not exist; pass a command that exists (nothing "
            "was deleted)"
        )


def test_the_cli_and_the_actions_keep_the_hint_words() -> None:
    """A hint (no parameter of the call) still follows in each adapter's words."""
    from regkit.actions import HINTS as ACTION_HINTS
    from regkit.cli import HINTS as CLI_HINTS
    from regkit.errors import TLSError

    err = TLSError("certificate verify failed for h", hint=Hint.CA_FILE)
    assert with_hint(err, CLI_HINTS).startswith("certificate verify failed for h; ")
    assert with_hint(err, ACTION_HINTS).endswith(
        "set the ca-file input to the PEM file of the registry's CA"
    )


def test_the_shared_codes_errors_in_the_actions_words() -> None:
    """Real errors of the shared code, as the login and prune actions say them."""
    from regkit.actions import as_inputs
    from regkit.ops.login import plan_login, read_password_stdin
    from regkit.ops.prune.run import build_policy

    login, prune = ACTIONS["login"], ACTIONS["prune"]
    with pytest.raises(RegkitError) as caught:
        plan_login({"other": "x"})
    assert "(set input 'username-key'/input 'password-key' if they differ)" in as_inputs(
        caught.value, login
    )
    assert "(pass --username-key/--password-key if they differ)" in str(caught.value)
    with pytest.raises(RegkitError) as caught:
        plan_login({"registry_username": "u", "registry_password": "p"})
    assert "(set input 'registry' or input 'registry-key')" in as_inputs(caught.value, login)
    assert "(pass --registry HOST or --registry-key KEY)" in str(caught.value)
    with pytest.raises(UsageError) as caught:
        read_password_stdin("")
    assert (
        as_inputs(caught.value, login) == "input 'password': nothing was read from standard input"
    )
    with pytest.raises(UsageError) as caught:
        build_policy(match=None, keep=0, older_than=None)
    assert as_inputs(caught.value, prune) == (
        "input 'keep' 0 with the default input 'match' deletes every short-SHA tag, the newest "
        "build included; keep at least 1, add input 'older-than' or a narrower input 'match', "
        "or set input 'force' to delete them all"
    )
