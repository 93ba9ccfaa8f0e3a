"""examples/prune_flow.py, the team's scheduled job through the Python API, run against a real
registry with several repositories and deploy files: it keeps exactly the team's rule (the 6
newest of all tags, the deployed tag and digest, deploy markers), never loses a shared
tag (``edge``), writes the audit file, runs the registry's real ``garbage-collect`` and then
finds every staying image whole."""

from __future__ import annotations

import importlib.util
import json
import shlex
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from regkit.registry.manifest import sha256_digest
from tests.rig import PushedImage, Rig, crane, short_sha_tags
from tests.rig.registry import REGISTRY_BIN

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("prune_flow", ROOT / "examples/prune_flow.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gc_command(rig: Rig) -> str:
    """The registry's own garbage collection, as the team runs it (docker exec ... registry
    garbage-collect CONFIG), here on the rig's registry binary and config."""
    binary = str(getattr(rig.registry, "binary", REGISTRY_BIN))  # the rig's registry version
    return shlex.join([binary, "garbage-collect", str(rig.registry.config_path)])


def blob_path(rig: Rig, digest: str) -> Path:
    hexd = digest.removeprefix("sha256:")
    return rig.storage_dir / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"


def tags_now(rig: Rig, repo: str) -> dict[str, str]:
    """tag -> digest, read with crane (an independent client)."""
    tags = crane(rig, "ls", rig.ref(repo)).stdout.decode().split()
    return {t: crane(rig, "digest", rig.ref(repo, t)).stdout.decode().strip() for t in tags}


def unique_blobs(image: PushedImage) -> set[str]:
    """The image's own blobs: its manifests and configs (push_images shares the one layer)."""
    out = {image.digest} | {m.digest for m in image.manifests}
    return out | {m.config.digest for m in image.manifests}


@pytest.mark.parametrize(("shape", "version"), [("tls", "3")], ids=["tls-v3"])  # production's
def test_example_flow_does_the_teams_job(
    rig_factory: Callable[..., Rig],
    shape: str,
    version: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = rig_factory(shape, version=version)
    pusher = rig.pusher()
    step = timedelta(hours=3)

    # edge, not latest, in hello-world and team/api: match='.*' selects edge and it counts in
    # the 6 (and ties at the cut); latest is always kept with its SHA tag and takes no slot,
    # which would leave nothing to prune there (the same job with latest: test_prune_recipe).
    # rednaw/hello-world: nine multi-arch builds (the team's label form), edge on the newest,
    # deployed: the 2nd oldest (deploy-info.yml), the 3rd oldest in the history.
    hello_tags = short_sha_tags(9, seed=1)
    hello = pusher.push_images(
        "rednaw/hello-world", hello_tags, "oci-index", start=T0, step=step, label_format="team"
    )
    pusher.tag(hello[-1], ["edge"])
    # team/api: seven builds, edge rolled back to the 2nd oldest: it ties with that SHA tag
    # exactly at the cut of 6.
    api_tags = short_sha_tags(7, seed=2)
    api_images = pusher.push_images("team/api", api_tags, "oci", start=T0, step=step)
    pusher.tag(api_images[1], ["edge"])
    # iac/iac-dev: three builds, nothing to prune.
    dev_tags = short_sha_tags(3, seed=3)
    pusher.push_images("iac/iac-dev", dev_tags, "docker", start=T0, step=step)
    # team/worker: eight builds, deploy marker on the oldest (CI-side protection).
    worker_tags = short_sha_tags(8, seed=4)
    worker = pusher.push_images("team/worker", worker_tags, "oci-index", start=T0, step=step)
    pusher.tag(worker[0], ["deployed-prod"])

    deploy = tmp_path / "deploy"
    (deploy / "hello-world").mkdir(parents=True)
    (deploy / "hello-world" / "deploy-info.yml").write_text(
        "app: hello-world\nworkspace: prod\nimage:\n"
        f"  repo: {rig.host}/rednaw/hello-world\n  tag: {hello_tags[1]}\n"
        f"  digest: {hello[1].digest}\n  description: 'Fix login redirect'\n"
        "  built_at: '2026-02-01 11:00:00'\ndeployment:\n  deployed_at: 2026-02-24T08:00:00Z\n"
    )
    (deploy / "hello-world" / "deploy-history.yml").write_text(
        f"- image:\n    tag: {hello_tags[2]}\n    digest: {hello[2].digest}\n"
        f"- image:\n    tag: {hello_tags[1]}\n    digest: {hello[1].digest}\n"
    )
    (deploy / "iac-dev").mkdir()  # an app directory without files: nothing protected, no error
    before = {r: tags_now(rig, r) for r in ("rednaw/hello-world", "team/api", "iac/iac-dev")}
    before["team/worker"] = tags_now(rig, "team/worker")

    record = tmp_path / "audit" / "prune.jsonl"
    record.parent.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(rig.docker_config))
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    if rig.ca_file is not None:
        monkeypatch.setenv("SSL_CERT_FILE", str(rig.ca_file))

    flow = load_example().prune_registry
    report = flow(
        rig.host,
        deploy_dir=str(deploy),
        record=str(record),
        gc=gc_command(rig),
        storage=str(rig.storage_dir),
    )

    removed = {
        "rednaw/hello-world": {hello_tags[0], hello_tags[3]},
        "team/api": {api_tags[0]},
        "iac/iac-dev": set(),
        "team/worker": {worker_tags[1]},
    }
    gone_images = [hello[0], hello[3], api_images[0], worker[1]]
    # Exactly the team's rule on the registry, read with crane; every kept tag unmoved.
    for repo, doomed in removed.items():
        expected = {t: d for t, d in before[repo].items() if t not in doomed}
        assert tags_now(rig, repo) == expected, repo
    assert tags_now(rig, "rednaw/hello-world")["edge"] == hello[-1].digest
    assert tags_now(rig, "team/api")["edge"] == api_images[1].digest  # shared, tied: stays
    assert "deployed-prod" in tags_now(rig, "team/worker")
    assert sorted(report.deleted) == sorted(
        f"{rig.host}/{repo}:{t}" for repo, ts in removed.items() for t in ts
    )
    # Deleted by digest: the manifests are gone, not just their tags.
    for image in gone_images:
        assert pusher.manifest_status(image.repo, image.digest) == 404

    # The audit trail: one line per removed tag, with the labels read before the delete.
    lines = [json.loads(x) for x in record.read_text().splitlines()]
    assert sorted((x["repository"], x["tag"]) for x in lines) == sorted(
        (repo, t) for repo, ts in removed.items() for t in ts
    )
    by_tag = {x["tag"]: x for x in lines}
    for image in gone_images:
        line = by_tag[image.tags[0]]
        assert line["registry"] == rig.host
        assert line["digest"] == image.digest
        assert line["action"] == "delete-manifest"
        assert line["labels"]["revision"] == image.revision
        assert line["labels"]["description"] == image.description
        assert line["labels"]["version"] is None
        assert line["created"] == image.config_created.replace(".000000", "")
        assert line["reclaimable_bytes"] == sum(
            len(m.raw) + m.config.size for m in image.manifests
        ) + (len(image.raw) if image.is_index else 0)
        assert datetime.fromisoformat(line["time"]) >= T0
    assert report.records == len(lines) == 4

    # The registry's real garbage collection ran: the deleted images' blobs left the disk,
    # every staying image's blobs are there, and the storage shrank by at least those bytes.
    assert report.then is not None and report.then.exit_code == 0
    for image in gone_images:
        for digest in unique_blobs(image):
            assert not blob_path(rig, digest).exists(), digest
    freed = sum(x["reclaimable_bytes"] for x in lines)
    assert report.shrunk_bytes is not None and report.shrunk_bytes >= freed > 0
    for repo, tags in before.items():
        for tag, digest in tags.items():
            if tag not in removed[repo]:
                assert blob_path(rig, digest).exists()
    # ... and check found every staying image whole.
    assert report.check is not None and report.check.ok
    assert len(report.check.images) == sum(len(t) - len(removed[r]) for r, t in before.items())
    assert sha256_digest(b"") not in {i.digest for i in report.check.images}

    # A second run changes nothing and runs no garbage collection (nothing deleted).
    again = flow(rig.host, deploy_dir=str(deploy), record=str(record), gc="false", storage=None)
    assert again.deleted == () and again.then is None
    assert len(record.read_text().splitlines()) == 4
