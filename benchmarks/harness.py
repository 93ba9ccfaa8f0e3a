"""Pieces of the benchmark harness: timing a command, counting its requests, lower bounds.

Pure helpers (``count_requests``, ``lower_bound``, ``median``) are tested in
``tests/packaging/test_benchmarks_smoke.py``; ``timed`` runs one command and reads its peak RSS
through GNU time.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class _Record(Protocol):
    """What ``count_requests`` reads of a log record (``tests.rig.AccessRecord``)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def request_length(self) -> int | None: ...


@dataclass(frozen=True)
class RunResult:
    argv: tuple[str, ...]
    seconds: float
    returncode: int
    max_rss_kib: int
    stdout: bytes = field(repr=False)
    stderr: bytes = field(repr=False)
    cpu_seconds: float = 0.0  # user + system CPU of the command and its waited-for descendants

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe_failure(self) -> str:
        err = self.stderr.decode(errors="replace").strip().splitlines()
        tail = " | ".join(err[-3:]) if err else "(no stderr)"
        return f"{self.argv[0]} exited {self.returncode}: {tail}"


TIME_BIN = "/usr/bin/time"  # GNU time (Debian package "time")


def timed(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float = 1800.0,
    cwd: Path | None = None,
) -> RunResult:
    """Run ``argv`` to completion; wall time, exit code, peak RSS (KiB) and output.

    Peak RSS comes from GNU time (``%M``: the largest resident set of the command and of every
    descendant it waited for, e.g. the crane processes of a shell loop). Not from our own
    ``wait4``: a child forked from this (large) Python process keeps the parent's high-water
    mark across ``exec``, so its ``ru_maxrss`` would report the runner's memory. Without GNU
    time ``max_rss_kib`` is 0. After ``timeout`` seconds the process group is killed.
    """
    use_time = os.access(TIME_BIN, os.X_OK)
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss,
    ):
        full = [TIME_BIN, "-q", "-f", "%M %U %S", "-o", rss.name, *argv] if use_time else list(argv)
        started = time.perf_counter()
        proc = subprocess.Popen(
            full,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            returncode = proc.wait()
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        rss_kib, cpu = _parse_time(rss.read()) if use_time else (0, 0.0)
        return RunResult(
            argv=tuple(argv),
            seconds=seconds,
            returncode=returncode,
            max_rss_kib=rss_kib,
            stdout=out.read(),
            stderr=err.read(),
            cpu_seconds=cpu,
        )


def _parse_time(text: str) -> tuple[int, float]:
    """(peak RSS KiB, user + system seconds) from GNU time's ``-o`` file (``%M %U %S``); the
    last line holds them (a line about a signal may come first)."""
    for line in reversed(text.strip().splitlines()):
        parts = line.split()
        if len(parts) == 3 and parts[0].isdigit():
            try:
                return int(parts[0]), float(parts[1]) + float(parts[2])
            except ValueError:
                continue
    return 0, 0.0


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def descendants_cpu(root: int | None = None) -> float:
    """CPU seconds (user + system) used so far by the live descendants of ``root`` (default:
    this process), read from ``/proc``: the rig's registry and nginx processes."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
    total = 0
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / _clock_ticks()


def own_cpu() -> float:
    """CPU seconds of this process (all threads: the latency proxy runs here)."""
    t = os.times()
    return t.user + t.system


# -- requests ---------------------------------------------------------------------------------
_UPLOAD_PATH = re.compile(r"^/v2/.+/blobs/uploads/")


@dataclass(frozen=True)
class RequestCount:
    total: int
    by_method: dict[str, int]
    blob_uploads: int  # PUT/PATCH requests to an upload session that carried a body
    upload_bytes: int  # their $request_length (request line + headers + body)
    mounts: int  # POST ...?mount= answered 201 (blob mounted, nothing uploaded)
    errors: int  # answers >= 400 other than the 401 challenges


def count_requests(records: Iterable[_Record], *, min_body: int = 1024) -> RequestCount:
    """Summarise logged requests. An upload request counts as carrying blob bytes when its
    ``request_length`` exceeds ``min_body`` (headers alone are a few hundred bytes; the empty
    closing PUT of a chunked upload and manifest PUTs are not blob uploads)."""
    total = 0
    by_method: dict[str, int] = {}
    uploads = 0
    upload_bytes = 0
    mounts = 0
    errors = 0
    for r in records:
        total += 1
        by_method[r.method] = by_method.get(r.method, 0) + 1
        if r.status >= 400 and r.status != 401:
            errors += 1
        if not _UPLOAD_PATH.match(r.path):
            continue
        if r.method == "POST" and "mount=" in r.path and r.status == 201:
            mounts += 1
        elif r.method in ("PUT", "PATCH") and (r.request_length or 0) > min_body:
            uploads += 1
            upload_bytes += r.request_length or 0
    return RequestCount(
        total, dict(sorted(by_method.items())), uploads, upload_bytes, mounts, errors
    )


def lower_bound(requests: int, rtt: float, concurrency: int, startup: float) -> float:
    """Seconds no client can beat: every request costs one round trip, ``concurrency`` of them
    overlap, plus the process start-up."""
    return requests * rtt / max(concurrency, 1) + startup


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the machine ------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, str]:
    return {
        "nproc": str(os.cpu_count() or "?"),
        "cpu": cpu_model(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def tool_version(argv: Sequence[str]) -> str:
    """First line a version command prints (stdout, else stderr), or 'not found'."""
    try:
        cp = subprocess.run(list(argv), capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (cp.stdout or cp.stderr).decode(errors="replace").strip()
    return text.splitlines()[0] if text else "unknown"


__all__ = [
    "RequestCount",
    "RunResult",
    "count_requests",
    "cpu_model",
    "descendants_cpu",
    "lower_bound",
    "machine",
    "median",
    "own_cpu",
    "timed",
    "tool_version",
]
