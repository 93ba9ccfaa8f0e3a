"""An overall deadline for one request, enforced at every socket operation.

httpx's timeouts bound one read or one write: a server that trickles a byte every few seconds
never trips them and holds a request forever. Here each socket operation of a connection is
given at most the time left before the calling thread's deadline (``until``), so the request
ends when the deadline passes, whatever the server trickles. The deadline is per thread: a
sync request is sent and read on the thread that makes it.

``install(client)`` wraps the network backend of an httpx client's connection pools (httpx
has no public hook for it); the test of the deadline (tests/registry/test_bounds_registry.py)
fails if an httpx or httpcore upgrade moves what it wraps. A request that passed its deadline after
the server had started answering raises a timeout whose text is ``MESSAGE`` (``is_deadline``);
a server that sent nothing at all keeps the plain "did not answer in time".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

MESSAGE = "no complete answer before the request deadline"

_local = threading.local()


@contextmanager
def until(at: float | None) -> Iterator[None]:
    """Socket operations of this thread end by ``at`` (``time.monotonic``); None: no deadline."""
    before = (getattr(_local, "at", None), getattr(_local, "got", 0))
    _local.at, _local.got = at, 0
    try:
        yield
    finally:
        _local.at, _local.got = before


def start(seconds: float) -> None:
    """From now on, this thread's socket operations end within ``seconds`` (inside ``until``,
    which restores the deadline before it on exit)."""
    _local.at, _local.got = time.monotonic() + seconds, 0


def within(seconds: float | None) -> Any:
    """``until`` ``seconds`` from now."""
    return until(None if seconds is None else time.monotonic() + seconds)


def current() -> float | None:
    """This thread's deadline."""
    at: float | None = getattr(_local, "at", None)
    return at


def is_deadline(err: BaseException) -> bool:
    """``err`` ended a request at its deadline (the server had begun to answer)."""
    return isinstance(err, httpx.TimeoutException | httpcore.TimeoutException) and (
        str(err) == MESSAGE
    )


def _clamp(timeout: float | None) -> tuple[float | None, bool]:
    """The timeout for one socket operation, and whether the deadline (not the per-operation
    timeout) is what bounds it."""
    at: float | None = getattr(_local, "at", None)
    if at is None:
        return timeout, False
    left = at - time.monotonic()
    if timeout is not None and timeout <= left:
        return timeout, False
    return max(left, 0.0), True


def _expired(err: Exception, bound: bool) -> bool:
    return bound and getattr(_local, "got", 0) > 0 and isinstance(err, httpcore.TimeoutException)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        clamped, bound = _clamp(timeout)
        try:
            if bound and clamped == 0.0:
                raise httpcore.ReadTimeout("timed out")
            data = self._inner.read(max_bytes, clamped)
        except httpcore.ReadTimeout as err:
            if _expired(err, bound):
                raise httpcore.ReadTimeout(MESSAGE) from None
            raise
        _local.got = getattr(_local, "got", 0) + len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        clamped, bound = _clamp(timeout)
        try:
            if bound and clamped == 0.0:
                raise httpcore.WriteTimeout("timed out")
            self._inner.write(buffer, clamped)
        except httpcore.WriteTimeout as err:
            if _expired(err, bound):
                raise httpcore.WriteTimeout(MESSAGE) from None
            raise

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        clamped, _bound = _clamp(timeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, clamped))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """A network backend whose streams honour this thread's deadline."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        clamped, _bound = _clamp(timeout)
        return _Stream(self._inner.connect_tcp(host, port, clamped, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        clamped, _bound = _clamp(timeout)
        return _Stream(self._inner.connect_unix_socket(path, clamped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: httpx.Client) -> httpx.Client:
    """Make ``client``'s connections honour the deadline (its default transport and the
    transports it mounts, e.g. for a proxy from the environment)."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
    return client


__all__ = [
    "MESSAGE",
    "DeadlineBackend",
    "current",
    "install",
    "is_deadline",
    "start",
    "until",
    "within",
]
