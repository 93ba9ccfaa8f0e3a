"""The HTTP clients of one transport: TLS settings, timeouts and connection pooling.

HTTP/1.1 (the default): one pool shared by every thread (a connection serves one request at a
time; httpcore's pool hands idle ones out under its lock), so a connection opened by one
thread, or by a warm-up, serves any other. HTTP/2 (REGKIT_HTTP2=1, with the optional ``h2``
package): one client, so one connection, per thread: httpcore's sync HTTP/2 connection is not
safe for concurrent requests from several threads (nginx answers 400 "client sent HEADERS
frame with incorrect identifier", h2 raises KeyError on a stream id). With one connection per
thread, HTTP/2 brings no multiplexing, and its pure-Python framing costs CPU: measured at 40 ms
round trip, overview of 100 multi-arch tags took 2.79 s (HTTP/2) against 2.37 s (HTTP/1.1),
medians of 4 (benchmarks/README.md). h2 is not a dependency (its import alone costs ~20 ms).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import ssl
import threading

import httpx

from regkit import defaults
from regkit.errors import TLSError, UsageError
from regkit.registry.deadline import install as install_deadline
from regkit.registry.options import Options


def ssl_context(ca_file: str | None, insecure: bool) -> ssl.SSLContext | bool:
    """The system store (OpenSSL honours SSL_CERT_FILE / SSL_CERT_DIR), not certifi's bundle,
    plus ``ca_file``; no verification at all with ``insecure``."""
    if insecure:
        return False
    ctx = ssl.create_default_context()
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as err:
            raise TLSError(f"cannot load CA file {ca_file}: {err}; pass a PEM file") from None
    return ctx


def http2_wanted(explicit: bool | None = None) -> bool:
    """HTTP/2 when ``explicit`` (None: only with REGKIT_HTTP2=1); the h2 package must then be
    installed."""
    if explicit is None:
        wanted = os.environ.get("REGKIT_HTTP2", "0").strip().lower() in ("1", "true", "yes")
        asked = "REGKIT_HTTP2=1"
    else:
        wanted, asked = explicit, "HTTP/2"
    if wanted and importlib.util.find_spec("h2") is None:
        raise UsageError(f"{asked} needs the h2 package (pip install h2) in regkit's environment")
    return wanted


class ClientPool:
    """``client`` for the calling thread; ``drop`` a broken one; ``close`` them all.

    Of ``options`` it uses ``ca_file``, ``insecure``, ``timeout``, ``jobs``, ``http2`` (None
    reads ``REGKIT_HTTP2``) and ``transport``: an ``httpx.BaseTransport`` every client sends
    through instead of the network (``httpx.MockTransport`` in a unit test); TLS, HTTP/2 and
    pooling are then its own.
    """

    def __init__(self, options: Options) -> None:
        timeout = options.timeout
        self.http2 = http2_wanted(options.http2)
        self._verify = ssl_context(options.ca_file, options.insecure)
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, defaults.CONNECT_TIMEOUT))
        self._jobs = options.jobs
        self._transport = options.transport
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._shared: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        if not self.http2:
            # Unbounded: the threads bound the requests in flight, and a streamed copy holds
            # two connections per thread.
            shared = self._shared
            if shared is None:
                with self._lock:
                    if self._shared is None:
                        self._shared = self._new(
                            httpx.Limits(
                                max_connections=None, max_keepalive_connections=2 * self._jobs + 2
                            )
                        )
                        self._clients.append(self._shared)
                    shared = self._shared
            return shared
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._new(httpx.Limits(max_connections=4, max_keepalive_connections=2))
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _new(self, limits: httpx.Limits) -> httpx.Client:
        # Each socket operation honours the calling thread's request deadline (deadline.py).
        return install_deadline(self._client(limits))

    def _client(self, limits: httpx.Limits) -> httpx.Client:
        return httpx.Client(
            http2=self.http2,
            verify=self._verify,
            timeout=self._timeout,
            limits=limits,
            follow_redirects=False,
            headers={"User-Agent": "regkit/0.1"},
            transport=self._transport,
        )

    def drop(self) -> None:
        """Forget this thread's client (its connection is broken); the next request makes one.

        The shared HTTP/1.1 pool is kept: httpcore drops a broken connection from it itself.
        """
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is not None:
            self._local.client = None
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)
            with contextlib.suppress(Exception):
                client.close()

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
            self._shared = None
        for client in clients:
            client.close()


__all__ = ["ClientPool", "http2_wanted", "ssl_context"]
