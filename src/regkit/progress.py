"""Progress on a terminal (stderr) only; silent in CI logs and pipes."""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import TextIO


class Progress:
    """``label done/total`` redrawn in place at most 10 times a second, erased at the end."""

    def __init__(self, label: str, total: int = 0, *, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = (
            self.stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"
        )
        self.label = label
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self._last = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
        now = time.monotonic()
        if not force and now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        text = f"{self.label} {self.done}/{self.total}" if self.total else self.label
        self.stream.write(f"\r\x1b[2K{text}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
