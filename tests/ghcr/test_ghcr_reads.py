"""What a GHCR prune reads (issue 24): every manifest GET counts as a download of that package
version on GHCR (registry-facts.md; a version with over 5,000 downloads cannot be deleted), a
HEAD does not. A prune reads only what its plan uses: each tagged image's manifest once (an
index lists its children), the one platform manifest and config that give the image's created
time and labels; never the other platform manifests, the attestations, a signature's manifest
(a HEAD says it is no index), a manifest twice, or anything again for ``--record``.

The plan must be the one a prune that reads everything makes (``full_read_plan``: the
distribution fetch, which reads every platform manifest, as GHCR's planner did before issue 24),
bar the byte estimate, which counts only the blobs read.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from regkit.cli import main
from tests.ghcr_fixtures import crane_pull, docker_config, ghcr, pusher
from tests.ghcr_images import Build, push_build, push_history, referrer_tag, sign
from tests.ghcrfake import ApiRequest, FakeGHCR
from tests.rig.images import OCI_INDEX, OCI_MANIFEST, Blob, Pusher

SPDX = "application/spdx+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

__all__ = ["ghcr", "pusher"]  # fixtures

REPO = "acme/app"
TAGS = [f"{i:07x}" for i in range(1, 21)]  # 20 SHA-like tags, oldest first
KEEP = 6


@dataclass
class Fixture:
    builds: list[Build]
    tag_digest: dict[str, str]  # every tag -> the digest it names
    sig_old: str
    sig_new: str
    #: what the plan uses: each image's index and its linux/amd64 manifest (the one
    #: ``pick_child`` takes for the created time and labels), and that manifest's config
    used: set[str]
    configs: set[str]


def fixture(fake: FakeGHCR, pusher: Pusher) -> Fixture:
    """20 buildx images (index + linux/amd64 + linux/arm64 + 2 attestations), ``latest`` on
    the newest, ``edge`` (matches no rule: stays) on a doomed one, cosign signatures of the
    oldest and the newest."""
    builds = push_history(pusher, REPO, TAGS)
    for tag, build in (("latest", builds[-1]), ("edge", builds[2])):
        pusher.put_manifest(REPO, tag, *pusher.get_manifest(REPO, build.index)[:2])
    sig_old = sign(pusher, REPO, builds[0].index, seed=1)
    sig_new = sign(pusher, REPO, builds[-1].index, seed=2)
    fake.space_out(REPO)
    tag_digest = {t: d for d, ts in fake.tags_by_digest(REPO).items() for t in ts}
    used = {b.index for b in builds} | {b.platforms[0] for b in builds}
    configs = {
        json.loads(pusher.get_manifest(REPO, b.platforms[0])[0])["config"]["digest"] for b in builds
    }
    return Fixture(builds, tag_digest, sig_old, sig_new, used, configs)


@dataclass
class Reads:
    """The registry requests of one prune (401 challenges left out)."""

    manifest_gets: Counter[str] = field(default_factory=Counter)  # digest -> GETs
    manifest_heads: int = 0
    blob_gets: Counter[str] = field(default_factory=Counter)
    other: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def downloads(self) -> int:
        """What GHCR counts as downloads: manifest GETs."""
        return sum(self.manifest_gets.values())


def reads(requests: list[ApiRequest], tag_digest: dict[str, str]) -> Reads:
    out = Reads()
    prefix = f"/v2/{REPO}/"
    for r in requests:
        if r.status == 401 or not r.path.startswith(prefix):
            continue
        kind, _, ref = r.path[len(prefix) :].split("?")[0].partition("/")
        if kind == "manifests" and r.method == "GET":
            out.manifest_gets[tag_digest.get(ref, ref)] += 1
        elif kind == "manifests" and r.method == "HEAD":
            out.manifest_heads += 1
        elif kind == "blobs" and r.method == "GET":
            out.blob_gets[ref] += 1
        else:
            out.other[(r.method, kind)] += 1
    return out


def full_read_plan(
    fake: FakeGHCR,
    now: datetime,
    *,
    keep: int = KEEP,
    protect_digests: frozenset[str] = frozenset(),
    delete_untagged: bool = False,
) -> dict[str, Any]:
    """The GHCR plan as a planner that reads every manifest makes it (the distribution fetch,
    as GHCR's planner did before issue 24): the reference the plan must equal."""
    from regkit.ghcr.hosts import packages_api
    from regkit.ghcr.prune import inspect_untagged, plan_ghcr, untagged_to_inspect
    from regkit.ops import ConnectOptions, connect
    from regkit.ops.prune.plan import PrunePolicy
    from regkit.ops.prune.run import Target, plan_target

    client = connect(fake.host, ConnectOptions())
    policy = PrunePolicy(keep=keep, protect_digests=protect_digests)
    (plan,) = plan_target(client, Target(fake.host, (REPO,)), policy, now)
    with packages_api(client) as api:
        versions = api.list_versions(REPO)
    wanted = untagged_to_inspect(plan, versions, delete_untagged=delete_untagged)
    children = inspect_untagged(client, REPO, wanted)
    return plan_ghcr(
        plan, versions, delete_untagged=delete_untagged, untagged_children=children
    ).to_json()


def _without_bytes(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if k != "reclaimable_bytes"}


def test_a_dry_run_reads_each_index_and_one_platform_manifest_per_image(
    ghcr: FakeGHCR, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    f = fixture(ghcr, pusher)
    now = datetime.now(UTC)
    reference = full_read_plan(ghcr, now)
    mark = len(ghcr.registry_requests)
    ref = f"{ghcr.host}/{REPO}"
    assert main(["prune", ref, "--keep", str(KEEP), "--dry-run", "--json"]) == 0
    out, err = capsys.readouterr()
    r = reads(ghcr.registry_requests[mark:], f.tag_digest)

    # the plan is the one a prune reading everything makes (the byte estimate aside)
    (repo,) = json.loads(out)["repositories"]
    assert _without_bytes(repo["plan"]) == _without_bytes(reference), err
    # 12 images (latest keeps the newest beside the 6 newest, edge keeps build 2) and a signature
    assert len(repo["plan"]["ghcr"]["delete_versions"]) == 12 * 5 + 1

    # only what the plan uses, each once
    assert set(r.manifest_gets) == f.used, r
    assert max(r.manifest_gets.values()) == 1
    attestations = {d for b in f.builds for d in b.attestations}
    arm64 = {b.platforms[1] for b in f.builds}
    assert not set(r.manifest_gets) & (attestations | arm64 | {f.sig_old, f.sig_new})
    assert r.downloads == 40  # was 104: every tag, every platform manifest and attestation
    assert set(r.blob_gets) == f.configs and max(r.blob_gets.values()) == 1  # one config per image


def test_a_prune_with_record_downloads_nothing_more_and_ends_as_before(
    ghcr: FakeGHCR,
    pusher: Pusher,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    f = fixture(ghcr, pusher)
    b = f.builds
    mark = len(ghcr.registry_requests)
    api_mark = len(ghcr.api_requests)
    record = tmp_path / "audit.jsonl"
    ref = f"{ghcr.host}/{REPO}"
    code = main(["prune", ref, "--keep", str(KEEP), "--yes", "--json", "--record", str(record)])
    out, err = capsys.readouterr()
    assert code == 0, err
    r = reads(ghcr.registry_requests[mark:], f.tag_digest)

    # what stays: the newest build (latest), the 6 newest before it, edge's build (its SHA tag
    # removed alone), the newest build's signature; everything whole
    staying = {d for i in (2, *range(19 - KEEP, 20)) for d in b[i].manifests} | {f.sig_new}
    assert {v["name"] for v in ghcr.versions(REPO)} == staying
    tags = {t for ts in ghcr.tags_by_digest(REPO).values() for t in ts}
    assert tags == {*TAGS[-KEEP - 1 :], "latest", "edge", referrer_tag(b[-1].index)}
    cfg = docker_config(tmp_path / "docker", ghcr.host)
    for tag in ("latest", "edge", TAGS[-KEEP - 1]):
        assert crane_pull(ghcr, f"{REPO}:{tag}", cfg, tmp_path / tag).returncode == 0

    result = json.loads(out)["repositories"][0]["result"]
    assert result["complete"] is True
    roles = Counter(v["role"] for v in result["versions"] if v["status"] == "deleted")
    assert roles == {"image": 12, "child": 48, "referrer": 1}
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(lines) == 14  # 12 images' tags, edge's SHA tag (untag), the old signature
    by_tag = {x["tag"]: x for x in lines}
    assert by_tag[TAGS[2]]["action"] == "untag"
    assert by_tag[TAGS[0]]["labels"]["description"] == f"build {0 * 7919 + len(REPO)}"

    # planning read each image once and one platform manifest of it; carrying out read no
    # manifest again (HEADs re-check the tags) and --record took the labels read for the plan
    assert set(r.manifest_gets) == f.used, r
    assert max(r.manifest_gets.values()) == 1
    assert r.downloads == 40
    assert set(r.blob_gets) == f.configs and max(r.blob_gets.values()) == 1
    rest = Counter(x.method for x in ghcr.api_requests[api_mark:] if x.status != 401)
    assert rest["DELETE"] == 61 + 1  # the versions, and edge's SHA tag's throw-away


def referrers_index(pusher: Pusher, subject: str) -> tuple[str, str]:
    """An SBOM attached as oras does where there is no referrers API: an artifact manifest
    (``subject`` set) and the referrers tag schema's index ``sha256-<hex>`` listing it.
    (index digest, artifact digest)."""
    sbom = Blob.of(json.dumps({"spdxVersion": "SPDX-2.3", "of": subject}).encode(), SPDX)
    empty = Blob.of(b"{}", OCI_EMPTY)
    pusher.push_blobs(REPO, [sbom, empty])
    size = len(pusher.get_manifest(REPO, subject)[0])
    artifact = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SPDX,
            "config": empty.descriptor(),
            "layers": [sbom.descriptor()],
            "subject": {"mediaType": OCI_INDEX, "digest": subject, "size": size},
        }
    ).encode()
    digest = pusher.put_manifest(
        REPO, Blob.of(artifact, OCI_MANIFEST).digest, artifact, OCI_MANIFEST
    )
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": len(artifact),
                    "artifactType": SPDX,
                }
            ],
        }
    ).encode()
    return pusher.put_manifest(REPO, subject.replace(":", "-"), index, OCI_INDEX), digest


def test_protected_untagged_and_referrers_are_planned_as_by_a_full_read(
    ghcr: FakeGHCR,
    pusher: Pusher,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The reads left out change no decision: a protected digest keeps its children, the
    signature of an untagged image that exists stays, the signature of a doomed platform
    manifest goes, an SBOM's referrers index goes with its image and takes the SBOM along."""
    tags = TAGS[:8]
    builds = push_history(pusher, REPO, tags)
    orphan = push_build(pusher, REPO, "orphan", datetime(2025, 12, 1, tzinfo=UTC), seed=99)
    shutil.rmtree(ghcr._repo_dir(REPO) / "_manifests/tags/orphan")  # an untagged build
    sig_orphan = sign(pusher, REPO, orphan.index, seed=3)
    sig_child = sign(pusher, REPO, builds[0].platforms[0], seed=4)
    sbom_index, sbom = referrers_index(pusher, builds[1].index)
    protected = builds[2].index
    # a dangling tag: listed, its manifest gone (a registry stopped mid-delete)
    dangling = sign(pusher, REPO, builds[3].index, seed=5)
    pusher.put_manifest(REPO, "0000abc", *pusher.get_manifest(REPO, dangling)[:2])
    shutil.rmtree(ghcr._repo_dir(REPO) / "_manifests/tags" / referrer_tag(builds[3].index))
    shutil.rmtree(ghcr._repo_dir(REPO) / "_manifests/revisions/sha256" / dangling[7:])
    ghcr.space_out(REPO)
    tag_digest = {t: d for d, ts in ghcr.tags_by_digest(REPO).items() for t in ts}
    now = datetime.now(UTC)
    ref = f"{ghcr.host}/{REPO}"
    never = {d for b in builds for d in (*b.attestations, b.platforms[1])}
    never |= {sig_orphan, sig_child, sbom, *orphan.children}

    for delete_untagged in (False, True):
        reference = full_read_plan(
            ghcr,
            now,
            keep=2,
            protect_digests=frozenset({protected}),
            delete_untagged=delete_untagged,
        )
        mark = len(ghcr.registry_requests)
        args = ["--keep", "2", "--protect-digest", protected, "--dry-run", "--json"]
        args += ["--delete-untagged"] if delete_untagged else []
        assert main(["prune", ref, *args]) == 0
        out, err = capsys.readouterr()
        (repo,) = json.loads(out)["repositories"]
        assert _without_bytes(repo["plan"]) == _without_bytes(reference), err
        assert any(t["tag"] == "0000abc" and not t["digest"] for t in repo["plan"]["tags"])
        r = reads(ghcr.registry_requests[mark:], tag_digest)
        assert not set(r.manifest_gets) & never, r
        assert max(r.manifest_gets.values()) == 1
        assert {sbom_index, orphan.index} <= set(r.manifest_gets)

    planned = {v["digest"] for v in reference["ghcr"]["delete_versions"]}
    assert {builds[0].index, sig_child, builds[1].index, sbom_index, sbom} <= planned
    assert not planned & {protected, *builds[2].children}
    # --delete-untagged: the old untagged build goes, and its signature with it
    assert {orphan.index, *orphan.children, sig_orphan} <= planned
    before = {v["name"] for v in ghcr.versions(REPO)}
    args = ["--keep", "2", "--protect-digest", protected, "--delete-untagged", "--yes"]
    assert main(["prune", ref, *args]) == 0, capsys.readouterr().err
    # the SBOM goes after the referrers index that lists it (it was skipped before: children
    # were deleted before referrers, so its parent was not gone yet)
    assert {v["name"] for v in ghcr.versions(REPO)} == before - planned
    cfg = docker_config(tmp_path / "docker", ghcr.host)
    assert crane_pull(ghcr, f"{REPO}@{protected}", cfg, tmp_path / "protected").returncode == 0
