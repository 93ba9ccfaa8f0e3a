"""regkit against crane, regctl, skopeo and the team's current scripts, side by side, in one run.

Starts the production-shape rig (registry:3 behind nginx TLS + basic auth, distribution 2.8
where registry:3 is not built; from ``tests/rig``) behind a latency proxy on loopback
(``benchmarks/latency.py``, default 20 ms one way = 40 ms round trip), seeds each scenario's
images, runs every tool ``--repeat`` times in alternating order, and writes
``benchmarks/results/latest.{md,json,png}``.

Run it with ``benchmarks/run`` (``--quick`` for a smoke run, ``--help`` for the options).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.rig import (  # noqa: E402
    PushedImage,
    Pusher,
    Rig,
    Version,
    crane_path,
    regctl_path,
    registry_binary,
    short_sha_tags,
    start_rig,
)
from tests.rig.shapes import write_docker_config  # noqa: E402

from benchmarks.harness import (  # noqa: E402
    RequestCount,
    RunResult,
    count_requests,
    descendants_cpu,
    lower_bound,
    machine,
    median,
    own_cpu,
    timed,
    tool_version,
)
from benchmarks.latency import LatencyProxy  # noqa: E402
from benchmarks.report import write_chart, write_json, write_markdown  # noqa: E402
from benchmarks.scenarios_prune import (  # noqa: E402
    big_targets,
    buildx_scenario,
    daily_scenario,
    jobs_tools,
    pair_targets,
)
from benchmarks.scenarios_signed import signed_scenarios, signed_targets  # noqa: E402
from benchmarks.scenarios_startup import startup_scenarios, startup_targets  # noqa: E402

HERE = Path(__file__).resolve().parent
TODAY = HERE / "today"
PEERS = HERE / "peers"
# benchmarks/run points this at a venv of the runtime lock only (what users install)
REGKIT = Path(os.environ.get("REGKIT_BENCH_REGKIT") or ROOT / ".venv" / "bin" / "regkit")
KEEP = 6
PROMOTE_TARGETS = ("v1.4.2", "v1.4", "v1", "latest")
SOURCE_TAG = "abc1234"
DEFAULT_JOBS = 16
NOT_RUN_MISSING = "not run: command missing"
NOT_RUN_REGCTL = "not run: regctl not built (scripts/install-system-deps)"


# -- data ---------------------------------------------------------------------------------------
@dataclass
class Tool:
    name: str
    argv: Callable[[int], list[str]]  # run index -> argv
    concurrency: int
    startup: str  # key into Bench.startup
    skip: str | None = None  # reason the tool is not run
    env: Callable[[int], dict[str, str]] | None = None  # run index -> extra environment


@dataclass
class Scenario:
    key: str
    title: str
    target: str
    setup: Callable[[], None]
    tools: list[Tool]
    verify: Callable[[Tool, int, RunResult], str | None]
    reset: Callable[[], None] = lambda: None
    repeat: int | None = None  # None: the run's --repeat
    tags: int | None = None
    rtt: float | None = None  # None: the latency proxy's; 0 for runs straight to the rig


@dataclass
class Measured:
    tool: str
    concurrency: int
    startup: float
    seconds: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    upload_bytes: list[int] = field(default_factory=list)
    uploads: list[int] = field(default_factory=list)
    mounts: list[int] = field(default_factory=list)
    http_errors: list[int] = field(default_factory=list)
    tool_cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    registry_cpu: list[float] = field(default_factory=list)  # the registry process alone
    proxy_cpu: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skip: str | None = None

    def add(
        self,
        result: RunResult,
        counts: RequestCount,
        server: float,
        proxy: float,
        registry: float | None = None,
    ) -> None:
        if registry is not None:
            self.registry_cpu.append(registry)
        self.seconds.append(result.seconds)
        self.tool_cpu.append(result.cpu_seconds)
        self.server_cpu.append(server)
        self.proxy_cpu.append(proxy)
        self.requests.append(counts.total)
        self.rss_kib.append(result.max_rss_kib)
        self.upload_bytes.append(counts.upload_bytes)
        self.uploads.append(counts.blob_uploads)
        self.mounts.append(counts.mounts)
        self.http_errors.append(counts.errors)

    def summary(self, rtt: float) -> dict[str, Any]:
        requests = int(median(self.requests)) if self.requests else None
        return {
            "tool": self.tool,
            "skip": self.skip,
            "runs": len(self.seconds),
            "seconds": self.seconds,
            "median": median(self.seconds) if self.seconds else None,
            "min": min(self.seconds) if self.seconds else None,
            "max": max(self.seconds) if self.seconds else None,
            "requests": requests,
            "concurrency": self.concurrency,
            "startup": self.startup,
            "lower_bound": (
                lower_bound(requests, rtt, self.concurrency, self.startup)
                if requests is not None
                else None
            ),
            "peak_rss_kib": max(self.rss_kib) if self.rss_kib else None,
            "upload_bytes": max(self.upload_bytes) if self.upload_bytes else None,
            "uploads": max(self.uploads) if self.uploads else None,
            "mounts": int(median(self.mounts)) if self.mounts else None,
            "http_errors": max(self.http_errors) if self.http_errors else None,
            "cpu": {
                "tool": median(self.tool_cpu) if self.tool_cpu else None,
                "server": median(self.server_cpu) if self.server_cpu else None,
                "proxy": median(self.proxy_cpu) if self.proxy_cpu else None,
                "registry": median(self.registry_cpu) if self.registry_cpu else None,
            },
            "failures": self.failures,
        }


# -- the bench ----------------------------------------------------------------------------------
class Bench:
    """The rig behind the latency proxy, the tools' environment and the scenarios' data."""

    def __init__(self, rig: Rig, proxy: LatencyProxy, workdir: Path, jobs: int | None) -> None:
        self.rig = rig
        self.proxy = proxy
        self.host = proxy.host
        self.jobs = jobs
        self.pusher = Pusher.for_rig(rig)
        self.workdir = workdir
        self.docker_dir = workdir / "docker"
        write_docker_config(self.docker_dir, self.host, rig.username, rig.password)
        crane = crane_path()
        self.crane = crane or "crane"
        self.regctl = regctl_path()
        self.skopeo = shutil.which("skopeo")
        assert rig.ca_file is not None and rig.cert_dir is not None
        self.env = rig.env(
            DOCKER_CONFIG=str(self.docker_dir),
            CRANE=self.crane,
            REGCTL=self.regctl or "regctl",
            REGCTL_CONFIG=str(workdir / "regctl-config.json"),
            SKOPEO_AUTHFILE=str(self.docker_dir / "config.json"),
            SKOPEO_CERT_DIR=str(rig.cert_dir),
            # regkit overview's content cache: off, except where a row says otherwise (and
            # never in the user's home)
            REGKIT_CACHE="off",
        )
        self.startup: dict[str, float] = {}
        self.images: dict[str, list[PushedImage]] = {}
        self.seeded: tuple[str, int] | None = None

    def cold_cache(self, _i: int) -> dict[str, str]:
        """A new, empty content-cache directory for every run: what a first overview does."""
        fresh = tempfile.mkdtemp(prefix="cache-cold-", dir=self.workdir)
        return {"REGKIT_CACHE": "on", "REGKIT_CACHE_DIR": fresh}

    @property
    def rtt(self) -> float:
        return 2 * self.proxy.delay

    def regkit(self, *args: str) -> list[str]:
        jobs = ["--jobs", str(self.jobs)] if self.jobs else []
        return [str(REGKIT), *args, *jobs]

    def regkit_has(self, command: str) -> bool:
        cp = timed([str(REGKIT), command, "--help"], self.env, timeout=60)
        return cp.ok

    def measure_startup(self, runs: int = 5) -> None:
        commands = {
            "regkit": [str(REGKIT), "--version"],
            "crane": [self.crane, "version"],
            "regctl": [self.regctl or "regctl", "version", "--format", "{{.VCSTag}}"],
            "skopeo": [self.skopeo or "skopeo", "--version"],
        }
        for key, argv in commands.items():
            if key == "regctl" and self.regctl is None:
                continue
            times = [timed(argv, self.env, timeout=60).seconds for _ in range(runs)]
            self.startup[key] = median(times)

    def server_probe(self, requests: int = 400, jobs: int = 16) -> float:
        """Requests per second the rig itself answers (manifest GETs, ``jobs`` at once, straight
        to nginx, no added latency): the ceiling set by the server sharing this machine."""
        self.fresh()
        img = self.pusher.push_image("probe/app", "latest", "oci")

        def get(_i: int) -> None:
            self.pusher.get_manifest("probe/app", img.digest)

        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            list(pool.map(get, range(jobs)))  # connections up
            started = time.perf_counter()
            list(pool.map(get, range(requests)))
        return requests / (time.perf_counter() - started)

    # -- seeding (straight to nginx, not through the proxy) ----------------------------------
    def fresh(self) -> None:
        """An empty registry (storage wiped, same port)."""
        self.rig.wipe()
        self.images.clear()
        self.seeded = None

    def ensure_sha_tags(self, repo: str, n: int) -> None:
        """The registry holds exactly ``repo`` with ``n`` seeded SHA tags: reuse the previous
        scenario's images when they are the same (putting back pruned tags), else wipe and seed."""
        if self.seeded == (repo, n):
            self.retag_missing(repo)
            return
        self.fresh()
        self.seed_sha_tags(repo, n, seed=n)
        self.seeded = (repo, n)

    def seed_sha_tags(self, repo: str, n: int, seed: int) -> list[PushedImage]:
        """``n`` multi-arch images (linux/amd64 + linux/arm64) with short-SHA tags, created one
        hour apart, labels in the team's format."""
        tags = short_sha_tags(n, seed=seed)
        images = self.pusher.push_images(
            repo,
            tags,
            "oci-index",
            label_format="team",
            description="Fix login redirect",
            jobs=8,
        )
        self.images[repo] = images
        return images

    def retag_missing(self, repo: str) -> None:
        """Put back every seeded tag a prune removed: the platform manifests by digest (prune
        deletes those of the indexes it deletes; configs and layers stay until garbage
        collection), then the same index bytes by tag."""
        present = set(self.pusher.tags(repo))
        missing = [img for img in self.images[repo] if img.tags[0] not in present]

        def put(img: PushedImage) -> None:
            for child in img.manifests if img.is_index else ():
                self.pusher.put_manifest(repo, child.digest, child.raw, child.media_type)
            self.pusher.put_manifest(repo, img.tags[0], img.raw, img.media_type)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(put, missing))

    def push_release_image(self, repo: str, tag: str, *, layer_size: int, seed: int) -> PushedImage:
        return self.pusher.push_image(
            repo, tag, "oci-index", layers=2, layer_size=layer_size, seed=seed
        )

    def digest_of(self, repo: str, ref: str) -> str | None:
        if self.pusher.manifest_status(repo, ref) != 200:
            return None
        return self.pusher.get_manifest(repo, ref)[2]


# -- scenarios ----------------------------------------------------------------------------------
def _overview_verify(bench: Bench, repo: str) -> Callable[[Tool, int, RunResult], str | None]:
    def verify(_tool: Tool, _i: int, result: RunResult) -> str | None:
        out = result.stdout.decode(errors="replace")
        missing = [img.tags[0] for img in bench.images[repo] if img.tags[0] not in out]
        if missing:
            return f"{len(missing)} tags missing from the output (e.g. {missing[0]})"
        return None

    return verify


def crane_overview_tools(
    bench: Bench, jobs: int, *, note: str = "", skip: str | None = None
) -> list[Tool]:
    """The team's Taskfile overview loop (crane) and the same loop ``jobs`` crane processes at
    once; ``note`` is added to their labels (what they show of the scenario's images)."""
    return [
        Tool(
            f"today: Taskfile loop (crane{note})",
            lambda _i: ["bash", str(TODAY / "overview.sh"), bench.host],
            1,
            "crane",
            skip=skip,
        ),
        Tool(
            f"crane loop, {jobs} in parallel" + (" (the same rows)" if note else ""),
            lambda _i: ["bash", str(PEERS / "crane-overview-parallel.sh"), bench.host, str(jobs)],
            jobs,
            "crane",
            skip=skip,
        ),
    ]


def overview_scenario(bench: Bench, n: int, *, peers: bool, repeat: int | None) -> Scenario:
    repo = "rednaw/hello-world"
    jobs = bench.jobs or DEFAULT_JOBS
    warm_dir = bench.workdir / f"cache-warm-{n}"

    def warm_cache(_i: int) -> dict[str, str]:
        return {"REGKIT_CACHE": "on", "REGKIT_CACHE_DIR": str(warm_dir)}

    def argv(_i: int) -> list[str]:
        return bench.regkit("overview", bench.host)

    tools = [Tool("regkit overview", argv, jobs, "regkit", env=bench.cold_cache)]
    if peers:
        tools.append(
            Tool("regkit overview, run again (cache warm)", argv, jobs, "regkit", env=warm_cache)
        )
        tools += [
            *crane_overview_tools(bench, jobs),
            Tool(
                "regctl loop (tag ls + image config)",
                lambda _i: ["bash", str(PEERS / "regctl-overview.sh"), bench.host, repo],
                1,
                "regctl",
                skip=None if bench.regctl else NOT_RUN_REGCTL,
            ),
            Tool(
                "skopeo loop (list-tags + inspect)",
                lambda _i: ["bash", str(PEERS / "skopeo-overview.sh"), bench.host, repo],
                1,
                "skopeo",
                skip=None if bench.skopeo else "not run: skopeo not installed",
            ),
        ]

    def setup() -> None:
        bench.ensure_sha_tags(repo, n)
        if peers:  # one overview (not timed) fills the warm row's cache
            filled = timed(argv(0), {**bench.env, **warm_cache(0)})
            if not filled.ok:
                raise RuntimeError(f"filling the cache failed: {filled.describe_failure()}")

    return Scenario(
        key=f"overview-{n}",
        title=f"overview of {n} tags in 1 repo",
        target="< 1.5 s and within 2x the lower bound" if n <= 100 else "linear; flat memory",
        setup=setup,
        tools=tools,
        verify=_overview_verify(bench, repo),
        repeat=repeat,
        tags=n,
    )


def prune_scenario(
    bench: Bench, n: int, *, peers: bool, repeat: int | None, have_prune: bool
) -> Scenario:
    repo = "rednaw/hello-world"
    ref = f"{bench.host}/{repo}"
    jobs = bench.jobs or DEFAULT_JOBS
    tools = [
        Tool(
            "regkit prune",
            lambda _i: bench.regkit("prune", ref, "--keep", str(KEEP), "--yes"),
            jobs,
            "regkit",
            skip=None if have_prune else NOT_RUN_MISSING,
        )
    ]
    if peers:
        tools.append(
            Tool(
                "today: prune flow (crane)",
                lambda _i: ["bash", str(TODAY / "prune.sh"), ref, str(KEEP)],
                1,
                "crane",
            )
        )

    def setup() -> None:
        bench.ensure_sha_tags(repo, n)

    def verify(_tool: Tool, _i: int, result: RunResult) -> str | None:
        left = sorted(bench.pusher.tags(repo))
        newest = sorted(img.tags[0] for img in bench.images[repo][-KEEP:])
        if left != newest:
            return f"{len(left)} tags left, expected the {KEEP} newest"
        return None

    return Scenario(
        key=f"prune-{n}",
        title=f"prune {n} SHA tags, keep {KEEP}",
        target="< 4 s and within 2x the lower bound" if n <= 100 else "linear; flat memory",
        setup=setup,
        tools=tools,
        verify=verify,
        reset=lambda: bench.retag_missing(repo),
        repeat=repeat,
        tags=n,
    )


def promote_tags_scenario(bench: Bench, *, have_promote: bool) -> Scenario:
    repo = "rednaw/hello-world"
    src = f"{bench.host}/{repo}:{SOURCE_TAG}"
    state: dict[str, PushedImage] = {}
    jobs = bench.jobs or DEFAULT_JOBS
    tools = [
        Tool(
            "regkit promote",
            # --force: every run moves the release tags back from the previous release, which
            # regkit refuses without it (crane, regctl and skopeo move them unasked)
            lambda _i: bench.regkit("promote", src, *PROMOTE_TARGETS, "--force"),
            jobs,
            "regkit",
            skip=None if have_promote else NOT_RUN_MISSING,
        ),
        Tool(
            "crane tag x4",
            lambda _i: ["bash", str(PEERS / "crane-tag.sh"), src, *PROMOTE_TARGETS],
            1,
            "crane",
        ),
        Tool(
            "regctl image copy x4",
            lambda _i: ["bash", str(PEERS / "regctl-tag.sh"), src, *PROMOTE_TARGETS],
            1,
            "regctl",
            skip=None if bench.regctl else NOT_RUN_REGCTL,
        ),
        Tool(
            "skopeo copy --all x4",
            lambda _i: ["bash", str(PEERS / "skopeo-tag.sh"), src, *PROMOTE_TARGETS],
            1,
            "skopeo",
            skip=None if bench.skopeo else "not run: skopeo not installed",
        ),
    ]

    def setup() -> None:
        bench.fresh()
        state["old"] = bench.push_release_image(repo, "1111111", layer_size=256 * 1024, seed=1)
        state["new"] = bench.push_release_image(repo, SOURCE_TAG, layer_size=256 * 1024, seed=2)

    def reset() -> None:
        # The release tags point at the previous release: every run moves all four.
        bench.pusher.tag(state["old"], PROMOTE_TARGETS)

    def verify(_tool: Tool, _i: int, _result: RunResult) -> str | None:
        want = state["new"].digest
        wrong = [t for t in PROMOTE_TARGETS if bench.digest_of(repo, t) != want]
        return f"targets not at the source digest: {', '.join(wrong)}" if wrong else None

    return Scenario(
        key="promote-tags",
        title="promote a multi-arch image to 4 tags",
        target="faster than crane and skopeo",
        setup=setup,
        tools=tools,
        verify=verify,
        reset=reset,
    )


def promote_repo_scenario(bench: Bench, *, have_promote: bool) -> Scenario:
    src_repo = "rednaw/hello-world-ci"
    src = f"{bench.host}/{src_repo}:{SOURCE_TAG}"
    state: dict[str, PushedImage] = {}
    jobs = bench.jobs or DEFAULT_JOBS

    def dest_repo(tool: str, i: int) -> str:
        return f"rednaw/hello-world-{tool}-{i}"

    tools = [
        Tool(
            "regkit promote",
            lambda i: bench.regkit("promote", src, f"{dest_repo('regkit', i)}:{SOURCE_TAG}"),
            jobs,
            "regkit",
            skip=None if have_promote else NOT_RUN_MISSING,
        ),
        Tool(
            "crane copy",
            lambda i: [
                bench.crane,
                "copy",
                src,
                f"{bench.host}/{dest_repo('crane', i)}:{SOURCE_TAG}",
            ],
            os.cpu_count() or 1,  # crane copy --jobs defaults to GOMAXPROCS
            "crane",
        ),
        Tool(
            "regctl image copy",
            lambda i: [
                bench.regctl or "regctl",
                "image",
                "copy",
                src,
                f"{bench.host}/{dest_repo('regctl', i)}:{SOURCE_TAG}",
            ],
            3,  # regclient's default: 3 concurrent requests per registry
            "regctl",
            skip=None if bench.regctl else NOT_RUN_REGCTL,
        ),
        Tool(
            "skopeo copy --all",
            lambda i: [
                bench.skopeo or "skopeo",
                "copy",
                "--all",
                "--quiet",
                *_skopeo_flags(bench, "src-"),
                *_skopeo_flags(bench, "dest-"),
                f"docker://{src}",
                f"docker://{bench.host}/{dest_repo('skopeo', i)}:{SOURCE_TAG}",
            ],
            1,
            "skopeo",
            skip=None if bench.skopeo else "not run: skopeo not installed",
        ),
    ]

    def setup() -> None:
        bench.fresh()
        state["src"] = bench.push_release_image(src_repo, SOURCE_TAG, layer_size=1 << 20, seed=3)

    def verify(tool: Tool, i: int, _result: RunResult) -> str | None:
        key = tool.name.split()[0]
        got = bench.digest_of(dest_repo(key, i), SOURCE_TAG)
        return None if got == state["src"].digest else f"destination digest {got}"

    return Scenario(
        key="promote-repo",
        title="promote a multi-arch image to another repository",
        target="faster than crane and skopeo, no blob bytes uploaded",
        setup=setup,
        tools=tools,
        verify=verify,
    )


def _skopeo_flags(bench: Bench, prefix: str) -> list[str]:
    return [
        f"--{prefix}authfile",
        str(bench.docker_dir / "config.json"),
        f"--{prefix}cert-dir",
        str(bench.rig.cert_dir),
        f"--{prefix}tls-verify=true",
    ]


# -- running ------------------------------------------------------------------------------------
def registry_cpu(bench: Bench) -> float | None:
    """CPU seconds (user + system) of the rig's registry process so far (``/proc/PID/stat``):
    the server's own cost, without nginx's TLS and bcrypt."""
    pid = bench.rig.registry.pid
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_scenario(
    bench: Bench, scenario: Scenario, repeat: int, log: Callable[[str], None]
) -> dict[str, Any]:
    n = scenario.repeat or repeat
    log(f"== {scenario.title}: setting up")
    started = time.monotonic()
    scenario.setup()
    log(f"   seeded in {time.monotonic() - started:.1f} s")
    measured = {
        t.name: Measured(t.name, t.concurrency, bench.startup.get(t.startup, 0.0), skip=t.skip)
        for t in scenario.tools
    }
    runnable = [t for t in scenario.tools if t.skip is None]
    for i in range(n):
        order = runnable[i % len(runnable) :] + runnable[: i % len(runnable)] if runnable else []
        for tool in order:
            scenario.reset()
            bench.rig.mark()
            server0, proxy0, registry0 = descendants_cpu(), own_cpu(), registry_cpu(bench)
            result = timed(tool.argv(i), {**bench.env, **(tool.env(i) if tool.env else {})})
            server, proxy = descendants_cpu() - server0, own_cpu() - proxy0
            registry = registry_cpu(bench)
            registry = registry - registry0 if registry is not None and registry0 else None
            counts = count_requests(bench.rig.access_records())
            m = measured[tool.name]
            problem = None if result.ok else result.describe_failure()
            if problem is None:
                problem = scenario.verify(tool, i, result)
            if problem is not None:
                m.failures.append(f"run {i + 1}: {problem}")
                log(f"   {tool.name}: FAILED {problem}")
                continue
            m.add(result, counts, server, proxy, registry)
            per = f" (registry {registry:.2f})" if registry is not None else ""
            log(
                f"   {tool.name}: {result.seconds:.2f} s, {counts.total} requests, "
                f"{result.max_rss_kib / 1024:.0f} MiB; CPU s: tool {result.cpu_seconds:.2f}, "
                f"server {server:.2f}{per}, proxy {proxy:.2f}"
            )
    rtt = bench.rtt if scenario.rtt is None else scenario.rtt
    rows = [measured[t.name].summary(rtt) for t in scenario.tools]
    regkit = rows[0]
    for row in rows:
        if row is not regkit and row["tool"].startswith("regkit"):
            row["ratio"] = None  # another regkit variant (a warm cache), not a peer
        elif regkit["median"] and row["median"]:
            row["ratio"] = regkit["median"] / row["median"]
        else:
            row["ratio"] = None
    return {
        "key": scenario.key,
        "title": scenario.title,
        "target": scenario.target,
        "tags": scenario.tags,
        "repeat": n,
        "rows": rows,
    }


def check_targets(
    results: list[dict[str, Any]], small_tags: int, big_tags: int, rps: float | None = None
) -> list[dict[str, Any]]:
    """Each issue target against the measurement: met, missed, or not measured.

    For the overview and prune targets two floors of this machine are shown beside the lower
    bound: the CPU floor (CPU seconds of tool, registry + nginx and proxy over the CPUs) and the
    rig throughput floor (requests / what the rig alone answers per second, ``rps``).
    """
    by_key = {r["key"]: r for r in results}
    out: list[dict[str, Any]] = []

    def first(key: str) -> dict[str, Any] | None:
        r = by_key.get(key)
        return r["rows"][0] if r and r["rows"] and r["rows"][0]["median"] is not None else None

    def warm(key: str) -> dict[str, Any] | None:
        r = by_key.get(key)
        rows = [x for x in (r["rows"] if r else []) if "cache warm" in x["tool"]]
        return rows[0] if rows and rows[0]["median"] is not None else None

    checks = [
        (f"overview-{small_tags}", 1.5, first),
        (f"overview-{small_tags}, run again (cache warm)", 1.5, warm),
        (f"prune-{small_tags}", 4.0, first),
    ]
    for key, limit, pick in checks:
        row = pick(key.split(",")[0])
        if row is None:
            if key in by_key:
                out.append({"scenario": key, "target": "", "measured": "not run", "met": None})
            continue
        lb = row["lower_bound"]
        met = row["median"] < limit and row["median"] <= 2 * lb
        cpu = row["cpu"]
        floor = (cpu["tool"] + cpu["server"] + cpu["proxy"]) / (os.cpu_count() or 1)
        rig = f"; rig throughput floor {row['requests'] / rps:.2f} s" if rps else ""
        out.append(
            {
                "scenario": key,
                "target": f"< {limit} s and <= 2x lower bound ({2 * lb:.2f} s)",
                "measured": (
                    f"{row['median']:.2f} s ({row['median'] / lb:.2f}x lower bound; CPU floor "
                    f"{floor:.2f} s{rig})"
                ),
                "met": met,
            }
        )
    for key in ("promote-tags", "promote-repo"):
        r = by_key.get(key)
        row = first(key)
        if r is None:
            continue
        if row is None:
            out.append({"scenario": key, "target": "", "measured": "not run", "met": None})
            continue
        peers = [p for p in r["rows"][1:] if p["median"] is not None]
        met = all(row["median"] < p["median"] for p in peers) and bool(peers)
        measured = ", ".join(f"{row['median'] / p['median']:.2f}x {p['tool']}" for p in peers)
        target = "faster than every peer"
        if key == "promote-repo":
            target += ", no blob bytes uploaded"
            met = met and row["upload_bytes"] == 0
            measured += f"; uploaded {row['upload_bytes']} B"
        out.append({"scenario": key, "target": target, "measured": measured, "met": met})
    for kind in ("overview", "prune"):
        small, big = first(f"{kind}-{small_tags}"), first(f"{kind}-{big_tags}")
        if small is None or big is None or small_tags == big_tags:
            continue
        per_small = (small["median"] - small["startup"]) / small_tags
        per_big = (big["median"] - big["startup"]) / big_tags
        out.append(
            {
                "scenario": f"{kind}-{small_tags} -> {kind}-{big_tags}",
                "target": "time linear, memory flat",
                "measured": (
                    f"{per_small * 1000:.1f} -> {per_big * 1000:.1f} ms per tag (after start-up); "
                    f"peak RSS {small['peak_rss_kib'] / 1024:.0f} -> "
                    f"{big['peak_rss_kib'] / 1024:.0f} MiB"
                ),
                "met": per_big <= 1.5 * per_small
                and big["peak_rss_kib"] <= 1.5 * small["peak_rss_kib"],
            }
        )
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="benchmarks/run",
        description="regkit vs crane, skopeo and today's scripts behind an injected latency.",
    )
    p.add_argument("--delay-ms", type=float, help="one-way delay in ms (default 20; quick: 5)")
    p.add_argument("--repeat", type=int, help="runs per tool and scenario (default 5; quick: 1)")
    p.add_argument("--tags", type=int, help="tags in the small scenarios (default 100; quick: 20)")
    p.add_argument(
        "--big-tags", type=int, help="tags in the scaling scenarios (default 1000; quick: 100)"
    )
    p.add_argument(
        "--big-repeat", type=int, default=3, help="runs of the scaling scenarios (default 3)"
    )
    p.add_argument("--jobs", type=int, help="regkit --jobs (default: regkit's own, 16)")
    p.add_argument(
        "--scenario",
        action="append",
        choices=[
            "overview",
            "prune",
            "promote-tags",
            "promote-repo",
            "overview-big",
            "prune-big",
            "buildx",
            "daily",
            "signed",
            "startup",
        ],
        help="run only these scenarios (repeatable; default all)",
    )
    p.add_argument(
        "--buildx-images", type=int, help="buildx scenario: images (default 150; quick: 20)"
    )
    p.add_argument(
        "--daily-repos", type=int, help="daily scenario: repositories (default 30; quick: 4)"
    )
    p.add_argument(
        "--daily-tags", type=int, help="daily scenario: tags per repository (default 20; quick: 8)"
    )
    p.add_argument(
        "--signed-images",
        type=int,
        help="signed scenario: images, each signed (cosign) with an SBOM (oras) (default 40; "
        "quick: 10)",
    )
    p.add_argument(
        "--startup-repeat",
        type=int,
        help="startup scenario: runs per command (default 21; quick: 3)",
    )
    p.add_argument(
        "--jobs-sweep",
        help="prune-big: one regkit row per --jobs value, e.g. 8,16,32 (default: one row)",
    )
    p.add_argument(
        "--no-peers",
        dest="peers",
        action="store_false",
        help="prune, buildx, daily and signed: regkit rows only (the crane prune flow takes "
        "minutes)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: few tags, 1 run, 5 ms")
    p.add_argument(
        "--no-connect-rtt",
        dest="connect_rtt",
        action="store_false",
        help="do not charge one round trip for each new TCP connection",
    )
    p.add_argument("--out", type=Path, default=HERE / "results", help="results directory")
    p.add_argument("--name", default="latest", help="results file name stem (default latest)")
    p.add_argument("--keep-workdir", action="store_true", help="keep the rig's files")
    p.add_argument(
        "--from-json",
        type=Path,
        metavar="PATH",
        help="run nothing: write the table and chart again from a results JSON file",
    )
    args = p.parse_args(argv)
    quick = args.quick
    args.delay_ms = args.delay_ms if args.delay_ms is not None else (5.0 if quick else 20.0)
    args.repeat = args.repeat or (1 if quick else 5)
    args.tags = args.tags or (20 if quick else 100)
    args.big_tags = args.big_tags or (100 if quick else 1000)
    args.buildx_images = args.buildx_images or (20 if quick else 150)
    args.daily_repos = args.daily_repos or (4 if quick else 30)
    args.daily_tags = args.daily_tags or (8 if quick else 20)
    args.signed_images = args.signed_images or (10 if quick else 40)
    args.startup_repeat = args.startup_repeat or (3 if quick else 21)
    if args.signed_images <= KEEP:
        p.error(f"--signed-images must be above {KEEP} (the prune keeps {KEEP})")
    if quick:
        args.big_repeat = 1
    return args


def all_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets of the scenario modules (after ``check_targets``')."""
    return (
        pair_targets(results)
        + big_targets(results)
        + signed_targets(results)
        + startup_targets(results)
    )


def rewrite(path: Path) -> int:
    """Render ``path`` (a results JSON) again as markdown and PNG beside it."""
    data = json.loads(path.read_text())
    meta, results = data["meta"], data["results"]
    sizes = sorted({r["tags"] for r in results if r.get("tags")})
    small, big = (sizes[0], sizes[-1]) if sizes else (0, 0)
    targets = check_targets(results, small, big, meta.get("server_rps"))
    targets += all_targets(results)
    write_json(path, meta, results, targets)
    write_markdown(path.with_suffix(".md"), meta, results, targets)
    write_chart(path.with_suffix(".png"), meta, results)
    print(path.with_suffix(".md").read_text())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.from_json:
        return rewrite(args.from_json)
    if not REGKIT.exists():
        log(f"benchmarks: {REGKIT} missing; create the venv first (see README)")
        return 1
    if crane_path() is None:
        log("benchmarks: crane not found; run scripts/install-system-deps")
        return 1
    for exe in ("jq", "nginx", "docker-registry"):
        if shutil.which(exe) is None:
            log(f"benchmarks: {exe} not found; run scripts/install-system-deps")
            return 1

    workdir = Path(tempfile.mkdtemp(prefix="regkit-bench-"))
    wanted = set(args.scenario or [])

    def want(name: str) -> bool:
        return not wanted or name in wanted

    # production runs registry:3; distribution 2.8 only where registry:3 was not built
    version: Version = "3" if registry_binary("3") else "2.8"
    if version != "3":
        log("benchmarks: registry:3 not built (scripts/install-system-deps, Go >= 1.26): on 2.8")
    rig = start_rig("tls", workdir / "rig", version=version)
    results: list[dict[str, Any]] = []
    bench: Bench | None = None
    try:
        up_host, up_port = rig.host.rsplit(":", 1)
        with LatencyProxy(
            (up_host, int(up_port)), args.delay_ms / 1000, connect_rtt=args.connect_rtt
        ) as proxy:
            bench = Bench(rig, proxy, workdir, args.jobs)
            log(f"rig {rig.host} behind {proxy.host}, {args.delay_ms:g} ms one way")
            bench.measure_startup()
            probe = bench.server_probe()
            log(f"rig alone: {probe:.0f} requests/s (16 at once, no added latency)")
            startup = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in bench.startup.items())
            log(f"start-up: {startup}")
            have_promote = bench.regkit_has("promote")
            have_prune = bench.regkit_has("prune")
            scenarios: list[Scenario] = []
            if want("overview"):
                scenarios.append(overview_scenario(bench, args.tags, peers=True, repeat=None))
            if want("prune"):
                scenarios.append(
                    prune_scenario(
                        bench, args.tags, peers=args.peers, repeat=None, have_prune=have_prune
                    )
                )
            if want("promote-tags"):
                scenarios.append(promote_tags_scenario(bench, have_promote=have_promote))
            if want("promote-repo"):
                scenarios.append(promote_repo_scenario(bench, have_promote=have_promote))
            if want("overview-big"):
                scenarios.append(
                    overview_scenario(bench, args.big_tags, peers=False, repeat=args.big_repeat)
                )
            if want("prune-big"):
                big = prune_scenario(
                    bench,
                    args.big_tags,
                    peers=False,
                    repeat=args.big_repeat,
                    have_prune=have_prune,
                )
                if args.jobs_sweep:
                    sweep = [int(j) for j in args.jobs_sweep.split(",") if j.strip()]
                    big.tools = jobs_tools(bench, f"{bench.host}/rednaw/hello-world", sweep)
                scenarios.append(big)
            if want("buildx"):
                scenarios.append(
                    buildx_scenario(
                        bench, args.buildx_images, repeat=args.big_repeat, peers=args.peers
                    )
                )
            if want("daily"):
                scenarios.append(
                    daily_scenario(
                        bench,
                        args.daily_repos,
                        args.daily_tags,
                        repeat=args.big_repeat,
                        peers=args.peers,
                    )
                )
            if want("signed"):
                scenarios += signed_scenarios(
                    bench,
                    args.signed_images,
                    peers=args.peers,
                    repeat=None,
                    have_prune=have_prune,
                )
            if want("startup"):
                scenarios += startup_scenarios(bench, args.tags, repeat=args.startup_repeat)
            started = time.monotonic()
            load_start = os.getloadavg()[0]
            for scenario in scenarios:
                results.append(run_scenario(bench, scenario, args.repeat, log))
            elapsed = time.monotonic() - started
            meta = {
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "machine": machine(),
                "delay_ms": args.delay_ms,
                "rtt_ms": 2 * args.delay_ms,
                "connect_rtt": args.connect_rtt,
                "repeat": args.repeat,
                "quick": args.quick,
                "jobs": args.jobs or DEFAULT_JOBS,
                "elapsed_s": round(elapsed, 1),
                "loadavg": [round(load_start, 2), round(os.getloadavg()[0], 2)],
                "startup_s": bench.startup,
                "startup_repeat": args.startup_repeat if want("startup") else None,
                "server_rps": round(probe),
                "proxy": {"connections": proxy.stats.snapshot()[0]},
                "registry_version": version,
                "versions": {
                    "regkit": tool_version([str(REGKIT), "--version"]),
                    "crane": tool_version([bench.crane, "version"]),
                    "skopeo": tool_version([bench.skopeo or "skopeo", "--version"]),
                    "regctl": tool_version(
                        [bench.regctl or "regctl", "version", "--format", "{{.VCSTag}}"]
                    ),
                    "registry": tool_version([rig.registry.binary, "--version"]),
                    "nginx": tool_version(["nginx", "-v"]),
                    "jq": tool_version(["jq", "--version"]),
                },
                "command": "benchmarks/run " + " ".join(sys.argv[1:] if argv is None else argv),
            }
    finally:
        if bench is not None:
            bench.pusher.close()
        rig.close()
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    targets = check_targets(results, args.tags, args.big_tags, meta.get("server_rps"))
    targets += all_targets(results)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / args.name
    write_json(stem.with_suffix(".json"), meta, results, targets)
    write_markdown(stem.with_suffix(".md"), meta, results, targets)
    with contextlib.suppress(ImportError):
        write_chart(stem.with_suffix(".png"), meta, results)
    log(f"results: {stem}.md, {stem}.json, {stem}.png")
    print(stem.with_suffix(".md").read_text())
    failed = any(row["failures"] for r in results for row in r["rows"])
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
