"""A TCP relay that records every plaintext HTTP request passing through it.

It listens on a loopback address of its own (e.g. ``127.0.0.2``, which a test maps to a
non-loopback-looking name in /etc/hosts) and forwards every connection, byte for byte, to an
upstream (nginx's TLS port). A connection whose first byte opens a TLS handshake (0x16) is
only counted; any other connection is plaintext: the head of each request on it is parsed and
recorded (method, target, header names, and the scheme of ``Authorization`` if present), then
forwarded unchanged, so the upstream answers it as it would answer any client (nginx: 400
"plain HTTP request was sent to HTTPS port"). A credential sent in clear text is therefore seen
here exactly as an eavesdropper on the network would see it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

TLS_HANDSHAKE = 0x16


@dataclass(frozen=True)
class PlainRequest:
    method: str
    target: str
    header_names: tuple[str, ...]
    authorization: str | None  # the scheme only ("Basic", "Bearer"), never the credential

    @property
    def has_credentials(self) -> bool:
        return self.authorization is not None


@dataclass
class Relay:
    """``with Relay("127.0.0.2", ("127.0.0.1", 8443)) as relay: ...``; ``relay.port``."""

    listen_host: str
    upstream: tuple[str, int]
    plaintext: list[PlainRequest] = field(default_factory=list)
    tls_connections: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._server: socket.socket | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self.listen_host, self.port))
        server.listen(128)
        self.port = int(server.getsockname()[1])
        self._server = server
        self._spawn(self._accept_loop)

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in list(self._threads):
            thread.join(5)

    def __enter__(self) -> Relay:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests_with_credentials(self) -> list[PlainRequest]:
        with self._lock:
            return [r for r in self.plaintext if r.has_credentials]

    # -- internals ---------------------------------------------------------------------------

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _accept_loop(self) -> None:
        assert self._server is not None
        while not self._stopping.is_set():
            try:
                client, _addr = self._server.accept()
            except OSError:
                return
            self._track(client)
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        try:
            first = client.recv(1, socket.MSG_PEEK)
        except OSError:
            client.close()
            return
        if not first:
            client.close()
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._track(upstream)
        plain = first[0] != TLS_HANDSHAKE
        if not plain:
            with self._lock:
                self.tls_connections += 1
        self._spawn(self._pipe, upstream, client, False)
        self._pipe(client, upstream, plain)

    def _pipe(self, src: socket.socket, dst: socket.socket, parse: bool) -> None:
        parser = _RequestHeads(self._record) if parse else None
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if parser is not None:
                    parser.feed(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def _record(self, request: PlainRequest) -> None:
        with self._lock:
            self.plaintext.append(request)


class _RequestHeads:
    """Finds the request heads in a client's byte stream (bodies skipped by Content-Length)."""

    def __init__(self, record: object) -> None:
        self._record = record
        self._buf = bytearray()
        self._skip = 0
        self._lost = False  # a chunked body: later heads cannot be found reliably

    def feed(self, data: bytes) -> None:
        if self._lost:
            return
        self._buf.extend(data)
        while True:
            if self._skip:
                n = min(self._skip, len(self._buf))
                del self._buf[:n]
                self._skip -= n
                if self._skip:
                    return
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buf[:end]).decode("latin-1")
            del self._buf[: end + 4]
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            auth = headers.get("authorization")
            self._record(  # type: ignore[operator]
                PlainRequest(
                    method=parts[0] if parts else "",
                    target=parts[1] if len(parts) > 1 else "",
                    header_names=tuple(headers),
                    authorization=auth.split(" ", 1)[0] if auth else None,
                )
            )
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._lost = True
                return
            length = headers.get("content-length", "0")
            self._skip = int(length) if length.isdigit() else 0


HOSTS_FILE = "/etc/hosts"


def ensure_hosts_entry(name: str, address: str, hosts_file: str = HOSTS_FILE) -> bool:
    """Map ``name`` to ``address`` (a 127.0.0.x) in /etc/hosts, idempotently; never removes a
    line. False when the file cannot be written (not root): the caller skips."""
    import fcntl

    try:
        with open(hosts_file, "r+", encoding="utf-8") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            for line in handle.read().splitlines():
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2 and name in fields[1:]:
                    return fields[0] == address
            handle.seek(0, 2)
            handle.write(f"{address} {name}  # regkit tests (tests/rig/relay.py)\n")
            return True
    except OSError:
        return False
