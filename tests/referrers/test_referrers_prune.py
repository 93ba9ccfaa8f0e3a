"""prune and referrers (issue 23): an image's signatures, attestations and SBOMs live and die
with it, on every registry kind.

Pure: a referrer tag (``sha256-<hex>``, ``sha256-<hex>.sig/.att/.sbom``) never counts toward
``keep`` and is never an image of the plan, whatever ``match`` says: it is listed under its
subject (``plan.referrers``), doomed with it, kept with it; one whose subject no longer exists
is an orphan, reported, and removed only with ``delete_orphans``.

Real: 8 images on distribution 2.8, registry:3 and crane's registry, each signed with the real
cosign and given an SBOM with the real oras; ``regkit prune --keep 3 --yes`` (default match, then
the team's ``--match '.*'``): no referrer of a deleted image is left (crane ls, the SBOM
manifests by digest, oras discover), every staying image still verifies with ``cosign verify
--key``, and after the registry's garbage-collect every staying image is whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regkit.ops.prune.plan import DELETE_MANIFEST, KEEP, PrunePolicy, TagInfo, plan_prune
from regkit.ops.prune.render import render_plan
from regkit.timeparse import parse_created_time
from tests.clirun import regkit
from tests.rig import Rig, crane
from tests.rig.cosign import KeyPair, generate_key_pair, require_cosign, sign, verify
from tests.rig.cranereg import CraneRig
from tests.rig.oras import attach, discover, require_oras
from tests.rig.referrersreg import start_referrers_rig

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def d(c: str) -> str:
    return "sha256:" + c * 64


def image(tag: str, digest: str, hours: int, children: tuple[str, ...] = ()) -> TagInfo:
    created = parse_created_time((NOW - timedelta(hours=100 - hours)).isoformat())
    return TagInfo(tag, digest, created, children)


def sig(subject: str, digest: str, suffix: str = "sig") -> TagInfo:
    # a cosign signature's config is dated (cosign writes no created: unknown here)
    return TagInfo(f"{subject.replace(':', '-')}.{suffix}", digest, None)


def index(subject: str, digest: str, children: tuple[str, ...]) -> TagInfo:
    return TagInfo(subject.replace(":", "-"), digest, None, children)


def _sbom_index(subject: str, idx: str, sbom: str) -> TagInfo:
    return TagInfo(subject.replace(":", "-"), idx, None, (sbom,))


def _signed(n: int) -> list[TagInfo]:
    tags: list[TagInfo] = []
    for i in range(n):
        subject = "sha256:" + f"{i:x}" * 64
        subject = subject[:71]
        tags.append(image(f"{i:07x}", subject, i + 1))
        tags.append(sig(subject, "sha256:" + f"e{i:x}" * 32))
        tags.append(_sbom_index(subject, "sha256:" + f"d{i:x}" * 32, "sha256:" + f"c{i:x}" * 32))
    return tags


@pytest.mark.parametrize("match", [r"^[0-9a-f]{7}$", ".*"])
def test_referrer_tags_never_count_toward_keep_and_follow_their_image(match: str) -> None:
    tags = _signed(5)
    plan = plan_prune(tags, PrunePolicy(match=match, keep=3), NOW)
    # the images only: no referrer tag is an image of the plan
    assert sorted(e.tag for e in plan.entries) == [f"{i:07x}" for i in range(5)]
    assert {e.tag for e in plan.removed} == {"0000000", "0000001"}
    # every referrer shows under its subject, doomed with it or kept with it
    by_tag = {r.tag: r for r in plan.referrers}
    assert len(by_tag) == 10
    for i in range(5):
        subject = ("sha256:" + f"{i:x}" * 64)[:71]
        hexpart = subject.removeprefix("sha256:")
        s, x = by_tag[f"sha256-{hexpart}.sig"], by_tag[f"sha256-{hexpart}"]
        assert s.subject == subject and x.subject == subject
        want = DELETE_MANIFEST if i < 2 else KEEP
        assert (s.action, x.action) == (want, want)
        assert s.reason.startswith(f"signature of {i:07x}")
        assert x.reason.startswith(f"referrers index of {i:07x}")
        if i < 2:
            assert s.reason.endswith("which goes")
    assert set(plan.referrer_digests) == {
        "sha256:" + f"{p}{i:x}" * 32 for p in "ed" for i in (0, 1)
    }
    assert not set(plan.referrer_digests) & set(plan.delete_digests)
    # shown under the image, not as a row with created "unknown"
    text = render_plan("reg.example", plan)
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("0000000"))
    assert "signature of 0000000" in lines[row + 1] or "signature of 0000000" in lines[row + 2]
    assert "unknown" not in text
    doc = plan.to_json()
    assert {r["tag"] for r in doc["referrers"]} == set(by_tag)
    assert all(t["tag"] in {f"{i:07x}" for i in range(5)} for t in doc["tags"])


def test_orphans_are_reported_and_removed_only_with_delete_orphans() -> None:
    gone = d("9")
    tags = [image("aaaaaaa", d("a"), 1), sig(gone, d("5")), _sbom_index(gone, d("6"), d("7"))]
    plan = plan_prune(tags, PrunePolicy(keep=3), NOW)
    assert [r.action for r in plan.referrers] == [KEEP, KEEP]
    assert all("no longer exists" in r.reason for r in plan.referrers)
    assert all("--delete-orphans" in r.reason for r in plan.referrers)
    assert {r.tag for r in plan.orphans} == {r.tag for r in plan.referrers}
    assert plan.referrer_digests == ()
    plan = plan_prune(tags, PrunePolicy(keep=3, delete_orphans=True), NOW)
    assert [r.action for r in plan.referrers] == [DELETE_MANIFEST, DELETE_MANIFEST]
    assert set(plan.referrer_digests) == {d("5"), d("6")}
    assert plan.entries[0].action == KEEP
    # a subject known to exist without a tag (``untagged``) is no orphan
    from regkit.ops.prune.plan import ImageRefs

    plan = plan_prune(
        tags, PrunePolicy(keep=3, delete_orphans=True), NOW, untagged=[ImageRefs(gone)]
    )
    assert [r.action for r in plan.referrers] == [KEEP, KEEP]


def test_protected_referrers_and_referrers_of_protected_images_stay() -> None:
    old, new = d("a"), d("b")
    tags = [image("aaaaaaa", old, 1), image("bbbbbbb", new, 2), sig(old, d("5")), sig(new, d("6"))]
    t_old = old.replace(":", "-") + ".sig"
    plan = plan_prune(tags, PrunePolicy(keep=1, protect_tags=frozenset({t_old})), NOW)
    assert {r.tag: r.action for r in plan.referrers}[t_old] == KEEP
    plan = plan_prune(tags, PrunePolicy(keep=1, protect_digests=frozenset({old})), NOW)
    assert {r.tag: r.action for r in plan.referrers}[t_old] == KEEP
    # a signed platform manifest of an index that goes: its signature goes too
    child = d("c")
    tags = [image("aaaaaaa", old, 1, (child,)), image("bbbbbbb", new, 2), sig(child, d("7"))]
    plan = plan_prune(tags, PrunePolicy(keep=1), NOW)
    assert [r.action for r in plan.referrers] == [DELETE_MANIFEST]


def _link(c: str, n: int) -> str:
    return "sha256:" + (f"{c}{n}f" * 22)[:64]


def test_referrers_of_referrers_follow_their_image_at_any_depth() -> None:
    """An SBOM listed by the image's referrers index is signed (``sha256-<sbom>.sig``), that
    signature is signed too, and so on: all go with the image and stay with a staying one
    (before: the SBOM's signature was an orphan, kept); a tag claiming a loop is decided."""
    from regkit.ops.prune.children import doomed_referrers

    old, new = d("a"), d("b")
    tags = [image("aaaaaaa", old, 1), image("bbbbbbb", new, 2)]
    for subject, c in ((old, "1"), (new, "2")):
        sbom = d(c)
        tags.append(_sbom_index(subject, d(chr(ord(c) + 2)), sbom))
        chain = sbom
        for n in range(4):  # the SBOM's signature, its signature, ...
            digest = _link(c, n)
            tags.append(sig(chain, digest))
            chain = digest
    loop = sig(d("e"), d("e"))  # names itself as its subject
    tags.append(loop)
    plan = plan_prune(tags, PrunePolicy(keep=1), NOW)
    by_subject = {r.subject: r for r in plan.referrers}
    for c, want in (("1", DELETE_MANIFEST), ("2", KEEP)):
        chain = d(c)
        for n in range(4):
            r = by_subject[chain]
            assert (r.action, r.orphan) == (want, False), r
            chain = _link(c, n)
    first = by_subject[d("1")]
    assert first.reason == f"signature of {'1' * 12} (listed by sha256-{'a' * 64}), which goes"
    assert by_subject[d("e")].orphan
    going = doomed_referrers(plan, [old])
    assert {r.subject for r in going} == {d("a"), d("1")} | {_link("1", n) for n in range(3)}
    text = render_plan("reg.example", plan)
    assert text.count("(orphan)") == 1 and "1 orphan kept" in text  # the loop only


# -- real registries, real cosign and oras ----------------------------------------------------

AnyRig = Rig | CraneRig
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    require_cosign()
    require_oras()
    return generate_key_pair(tmp_path_factory.mktemp("cosign-keys"))


def _sbom(tmp_path: Path) -> Path:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "regkit-test"}))
    return path


def _manifest_exists(rig: AnyRig, repo: str, digest: str) -> bool:
    cp = crane(rig, "manifest", rig.ref(repo, digest), check=False)
    return cp.returncode == 0


@pytest.mark.parametrize(
    ("kind", "match"),
    [("2.8", None), ("3", None), ("crane", None), ("referrers-api", None), ("3", ".*")],
    ids=["v2.8", "v3", "crane", "referrers-api", "v3-match-all"],
)
def test_prune_takes_each_deleted_images_referrers_and_leaves_the_rest_verifiable(
    kind: str,
    match: str | None,
    rig_factory: Callable[..., Rig],
    rig_crane: CraneRig,
    repo_prefix: str,
    keys: KeyPair,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    rig: AnyRig
    if kind == "crane":
        rig_crane.ensure_running()
        rig = rig_crane
    elif kind == "referrers-api":  # serves the referrers API (oras still writes the tag index)
        rig = start_referrers_rig(tmp_path / "rig-referrers-api")
        request.addfinalizer(rig.close)
    else:  # a private registry: garbage-collect runs on it
        rig = rig_factory("basic", version=kind)
    repo = f"{repo_prefix}/app"
    tags = [f"{0xABC0000 + i:07x}" for i in range(8)]
    images = rig.pusher().push_images(repo, tags, start=T0, jobs=4)
    sbom = _sbom(tmp_path)
    sboms: dict[str, str] = {}
    for img in images:
        sign(rig, keys, rig.ref(repo, img.digest))
        sboms[img.digest] = attach(rig, rig.ref(repo, img.digest), sbom)
    staying, going = images[-3:], images[:-3]

    args = ["prune", rig.ref(repo), "--keep", "3", "--yes"]
    if match is not None:
        args += ["--match", match]
    out = regkit(*args, env=rig.env())
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    # the plan lists the 8 images, each with its referrers under it (no "unknown" rows)
    assert "created time unknown" not in text
    assert text.count("signature of ") == 8, text
    # each deleted image's .sig, its referrers index and the SBOM the index lists
    assert "also deleted 15 referrer manifests (signatures, attestations, SBOMs)" in text, text
    assert "platform manifest" not in text, text

    listed = set(crane(rig, "ls", rig.ref(repo)).stdout.decode().split())
    want = {img.tags[0] for img in staying}
    for img in staying:
        hexpart = img.digest.removeprefix("sha256:")
        want |= {f"sha256-{hexpart}", f"sha256-{hexpart}.sig"}
    assert listed == want
    for img in going:
        assert not _manifest_exists(rig, repo, sboms[img.digest])
    for img in staying:
        assert _manifest_exists(rig, repo, sboms[img.digest])
        found = discover(rig, rig.ref(repo, img.digest))
        assert [r["digest"] for r in found] == [sboms[img.digest]]
        verify(rig, keys, rig.ref(repo, img.tags[0]))

    if isinstance(rig, CraneRig):
        return  # crane's registry keeps everything in memory: no garbage-collect
    rig.registry.stop()
    try:
        rig.registry.garbage_collect(delete_untagged=False)
    finally:
        rig.registry.start()
    for img in staying:
        cp = crane(rig, "validate", "--remote", rig.ref(repo, img.tags[0]))
        assert cp.stdout.decode().startswith("PASS: "), cp.stdout
        verify(rig, keys, rig.ref(repo, img.tags[0]))
        assert [r["digest"] for r in discover(rig, rig.ref(repo, img.digest))] == [
            sboms[img.digest]
        ]

    if match is None:
        return
    # an orphan: a staying image deleted behind regkit's back leaves its referrers
    lost = staying[0]
    crane(rig, "delete", rig.ref(repo, lost.digest))
    out = regkit(*args, env=rig.env())
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "which no longer exists (orphan); --delete-orphans removes it" in text, text
    hexpart = lost.digest.removeprefix("sha256:")
    orphans = {f"sha256-{hexpart}", f"sha256-{hexpart}.sig"}
    assert orphans <= set(crane(rig, "ls", rig.ref(repo)).stdout.decode().split())
    out = regkit(*args, "--delete-orphans", env=rig.env())
    assert out.returncode == 0, out.stderr
    left = set(crane(rig, "ls", rig.ref(repo)).stdout.decode().split())
    assert not orphans & left
    assert not _manifest_exists(rig, repo, sboms[lost.digest])
    for img in staying[1:]:
        verify(rig, keys, rig.ref(repo, img.tags[0]))


def test_the_api_takes_delete_orphans(rig_basic_v3: Rig, repo_prefix: str) -> None:
    """``regkit.api.plan_prune``/``prune(delete_orphans=)``: an orphan is kept and reported
    without it, deleted with it; a referrer whose image exists stays either way."""
    from regkit import api

    rig = rig_basic_v3
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    img = pusher.push_image(repo, ["aaaaaaa"], layer_size=64)
    gone = "sha256:" + "9" * 64
    mine = f"sha256-{img.digest.removeprefix('sha256:')}.sig"
    orphan = f"sha256-{'9' * 64}.sig"
    pusher.push_image(repo, [mine], layer_size=32, seed=1)
    pusher.push_image(repo, [orphan], layer_size=32, seed=2)
    with api.connect(rig.host, username=rig.username, password=rig.password) as reg:
        (plan,) = api.plan_prune(reg, [repo], keep=3)
        assert {r.tag: (r.action, r.orphan) for r in plan.referrers} == {
            mine: (KEEP, False),
            orphan: (KEEP, True),
        }
        assert all(r.subject in (img.digest, gone) for r in plan.referrers)
        (plan,) = api.plan_prune(reg, [repo], keep=3, delete_orphans=True)
        assert {r.tag: r.action for r in plan.referrers}[orphan] == DELETE_MANIFEST
        api.prune(reg, [repo], keep=3, delete_orphans=True)
        assert set(reg.client.tags(repo)) == {"aaaaaaa", mine}


def test_a_referrer_only_the_api_lists_goes_with_its_image(
    repo_prefix: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """On a registry serving the referrers API, an artifact pushed with ``subject`` and no tag
    (no referrers tag index: a client that trusts the API) is found through the API and
    deleted after its image; one of a staying image stays."""
    import hashlib

    from regkit.registry import RegistryClient
    from regkit.registry.manifest import OCI_MANIFEST

    rig = start_referrers_rig(tmp_path / "rig-referrers-api")
    request.addfinalizer(rig.close)
    repo = f"{repo_prefix}/app"
    old, new = rig.pusher().push_images(repo, ["abc0000", "abc0001"], start=T0, jobs=2)
    empty = b"{}"
    empty_digest = "sha256:" + hashlib.sha256(empty).hexdigest()
    artifacts: dict[str, str] = {}
    with RegistryClient(rig.host) as client:
        client.upload_blob(repo, empty_digest, [empty], size=len(empty))
        for img in (old, new):
            raw = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "artifactType": "application/spdx+json",
                    "config": {
                        "mediaType": "application/vnd.oci.empty.v1+json",
                        "digest": empty_digest,
                        "size": 2,
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.oci.empty.v1+json",
                            "digest": empty_digest,
                            "size": 2,
                        }
                    ],
                    "subject": {"mediaType": OCI_MANIFEST, "digest": img.digest, "size": 1},
                }
            ).encode()
            digest = "sha256:" + hashlib.sha256(raw).hexdigest()
            client.put_manifest(repo, digest, raw, OCI_MANIFEST)
            artifacts[img.digest] = digest
    assert [r["digest"] for r in discover(rig, rig.ref(repo, old.digest))] == [
        artifacts[old.digest]
    ]
    out = regkit("prune", rig.ref(repo), "--keep", "1", "--yes", env=rig.env())
    assert out.returncode == 0, out.stderr
    assert "also deleted 1 referrer manifest (signatures" in out.stdout.decode()
    assert not _manifest_exists(rig, repo, artifacts[old.digest])
    assert _manifest_exists(rig, repo, artifacts[new.digest])


def test_the_race_guard_covers_referrers(
    rig_basic_v3: Rig, repo_prefix: str, keys: KeyPair, tmp_path: Path
) -> None:
    """Between planning and deleting (``api.plan_prune`` then ``api.execute_prune``): an image
    saved by a tag pushed onto it meanwhile keeps its signature and SBOM (it still verifies);
    a referrers index rewritten meanwhile (an SBOM attached since planning) stays, with both
    SBOMs, while the signature of its deleted image goes."""
    from regkit import api

    rig = rig_basic_v3
    repo = f"{repo_prefix}/app"
    old, mid, _new = rig.pusher().push_images(repo, ["abc0000", "abc0001", "abc0002"], start=T0)
    sbom = _sbom(tmp_path)
    first: dict[str, str] = {}
    for img in (old, mid):
        sign(rig, keys, rig.ref(repo, img.digest))
        first[img.digest] = attach(rig, rig.ref(repo, img.digest), sbom)
    warnings: list[str] = []
    with api.connect(rig.host, username=rig.username, password=rig.password) as reg:
        plans = api.plan_prune(reg, [repo], keep=1)
        assert {r.action for r in plans[0].referrers} == {DELETE_MANIFEST}
        # meanwhile: a rollback points a tag at old; a second SBOM is attached to mid
        crane(rig, "tag", rig.ref(repo, old.digest), "rollback")
        second = attach(rig, rig.ref(repo, mid.digest), sbom, annotations={"n": "2"})
        api.execute_prune(reg, plans, warn=warnings.append)
        listed = set(reg.client.tags(repo))
    old_hex, mid_hex = (i.digest.removeprefix("sha256:") for i in (old, mid))
    assert {f"sha256-{old_hex}", f"sha256-{old_hex}.sig", "rollback"} <= listed
    verify(rig, keys, rig.ref(repo, "rollback"))
    assert [r["digest"] for r in discover(rig, rig.ref(repo, old.digest))] == [first[old.digest]]
    # mid went; its signature with it; its rewritten index (and both SBOMs) stayed
    assert "abc0001" not in listed and f"sha256-{mid_hex}.sig" not in listed
    assert f"sha256-{mid_hex}" in listed
    assert any(f"sha256-{mid_hex} moved" in w for w in warnings), warnings
    assert _manifest_exists(rig, repo, first[mid.digest]) and _manifest_exists(rig, repo, second)


@pytest.mark.parametrize("kind", ["3", "referrers-api"], ids=["v3", "referrers-api"])
def test_a_referrer_of_a_referrer_goes_with_its_image(
    kind: str,
    rig_factory: Callable[..., Rig],
    repo_prefix: str,
    keys: KeyPair,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """An image's SBOM (oras) is itself signed (cosign's ``sha256-<sbom hex>.sig``) and has an
    attestation attached (oras, subject: the SBOM): when the image goes, all of it goes (no
    tag, no manifest left); the staying image's signed SBOM still verifies."""
    rig: AnyRig
    if kind == "referrers-api":
        rig = start_referrers_rig(tmp_path / "rig-referrers-api")
        request.addfinalizer(rig.close)
    else:
        rig = rig_factory("basic", version=kind)
    repo = f"{repo_prefix}/app"
    old, new = rig.pusher().push_images(repo, ["abc0000", "abc0001"], start=T0, jobs=2)
    statement = tmp_path / "statement.json"
    statement.write_text(json.dumps({"_type": "https://in-toto.io/Statement/v1"}))
    attached: dict[str, tuple[str, str]] = {}
    for img in (old, new):
        sign(rig, keys, rig.ref(repo, img.digest))
        sbom = attach(rig, rig.ref(repo, img.digest), _sbom(tmp_path))
        sign(rig, keys, rig.ref(repo, sbom))
        att = attach(
            rig, rig.ref(repo, sbom), statement, artifact_type="application/vnd.in-toto+json"
        )
        attached[img.digest] = (sbom, att)

    out = regkit("prune", rig.ref(repo), "--keep", "1", "--yes", env=rig.env())
    assert out.returncode == 0, out.stderr
    sbom, att = attached[old.digest]
    left = set(crane(rig, "ls", rig.ref(repo)).stdout.decode().split())
    for digest in (old.digest, sbom):
        hexpart = digest.removeprefix("sha256:")
        assert not {f"sha256-{hexpart}", f"sha256-{hexpart}.sig"} & left, left
    for digest in (sbom, att):
        assert not _manifest_exists(rig, repo, digest), digest
    sbom, att = attached[new.digest]
    verify(rig, keys, rig.ref(repo, "abc0001"))
    verify(rig, keys, rig.ref(repo, sbom))
    assert [r["digest"] for r in discover(rig, rig.ref(repo, sbom))] == [att]


def _api_only(client: object, repo: str, subject: str, artifact_type: str, n: int) -> str:
    """An artifact pushed with ``subject`` and no tag (found only through the referrers API)."""
    import hashlib

    from regkit.registry import RegistryClient
    from regkit.registry.manifest import OCI_MANIFEST

    assert isinstance(client, RegistryClient)
    empty = b"{}"
    empty_digest = "sha256:" + hashlib.sha256(empty).hexdigest()
    client.upload_blob(repo, empty_digest, [empty], size=len(empty))
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": empty_digest,
                "size": 2,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": empty_digest,
                    "size": 2,
                }
            ],
            "annotations": {"n": str(n)},
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1},
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    client.put_manifest(repo, digest, raw, OCI_MANIFEST)
    return digest


def test_the_dry_run_shows_what_only_the_referrers_api_lists_under_its_image(
    repo_prefix: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """On a registry serving the referrers API, artifacts pushed with ``subject`` and no tag
    (an SBOM of the image, a signature of that SBOM) show in ``prune --dry-run`` under the image
    that goes, as what goes with it, and in the JSON plan; a staying image's are not asked."""
    from regkit.registry import RegistryClient

    rig = start_referrers_rig(tmp_path / "rig-referrers-api")
    request.addfinalizer(rig.close)
    repo = f"{repo_prefix}/app"
    old, new = rig.pusher().push_images(repo, ["abc0000", "abc0001"], start=T0, jobs=2)
    with RegistryClient(rig.host) as client:
        sbom = _api_only(client, repo, old.digest, "application/spdx+json", 1)
        signed = _api_only(client, repo, sbom, "application/vnd.dev.cosign.artifact.sig.v1+json", 2)
        kept = _api_only(client, repo, new.digest, "application/spdx+json", 3)

    out = regkit("prune", rig.ref(repo), "--keep", "1", "--dry-run", env=rig.env())
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("abc0000"))
    under = lines[row + 1 : row + 3]
    assert under[0].startswith("  - (no tag)") and sbom[:19] in under[0], lines
    assert "SBOM of abc0000, which goes (listed by the referrers API)" in under[0], lines
    assert under[1].startswith("  - (no tag)") and signed[:19] in under[1], lines
    assert f"signature of {sbom[7:19]}, which goes" in under[1], lines
    assert kept[:19] not in out.stdout.decode()
    assert "2 untagged referrers (referrers API) go with their images" in out.stdout.decode()

    doc = json.loads(
        regkit(
            "prune", rig.ref(repo), "--keep", "1", "--dry-run", "-o", "json", env=rig.env()
        ).stdout
    )
    plan = doc["repositories"][0]["plan"]
    assert {(r["digest"], r["subject"]) for r in plan["untagged_referrers"]} == {
        (sbom, old.digest),
        (signed, sbom),
    }

    out = regkit("prune", rig.ref(repo), "--keep", "1", "--yes", env=rig.env())
    assert out.returncode == 0, out.stderr
    assert "also deleted 2 referrer manifests" in out.stdout.decode(), out.stdout.decode()
    assert not _manifest_exists(rig, repo, sbom)
    assert not _manifest_exists(rig, repo, signed)
    assert _manifest_exists(rig, repo, kept)


def test_the_dry_run_asks_a_registry_without_the_api_once(
    rig_basic_v3: Rig, repo_prefix: str
) -> None:
    """registry:3 serves no referrers API: planning asks it once per repository with something
    to delete (the 404 says so), not once per image that goes."""
    rig = rig_basic_v3
    repo = f"{repo_prefix}/app"
    rig.pusher().push_images(repo, [f"{0xABC0000 + i:07x}" for i in range(6)], start=T0)
    rig.mark()
    out = regkit("prune", rig.ref(repo), "--keep", "1", "--dry-run", env=rig.env())
    assert out.returncode == 0, out.stderr
    asked = [r for r in rig.requests() if "/referrers/" in r.path]
    assert len(asked) == 1, asked


def test_the_summary_row_of_an_image_says_what_goes_or_went_with_it() -> None:
    """``render.markdown``: the image's RESULT counts its referrers by kind, nested ones and
    those only the referrers API lists included; the referrers index is bookkeeping."""
    import dataclasses
    from types import SimpleNamespace

    from regkit.ops.prune.children import WithReferrers
    from regkit.ops.prune.plan import TagPlan
    from regkit.ops.prune.render import markdown

    old, new, sbom, idx, api_only = d("a"), d("b"), d("1"), d("3"), d("f")
    tags = [image("aaaaaaa", old, 1), image("bbbbbbb", new, 2), _sbom_index(old, idx, sbom)]
    tags += [sig(old, d("5")), sig(sbom, d("6"))]
    plan = plan_prune(tags, PrunePolicy(keep=1), NOW)
    listing = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sbom,
                "size": 10,
                "artifactType": "application/spdx+json",
            }
        ],
    }
    untagged = TagPlan("", api_only, None, DELETE_MANIFEST, "x", old, kind="attestation")
    plan = dataclasses.replace(
        plan,
        sources={idx: SimpleNamespace(raw=json.dumps(listing).encode())},
        untagged_referrers=(untagged,),
    )
    _, rows = markdown("reg.example", plan, None)
    by_tag = {r[0]: r for r in rows}
    assert by_tag["aaaaaaa"][4] == "would go with it: 2 signatures, 1 attestation, 1 SBOM"
    assert by_tag["bbbbbbb"][4] == ""
    assert [r[0] for r in rows][:6] == [
        "bbbbbbb",
        "aaaaaaa",
        f"  - sha256-{'a' * 64}",
        f"  - sha256-{'1' * 64}.sig",
        f"  - sha256-{'a' * 64}.sig",
        "  - (no tag)",
    ]
    result = WithReferrers(
        repository="",
        outcomes=(),
        deleted_manifests=(old,),
        reclaimable_bytes=0,
        deleted_referrers=(d("5"), sbom),
    )
    _, rows = markdown("reg.example", plan, result)
    by_tag = {r[0]: r for r in rows}
    assert by_tag["aaaaaaa"][4] == "removed with it: 1 signature, 1 SBOM"
