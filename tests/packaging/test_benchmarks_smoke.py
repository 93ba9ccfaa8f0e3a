"""The benchmark harness's pieces work: latency proxy, request counter, timing, today's scripts,
report. No timed assertions beyond "a delay was added" (a lower bound load cannot break)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# -- the signed and start-up scenarios (issues 23 and 25) ---------------------------------------
def _row(tool: str, median: float | None, **extra: object) -> dict[str, object]:
    return {
        "tool": tool,
        "skip": None,
        "runs": 0 if median is None else 1,
        "median": median,
        "requests": 100,
        "failures": [],
    } | extra


def test_startup_targets_are_ratios_against_python_and_crane() -> None:
    from benchmarks.scenarios_startup import PY_HTTPX, PY_PASS, startup_targets

    results = [
        {
            "key": "startup-version",
            "rows": [
                _row("regkit version", 0.08),
                _row(PY_PASS, 0.02),
                _row(PY_HTTPX, 0.06),
                _row("crane version", 0.01),
            ],
        },
        {"key": "startup-digest", "rows": [_row("regkit digest", 0.5), _row("crane digest", 0.04)]},
        {"key": "startup-ls", "rows": [_row("regkit ls", 0.2), _row("crane ls", None)]},
    ]
    by = {t["scenario"]: t for t in startup_targets(results)}
    assert by["startup-version"]["target"] == "regkit version <= 4x python -c pass"
    assert by["startup-version"]["met"] is True  # 4.0x: within
    assert "regkit version 80 ms / python -c pass 20 ms = 4.0x" in by["startup-version"]["measured"]
    # the floor of a Python CLI on httpx on this machine, said in each entry
    assert f"(`{PY_HTTPX}`): 60 ms = 3.0x python -c pass" in by["startup-digest"]["measured"]
    assert by["startup-digest"]["met"] is False  # 12.5x crane digest
    assert "= 12.5x" in by["startup-digest"]["measured"]
    assert (by["startup-ls"]["measured"], by["startup-ls"]["met"]) == ("not run", None)
    assert startup_targets([]) == []  # scenario not run: no entry


def test_signed_targets_say_what_was_verified_and_the_ratios() -> None:
    from benchmarks.scenarios_signed import signed_targets

    overview = {"key": "signed-overview-40", "rows": [_row("regkit overview", 1.0)]}
    prune = {
        "key": "signed-prune-40",
        "rows": [
            _row("regkit prune", 1.5, runs=5),
            _row("today: prune flow (crane; knows no signatures: leaves those of ...)", 30.0),
        ],
    }
    (t,) = signed_targets([overview, prune])
    assert t["scenario"] == "signed-prune-40" and t["met"] is True
    assert "1.50x regkit overview of the same repository (1.00 s" in t["measured"]
    assert "0.05x today: prune flow (crane)" in t["measured"]
    assert "5 of 5 runs verified" in t["measured"]
    prune["rows"][0]["failures"] = ["run 2: tags: 1 left that should go ['sha256-ab.sig']"]
    (t,) = signed_targets([overview, prune])
    assert t["met"] is False and "5 of 6 runs verified" in t["measured"]
    prune["rows"][0] = _row("regkit prune", None, skip="not run: cosign not built (...)")
    (t,) = signed_targets([prune])
    assert (t["measured"], t["met"]) == ("not run: cosign not built (...)", None)


class _FakePusher:
    def __init__(self, tags: set[str], manifests: set[str]) -> None:
        self._tags, self._manifests = tags, manifests

    def tags(self, _repo: str) -> list[str]:
        return sorted(self._tags)

    def manifest_status(self, _repo: str, ref: str) -> int:
        return 200 if ref in self._manifests else 404


def _signed_state(n: int) -> object:
    from benchmarks.scenarios_signed import SignedImage, SignedState

    state = SignedState(n, verified=True)  # cosign verify is the real run's part
    state.images = [
        SignedImage(f"{i:07x}", "sha256:" + f"{i:x}" * 64, "sha256:" + f"{i:x}b" * 32)
        for i in range(n)
    ]
    return state


def test_signed_verification_catches_a_referrer_left_behind() -> None:
    from types import SimpleNamespace

    from benchmarks.scenarios_signed import verify_left_behind, verify_pruned

    state: Any = _signed_state(8)
    staying_tags = {t for img in state.staying for t in (img.tag, *img.referrer_tags)}
    sboms = {img.sbom for img in state.staying}
    good = SimpleNamespace(pusher=_FakePusher(staying_tags, sboms))
    assert verify_pruned(good, state) is None  # type: ignore[arg-type]
    # a deleted image's signature tag still there
    sig = state.going[0].referrer_tags[1]
    left = SimpleNamespace(pusher=_FakePusher(staying_tags | {sig}, sboms))
    assert "1 left that should go" in (verify_pruned(left, state) or "")  # type: ignore[arg-type]
    # its SBOM manifest still there (untagged: only a HEAD by digest finds it)
    orphan = SimpleNamespace(pusher=_FakePusher(staying_tags, sboms | {state.going[1].sbom}))
    assert "SBOM of deleted" in (verify_pruned(orphan, state) or "")  # type: ignore[arg-type]
    # a staying image's signature gone
    lost = SimpleNamespace(
        pusher=_FakePusher(staying_tags - {state.staying[0].referrer_tags[1]}, sboms)
    )
    assert "1 lost" in (verify_pruned(lost, state) or "")  # type: ignore[arg-type]
    # the crane flow: its row says it leaves every referrer of a deleted image behind
    going_refs = {t for img in state.going for t in img.referrer_tags}
    crane_left = SimpleNamespace(pusher=_FakePusher(staying_tags | going_refs, set()))
    assert verify_left_behind(crane_left, state) is None  # type: ignore[arg-type]
    assert "referrer tags behind" in (verify_left_behind(good, state) or "")  # type: ignore[arg-type]


def test_run_options_for_the_new_scenarios() -> None:
    from benchmarks.run import parse_args

    quick = parse_args(["--quick", "--scenario", "signed", "--scenario", "startup"])
    assert (quick.signed_images, quick.startup_repeat, quick.repeat) == (10, 3, 1)
    full = parse_args([])
    assert (full.signed_images, full.startup_repeat) == (40, 21)
    with pytest.raises(SystemExit) as exc:
        parse_args(["--signed-images", "6"])  # the prune keeps 6: nothing would go
    assert exc.value.code == 2


def test_report_says_how_startup_was_measured(tmp_path: Path) -> None:
    meta = {
        "date": "2026-01-01 00:00 UTC",
        "command": "benchmarks/run --scenario startup",
        "quick": False,
        "machine": {"nproc": "2", "cpu": "CPU", "kernel": "Linux 6", "python": "3.11"},
        "delay_ms": 20.0,
        "rtt_ms": 40.0,
        "connect_rtt": True,
        "repeat": 5,
        "jobs": 16,
        "startup_s": {"regkit": 0.05},
        "startup_repeat": 21,
        "elapsed_s": 1.0,
        "versions": {k: k for k in ("regkit", "crane", "skopeo", "registry", "nginx", "jq")},
    }
    row = _row("regkit version", 0.08, min=0.07, max=0.09, lower_bound=0.05, peak_rss_kib=15360)
    row |= {"upload_bytes": 0, "mounts": 0, "requests": 0}
    py = row | {"tool": "python -c pass", "median": 0.02, "min": 0.02, "max": 0.03, "ratio": 4.0}
    results = [{"key": "startup-version", "title": "start-up: version", "rows": [row, py]}]
    targets = [
        {"scenario": "startup-version", "target": "t", "measured": "m", "met": False},
    ]
    write_markdown(tmp_path / "r.md", meta, results, targets)
    text = (tmp_path / "r.md").read_text()
    assert "no latency proxy" in text and "median of 21 runs per command" in text
    assert (
        "| start-up: version | python -c pass | 0.02 | 0.02-0.03 | 1 | 0 | 0.05 "
        "| 4.00 (4.0x slower) |" in text
    )
    assert "| startup-version | t | m | **no** |" in text


@pytest.mark.rig
def test_signed_and_startup_scenarios_run_end_to_end(tmp_path: Path) -> None:
    """``benchmarks/run --quick --scenario signed --scenario startup`` with 7 signed images and 1
    run per command: every run verified (the prune put back between runs, the crane flow's
    referrers left behind, cosign verify of a staying image), the rows and targets written. About
    25 s."""
    from tests.rig.tools import tool_path

    missing = [t for t in ("cosign", "oras", "crane", "jq", "nginx") if tool_path(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/install-system-deps)")
    out = tmp_path / "results"
    cp = subprocess.run(
        [
            str(Path(sys.executable)),
            str(BENCH / "run.py"),
            "--quick",
            "--scenario",
            "signed",
            "--scenario",
            "startup",
            "--signed-images",
            "7",
            "--startup-repeat",
            "1",
            "--tags",
            "5",
            "--out",
            str(out),
            "--name",
            "smoke",
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert cp.returncode == 0, cp.stderr.decode()[-3000:]
    data = json.loads((out / "smoke.json").read_text())
    rows = {(r["key"], row["tool"]): row for r in data["results"] for row in r["rows"]}
    keys = {key for key, _ in rows}
    assert keys == {
        "signed-overview-7",
        "signed-prune-7",
        "startup-version",
        "startup-digest",
        "startup-ls",
    }
    assert all(row["runs"] == 1 and not row["failures"] for row in rows.values()), rows
    crane_prune = [t for k, t in rows if k == "signed-prune-7" and t.startswith("today")]
    assert crane_prune == [
        "today: prune flow (crane; knows no signatures: leaves those of the 1 deleted images "
        "behind)"
    ]
    assert rows[("startup-version", "python -c pass")]["requests"] == 0
    assert rows[("startup-digest", "regkit digest")]["requests"] >= 1  # straight to nginx
    targets = {t["scenario"]: t for t in data["targets"]}
    assert targets["signed-prune-7"]["met"] is True
    assert all(
        targets[k]["met"] is not None for k in ("startup-version", "startup-digest", "startup-ls")
    )
    text = (out / "smoke.md").read_text()
    assert "| startup-digest | regkit digest <= 10x crane digest |" in text
