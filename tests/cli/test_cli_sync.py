"""regkit sync and copy --all-tags on the real rigs: within a registry (mounts) and from one
registry to another (streamed), idempotent (a rerun sends only HEADs and tag lists), --match,
--dry-run, and what crane sees afterwards."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.clirun import regkit
from tests.rig import PRODUCTION, Rig, rig_shapes
from tests.rig.crane import crane
from tests.schemas import check_schema


def _digests(rig: Rig, repo: str) -> dict[str, str]:
    tags = crane(rig, "ls", f"{rig.host}/{repo}", check=False).stdout.decode().split()
    return {t: crane(rig, "digest", rig.ref(repo, t)).stdout.decode().strip() for t in tags}


@rig_shapes(PRODUCTION)
def test_sync_within_a_registry_mounts_and_is_idempotent(rig: Rig, repo_prefix: str) -> None:
    pusher = rig.pusher()
    src, dst = f"{repo_prefix}/src", f"{repo_prefix}/dst"
    pusher.push_image(src, ["v1", "latest"], "oci-index")
    pusher.push_image(src, ["v2"], "docker")
    pusher.push_image(src, ["1a2b3c4"], "oci")
    stale = pusher.push_image(dst, ["v2", "keep"], "oci")  # v2 moves, keep stays

    out = regkit("sync", "-o", "json", rig.ref(src), rig.ref(dst), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    check_schema("sync", doc)
    actions = {t["tag"]: (t["action"], t["old_digest"]) for t in doc["tags"]}
    assert actions == {
        "v1": ("create", None),
        "latest": ("create", None),
        "v2": ("update", stale.digest),
        "1a2b3c4": ("create", None),
    }
    assert doc["blobs"]["uploaded"] == 0  # within a registry every blob is mounted
    assert doc["blobs"]["mounted"] > 0
    source = _digests(rig, src)
    after = _digests(rig, dst)
    assert {t: after[t] for t in source} == source
    assert after["keep"] == stale.digest
    assert out.stderr.decode().endswith(
        f"regkit: synced 4 tags from {rig.ref(src)} to {rig.ref(dst)}: 3 created, 1 updated, "
        f"0 unchanged; blobs: {doc['blobs']['mounted']} mounted, 0 uploaded (0 bytes), "
        "0 already there\n"
    )

    rig.mark()
    again = regkit("sync", rig.ref(src), rig.ref(dst), env=rig.env())
    assert again.returncode == 0, again.stderr.decode()
    requests = [r for r in rig.requests() if r.path.startswith("/v2/") and r.path != "/v2/"]
    assert {r.method for r in requests} == {"GET", "HEAD"}
    gets = [r.path.split("?")[0] for r in requests if r.method == "GET"]
    assert sorted(gets) == sorted([f"/v2/{src}/tags/list", f"/v2/{dst}/tags/list"])
    heads = [r for r in requests if r.method == "HEAD"]
    assert len(heads) == 8  # one per tag per side
    lines = again.stdout.decode().splitlines()
    assert sorted(line.split()[-1] for line in lines) == ["unchanged"] * 4


@rig_shapes(PRODUCTION)
def test_sync_match_and_dry_run(rig: Rig, repo_prefix: str) -> None:
    pusher = rig.pusher()
    src, dst = f"{repo_prefix}/src", f"{repo_prefix}/dst"
    pusher.push_image(src, ["v1.0", "v1.1", "1a2b3c4"])
    dry = regkit("sync", rig.ref(src), rig.ref(dst), "--match", "^v", "--dry-run", env=rig.env())
    assert dry.returncode == 0, dry.stderr.decode()
    assert [line.split()[0] for line in dry.stdout.decode().splitlines()] == ["v1.0", "v1.1"]
    assert "would sync 2 tags" in dry.stderr.decode()
    assert crane(rig, "ls", rig.ref(dst), check=False).returncode != 0  # nothing written

    out = regkit("sync", rig.ref(src), rig.ref(dst), "--match", "^v", env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    assert sorted(_digests(rig, dst)) == ["v1.0", "v1.1"]

    bad = regkit("sync", rig.ref(src), rig.ref(dst), "--match", "(", env=rig.env())
    assert bad.returncode == 2
    # issue 21: one pattern module for every verb, so sync words it as prune does
    assert bad.stderr.decode().startswith("regkit: error: invalid --match pattern '(': ")
    assert bad.stderr.decode().count("\n") == 1


@rig_shapes(PRODUCTION)
def test_sync_empty_source_is_a_note(rig: Rig, repo_prefix: str) -> None:
    pusher = rig.pusher()
    src = f"{repo_prefix}/src"
    pusher.push_image(src, ["1a2b3c4"])
    out = regkit("sync", rig.ref(src), rig.ref(f"{repo_prefix}/d"), "--match", "^v", env=rig.env())
    assert out.returncode == 0
    assert out.stdout == b""
    assert f"regkit: no tags matching '^v' in {rig.ref(src)}; nothing to sync\n" in (
        out.stderr.decode()
    )


def _both(tmp_path: Path, *rigs: Rig) -> dict[str, str]:
    auths = {}
    for r in rigs:
        token = base64.b64encode(f"{r.username}:{r.password}".encode()).decode()
        auths[r.host] = {"auth": token}
    (tmp_path / "config.json").write_text(json.dumps({"auths": auths}))
    (tmp_path / "config.json").chmod(0o600)
    env = rigs[-1].env()  # SSL_CERT_FILE of the tls rig
    env["DOCKER_CONFIG"] = str(tmp_path)
    return env


@pytest.mark.parametrize("verb", [("sync",), ("copy", "--all-tags")])
def test_sync_across_registries_streams(
    rig_basic: Rig, rig_tls: Rig, repo_prefix: str, tmp_path: Path, verb: tuple[str, ...]
) -> None:
    rig_basic.ensure_running()
    rig_tls.ensure_running()
    repo = f"{repo_prefix}/api"
    pusher = rig_basic.pusher()
    pusher.push_image(repo, ["v1", "latest"], "docker-list")
    pusher.push_image(repo, ["v2"], "oci")
    env = _both(tmp_path, rig_basic, rig_tls)
    out = regkit(*verb, rig_basic.ref(repo), rig_tls.ref(repo), env=env)
    assert out.returncode == 0, out.stderr.decode()
    assert _digests(rig_tls, repo) == _digests(rig_basic, repo)
    assert " 0 mounted, " in out.stderr.decode()
    again = regkit(*verb, rig_basic.ref(repo), rig_tls.ref(repo), env=env)
    assert again.returncode == 0
    assert "0 created, 0 updated, 3 unchanged" in again.stderr.decode()
