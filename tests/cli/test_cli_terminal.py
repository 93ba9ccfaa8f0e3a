"""What a user at a terminal sees (a real pseudo-terminal): tables cut to its width with …
and whole with --no-trunc, progress with counts (and none with --quiet), the password prompt
of login -u; and a stdout that cannot be written (/dev/full) is one error line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from regkit import progress as progress_module
from tests.clirun import regkit
from tests.ptyrun import run_on_pty, screen_lines
from tests.rig import PRODUCTION, Rig, rig_shapes

LONG = "A description far longer than any terminal is wide: " + "word " * 40


@rig_shapes(PRODUCTION)
def test_overview_fits_the_terminal(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    image = rig.pusher().push_image(repo, ["v1"], "oci-index", description=LONG.strip())
    args = ("overview", f"{rig.host}/{repo}")
    run = run_on_pty(args, rig.env(), columns=80, stderr_to_pipe=True)
    assert run.returncode == 0, run.terminal
    lines = [line for line in screen_lines(run.terminal) if line]
    assert lines[0] == f"{rig.host}/{repo}"
    assert max(len(line) for line in lines) == 80
    row = next(line for line in lines if line.startswith("  v1 "))
    assert row.endswith("…")
    assert image.digest not in row  # short digest in a table

    whole = run_on_pty((*args, "--no-trunc"), rig.env(), columns=80, stderr_to_pipe=True)
    text = "\n".join(screen_lines(whole.terminal))
    assert LONG.strip() in text
    assert image.digest in text
    piped = regkit(*args, env=rig.env())  # not a terminal: nothing is cut
    assert LONG.strip().encode() in piped.stdout


@rig_shapes(PRODUCTION)
def test_inspect_fits_the_terminal(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    rig.pusher().push_image(repo, ["v1"], description=LONG.strip())
    run = run_on_pty(("inspect", rig.ref(repo, "v1")), rig.env(), columns=60, stderr_to_pipe=True)
    assert run.returncode == 0
    lines = [line for line in screen_lines(run.terminal) if line]
    assert max(len(line) for line in lines) <= 60
    assert any(line.startswith("DESCRIPTION") and line.endswith("…") for line in lines)


@rig_shapes(PRODUCTION)
def test_progress_shows_counts_on_the_terminal_and_quiet_hides_it(
    rig: Rig, repo_prefix: str
) -> None:
    repo = f"{repo_prefix}/app"
    rig.pusher().push_images(repo, [f"{i:07x}" for i in range(12)])
    run = run_on_pty(
        ("prune", rig.ref(repo), "--keep", "3", "--dry-run"),
        rig.env(),
        stdout_to_pipe=True,
    )
    assert run.returncode == 0, run.terminal
    shown = run.terminal.decode()
    assert re.search(rf"\r\x1b\[2Kreading {re.escape(rig.host)} \d+", shown), shown
    assert b"9 of 12 tags to delete" in (run.stdout or b"")

    quiet = run_on_pty(
        ("prune", rig.ref(repo), "--keep", "3", "--dry-run", "--quiet"),
        rig.env(),
        stdout_to_pipe=True,
    )
    assert quiet.returncode == 0
    assert quiet.terminal == b""
    assert quiet.stdout == run.stdout


def test_progress_is_throttled_even_without_a_total(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prune's reading had no total and redrew on every tick (about 1,000 redraws)."""

    class Tty:
        def __init__(self) -> None:
            self.writes: list[str] = []

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            self.writes.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("REGKIT_QUIET", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: 1000.0)  # time stands still
    tty = Tty()
    with progress_module.Progress("reading reg.test", stream=tty) as p:  # type: ignore[arg-type]
        for _ in range(1000):
            p.advance()
    assert tty.writes == ["\r\x1b[2Kreading reg.test 1", "\r\x1b[2K"]


def test_login_asks_for_the_password_on_a_terminal(rig_basic: Rig, tmp_path: Path) -> None:
    rig_basic.ensure_running()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "REGKIT_CACHE": "off"}
    config = tmp_path / "docker"
    run = run_on_pty(
        ("login", rig_basic.host, "-u", rig_basic.username, "--docker-config", str(config)),
        env,
        answers=[(b"Password:", rig_basic.password.encode() + b"\n")],
    )
    shown = run.terminal.decode()
    assert run.returncode == 0, shown
    assert shown.startswith("Password: ")
    assert rig_basic.password not in shown  # not echoed
    assert f"Logged in to {rig_basic.host} as {rig_basic.username}" in shown
    auths = json.loads((config / "config.json").read_text())["auths"]
    assert rig_basic.host in auths

    piped = regkit("login", rig_basic.host, "-u", rig_basic.username, env=env)
    assert piped.returncode == 2
    assert piped.stderr == (
        b"regkit: error: --username needs a password: --password-stdin, REGISTRY_PASSWORD, "
        b"or a terminal to type it on\n"
    )


FULL = (
    b"regkit: error: cannot write to standard output (No space left on device); "
    b"check the disk or the file it is redirected to\n"
)


def _to_dev_full(*args: str, env: dict[str, str]) -> tuple[int, bytes]:
    import subprocess
    import sys

    with open("/dev/full", "wb") as full:
        out = subprocess.run(
            [sys.executable, "-m", "regkit", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
            timeout=120,
        )
    return out.returncode, out.stderr


@rig_shapes(PRODUCTION)
def test_a_full_stdout_is_one_error_line(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    rig.pusher().push_image(repo, ["1a2b3c4"])
    assert _to_dev_full("ls", rig.ref(repo), env=rig.env()) == (1, FULL)
    assert _to_dev_full("version", env=rig.env()) == (1, FULL)
    assert _to_dev_full("inspect", "-o", "json", rig.ref(repo, "1a2b3c4"), env=rig.env()) == (
        1,
        FULL,
    )


@rig_shapes(PRODUCTION)
def test_promote_to_a_full_stdout_reports_its_writes_first(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    image = rig.pusher().push_image(repo, ["1a2b3c4"])
    code, err = _to_dev_full("promote", rig.ref(repo, "1a2b3c4"), "v1", "latest", env=rig.env())
    assert code == 1
    assert err == (
        f"regkit: {rig.ref(repo, 'v1')}: created\n"
        f"regkit: {rig.ref(repo, 'latest')}: created\n".encode()
        + FULL
    )
    digest = regkit("digest", rig.ref(repo, "latest"), env=rig.env()).stdout.decode().strip()
    assert digest == image.digest
