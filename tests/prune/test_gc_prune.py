"""Garbage-collection proofs: after each prune scenario and after ``regkit delete``, the
registry's own ``garbage-collect`` runs (registry stopped, restarted after): on 2.8 without
``--delete-untagged``, on registry:3 with and without it. Then every remaining tag and every
protected digest is validated whole (index, every child, config, every layer) with regkit and
with ``crane validate --remote``, and the blob files on disk are counted: exactly the blobs of
what stays (plus, where GC keeps untagged manifests, the platform manifests of deleted indexes)
are left; the deleted images' blobs are gone. prune's GC guidance and its reclaimable estimate
are checked against what happened.

Each test has a private registry (``rig_factory``, basic shape: GC is server-side, the proxy in
front changes nothing), so the storage holds only the test's own images.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regkit.ops.prune.render import GC_GUIDANCE
from tests.clirun import regkit
from tests.faultproxy import Fault, Request, fault_proxy, status
from tests.rig import PushedImage, Rig, Version, client_for, crane, regctl, short_sha_tags

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class GcMode:
    version: Version
    delete_untagged: bool

    @property
    def drops_untagged(self) -> bool:
        """True when GC removes untagged manifests (and what only they reference)."""
        return self.delete_untagged


MODES = {
    "2.8": GcMode("2.8", False),
    "v3": GcMode("3", False),
    "v3-delete-untagged": GcMode("3", True),
}


@pytest.fixture(params=list(MODES))
def gc(request: pytest.FixtureRequest, rig_factory) -> tuple[Rig, GcMode]:  # type: ignore[no-untyped-def]
    mode = MODES[request.param]
    return rig_factory("basic", version=mode.version), mode


# --- what is on disk ---------------------------------------------------------------------------


def blob_files(rig: Rig) -> dict[str, int]:
    """digest -> size of every blob file in the storage (``blobs/sha256/xx/HEX/data``)."""
    root = rig.storage_dir / "docker" / "registry" / "v2" / "blobs" / "sha256"
    if not root.exists():
        return {}
    return {f"sha256:{p.parent.name}": p.stat().st_size for p in root.glob("*/*/data")}


def image_blobs(img: PushedImage) -> set[str]:
    """Every blob an image needs: its manifest, and for an index each child, config, layer."""
    out = {img.digest}
    for m in img.manifests:
        out.add(m.digest)
        if m.config is not None:
            out.add(m.config.digest)
        out.update(layer.digest for layer in m.layers)
    return out


def child_blobs(img: PushedImage) -> set[str]:
    """The platform manifests of an index and what they reference (empty for an image)."""
    return image_blobs(img) - {img.digest} if img.is_index else set()


def run_gc(rig: Rig, mode: GcMode) -> str:
    """Stop the registry, run its garbage-collect, start it again (same port and storage)."""
    rig.registry.stop()
    try:
        out = rig.registry.garbage_collect(delete_untagged=mode.delete_untagged)
    finally:
        rig.registry.start()
    return out.stdout + out.stderr


# --- validation ----------------------------------------------------------------------------------


def validate_whole(rig: Rig, repo: str, ref: str) -> str:
    """regkit: the manifest, every child, every config and layer answer (HEAD each blob); then
    ``crane validate --remote`` downloads and digests everything. Returns the digest."""
    with client_for(rig) as client:
        top = client.get_manifest(repo, ref)
        manifests = [client.get_manifest(repo, c.digest) for c in top.children] or [top]
        for m in manifests:
            assert m.config is not None, f"{repo}@{m.digest} has no config"
            for blob in [m.config, *m.layers]:
                size = client.blob_size(repo, blob.digest)
                assert size == blob.size, f"{repo}@{blob.digest} of {ref}: {size} != {blob.size}"
    out = crane(rig, "validate", "--remote", rig.ref(repo, ref))
    assert out.stdout.decode().startswith("PASS: "), out.stdout
    return top.digest


def tag_state(rig: Rig, repo: str) -> dict[str, str]:
    """tag -> digest, read with crane."""
    tags = crane(rig, "ls", rig.ref(repo)).stdout.decode().split()
    return {t: crane(rig, "digest", rig.ref(repo, t)).stdout.decode().strip() for t in tags}


@dataclass
class Proof:
    freed: dict[str, int]  # blobs GC removed: digest -> size
    left_behind: dict[str, int]  # blobs of deleted images GC kept (untagged platform manifests)
    gc_output: str


def prove(
    rig: Rig,
    mode: GcMode,
    repo: str,
    images: Iterable[PushedImage],
    expected_tags: dict[str, str],
    protected: Iterable[str] = (),
    earlier: Proof | None = None,
    untagged_children_of: Iterable[PushedImage] = (),
) -> Proof:
    """After a prune/delete: the tags are as expected; GC runs; what stays is whole; exactly the
    blobs of what stays are left on disk; every blob only a deleted image used is gone (regkit
    deletes the platform manifests of the indexes it deletes, so this holds without
    --delete-untagged). ``untagged_children_of``: indexes deleted by another tool, whose
    platform manifests it left untagged: GC keeps them unless --delete-untagged. ``earlier``:
    the proof of a previous round on the same repository (its deleted images are gone already;
    what it left behind is still there)."""
    images = list(images)
    protected = set(protected)
    assert tag_state(rig, repo) == expected_tags
    staying = set(expected_tags.values()) | protected
    by_digest = {img.digest: img for img in images}
    assert staying <= set(by_digest), "every staying digest is one of the pushed images"
    deleted = [img for img in images if img.digest not in staying]
    assert deleted, "the scenario deletes something"

    keep: set[str] = set()
    for d in staying:
        keep |= image_blobs(by_digest[d])
    # untagged platform manifests (with configs, layers) GC keeps unless told otherwise
    left_behind: set[str] = set(earlier.left_behind) if earlier else set()
    if not mode.drops_untagged:
        for img in untagged_children_of:
            left_behind |= child_blobs(img)
    else:
        left_behind = set()
    gone = set().union(*(image_blobs(img) for img in deleted)) - keep - left_behind

    before = blob_files(rig)
    # deleting frees nothing by itself: every blob is still on disk before GC
    already_gone = set(earlier.freed) if earlier else set()
    assert set().union(*(image_blobs(img) for img in images)) - already_gone <= set(before)
    output = run_gc(rig, mode)
    after = blob_files(rig)

    assert set(after) == keep | left_behind, (
        f"unexpected: {sorted(set(after) - keep - left_behind)}; "
        f"missing: {sorted((keep | left_behind) - set(after))}"
    )
    assert gone and not gone & set(after)
    for img in deleted:
        assert img.digest not in after

    # everything that stays is whole, through the restarted registry
    for tag, digest in expected_tags.items():
        assert validate_whole(rig, repo, tag) == digest
    for digest in protected:
        assert validate_whole(rig, repo, digest) == digest
    assert tag_state(rig, repo) == expected_tags
    # deleted images are gone for clients too (their children stay fetchable only if kept)
    pusher = rig.pusher()
    for img in deleted:
        assert pusher.manifest_status(repo, img.digest) == 404
        for child in img.children:
            want = 200 if child in left_behind else 404
            assert pusher.manifest_status(repo, child) == want, (mode, child)
    # a push after GC re-uploads what GC removed (no stale "blob exists" from a cache)
    if deleted:
        victim = deleted[0].manifests[0].config
        if victim is not None and victim.digest in gone:
            assert not pusher.blob_exists(repo, victim.digest)
    freed = {d: s for d, s in before.items() if d not in after}
    if earlier:
        freed.update(earlier.freed)
    return Proof(freed, {d: after[d] for d in left_behind - keep}, output)


def env_for(rig: Rig) -> dict[str, str]:
    return rig.env(base={})


def prune(rig: Rig, repo: str, *args: str, host: str | None = None) -> dict:  # type: ignore[type-arg]
    out = regkit(
        "prune",
        f"{host or rig.host}/{repo}",
        *args,
        "--yes",
        "--json",
        env=env_for(rig),
    )
    assert out.returncode == 0, out.stderr.decode()
    doc: dict = json.loads(out.stdout)  # type: ignore[type-arg]
    return doc


def reclaimable(doc: dict) -> int:  # type: ignore[type-arg]
    """The run's ``reclaimable_bytes`` (prune --json, summed over repositories)."""
    value = doc["reclaimable_bytes"]
    assert isinstance(value, int) and value > 0, doc
    return value


# --- scenarios -----------------------------------------------------------------------------------


def test_rollback_with_shared_digests(gc: tuple[Rig, GcMode], repo_prefix: str) -> None:
    """Six single-platform SHA tags; ``edge`` rolled back to the second, ``stable`` on the
    first. keep 2: the first two go as tags alone (their manifests stay for edge and stable),
    the third and fourth manifests are deleted by digest."""
    rig, mode = gc
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    shas = short_sha_tags(6, seed=11)
    images = pusher.push_images(repo, shas, "oci", start=T0)
    # edge/stable, not latest/v1.0.0: no built-in rule protects them (they stay because the
    # default pattern does not match them), so the SHA tags on their digests are untagged
    pusher.tag(images[1], ["edge"])
    pusher.tag(images[0], ["stable"])
    doc = prune(rig, repo, "--keep", "2")
    expected = {
        shas[4]: images[4].digest,
        shas[5]: images[5].digest,
        "edge": images[1].digest,
        "stable": images[0].digest,
    }
    proof = prove(rig, mode, repo, images, expected)
    # single-platform images: the estimate is exactly what GC frees
    assert sum(proof.freed.values()) - throwaway_bytes(proof, images) == reclaimable(doc)


def throwaway_bytes(proof: Proof, images: Iterable[PushedImage]) -> int:
    """Bytes GC freed that belonged to none of the pushed images: on 2.8 the throw-away
    manifests (and their configs) prune pushed to remove a tag alone."""
    known = set().union(*(image_blobs(img) for img in images))
    return sum(size for digest, size in proof.freed.items() if digest not in known)


def test_multi_arch(gc: tuple[Rig, GcMode], repo_prefix: str) -> None:
    """Five multi-platform SHA tags (OCI indexes, two platforms each) and ``edge`` on the
    fourth. keep 1: three indexes are deleted by digest with their platform manifests; the
    fourth stays for edge, whole (registry:3's --delete-untagged keeps its children)."""
    rig, mode = gc
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    shas = short_sha_tags(5, seed=12)
    images = pusher.push_images(repo, shas, "oci-index", start=T0)
    # edge, not latest: no built-in rule protects it, so the fourth SHA tag is still untagged
    pusher.tag(images[3], ["edge"])
    doc = prune(rig, repo, "--keep", "1")
    expected = {shas[4]: images[4].digest, "edge": images[3].digest}
    proof = prove(rig, mode, repo, images, expected)
    freed = sum(proof.freed.values()) - throwaway_bytes(proof, images)
    # prune deleted the indexes' platform manifests too: GC frees exactly the estimate, with
    # or without --delete-untagged
    assert not proof.left_behind
    assert freed == reclaimable(doc)


def test_deployed_digest_protected(
    gc: tuple[Rig, GcMode], repo_prefix: str, tmp_path: Path
) -> None:
    """Six SHA tags alternating multi-platform and single; the deployed image (an old index,
    named by digest in deploy-info.yml, its tag deleted by an earlier cleanup) is protected:
    after prune and GC it is still whole by digest."""
    rig, mode = gc
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    shas = short_sha_tags(6, seed=13)
    multi = pusher.push_images(repo, shas[0::2], "oci-index", start=T0, step=timedelta(hours=2))
    single = pusher.push_images(
        repo, shas[1::2], "docker", start=T0 + timedelta(hours=1), step=timedelta(hours=2)
    )
    images = sorted(multi + single, key=lambda i: shas.index(i.tags[0]))
    deployed = images[2]  # an index
    deploy_file = tmp_path / "deploy-info.yml"
    deploy_file.write_text(
        f"app: hello-world\nimage:\n  repo: {rig.host}/{repo}\n  tag: {shas[2]}\n"
        f"  digest: {deployed.digest}\n"
    )
    prune(rig, repo, "--keep", "2", "--protect-file", str(deploy_file))
    expected = {shas[4]: images[4].digest, shas[5]: images[5].digest, shas[2]: deployed.digest}
    first = prove(rig, mode, repo, images, expected, protected=[deployed.digest])
    # later, by hand with other tools: crane deletes an index by digest (leaving its platform
    # manifests untagged) and regctl removes the deployed image's tag; the deploy file still
    # names its digest
    crane(rig, "delete", rig.ref(repo, images[4].digest))
    regctl(rig, "tag", "rm", rig.ref(repo, shas[2]))
    expected = {shas[5]: images[5].digest}
    by_hand = [images[4]]
    if not mode.drops_untagged:
        prove(rig, mode, repo, images, expected, [deployed.digest], first, by_hand)
    else:
        # --delete-untagged knows nothing of deploy-info.yml: the deployed image, now without
        # a tag, is garbage-collected with everything untagged (GC_GUIDANCE says so)
        prove(rig, mode, repo, images, expected, earlier=first, untagged_children_of=by_hand)
        assert rig.pusher().manifest_status(repo, deployed.digest) == 404


def test_interrupted_then_resumed(gc: tuple[Rig, GcMode], repo_prefix: str) -> None:
    """A prune whose DELETE of one manifest keeps failing stops part-way (exit 1); the rerun
    finishes; GC after it leaves exactly what a clean prune would."""
    rig, mode = gc
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    shas = short_sha_tags(6, seed=14)
    images = pusher.push_images(repo, shas, "oci-index", start=T0)
    # stable, not v1.0.0: no built-in rule protects it, so the first SHA tag is still untagged
    pusher.tag(images[0], ["stable"])
    doomed = images[2].digest

    def plan(req: Request) -> Fault | None:
        if req.method == "DELETE" and req.path.endswith(f"/manifests/{doomed}"):
            return status(503)
        return None

    with fault_proxy(rig.host, plan) as proxy:
        first = regkit(
            "prune", f"{proxy.host}/{repo}", "--keep", "2", "--yes", env=_proxy_env(rig, proxy.host)
        )
    assert first.returncode == 1, first.stderr.decode()
    assert "prune did not finish" in first.stderr.decode()
    assert pusher.manifest_status(repo, doomed) == 200
    prune(rig, repo, "--keep", "2")
    expected = {shas[4]: images[4].digest, shas[5]: images[5].digest, "stable": images[0].digest}
    prove(rig, mode, repo, images, expected)


def _proxy_env(rig: Rig, host: str) -> dict[str, str]:
    from tests.rig.shapes import write_docker_config

    write_docker_config(rig.workdir / "proxy-docker", host, rig.username, rig.password)
    return rig.env(base={}, DOCKER_CONFIG=str(rig.workdir / "proxy-docker"))


def test_delete_by_digest_and_by_tag(gc: tuple[Rig, GcMode], repo_prefix: str) -> None:
    """``regkit delete REPO@DIGEST --yes`` of an index; ``regkit delete REPO:TAG`` of a tag whose
    digest another tag keeps (only the tag goes) and of an index's only tag (the index goes
    with it): after GC the deleted indexes' blobs, platform manifests included, are gone and
    the shared image is whole."""
    rig, mode = gc
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    shas = short_sha_tags(4, seed=15)
    images = pusher.push_images(repo, shas, "oci-index", start=T0)
    pusher.tag(images[1], ["latest"])
    out = regkit("delete", rig.ref(repo, images[0].digest), "--yes", env=env_for(rig))
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode() == (
        f"deleted {rig.host}/{repo}@{images[0].digest} (tags removed with it: {shas[0]})\n"
    )
    out = regkit("delete", rig.ref(repo, shas[1]), env=env_for(rig))
    assert out.returncode == 0, out.stderr.decode()
    out = regkit("delete", rig.ref(repo, shas[3]), env=env_for(rig))
    assert out.returncode == 0, out.stderr.decode()
    assert "and its manifest" in out.stdout.decode()
    expected = {shas[2]: images[2].digest, "latest": images[1].digest}
    prove(rig, mode, repo, images, expected)


def test_gc_guidance_matches_what_each_version_does(rig_factory, repo_prefix: str) -> None:  # type: ignore[no-untyped-def]
    """What prune prints about GC is true: '--delete-untagged' on 2.8 removes the platform
    manifests of a still-tagged multi-platform image (crane validate fails after it); on
    registry:3 the same image stays whole."""
    assert "--delete-untagged" in GC_GUIDANCE and "registry:3" in GC_GUIDANCE
    # and what test_deployed_digest_protected shows: --delete-untagged removes a protected
    # (deployed) digest that has no tag
    assert "protected digests without a tag" in GC_GUIDANCE
    for version, breaks in (("2.8", True), ("3", False)):
        rig = rig_factory("basic", version=version)
        repo = f"{repo_prefix}/v{version}"
        image = rig.pusher().push_image(repo, ["abc1234"], "oci-index")
        run_gc(rig, GcMode(version, True))
        result = crane(rig, "validate", "--remote", rig.ref(repo, "abc1234"), check=False)
        on_disk = set(blob_files(rig))
        status = {c: rig.pusher().manifest_status(repo, c) for c in image.children}
        content = image_blobs(image) - {image.digest, *image.children}  # configs and layers
        if breaks:
            # 2.8 unlinks the platform manifests of the tagged index (their bytes stay, the
            # index references them) and sweeps their configs and layers: the image is broken
            assert result.returncode != 0
            assert "MANIFEST_UNKNOWN" in result.stdout.decode()
            assert set(status.values()) == {404}
            assert not content & on_disk
            assert {image.digest, *image.children} <= on_disk
        else:
            assert result.returncode == 0, result.stderr.decode()
            assert set(status.values()) == {200}
            assert image_blobs(image) <= on_disk
            assert validate_whole(rig, repo, "abc1234") == image.digest
