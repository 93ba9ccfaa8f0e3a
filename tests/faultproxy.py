"""A fault-injecting HTTP proxy on loopback, in front of a real registry.

Every request is forwarded to ``upstream`` unless the test's ``plan`` says otherwise for it:
answer 429 (with or without ``Retry-After``), 502/503, reset the connection mid-body, stall
past the client's timeout, cut a body short, or hold a request until the test releases it
(``hold(gate)``: ``gate.arrived`` is set when it comes in, it goes on to the registry once
``gate.release`` is set). The proxy speaks plain HTTP/1.1 to the client
(loopback), so it fits in front of the "basic" rig (plain HTTP with htpasswd).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.fakeserver import loopback_server


class Gate:
    """A held request: ``arrived`` is set when it reaches the proxy; it is forwarded once the
    test sets ``release`` (or after ``limit`` seconds, so a failed test never hangs)."""

    def __init__(self, limit: float = 120.0) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.limit = limit


@dataclass(frozen=True)
class Fault:
    kind: str  # "status", "reset", "stall", "truncate", "hold"
    status: int = 503
    retry_after: str | None = None
    stall: float = 0.0
    gate: Gate | None = None


def status(code: int, retry_after: str | None = None) -> Fault:
    return Fault("status", status=code, retry_after=retry_after)


RESET = Fault("reset")
TRUNCATE = Fault("truncate")


def stall(seconds: float) -> Fault:
    return Fault("stall", stall=seconds)


def hold(gate: Gate) -> Fault:
    """Hold the request until ``gate.release`` is set, then forward it."""
    return Fault("hold", gate=gate)


@dataclass
class Request:
    index: int
    method: str
    path: str


Plan = Callable[[Request], Fault | None]


@dataclass
class FaultProxy:
    upstream: str  # host:port of the real registry (plain HTTP)
    plan: Plan
    host: str = ""
    seen: list[tuple[Request, Fault | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def faults(self) -> list[tuple[Request, Fault]]:
        return [(r, f) for r, f in self.seen if f is not None]


def every_nth(n: int, fault: Fault, *, methods: tuple[str, ...] = (), limit: int = 10**9) -> Plan:
    """Fault every n-th matching request (``limit`` faults at most)."""
    count = {"match": 0, "faults": 0}

    def plan(req: Request) -> Fault | None:
        if methods and req.method not in methods:
            return None
        count["match"] += 1
        if count["match"] % n == 0 and count["faults"] < limit:
            count["faults"] += 1
            return fault
        return None

    return plan


@contextmanager
def fault_proxy(upstream: str, plan: Plan) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream, plan)
    counter = iter(range(10**9))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                body = self._read_chunked()
            req = Request(next(counter), self.command, urlsplit(self.path).path)
            fault = proxy.plan(req)
            with proxy._lock:
                proxy.seen.append((req, fault))
            if fault and fault.kind == "status":
                payload = b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}'
                self.send_response(fault.status)
                if fault.retry_after is not None:
                    self.send_header("Retry-After", fault.retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":  # a body after a HEAD answer would poison the
                    self.wfile.write(payload)  # keep-alive connection for the next request
                return
            if fault and fault.kind == "hold" and fault.gate is not None:
                fault.gate.arrived.set()
                fault.gate.release.wait(fault.gate.limit)
            if fault and fault.kind == "stall":
                time.sleep(fault.stall)
                self.close_connection = True
                return
            conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "transfer-encoding")
            }
            headers["Host"] = proxy.host
            if body is not None:
                headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            self.send_response(resp.status)
            for key, value in resp.getheaders():
                if key.lower() in ("content-length", "transfer-encoding", "connection"):
                    continue
                self.send_header(key, value.replace(proxy.upstream, proxy.host))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if fault and fault.kind in ("reset", "truncate") and len(data) > 1:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                if fault.kind == "reset":
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                self.close_connection = True
                return
            self.wfile.write(data)

        def _read_chunked(self) -> bytes:
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

    with loopback_server(Handler) as host:
        proxy.host = host
        yield proxy
