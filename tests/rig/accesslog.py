"""Reading the request log of a rig: nginx's access log (tls) or the registry's (basic)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple


class Request(NamedTuple):
    """One logged request. ``path`` is the request target as sent, query string included.

    ``request_length`` is nginx's ``$request_length`` (request line + headers + body, bytes as
    received by nginx); None on the basic shape, whose registry log does not record it.
    """

    method: str
    path: str
    status: int
    request_length: int | None


@dataclass(frozen=True)
class AccessRecord:
    method: str
    path: str
    status: int
    request_length: int | None  # None on the basic shape
    bytes_sent: int  # nginx: $bytes_sent (headers + body); registry: response body bytes
    request_time: float | None  # seconds (nginx only)
    protocol: str  # "HTTP/1.1", "HTTP/2.0"
    upstream_status: str | None  # status the registry gave nginx; None when nginx answered alone

    @property
    def request(self) -> Request:
        return Request(self.method, self.path, self.status, self.request_length)


def parse_nginx_line(line: str) -> AccessRecord | None:
    parts = line.split(" ")
    if len(parts) != 8:
        return None
    method, path, status, req_len, sent, rtime, proto, upstream = parts
    return AccessRecord(
        method=method,
        path=path,
        status=int(status),
        request_length=int(req_len),
        bytes_sent=int(sent),
        request_time=float(rtime),
        protocol=proto,
        upstream_status=None if upstream == "-" else upstream,
    )


_COMBINED = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+|-)')


def parse_registry_line(line: str) -> AccessRecord | None:
    """A gorilla combined-log line from distribution's access log; None for other lines."""
    m = _COMBINED.match(line)
    if m is None:
        return None
    method, path, proto, status, size = m.groups()
    return AccessRecord(
        method=method,
        path=path,
        status=int(status),
        request_length=None,
        bytes_sent=0 if size == "-" else int(size),
        request_time=None,
        protocol=proto,
        upstream_status=status,
    )


class AccessLog:
    """A log file read from a mark: ``mark()`` forgets everything logged so far."""

    def __init__(self, path: Path, parse: Callable[[str], AccessRecord | None]) -> None:
        self.path = path
        self._parse = parse
        self._mark = 0

    def settle(self, quiet: float = 0.02, timeout: float = 1.0, *, min_wait: float = 0.0) -> int:
        """Wait until the file has not changed for ``quiet`` seconds; return its size.

        Servers write a log line just after sending the answer, so a client can be a moment
        ahead of the log: ``requests()`` waits at least ``quiet`` before reading.
        """
        deadline = time.monotonic() + timeout
        if min_wait:
            time.sleep(min_wait)
        while True:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                return 0
            age = time.time() - st.st_mtime
            if age >= quiet or time.monotonic() > deadline:
                return st.st_size
            time.sleep(max(quiet - age, 0.001))

    def mark(self) -> None:
        # Like records(): the answer to a client's last request can reach the client before
        # its log line reaches the file; without a pause, that line would count after the mark.
        self._mark = self.settle(min_wait=0.05)

    def records(self, *, since_mark: bool = True) -> list[AccessRecord]:
        end = self.settle(min_wait=0.02)
        start = self._mark if since_mark else 0
        if start > end:  # the file was truncated or replaced
            start = 0
        with open(self.path, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
        out = []
        for raw in data.decode(errors="replace").splitlines():
            rec = self._parse(raw)
            if rec is not None:
                out.append(rec)
        return out

    def requests(self, *, since_mark: bool = True) -> list[Request]:
        return [r.request for r in self.records(since_mark=since_mark)]
