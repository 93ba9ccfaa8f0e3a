"""Promote and prune under injected faults (a proxy in front of the real registry) and a registry
restart: either the operation completes correctly after retries, or it stops with one clear line
(exit 1, no traceback); and in no case does the registry end in a state the plan did not intend.

- A promoted tag never points at a partial image: every platform manifest, config and layer of
  what it points at resolves.
- A protected or shared tag is never deleted or moved; a doomed tag is gone, still where it
  was, or (interrupted on the distribution 2.8 throw-away path) at a throw-away manifest that
  the next run deletes.

The final state is always read straight from the registry with the rig's own client (not
through the proxy, not with regkit), and a rerun without faults reaches the planned state.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.clirun import regkit
from tests.faultproxy import RESET, TRUNCATE, Fault, Request, every_nth, fault_proxy, stall, status
from tests.rig import Rig
from tests.rig.images import Pusher
from tests.rig.shapes import write_docker_config

THROWAWAY_KEY = "org.regkit.prune.throwaway"
T0 = datetime(2025, 6, 1, tzinfo=UTC)

Plan = Callable[[Request], Fault | None]


def _env(rig: Rig) -> dict[str, str]:
    return {
        "REGISTRY_USERNAME": rig.username,
        "REGISTRY_PASSWORD": rig.password,
        "DOCKER_CONFIG": "/nonexistent",
    }


def _one_clear_line(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("regkit: error: ")]
    assert len(errors) == 1, stderr
    assert stderr.endswith(errors[0] + "\n"), stderr  # the error is the last word


def _first_n(n: int, fault: Fault, match: Callable[[Request], bool]) -> Plan:
    """Fault the first ``n`` requests that ``match``."""
    hits = {"n": 0}

    def plan(req: Request) -> Fault | None:
        if match(req) and hits["n"] < n:
            hits["n"] += 1
            return fault
        return None

    return plan


def _is_manifest_get(req: Request) -> bool:
    return req.method == "GET" and "/manifests/" in req.path


# -- what the registry holds, read directly ------------------------------------------------


def resolve_complete(pusher: Pusher, repo: str, ref: str) -> str:
    """The digest ``ref`` points at, after checking that every manifest below it, every config
    and every layer is in ``repo`` (AssertionError naming what is missing)."""
    raw, _content_type, digest = pusher.get_manifest(repo, ref)
    doc = json.loads(raw)
    images = [doc]
    for child in doc.get("manifests") or []:
        child_raw, _ct, child_digest = pusher.get_manifest(repo, child["digest"])
        assert child_digest == child["digest"]
        images.append(json.loads(child_raw))
    for image in images:
        for blob in ([image["config"]] if "config" in image else []) + image.get("layers", []):
            assert pusher.blob_exists(repo, blob["digest"]), f"{repo}:{ref} lacks {blob['digest']}"
    return digest


def tag_state(pusher: Pusher, repo: str) -> dict[str, str]:
    """tag -> digest (``""`` for a tag whose manifest is gone)."""
    out = {}
    for tag in pusher.tags(repo):
        try:
            out[tag] = pusher.get_manifest(repo, tag)[2]
        except Exception:
            out[tag] = ""
    return out


def is_throwaway(pusher: Pusher, repo: str, ref: str) -> bool:
    raw, _ct, _digest = pusher.get_manifest(repo, ref)
    return THROWAWAY_KEY in (json.loads(raw).get("annotations") or {})


# -- promote -------------------------------------------------------------------------------


@dataclass
class PromoteCase:
    rig: Rig
    src_repo: str
    dst_repo: str
    digest: str
    children: list[str]

    def args(self, host: str, *extra: str) -> list[str]:
        return [
            "promote",
            f"{host}/{self.src_repo}:abc1234",
            "v1.2.3",  # same repository
            "latest",
            f"{self.dst_repo}:v1.2.3",  # another repository: blobs mounted, children copied
            *extra,
        ]

    def targets(self) -> list[tuple[str, str]]:
        return [
            (self.src_repo, "v1.2.3"),
            (self.src_repo, "latest"),
            (self.dst_repo, "v1.2.3"),
        ]

    def check_consistent(self) -> list[tuple[str, str]]:
        """Every target is absent or a complete copy of the source; the written ones."""
        pusher = self.rig.pusher()
        assert resolve_complete(pusher, self.src_repo, "abc1234") == self.digest
        written = []
        for repo, tag in self.targets():
            if tag not in pusher.tags(repo):
                continue
            assert resolve_complete(pusher, repo, tag) == self.digest, (repo, tag)
            written.append((repo, tag))
        return written

    def check_done(self) -> None:
        assert self.check_consistent() == self.targets()


@pytest.fixture
def promote_case(rig_basic: Rig, repo_prefix: str) -> PromoteCase:
    rig_basic.ensure_running()
    src, dst = f"{repo_prefix}/app", f"{repo_prefix}/release"
    image = rig_basic.pusher().push_image(src, ["abc1234"], "oci-index", layers=2)
    return PromoteCase(rig_basic, src, dst, image.digest, image.children)


def _plans() -> dict[str, Callable[[], Plan]]:
    """A fresh plan per test (plans count requests)."""
    return {
        "503-burst": lambda: every_nth(2, status(503), limit=4),
        "503-on-writes": lambda: every_nth(
            2, status(503), methods=("PUT", "POST", "DELETE", "PATCH"), limit=3
        ),
        "502": lambda: every_nth(3, status(502), limit=3),
        "429-retry-after": lambda: every_nth(4, status(429, retry_after="1"), limit=2),
        "429-bare": lambda: every_nth(3, status(429), limit=3),
        "reset-mid-body": lambda: every_nth(2, RESET, methods=("GET",), limit=3),
        "truncated-manifest": lambda: _first_n(3, TRUNCATE, _is_manifest_get),
        "stall-past-timeout": lambda: _first_n(1, stall(2.5), _is_manifest_get),
    }


PLANS = _plans()


@pytest.mark.parametrize("name", list(PLANS))
def test_promote_completes_through_transient_faults(promote_case: PromoteCase, name: str) -> None:
    case = promote_case
    with fault_proxy(case.rig.host, PLANS[name]()) as proxy:
        out = regkit(*case.args(proxy.host, "--timeout", "1", "--json"), env=_env(case.rig))
        faults = proxy.faults()
    assert faults, "the faults were injected"
    assert out.returncode == 0, out.stderr.decode()
    result = json.loads(out.stdout)
    assert result["digest"] == case.digest
    assert [t["action"] for t in result["targets"]] == ["create"] * 3
    case.check_done()


def test_promote_fails_cleanly_when_the_tag_write_keeps_failing(
    promote_case: PromoteCase,
) -> None:
    """Every write of the release tag answers 503: one line, exit 1, and the release tag is
    absent (its children and blobs may have been copied: harmless, invisible without a tag)."""
    case = promote_case

    def plan(req: Request) -> Fault | None:
        if req.method == "PUT" and req.path == f"/v2/{case.dst_repo}/manifests/v1.2.3":
            return status(503)
        return None

    with fault_proxy(case.rig.host, plan) as proxy:
        out = regkit(*case.args(proxy.host), env=_env(case.rig))
        tries = len(proxy.faults())
    stderr = out.stderr.decode()
    assert out.returncode == 1, stderr
    _one_clear_line(stderr)
    assert "answered 503" in stderr and f"{case.dst_repo}:v1.2.3" in stderr
    assert tries == 5  # bounded retries
    assert (case.dst_repo, "v1.2.3") not in case.check_consistent()
    rerun = regkit(*case.args(case.rig.host), env=_env(case.rig))
    assert rerun.returncode == 0, rerun.stderr.decode()
    case.check_done()


def test_promote_fails_cleanly_when_mounts_keep_failing(promote_case: PromoteCase) -> None:
    """No blob can reach the release repository: nothing may be tagged there."""
    case = promote_case

    def plan(req: Request) -> Fault | None:
        if req.method == "POST" and req.path.startswith(f"/v2/{case.dst_repo}/blobs/uploads"):
            return status(502)
        return None

    with fault_proxy(case.rig.host, plan) as proxy:
        out = regkit(*case.args(proxy.host), env=_env(case.rig))
    stderr = out.stderr.decode()
    assert out.returncode == 1, stderr
    _one_clear_line(stderr)
    assert "answered 502" in stderr
    assert case.rig.pusher().tags(case.dst_repo) == []
    case.check_consistent()


@pytest.mark.parametrize("fault", [status(503), status(502)], ids=["503", "502"])
def test_cross_registry_promote_restarts_a_failed_blob_upload(
    rig_tls: Rig, rig_basic: Rig, repo_prefix: str, tmp_path: Path, fault: Fault
) -> None:
    """A streamed upload cannot be replayed by the transport: the copy starts the blob again
    from a fresh source stream, and the promoted image is complete."""
    rig_tls.ensure_running()
    rig_basic.ensure_running()
    src = f"{repo_prefix}/app"
    image = rig_tls.pusher().push_image(src, ["abc1234"], "oci-index", layers=2)
    uploads = _first_n(2, fault, lambda r: r.method == "PUT" and "/blobs/uploads/" in r.path)
    with fault_proxy(rig_basic.host, uploads) as proxy:
        write_docker_config(tmp_path, rig_tls.host, rig_tls.username, rig_tls.password)
        config = json.loads((tmp_path / "config.json").read_text())
        token = base64.b64encode(f"{rig_basic.username}:{rig_basic.password}".encode()).decode()
        config["auths"][proxy.host] = {"auth": token}
        (tmp_path / "config.json").write_text(json.dumps(config))
        env = {"DOCKER_CONFIG": str(tmp_path), "SSL_CERT_FILE": str(rig_tls.ca_file)}
        out = regkit("promote", f"{rig_tls.host}/{src}:abc1234", f"{proxy.host}/{src}:v1", env=env)
        assert len(proxy.faults()) == 2, "the faults were injected"
    assert out.returncode == 0, out.stderr.decode()
    assert resolve_complete(rig_basic.pusher(), src, "v1") == image.digest


def test_promote_survives_a_registry_restart_and_a_rerun_completes(
    promote_case: PromoteCase,
) -> None:
    """The registry stops at the first write of the copy and comes back 0.8 s later: the
    writes meanwhile fail at the proxy (connection refused upstream, so the client sees the
    connection drop) and are retried; a rerun completes whatever the first run left."""
    case = promote_case
    registry = case.rig.registry
    pid_before = registry.pid
    stopped, restarted = threading.Event(), threading.Event()
    problems: list[BaseException] = []
    while_down: list[Request] = []

    def bounce() -> None:
        try:
            registry.stop()
            stopped.set()
            time.sleep(0.8)
            registry.start()
        except BaseException as exc:  # reported by the test, not lost in a thread
            problems.append(exc)
        finally:
            stopped.set()
            restarted.set()

    bouncer = threading.Thread(target=bounce, daemon=True)

    gate = threading.Lock()

    def plan(req: Request) -> Fault | None:
        if req.method in ("POST", "PUT"):
            with gate:  # requests arrive on several proxy threads: start the bounce once
                first = bouncer.ident is None
                if first:
                    bouncer.start()
            if first:
                stopped.wait(10)  # this request goes to a stopped registry
        if stopped.is_set() and not restarted.is_set():
            while_down.append(req)
        return None

    try:
        with fault_proxy(case.rig.host, plan) as proxy:
            out = regkit(*case.args(proxy.host), env=_env(case.rig))
        assert restarted.wait(20)
        assert not problems, problems
        assert while_down, "requests reached the stopped registry"
        assert registry.pid != pid_before
        stderr = out.stderr.decode()
        if out.returncode != 0:
            assert out.returncode == 1
            _one_clear_line(stderr)
        case.check_consistent()
        rerun = regkit(*case.args(case.rig.host, "--json"), env=_env(case.rig))
        assert rerun.returncode == 0, rerun.stderr.decode()
        case.check_done()
    finally:
        if bouncer.ident is not None:
            bouncer.join(20)
        case.rig.ensure_running()


# -- prune ---------------------------------------------------------------------------------


@dataclass
class PruneCase:
    rig: Rig
    repo: str
    before: dict[str, str]
    expected: dict[str, str]  # the planned end state
    doomed: set[str]
    protected_digest: str

    def args(self, host: str, *extra: str) -> list[str]:
        return [
            "prune",
            f"{host}/{self.repo}",
            "--keep",
            "2",
            "--protect-digest",
            self.protected_digest,
            "--yes",
            *extra,
        ]

    def check_consistent(self) -> dict[str, str]:
        """Staying tags untouched and complete; doomed tags gone, unchanged or at a
        throw-away manifest. Returns the state."""
        pusher = self.rig.pusher()
        now = tag_state(pusher, self.repo)
        for tag, digest in self.expected.items():
            assert now.get(tag) == digest, f"staying tag {tag} changed: {now.get(tag)}"
            assert resolve_complete(pusher, self.repo, tag) == digest
        for tag in set(now) - set(self.expected):
            assert tag in self.doomed, f"unexpected tag {tag}"
            if now[tag] and now[tag] != self.before[tag]:
                assert is_throwaway(pusher, self.repo, tag), f"{tag} moved to {now[tag]}"
        return now

    def check_done(self) -> None:
        assert self.check_consistent() == self.expected


@pytest.fixture
def prune_case(rig_basic: Rig, repo_prefix: str) -> PruneCase:
    """Six SHA tags, oldest first; ``edge`` shares the second's manifest and ``stable`` the
    first's, the third's digest is protected. With keep 2: the two newest stay, the protected
    one stays, the fourth's manifest is deleted, the first two are removed alone (their
    manifests stay for edge and stable: on 2.8 through the throw-away path). edge and stable
    stay because the default pattern does not select them: latest and v1.0.0 would keep the
    SHA tags on their digests since issue 20, and nothing would be removed alone."""
    rig = rig_basic
    rig.ensure_running()
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    shas = ["a000001", "a000002", "a000003", "a000004", "a000005", "a000006"]
    images = pusher.push_images(repo, shas, "oci", start=T0, step=timedelta(hours=1))
    pusher.tag(images[1], ["edge"])
    pusher.tag(images[0], ["stable"])
    before = tag_state(pusher, repo)
    staying = ["a000003", "a000005", "a000006", "edge", "stable"]
    return PruneCase(
        rig,
        repo,
        before,
        {t: before[t] for t in staying},
        {"a000001", "a000002", "a000004"},
        images[2].digest,
    )


@pytest.mark.parametrize("name", list(PLANS))
def test_prune_under_transient_faults_never_touches_what_stays(
    prune_case: PruneCase, name: str
) -> None:
    case = prune_case
    with fault_proxy(case.rig.host, PLANS[name]()) as proxy:
        out = regkit(*case.args(proxy.host, "--timeout", "1"), env=_env(case.rig))
        faults = proxy.faults()
    assert faults, "the faults were injected"
    # Every fault is transient (fewer than the 5 tries a request gets): reads and writes alike
    # are retried, the throw-away blob upload of the 2.8 untag path included.
    assert out.returncode == 0, out.stderr.decode()
    case.check_done()


def test_prune_with_a_delete_that_keeps_failing_stops_cleanly_and_a_rerun_finishes(
    prune_case: PruneCase,
) -> None:
    case = prune_case
    doomed_digest = case.before["a000004"]

    def plan(req: Request) -> Fault | None:
        if req.method == "DELETE" and req.path.endswith(f"/manifests/{doomed_digest}"):
            return status(503)
        return None

    with fault_proxy(case.rig.host, plan) as proxy:
        out = regkit(*case.args(proxy.host), env=_env(case.rig))
        tries = len(proxy.faults())
    stderr = out.stderr.decode()
    assert out.returncode == 1, stderr
    _one_clear_line(stderr)
    assert "prune did not finish" in stderr
    assert tries == 5
    state = case.check_consistent()
    assert state["a000004"] == doomed_digest  # the failed delete changed nothing
    rerun = regkit(*case.args(case.rig.host), env=_env(case.rig))
    assert rerun.returncode == 0, rerun.stderr.decode()
    case.check_done()


def test_prune_that_cannot_read_tags_deletes_nothing(prune_case: PruneCase) -> None:
    case = prune_case

    def plan(req: Request) -> Fault | None:
        return status(503) if req.method == "GET" and "/manifests/" in req.path else None

    with fault_proxy(case.rig.host, plan) as proxy:
        out = regkit(*case.args(proxy.host), env=_env(case.rig))
        methods = {r.method for r, _f in proxy.seen}
    assert out.returncode == 1
    _one_clear_line(out.stderr.decode())
    assert "answered 503" in out.stderr.decode()
    assert methods <= {"GET", "HEAD"}  # no write was even tried
    assert tag_state(case.rig.pusher(), case.repo) == case.before
