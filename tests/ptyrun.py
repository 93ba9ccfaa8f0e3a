"""Run the regkit CLI on a pseudo-terminal of a given size: what a user at a terminal sees."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass
class PtyRun:
    returncode: int
    terminal: bytes  # everything written to the terminal (\r\n as the tty sends it)
    stdout: bytes | None  # when stdout was a pipe


def _controlling_tty() -> None:  # runs in the child, after setsid
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_pty(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    columns: int = 80,
    rows: int = 24,
    stdout_to_pipe: bool = False,
    stderr_to_pipe: bool = False,
    answers: Sequence[tuple[bytes, bytes]] = (),
    timeout: float = 60.0,
) -> PtyRun:
    """``python -m regkit ARGS`` with stdin (and stdout, stderr unless piped) on a new pty of
    ``columns`` x ``rows`` that is its controlling terminal. ``answers``: when the terminal
    output so far ends with the first bytes (after stripping spaces), type the second."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full = {"TERM": "xterm", **env}
    full.pop("CI", None)
    full.pop("COLUMNS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "regkit", *args],
        stdin=slave,
        stdout=subprocess.PIPE if stdout_to_pipe else slave,
        stderr=subprocess.PIPE if stderr_to_pipe else slave,
        env=full,
        start_new_session=True,
        preexec_fn=_controlling_tty,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    pending = list(answers)
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                raise TimeoutError(f"no output for {timeout}s; so far: {seen[-500:]!r}")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if pending and seen.rstrip().endswith(pending[0][0]):
                os.write(master, pending.pop(0)[1])
        out = proc.stdout.read() if proc.stdout else None
        if proc.stderr:
            proc.stderr.read()
        proc.wait(timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return PtyRun(proc.returncode, seen, out)


def screen_lines(terminal: bytes) -> list[str]:
    """The lines a terminal shows, progress redraws (``\\r\\x1b[2K``) resolved."""
    lines = []
    for raw in terminal.decode().replace("\r\n", "\n").split("\n"):
        lines.append(raw.split("\r\x1b[2K")[-1])
    return lines
