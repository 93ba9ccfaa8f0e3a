"""Parsing and help: no abbreviated flags, did-you-mean, the verb's own usage on a wrong flag,
help and version verbs, a hidden action verb, an example in every verb's --help, the same exit
code for the same mistake, REGISTRY_USERNAME without REGISTRY_PASSWORD. No server needed:
every mistake here is caught before a request (127.0.0.1:9 would refuse one anyway)."""

from __future__ import annotations

import argparse
import os

import pytest

from regkit.cli import build_parser
from tests.clirun import regkit

NOWHERE = "127.0.0.1:9"


def _verbs() -> dict[str, argparse.ArgumentParser]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no sub-commands")


def test_abbreviated_flags_are_refused_with_the_verb_usage() -> None:
    out = regkit("prune", f"{NOWHERE}/app", "--dry-run", "--kee", "3")
    assert out.returncode == 2
    err = out.stderr.decode()
    assert err.startswith("usage: regkit prune ")
    # issue 20: a mistyped flag now ends with the flag meant, as a mistyped verb does
    assert err.endswith(
        "regkit prune: error: unrecognized arguments: --kee 3; did you mean '--keep'?\n"
    )
    out = regkit("prune", f"{NOWHERE}/app", "--y")
    assert out.returncode == 2
    assert out.stderr.decode().endswith(
        "regkit prune: error: unrecognized arguments: --y; did you mean '--yes'?\n"
    )


def test_a_wrong_flag_shows_that_verbs_usage() -> None:
    out = regkit("ls", f"{NOWHERE}/app", "--bogus")
    assert out.returncode == 2
    err = out.stderr.decode()
    assert err.startswith("usage: regkit ls ")
    assert err.endswith("regkit ls: error: unrecognized arguments: --bogus\n")
    assert out.stdout == b""


def test_a_mistyped_verb_gets_a_suggestion() -> None:
    out = regkit("overveiw", NOWHERE)
    assert out.returncode == 2
    assert out.stderr.decode().endswith(
        "regkit: error: unknown command 'overveiw'; did you mean 'overview'? "
        "('regkit help' lists the commands)\n"
    )
    far = regkit("zzzz")
    assert far.stderr.decode().endswith(
        "regkit: error: unknown command 'zzzz' ('regkit help' lists the commands)\n"
    )


def test_help_and_version_verbs() -> None:
    assert regkit("help", "prune").stdout == regkit("prune", "--help").stdout
    assert regkit("help").stdout == regkit("--help").stdout
    version = regkit("version")
    assert version.returncode == 0
    assert version.stdout == regkit("--version").stdout
    assert version.stdout.startswith(b"regkit ")
    missing = regkit("help", "nope")
    assert missing.returncode == 2
    assert missing.stderr == b"regkit: error: no command 'nope'; 'regkit help' lists the commands\n"


def test_action_is_hidden_but_works() -> None:
    listed = regkit("--help").stdout.decode()
    assert "\n    inspect " in listed
    assert "\n    action " not in listed
    assert "action" in _verbs()  # still a verb: the GitHub Actions call it


@pytest.mark.parametrize("verb", sorted(set(_verbs()) - {"action"}))
def test_every_verb_help_has_an_example(verb: str) -> None:
    text = _verbs()[verb].format_help()
    assert "\nexamples:\n" in text, verb
    examples = text.split("\nexamples:\n", 1)[1].splitlines()
    assert examples
    commands = [line.strip() for line in examples if line.strip().startswith("regkit ")]
    assert any(c.startswith(f"regkit {verb}") for c in commands), examples


def test_connection_flags_only_where_they_mean_something() -> None:
    verbs = _verbs()
    for name in ("decrypt", "logout", "help", "version", "completion", "action"):
        assert "--timeout" not in verbs[name].format_help(), name
    for name in ("ls", "inspect", "sync", "overview", "prune", "promote"):
        assert "--timeout" in verbs[name].format_help(), name


@pytest.mark.parametrize("verb", ["digest", "manifest", "config", "overview", "inspect"])
def test_a_bad_platform_is_the_same_usage_error_everywhere(verb: str) -> None:
    target = NOWHERE if verb == "overview" else f"{NOWHERE}/app:v1"
    out = regkit(verb, target, "--platform", "arm64")
    assert out.returncode == 2, out.stderr
    assert out.stderr.decode().endswith(
        f"regkit {verb}: error: argument --platform: invalid platform 'arm64': "
        "expected OS/ARCH[/VARIANT], e.g. linux/arm64\n"
    )


def test_registry_username_without_password_says_so() -> None:
    out = regkit("ls", f"{NOWHERE}/app", env={"REGISTRY_USERNAME": "ci"})
    assert out.returncode == 2
    assert out.stderr == (
        b"regkit: error: REGISTRY_USERNAME is set but REGISTRY_PASSWORD is not: set both, "
        b"or unset REGISTRY_USERNAME to use the Docker config\n"
    )


def test_regkit_registry_needs_a_host_or_says_what_to_set() -> None:
    out = regkit("catalog")
    assert out.returncode == 2
    assert (
        out.stderr
        == b"regkit: error: name the registry: regkit catalog HOST (or set REGKIT_REGISTRY)\n"
    )
    out = regkit("ls", "team/api")
    assert out.returncode == 2
    assert b"no registry host" in out.stderr


def test_quiet_lasts_one_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-q`` quiets the call it was given to, not every later call in the same process (an
    embedding program, or a test, that runs ``main`` twice)."""
    from regkit.cli import main

    monkeypatch.delenv("REGKIT_QUIET", raising=False)
    assert main(["prune", "-q"]) == 2  # parsed, then refused: no repository
    capsys.readouterr()
    assert "REGKIT_QUIET" not in os.environ
