"""Child processes started in their own session, stopped by killing their process group."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_LIVE: weakref.WeakSet[ManagedProcess] = weakref.WeakSet()


class ManagedProcess:
    """One long-running server process whose output goes to ``log_path`` (appended).

    ``start()`` puts the child in a new session (its own process group), so ``stop()`` reaches
    the child and anything it forked (nginx workers). Anything still running when the
    interpreter exits is killed by an ``atexit`` hook, as a last resort after fixture teardown,
    and on Linux the child gets ``death_signal`` (SIGKILL by default) when pytest itself dies
    (``PR_SET_PDEATHSIG``, only set when started from the main thread, because it fires when
    the starting thread ends). nginx gets SIGTERM: a master killed outright leaves its workers
    running, orphaned, still holding the listening socket.
    """

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        death_signal: signal.Signals = signal.SIGKILL,
    ) -> None:
        self.argv = list(argv)
        self.death_signal = death_signal
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.argv[0]} already running (pid {self.pid})")
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent(self.death_signal),
            )
        _LIVE.add(self)

    def stop(self, *, kill: bool = False, timeout: float = 5.0) -> None:
        """SIGTERM (or SIGKILL with ``kill=True``) the process group and wait for the child.

        Falls back to SIGKILL when the group does not exit within ``timeout``. Idempotent.
        """
        popen = self.popen
        if popen is None:
            return
        if popen.poll() is None:
            _signal_group(popen.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(popen.pid, signal.SIGKILL)
                popen.wait(timeout)
        # Workers forked by the child (nginx) share its group; make sure none outlives it.
        _signal_group(popen.pid, signal.SIGKILL)
        _LIVE.discard(self)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    parent = os.getpid()
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def pre_exec() -> None:
        prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return pre_exec


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(Exception):
            proc.stop(kill=True, timeout=2)
