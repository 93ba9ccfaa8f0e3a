"""Child processes started in their own session, stopped by killing their process group;
``ServerProcess``: the life cycle the rig's servers (distribution, crane's registry, nginx)
share."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from .ports import LOOPBACK, wait_port_closed

_T = TypeVar("_T")

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


class StartFailed(Exception):
    """The server did not come up (it exited, or gave no sign of serving in time)."""


class ServerProcess:
    """A server on a loopback port that it keeps across ``stop()`` + ``start()``,
    ``restart()`` and ``wipe()`` (the same address, and the storage unless wiped).

    A subclass names itself in errors (``what``), sets ``log_path`` (and ``storage_dir`` for
    ``wipe``), and writes ``start()``, waiting for its own sign of serving with
    ``wait_serving``; ``port`` and ``_proc`` (its ``ManagedProcess``) are kept here.
    """

    what = "server"
    port: int | None = None
    log_path: Path
    storage_dir: Path | None = None
    _proc: ManagedProcess | None = None

    @property
    def host(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{self.what} has not been started yet")
        return f"{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.running

    def start(self, timeout: float = 10.0) -> None:
        raise NotImplementedError

    def wait_serving(self, ready: Callable[[], _T | None], timeout: float, sign: str) -> _T:
        """Poll ``ready()`` every 5 ms until it gives a true value (returned);
        ``StartFailed`` when the process exits first, or ``not <sign> within <timeout>s``."""
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if not self._proc.running:
                raise StartFailed("process exited")
            found = ready()
            if found:
                return found
            if time.monotonic() > deadline:
                raise StartFailed(f"not {sign} within {timeout}s")
            time.sleep(0.005)

    def stop(self, *, kill: bool = False) -> None:
        """Stop the process (SIGTERM, or SIGKILL with ``kill=True``); the port stays."""
        if self._proc is not None:
            self._proc.stop(kill=kill)
            self._proc = None
        if self.port is not None:
            wait_port_closed(self.port)

    def restart(self) -> None:
        self.stop()
        self.start()

    def wipe(self) -> None:
        """Stop, delete ``storage_dir``, start on the same port."""
        if self.storage_dir is None:
            raise RuntimeError(f"{self.what} keeps no storage to wipe")
        self.stop()
        shutil.rmtree(self.storage_dir, ignore_errors=True)
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


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
