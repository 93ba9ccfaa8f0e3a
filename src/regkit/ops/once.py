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
    """A finished key keeps only its outcome (value or exception), not the ``Future`` its
    waiters used: thousands of keys (one per manifest, per config) cost their values alone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[K, Future[V]] = {}  # keys being computed
        self._done: dict[K, tuple[bool, V | BaseException]] = {}  # (ok, value or exception)

    def get(self, key: K, compute: Callable[[], V]) -> V:
        """``compute()`` if no thread asked for ``key`` before, else that thread's result (or
        its exception)."""
        with self._lock:
            done = self._done.get(key)
            future = self._futures.get(key) if done is None else None
            owner = done is None and future is None
            if owner:
                future = self._futures[key] = Future()
        if done is not None:
            return self._outcome(done)
        assert future is not None
        if owner:
            try:
                value = compute()
            except BaseException as exc:
                with self._lock:
                    self._done[key] = (False, exc)
                    del self._futures[key]
                future.set_exception(exc)
                raise
            with self._lock:
                self._done[key] = (True, value)
                del self._futures[key]
            future.set_result(value)
            return value
        return future.result()

    @staticmethod
    def _outcome(done: tuple[bool, V | BaseException]) -> V:
        ok, found = done
        if not ok:
            assert isinstance(found, BaseException)
            raise found
        return found  # type: ignore[return-value]

    def results(self) -> dict[K, V]:
        """Every value computed so far without an exception."""
        with self._lock:
            return {k: v for k, (ok, v) in self._done.items() if ok}  # type: ignore[misc]


__all__ = ["Once"]
