"""``Once``: a value per key computed by the first thread that asks; the others wait for it.

Operations run one chain of requests per tag on the client's workers (a manifest, then its
platform manifest, then a config) with no barrier between steps; content shared by several
tags is fetched once through a ``Once``. The computing thread never waits on another key, so
waiting threads cannot deadlock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Once(Generic[K, V]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[K, Future[V]] = {}

    def get(self, key: K, compute: Callable[[], V]) -> V:
        """``compute()`` if no thread asked for ``key`` before, else that thread's result (or
        its exception)."""
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = self._futures[key] = Future()
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:
                future.set_exception(exc)
                raise
        return future.result()

    def results(self) -> dict[K, V]:
        """Every value computed so far without an exception."""
        with self._lock:
            futures = dict(self._futures)
        return {k: f.result() for k, f in futures.items() if f.done() and f.exception() is None}


__all__ = ["Once"]
