"""What regkit says on stderr besides errors, and who says it (issue 22): ``ops`` prints
nothing (its warnings are log records, the CLI prints them in the same words), and ``--quiet``
is a value passed from the parsed arguments to the notes, the progress line and the retry
notices, not an environment variable set for the call (``REGKIT_QUIET`` set by the user still
counts: it is documented)."""

from __future__ import annotations

import argparse
import io
import logging
import os

import pytest

from regkit.cli import main, output
from regkit.ops import ConnectOptions, connect
from regkit.progress import Progress
from tests.clirun import regkit

WARNING = "regkit: warning: --insecure: TLS verification is off for registry.invalid\n"


def test_connect_warns_through_logging_and_prints_nothing(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """The --insecure warning of ``ops.connect``: a log record, never a write to stderr."""
    with caplog.at_level(logging.WARNING, logger="regkit"):
        connect("registry.invalid", ConnectOptions(insecure=True)).close()
    assert capsys.readouterr() == ("", "")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("regkit.ops", logging.WARNING, "--insecure: TLS verification is off for registry.invalid")
    ]


def test_connect_on_loopback_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="regkit"):
        connect("127.0.0.1:5000", ConnectOptions(insecure=True)).close()
    assert caplog.records == []


def test_the_cli_prints_the_insecure_warning_as_before(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In the CLI the warning is still one line on stderr, before the error, once."""
    monkeypatch.setenv("HOME", "/nonexistent")
    assert main(["--insecure", "catalog", "registry.invalid"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(WARNING)
    assert err.count("TLS verification is off") == 1
    assert err.splitlines()[1].startswith("regkit: error: ")
    # and as a user runs it
    done = regkit("catalog", "registry.invalid", "--insecure")
    assert done.returncode == 1
    assert done.stderr.decode().startswith(WARNING)
    assert done.stdout == b""


def test_the_quiet_flag_is_not_put_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-q`` reaches the code that prints as a value: the environment a command (and every
    program it starts, a sops binary or a --then command) sees is the user's own."""
    import regkit.sops
    from regkit.sops import SopsError

    monkeypatch.delenv("REGKIT_QUIET", raising=False)
    seen: list[str | None] = []

    def decrypt_file(*_args: object, **_kwargs: object) -> None:
        seen.append(os.environ.get("REGKIT_QUIET"))
        raise SopsError("stop here")

    monkeypatch.setattr(regkit.sops, "decrypt_file", decrypt_file)
    assert main(["-q", "decrypt", "secrets.yaml"]) == 1
    assert seen == [None]
    assert capsys.readouterr().err == "regkit: error: stop here\n"


@pytest.mark.parametrize(
    ("flag", "variable", "shown"),
    [(False, None, True), (True, None, False), (False, "1", False), (True, "1", False)],
)
def test_a_note_is_quiet_with_the_flag_or_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: bool,
    variable: str | None,
    shown: bool,
) -> None:
    if variable is None:
        monkeypatch.delenv("REGKIT_QUIET", raising=False)
    else:
        monkeypatch.setenv("REGKIT_QUIET", variable)
    output.note("no tags in team/api", argparse.Namespace(quiet=flag))
    assert capsys.readouterr() == ("", "regkit: no tags in team/api\n" if shown else "")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_is_off_when_quiet(monkeypatch: pytest.MonkeyPatch, quiet: bool) -> None:
    for name in ("REGKIT_QUIET", "CI", "TERM"):
        monkeypatch.delenv(name, raising=False)
    stream = _Terminal()
    with Progress("sync", 2, stream=stream, quiet=quiet) as progress:
        progress.advance(2)
    assert (stream.getvalue() == "") is quiet


@pytest.mark.parametrize("quiet", [False, True])
def test_retry_notices_on_a_terminal_follow_the_options(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], quiet: bool
) -> None:
    from regkit.registry import transport

    monkeypatch.delenv("REGKIT_QUIET", raising=False)
    monkeypatch.setattr(transport, "_stderr_is_terminal", lambda: True)
    with connect("127.0.0.1:5000", ConnectOptions(quiet=quiet)) as client:
        client.transport.notice("GET /v2/ answered 503; try 2 of 5 in 0.2s")
    err = capsys.readouterr().err
    assert err == ("" if quiet else "\r\x1b[2Kregkit: GET /v2/ answered 503; try 2 of 5 in 0.2s\n")
