"""tests.fakeserver's scripted registries without sockets: the same ``route(seen) -> (status,
headers, body)`` functions, answered through ``httpx.MockTransport`` (``Options.transport``).

For logic that needs no real network (pagination, challenges, the origin rule, limits, digest
checks): no server thread, no port, no 0.5 s shutdown poll per server. Everything above the
transport runs as against a real server: the scheme probe, redirects, retries, body caps::

    with mock(route) as fake, RegistryClient(fake.host, transport=fake.transport) as client:
        assert client.tags("app") == [...]
        assert fake.seen[-1].query["n"] == ["1000"]

A mock answers on ``127.0.0.1:<port>`` (a free-looking, never-opened port) like the loopback
fake server: plain HTTP, so HTTPS to it fails as a TLS handshake with an HTTP server does
(``WRONG_VERSION_NUMBER``) and the probe falls back to HTTP, as for the real thing. ``scheme=
"https"`` makes it answer HTTPS (plain HTTP to it is then dropped), ``host`` names it. One
transport (``TRANSPORT``) serves every mock alive, so a redirect, a ``Link`` or a token realm
on another mock is reached too; a host without a mock refuses the connection.

Not for what sockets decide: TLS certificates, deadlines over trickled bytes, HTTP/2, the
CLI in a subprocess. Those keep ``tests.fakeserver``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fakeserver import Answer, Seen, json_answer

_ports = itertools.count(41000)
_mocks: dict[str, MockServer] = {}
_lock = threading.Lock()


@dataclass
class MockServer:
    route: Callable[[Seen], Answer]
    host: str
    scheme: str = "http"
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def transport(self) -> httpx.BaseTransport:
        return TRANSPORT


def _answer(request: httpx.Request) -> httpx.Response:
    netloc = request.url.netloc.decode("ascii").lower()
    with _lock:
        fake = _mocks.get(netloc)
    if fake is None:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
    if request.url.scheme != fake.scheme:
        if fake.scheme == "http":  # a TLS ClientHello to an HTTP server
            raise httpx.ConnectError(
                "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)", request=request
            )
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    parts = urlsplit(request.url.raw_path.decode("ascii"))
    seen = Seen(
        request.method,
        parts.path,
        parse_qs(parts.query),
        {k.lower(): v for k, v in request.headers.items()},
        request.read(),
    )
    fake.seen.append(seen)
    status, headers, payload = fake.route(seen)
    sent = {**headers, "Content-Length": str(len(payload))}
    body = b"" if request.method == "HEAD" else payload
    return httpx.Response(status, headers=sent, stream=httpx.ByteStream(body), request=request)


#: The transport every mock answers through.
TRANSPORT = httpx.MockTransport(_answer)


@contextmanager
def mock(
    route: Callable[[Seen], Answer], *, host: str | None = None, scheme: str = "http"
) -> Iterator[MockServer]:
    """Answer ``route`` on ``host`` (default: ``127.0.0.1:<a new port>``) through
    ``TRANSPORT`` while the block runs."""
    name = (host or f"127.0.0.1:{next(_ports)}").lower()
    fake = MockServer(route, name, scheme)
    with _lock:
        if name in _mocks:
            raise RuntimeError(f"a mock already answers on {name}")
        _mocks[name] = fake
    try:
        yield fake
    finally:
        with _lock:
            _mocks.pop(name, None)


__all__ = ["TRANSPORT", "Answer", "MockServer", "Seen", "json_answer", "mock"]
