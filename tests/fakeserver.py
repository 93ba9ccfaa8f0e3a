"""A scripted HTTP server on loopback for answers the real registry cannot give here
(registry:3 pagination and tag deletes) and for injected faults. Not a registry: each test
routes (method, path) to a function that returns (status, headers, body)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeServer:
    route: Callable[[Seen], Answer]
    seen: list[Seen] = field(default_factory=list)
    host: str = ""
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"


@contextmanager
def serve(
    route: Callable[[Seen], Answer],
    *,
    bind: str = "127.0.0.1",
    tls: ssl.SSLContext | None = None,
    name: str | None = None,
) -> Iterator[FakeServer]:
    """Serve ``route``; ``tls`` (a server context) makes it HTTPS, ``bind`` another loopback
    address (127.0.0.x), ``name`` the host name clients use instead of the address."""
    fake = FakeServer(route, scheme="https" if tls is not None else "http")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            seen = Seen(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            fake.seen.append(seen)
            status, headers, payload = fake.route(seen)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

    with loopback_server(Handler, bind=bind, tls=tls) as host:
        fake.host = f"{name}:{host.rsplit(':', 1)[1]}" if name else host
        yield fake


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a client opening a dozen connections at once
    # (regkit's first round and its warm-up) would see SYNs dropped and time out connecting,
    # which no real registry does.
    request_queue_size = 128


@contextmanager
def loopback_server(
    handler: type[BaseHTTPRequestHandler],
    *,
    bind: str = "127.0.0.1",
    tls: ssl.SSLContext | None = None,
) -> Iterator[str]:
    """Serve ``handler`` on a free port of ``bind`` in a thread; yields ``ADDRESS:PORT``.

    Nagle's algorithm is off on the answers' sockets: a handler writes its head and body
    separately, and with Nagle each answer waited for the client's delayed ACK (45 ms a
    request, 3.6 ms without)."""
    handler = type(handler.__name__, (handler,), {"disable_nagle_algorithm": True})
    server = _Server((bind, 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{bind}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


JSON = {"Content-Type": "application/json", "Docker-Distribution-Api-Version": "registry/2.0"}


def json_answer(status: int, body: bytes, **headers: str) -> Answer:
    return status, {**JSON, **{k.replace("_", "-"): v for k, v in headers.items()}}, body
