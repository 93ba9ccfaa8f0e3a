"""Several repositories of one registry are planned and pruned side by side (issue 24, the
team's daily ``--all-repos`` job), within the one ``--jobs`` budget of the registry's client.

On a real registry:3, through a transport that counts the requests in flight per repository
and holds the first request of a stage (a manifest GET while planning, a DELETE while
deleting) until a request of the other repository starts (at most ``HOLD`` seconds). One after
the other, the other repository never starts while the first waits: the overlap is not seen.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from regkit.ops.prune import PrunePolicy
from regkit.ops.prune.run import Target
from regkit.ops.prune.session import RegistryPrune, prune_targets
from regkit.registry import RetryPolicy
from tests.faultproxy import Fault, Gate, Request, fault_proxy, hold
from tests.rig import Rig, client_for, short_sha_tags

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOLD = 5.0  # seconds a held request waits for the other repository at most
_REPO = re.compile(r"^/v2/(.+)/(?:manifests|blobs|tags)/")


class Watch(httpx.BaseTransport):
    """The network, with the requests in flight counted per repository. The first request
    that ``hold`` picks waits until a request of another repository starts; ``overlap`` then
    names the stage (``stage``, set by the test) in which that happened."""

    def __init__(self) -> None:
        # unbounded like regkit's own pool: the default 100 would be a limit of the test's
        self.inner = httpx.HTTPTransport(limits=httpx.Limits(max_connections=None))
        self.lock = threading.Lock()
        self.stage = "plan"
        self.flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}  # stage -> most requests in flight at once
        self.held: dict[str, tuple[str, threading.Event]] = {}  # stage -> (repo, released)
        self.overlap: set[str] = set()

    def hold(self, request: httpx.Request, repo: str) -> bool:
        if self.stage == "plan":
            return request.method == "GET" and "/manifests/" in request.url.path
        return request.method == "DELETE"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        found = _REPO.match(request.url.path)
        repo = found.group(1) if found else ""
        wait: threading.Event | None = None
        with self.lock:
            stage = self.stage
            self.flight[repo] = self.flight.get(repo, 0) + 1
            total = sum(self.flight.values())
            self.peak[stage] = max(self.peak.get(stage, 0), total)
            held = self.held.get(stage)
            if held is not None and repo and held[0] != repo and not held[1].is_set():
                self.overlap.add(stage)
                held[1].set()
            if held is None and repo and self.hold(request, repo):
                wait = threading.Event()
                self.held[stage] = (repo, wait)
        try:
            if wait is not None:
                wait.wait(HOLD)
                with self.lock:
                    wait.set()  # from now on, a request of another repository is no overlap
            return self.inner.handle_request(request)
        finally:
            with self.lock:
                self.flight[repo] -= 1

    def close(self) -> None:
        self.inner.close()


def test_two_repositories_are_planned_and_pruned_side_by_side(
    rig_basic_v3: Rig, repo_prefix: str
) -> None:
    """Two repositories of 6 multi-arch images each, --keep 2: a request of the second
    repository starts while one of the first is held, both while planning and while deleting;
    the requests in flight while planning stay within --jobs. Plans and results come in
    argument order, and each repository ends with exactly its 2 newest tags."""
    rig = rig_basic_v3
    rig.ensure_running()
    pusher = rig.pusher()
    repos = [f"{repo_prefix}/one", f"{repo_prefix}/two"]
    tags = {}
    for i, repo in enumerate(repos):
        tags[repo] = short_sha_tags(6, seed=70 + i)
        pusher.push_images(repo, tags[repo], "oci-index", start=T0)
    watch = Watch()
    seen_plans: list[list[str]] = []
    seen_results: list[list[str]] = []

    def on_plans(pruned: RegistryPrune) -> None:
        seen_plans.append([p.repository for p in pruned.plans])
        watch.stage = "delete"

    def on_result(pruned: RegistryPrune) -> None:
        seen_results.append([r.repository for r in pruned.results or ()])

    jobs = 4
    with client_for(rig, retry=RetryPolicy(attempts=1), jobs=jobs, transport=watch) as client:
        run = prune_targets(
            [Target(rig.host, tuple(repos))],
            PrunePolicy(keep=2),
            lambda _host: client,
            on_plans=on_plans,
            on_result=on_result,
        )
    assert run.complete
    assert seen_plans == [repos] and seen_results == [repos]
    for repo in repos:
        assert sorted(pusher.tags(repo)) == sorted(tags[repo][-2:])
    assert watch.overlap == {"plan", "delete"}, (watch.overlap, watch.peak)
    assert watch.peak["plan"] <= jobs, watch.peak


def test_ctrl_c_with_repositories_side_by_side_reports_what_the_registry_shows(
    rig_basic: Rig, repo_prefix: str, tmp_path: Path
) -> None:
    """Three repositories of 8 images, --keep 5, --jobs 4 (two repositories at once), --record.
    SIGINT while the first manifest DELETE is held: the deletions in flight finish, nothing
    else starts; exit 130; the JSON's ``deleted`` is exactly what went from the registry (the
    held one among them), the audit file has a line for each and no other, every tag that
    stays is untouched. A rerun reaches the planned state."""
    rig = rig_basic
    rig.ensure_running()
    pusher = rig.pusher()
    repos = [f"{repo_prefix}/r{i}" for i in range(3)]
    before: dict[str, dict[str, str]] = {}
    doomed: set[str] = set()
    newest: dict[str, set[str]] = {}
    for i, repo in enumerate(repos):
        tags = short_sha_tags(8, seed=90 + i)
        newest[repo] = set(tags[3:])
        pusher.push_images(repo, tags, "oci", start=T0)
        before[repo] = {t: pusher.get_manifest(repo, t)[2] for t in pusher.tags(repo)}
        doomed |= {f"{repo}:{t}" for t in tags[:3]}
    record = tmp_path / "audit.jsonl"
    gate = Gate()

    def plan(req: Request) -> Fault | None:
        if req.method == "DELETE" and not gate.arrived.is_set():
            return hold(gate)
        return None

    env = dict(os.environ)
    env.update(
        REGISTRY_USERNAME=rig.username,
        REGISTRY_PASSWORD=rig.password,
        DOCKER_CONFIG="/nonexistent",
        PYTHONUNBUFFERED="1",
    )
    with fault_proxy(rig.host, plan) as proxy:
        argv = [sys.executable, "-m", "regkit", "prune"]
        argv += [f"{proxy.host}/{r}" for r in repos]
        argv += ["--keep", "5", "--jobs", "4", "--yes", "-o", "json", "--record", str(record)]
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        try:
            assert gate.arrived.wait(60), "a manifest DELETE reached the proxy"
            proc.send_signal(signal.SIGINT)
            time.sleep(1.0)  # the interrupt lands before the held DELETE goes on
            gate.release.set()
            out, err = proc.communicate(timeout=120)
        finally:
            gate.release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = err.decode()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "run the same command again to finish" in stderr
    doc = json.loads(out)
    deleted = {ref.removeprefix(f"{proxy.host}/") for ref in doc["deleted"]}
    gone = set()
    for repo in repos:
        now = {t: pusher.get_manifest(repo, t)[2] for t in pusher.tags(repo)}
        gone |= {f"{repo}:{t}" for t in before[repo] if t not in now}
        assert {t: d for t, d in before[repo].items() if t in now} == now  # nothing moved
    assert gone == deleted, (gone, deleted, stderr)
    assert deleted and deleted < doomed, stderr  # the held deletion went, not everything
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert {f"{r['repository']}:{r['tag']}" for r in lines} == deleted
    assert len(lines) == len(deleted)

    rerun = subprocess.run(
        [*argv[:4], *(f"{rig.host}/{r}" for r in repos), "--keep", "5", "--yes"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr.decode()
    for repo in repos:
        assert set(pusher.tags(repo)) == newest[repo]
