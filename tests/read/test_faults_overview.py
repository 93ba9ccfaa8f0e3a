"""Overview and the read verbs under injected faults (a proxy in front of the real registry):
either the result is exactly the fault-free result (after retries), or a clear one-line error."""

from __future__ import annotations

import json

import pytest

from tests.clirun import regkit
from tests.fakeserver import json_answer, serve
from tests.faultproxy import RESET, TRUNCATE, Fault, Request, every_nth, fault_proxy, stall, status
from tests.rig import Rig


@pytest.fixture
def seeded(rig_basic: Rig, repo_prefix: str) -> tuple[Rig, str]:
    rig_basic.ensure_running()
    pusher = rig_basic.pusher()
    pusher.push_images(f"{repo_prefix}/app", [f"{i:07x}" for i in range(12)], "oci")
    pusher.push_image(f"{repo_prefix}/app", ["multi"], "oci-index")
    return rig_basic, f"{repo_prefix}/app"


def _env(rig: Rig) -> dict[str, str]:
    return {
        "REGISTRY_USERNAME": rig.username,
        "REGISTRY_PASSWORD": rig.password,
        "DOCKER_CONFIG": "/nonexistent",
    }


def _overview(host: str, repo: str, rig: Rig, *extra: str) -> tuple[int, bytes, str]:
    out = regkit("overview", host, "--repo", repo, "--format", "json", *extra, env=_env(rig))
    return out.returncode, out.stdout, out.stderr.decode()


@pytest.mark.parametrize(
    ("name", "fault", "methods"),
    [
        ("503-burst", status(503), ("GET",)),
        ("502", status(502), ("GET",)),
        ("429-retry-after", status(429, retry_after="1"), ("GET",)),
        ("429-bare", status(429), ("GET",)),
        ("reset-mid-body", RESET, ("GET",)),
        ("truncated-body", TRUNCATE, ("GET",)),
    ],
)
def test_overview_survives_transient_faults(
    seeded: tuple[Rig, str], name: str, fault: Fault, methods: tuple[str, ...]
) -> None:
    rig, repo = seeded
    code, clean, err = _overview(rig.host, repo, rig)
    assert code == 0, err
    with fault_proxy(rig.host, every_nth(3, fault, methods=methods, limit=3)) as proxy:
        code, faulty, err = _overview(proxy.host, repo, rig)
        assert len(proxy.faults()) == 3, "the faults were injected"
    assert code == 0, err
    expected = json.loads(clean)
    got = json.loads(faulty)
    assert got["repositories"] == expected["repositories"]


def test_stalled_response_times_out_and_is_retried(seeded: tuple[Rig, str]) -> None:
    rig, repo = seeded
    stalled: list[Request] = []

    def plan(req: Request) -> Fault | None:
        if "/manifests/" in req.path and not stalled:
            stalled.append(req)
            return stall(3.0)
        return None

    with fault_proxy(rig.host, plan) as proxy:
        code, out, err = _overview(proxy.host, repo, rig, "--timeout", "1")
    assert code == 0, err
    assert stalled
    assert len(json.loads(out)["repositories"][0]["tags"]) == 13


def test_persistent_failure_is_one_clear_line(seeded: tuple[Rig, str]) -> None:
    rig, repo = seeded

    def plan(req: Request) -> Fault | None:
        return status(503) if "/tags/list" in req.path else None

    with fault_proxy(rig.host, plan) as proxy:
        code, out, err = _overview(proxy.host, repo, rig)
        tries = [r for r, f in proxy.faults()]
    assert code == 1
    assert out == b""
    assert err.count("\n") == 1
    assert "answered 503" in err
    assert "Traceback" not in err
    assert len(tries) == 5  # bounded retries


def test_manifest_corrupted_in_transit_is_refused(seeded: tuple[Rig, str]) -> None:
    """A proxy that alters a manifest body: the digest check refuses it, nothing is printed."""
    rig, repo = seeded
    code, _out, _err = _overview(rig.host, repo, rig)
    assert code == 0
    # the manifest verb through a server that answers with a different (valid JSON) body
    digest = regkit("digest", f"{rig.host}/{repo}:multi", env=_env(rig)).stdout.decode().strip()

    def route(seen):  # type: ignore[no-untyped-def]
        if seen.path == "/v2/":
            return json_answer(200, b"{}")
        return (
            200,
            {
                "Content-Type": "application/vnd.oci.image.index.v1+json",
                "Docker-Content-Digest": digest,
            },
            b'{"schemaVersion":2,"manifests":[]}',
        )

    with serve(route) as fake:
        out = regkit("manifest", f"{fake.host}/{repo}@{digest}", env=_env(rig))
    assert out.returncode == 1
    assert out.stdout == b""
    assert "corrupt" in out.stderr.decode()
