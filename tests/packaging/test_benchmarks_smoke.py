"""The benchmark harness's pieces work: latency proxy, request counter, timing, today's scripts,
report. No timed assertions beyond "a delay was added" (a lower bound load cannot break)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from benchmarks.harness import count_requests, lower_bound, median, timed
from benchmarks.latency import LatencyProxy
from benchmarks.report import write_chart, write_markdown

from tests.rig import Rig, crane_path, short_sha_tags
from tests.rig.accesslog import AccessRecord, parse_nginx_line
from tests.rig.shapes import write_docker_config

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


# -- a plain TCP echo server ------------------------------------------------------------------
@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[:2]
    finally:
        stop.set()
        t.join(2)
        srv.close()


def _roundtrip(sock: socket.socket, payload: bytes) -> bytes:
    got = bytearray()

    def send() -> None:
        sock.sendall(payload)

    sender = threading.Thread(target=send)
    sender.start()
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, "connection closed early"
        got += chunk
    sender.join()
    return bytes(got)


def test_proxy_passes_bytes_intact_and_adds_the_delay(echo_server: tuple[str, int]) -> None:
    delay = 0.05
    payload = os.urandom(3 * 1024 * 1024 + 17)  # many chunks, odd size
    with LatencyProxy(echo_server, delay, connect_rtt=False) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            started = time.monotonic()
            assert _roundtrip(sock, b"ping") == b"ping"
            first = time.monotonic() - started
            assert _roundtrip(sock, payload) == payload
        assert proxy.stats.snapshot() == (1, len(payload) + 4, len(payload) + 4)
    assert first >= 2 * delay  # one way there, one way back


def test_proxy_charges_a_round_trip_for_a_new_connection(echo_server: tuple[str, int]) -> None:
    delay = 0.03
    with LatencyProxy(echo_server, delay) as proxy:  # connect_rtt on (the default)
        assert proxy.host == f"127.0.0.1:{proxy.port}"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            started = time.monotonic()
            assert _roundtrip(sock, b"hello") == b"hello"
            assert time.monotonic() - started >= 4 * delay  # handshake RTT + request RTT


def test_proxy_stops_with_connections_open(echo_server: tuple[str, int]) -> None:
    proxy = LatencyProxy(echo_server, 0.01).start()
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    try:
        assert _roundtrip(sock, b"x") == b"x"
        proxy.stop()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
    finally:
        sock.close()


# -- the request counter ----------------------------------------------------------------------
def _line(method: str, path: str, status: int, length: int) -> AccessRecord:
    rec = parse_nginx_line(f"{method} {path} {status} {length} 300 0.001 HTTP/1.1 {status}")
    assert rec is not None
    return rec


def test_count_requests_from_nginx_lines() -> None:
    records = [
        _line("GET", "/v2/", 401, 80),
        _line("GET", "/v2/", 200, 120),
        _line("HEAD", "/v2/a/manifests/x", 404, 200),
        _line("POST", "/v2/a/blobs/uploads/", 202, 300),
        _line("PUT", "/v2/a/blobs/uploads/u1?_state=s&digest=sha256%3Aab", 201, 1_048_900),
        _line("PATCH", "/v2/a/blobs/uploads/u2?_state=s", 202, 5000),
        _line("PUT", "/v2/a/blobs/uploads/u2?_state=s&digest=sha256%3Acd", 201, 400),  # empty
        _line("POST", "/v2/b/blobs/uploads/?mount=sha256%3Aab&from=a", 201, 350),
        _line("POST", "/v2/b/blobs/uploads/?mount=sha256%3Aef&from=a", 202, 350),  # not mounted
        _line("PUT", "/v2/b/manifests/latest", 201, 2000),
    ]
    c = count_requests(records)
    assert c.total == 10
    assert c.by_method == {"GET": 2, "HEAD": 1, "PATCH": 1, "POST": 3, "PUT": 3}
    assert (c.blob_uploads, c.upload_bytes) == (2, 1_048_900 + 5000)
    assert c.mounts == 1
    assert c.errors == 1  # the 404; the 401 challenge is not an error


def test_lower_bound_and_median() -> None:
    assert lower_bound(400, 0.04, 16, 0.3) == pytest.approx(1.3)
    assert lower_bound(10, 0.04, 0, 0.0) == pytest.approx(0.4)  # concurrency floor 1
    assert median([3.0, 1.0, 2.0]) == 2.0


def _client_through(rig: Rig, proxy: LatencyProxy) -> httpx.Client:
    return httpx.Client(
        base_url=f"https://{proxy.host}",
        auth=rig.credentials,
        verify=rig.ssl_context(),
        http2=False,
        timeout=30,
    )


def test_counter_reads_the_rig_log_through_the_proxy(rig_tls: Rig, repo_prefix: str) -> None:
    """TLS through the proxy (the rig's cert is for 127.0.0.1), and the log counts exactly the
    requests sent, with the upload's bytes and the mount."""
    rig_tls.ensure_running()
    host, port = rig_tls.host.rsplit(":", 1)
    blob = os.urandom(256 * 1024)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with LatencyProxy((host, int(port)), 0.002) as proxy, _client_through(rig_tls, proxy) as c:
        rig_tls.mark()
        assert c.get("/v2/").status_code == 200
        r = c.post(f"/v2/{repo_prefix}/a/blobs/uploads/")
        assert r.status_code == 202
        location = r.headers["location"]
        sep = "&" if "?" in location else "?"
        put = c.put(f"{location}{sep}digest={digest}", content=blob)
        assert put.status_code == 201
        m = c.post(f"/v2/{repo_prefix}/b/blobs/uploads/?mount={digest}&from={repo_prefix}/a")
        assert m.status_code == 201
        got = c.get(f"/v2/{repo_prefix}/b/blobs/{digest}")
        assert got.content == blob  # bytes intact both ways
        counts = count_requests(rig_tls.access_records())
    assert counts.total == 5
    assert counts.by_method == {"GET": 2, "POST": 2, "PUT": 1}
    assert counts.blob_uploads == 1
    assert len(blob) < counts.upload_bytes < len(blob) + 4096
    assert counts.mounts == 1


# -- timing a command -------------------------------------------------------------------------
def test_timed_reports_exit_code_output_and_rss() -> None:
    r = timed(["bash", "-c", "echo out; echo err >&2; exit 3"], os.environ)
    assert (r.returncode, r.stdout, r.stderr) == (3, b"out\n", b"err\n")
    assert not r.ok
    if os.access("/usr/bin/time", os.X_OK):
        # bash's own peak, a few MiB: not this Python process's (tens of MiB)
        assert 0 < r.max_rss_kib < 20_000


# -- today's scripts, against the rig through the proxy ---------------------------------------
@pytest.fixture
def bench_env(rig_tls: Rig, tmp_path: Path) -> Iterator[tuple[Rig, LatencyProxy, dict[str, str]]]:
    crane = crane_path()
    if crane is None or shutil.which("jq") is None:
        pytest.skip("crane and jq are needed for today's scripts")
    rig_tls.ensure_running()
    host, port = rig_tls.host.rsplit(":", 1)
    with LatencyProxy((host, int(port)), 0.0) as proxy:
        write_docker_config(tmp_path / "docker", proxy.host, rig_tls.username, rig_tls.password)
        env = rig_tls.env(DOCKER_CONFIG=str(tmp_path / "docker"), CRANE=crane)
        yield rig_tls, proxy, env


def test_today_prune_flow_keeps_the_newest(
    bench_env: tuple[Rig, LatencyProxy, dict[str, str]], repo_prefix: str
) -> None:
    rig, proxy, env = bench_env
    repo = f"{repo_prefix}/app"
    tags = short_sha_tags(8, seed=7)
    rig.pusher().push_images(repo, tags, "oci-index", label_format="team", jobs=4)
    cp = subprocess.run(
        ["bash", str(BENCH / "today" / "prune.sh"), f"{proxy.host}/{repo}", "6"],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert cp.returncode == 0, cp.stderr.decode()
    assert sorted(rig.pusher().tags(repo)) == sorted(tags[2:])  # the 6 newest stay


def test_today_overview_lists_every_tag(
    bench_env: tuple[Rig, LatencyProxy, dict[str, str]], repo_prefix: str, tmp_path: Path
) -> None:
    rig, proxy, env = bench_env
    repo = f"{repo_prefix}/app"
    tags = short_sha_tags(3, seed=8)
    rig.pusher().push_images(repo, tags, "oci", label_format="team", description="Fix it")
    # the Taskfile loop walks the whole catalog; run only this repository's part of it
    crane = _catalog_filter(tmp_path, Path(env["CRANE"]), repo)
    cp = subprocess.run(
        ["bash", str(BENCH / "today" / "overview.sh"), proxy.host],
        env={**env, "CRANE": str(crane)},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert cp.returncode == 0, cp.stderr.decode()
    lines = cp.stdout.decode().splitlines()
    assert lines[0] == f"== {proxy.host}/{repo}"
    rows = {line.split()[0]: line for line in lines[2:] if line.strip()}
    assert set(rows) == set(tags)
    assert all(row.endswith("Fix it") for row in rows.values())
    assert rows[tags[0]].split()[1:3] == ["2024-01-02", "03:04:05"]  # team label format


def _catalog_filter(directory: Path, crane: Path, repo: str) -> Path:
    """A crane wrapper whose ``catalog`` prints only ``repo`` (the session rig is shared)."""
    path = directory / "crane-one-repo"
    path.write_text(
        "#!/usr/bin/env bash\n"
        f'if [ "$1" = catalog ]; then echo {json.dumps(repo)}; exit 0; fi\n'
        f'exec {json.dumps(str(crane))} "$@"\n'
    )
    path.chmod(0o755)
    return path


# -- the report ---------------------------------------------------------------------------------
def test_report_writes_table_and_chart(tmp_path: Path) -> None:
    meta = {
        "date": "2026-01-01 00:00 UTC",
        "command": "benchmarks/run --quick",
        "quick": True,
        "machine": {"nproc": "2", "cpu": "CPU", "kernel": "Linux 6", "python": "3.11"},
        "delay_ms": 20.0,
        "rtt_ms": 40.0,
        "connect_rtt": True,
        "repeat": 1,
        "jobs": 16,
        "startup_s": {"regkit": 0.2, "crane": 0.05},
        "elapsed_s": 1.0,
        "versions": {k: k for k in ("regkit", "crane", "skopeo", "registry", "nginx", "jq")},
    }
    row = {
        "tool": "regkit overview",
        "skip": None,
        "runs": 1,
        "median": 1.0,
        "min": 1.0,
        "max": 1.0,
        "requests": 400,
        "lower_bound": 1.2,
        "peak_rss_kib": 40960,
        "upload_bytes": 0,
        "mounts": 0,
        "failures": [],
        "ratio": 1.0,
    }
    peer = row | {"tool": "crane", "median": 4.0, "min": 3.0, "max": 5.0, "ratio": 0.25}
    missing = row | {"tool": "regkit prune", "skip": "not run: command missing", "median": None}
    results = [
        {"key": "overview-100", "title": "overview", "rows": [row, peer]},
        {"key": "prune-100", "title": "prune", "rows": [missing]},
    ]
    targets = [{"scenario": "overview-100", "target": "< 1.5 s", "measured": "1.00 s", "met": True}]
    write_markdown(tmp_path / "r.md", meta, results, targets)
    text = (tmp_path / "r.md").read_text()
    assert "| overview | crane | 4.00 | 3.00-5.00 | 1 | 400 | 1.20 | 0.250 (4.0x faster) |" in text
    assert "| prune | regkit prune | not run: command missing |" in text
    assert "| overview-100 | < 1.5 s | 1.00 s | yes |" in text
    write_chart(tmp_path / "r.png", meta, results)
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
