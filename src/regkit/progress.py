"""Progress on a terminal (stderr) only; silent in CI logs and pipes."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from regkit.closing import Closing


class Progress(Closing):
    """``label done/total`` (``label done`` when the total is unknown) redrawn in place at most
    10 times a second, erased at the end. ``quiet`` (the CLI's ``--quiet``) or ``REGKIT_QUIET``
    in the environment turns it off."""

    def __init__(
        self,
        label: str,
        total: int = 0,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] | None = None,
        quiet: bool = False,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = (
            not quiet
            and self.stream.isatty()
            and not os.environ.get("CI")
            and os.environ.get("TERM") != "dumb"
            and not os.environ.get("REGKIT_QUIET")
        )
        self._clock = clock or time.monotonic
        self.label = label
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self._last = 0.0

    def stage(self, label: str, total: int) -> None:
        with self._lock:
            self.label, self.total, self.done = label, total, 0
        self._draw(force=True)

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
        self._draw()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self._clock()
        finished = self.total and self.done >= self.total
        if not force and not finished and now - self._last < 0.1:
            return
        self._last = now
        text = (
            f"{self.label} {self.done}/{self.total}" if self.total else f"{self.label} {self.done}"
        )
        self.stream.write(f"\r\x1b[2K{text}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
