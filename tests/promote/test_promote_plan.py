"""Promotion and copy planning: pure functions, no server."""

from __future__ import annotations

import json

import pytest

from regkit.errors import DigestMismatchError, InvalidReferenceError
from regkit.ops.copy import BlobMethod, Image, manifest_levels, plan_blobs
from regkit.ops.promote import (
    Plan,
    PromotionResult,
    TargetAction,
    TargetPlan,
    parse_source,
    parse_target,
    parse_targets,
    plan_promotion,
    split_targets,
    write_groups,
)
from regkit.reference import Reference
from regkit.registry import Descriptor, Manifest
from regkit.registry.manifest import OCI_INDEX, OCI_MANIFEST, sha256_digest

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
SRC = Reference("reg.example.com", "team/app", "1a2b3c4")


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v1.2.3", Reference("reg.example.com", "team/app", "v1.2.3")),
        ("latest", Reference("reg.example.com", "team/app", "latest")),
        ("other/app:v1", Reference("reg.example.com", "other/app", "v1")),
        ("app:v1", Reference("reg.example.com", "app", "v1")),
        ("mirror.example.org/team/app:v1", Reference("mirror.example.org", "team/app", "v1")),
        ("127.0.0.1:5000/team/app:v1", Reference("127.0.0.1:5000", "team/app", "v1")),
    ],
)
def test_parse_target_forms(text: str, expected: Reference) -> None:
    assert parse_target(text, SRC) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("-v1", "invalid tag '-v1'"),
        ("v1!", "invalid tag 'v1!'"),
        ("x" * 129, "129 characters"),
        ("Team/App:v1", "upper case"),
        ("team/app", "add the tag"),
        (f"team/app@{D1}", "not a digest"),
        ("", "empty"),
        ("team/app:v 1", "white space"),
    ],
)
def test_parse_target_refuses(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError) as err:
        parse_target(text, SRC)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == 2


def test_parse_targets_dedupes_keeps_order_and_refuses_the_first_bad_one() -> None:
    refs = parse_targets(["v1", "latest", "v1", "reg.example.com/team/app:latest"], SRC)
    assert [str(r) for r in refs] == [
        "reg.example.com/team/app:v1",
        "reg.example.com/team/app:latest",
    ]
    with pytest.raises(InvalidReferenceError, match="invalid tag 'bad tag'"):
        parse_targets(["v1", "bad tag"], SRC)
    with pytest.raises(InvalidReferenceError, match="no targets"):
        parse_targets([], SRC)


def test_split_targets_commas_newlines_blanks() -> None:
    assert split_targets(["v1, v1.2\n\n latest ,", "x"]) == ["v1", "v1.2", "latest", "x"]


def test_parse_source_requires_host_and_identifier() -> None:
    assert parse_source(f"reg.example.com/team/app@{D1}").digest == D1
    assert parse_source(f"reg.example.com/team/app:x@{D1}") == Reference(
        "reg.example.com", "team/app", None, D1
    )
    with pytest.raises(InvalidReferenceError, match="no registry host"):
        parse_source("team/app:v1")
    with pytest.raises(InvalidReferenceError, match="add :TAG"):
        parse_source("reg.example.com/team/app")
    assert parse_source("reg.example.com/team/app", default_tag="latest").tag == "latest"


# -- planning -----------------------------------------------------------------------------------


def _targets(*tags: str) -> list[Reference]:
    return [SRC.with_tag(t) for t in tags]


def test_plan_create_move_unchanged() -> None:
    a, b, c = _targets("v1", "v2", "latest")
    plan = plan_promotion(
        SRC, Descriptor(OCI_MANIFEST, D1, 100), [a, b, c], {a: None, b: D2, c: D1}
    )
    assert [(t.action, t.old_digest) for t in plan.targets] == [
        (TargetAction.CREATE, None),
        (TargetAction.MOVE, D2),
        (TargetAction.UNCHANGED, D1),
    ]
    assert [t.target for t in plan.writes] == [a, b]
    assert write_groups(plan) == {("reg.example.com", "team/app"): ["v1", "v2"]}


def test_plan_rerun_writes_nothing() -> None:
    targets = _targets("v1", "latest")
    plan = plan_promotion(SRC, Descriptor(OCI_MANIFEST, D1, 1), targets, dict.fromkeys(targets, D1))
    assert plan.writes == ()
    assert write_groups(plan) == {}


def test_plan_groups_by_registry_and_repository() -> None:
    other_repo = Reference("reg.example.com", "prod/app", "v1")
    other_reg = Reference("mirror.example.org", "team/app", "v1")
    plan = plan_promotion(
        SRC,
        Descriptor(OCI_MANIFEST, D1, 1),
        [SRC.with_tag("v1"), other_repo, other_reg],
        {},
    )
    assert write_groups(plan) == {
        ("reg.example.com", "team/app"): ["v1"],
        ("reg.example.com", "prod/app"): ["v1"],
        ("mirror.example.org", "team/app"): ["v1"],
    }


def test_plan_refuses_a_digest_target_that_differs() -> None:
    target = Reference("reg.example.com", "other", None, D2)
    with pytest.raises(DigestMismatchError):
        plan_promotion(SRC, Descriptor(OCI_MANIFEST, D1, 1), [target], {})


def _result(dry_run: bool) -> PromotionResult:
    a, b, c = _targets("v1.2.3", "v1", "latest")
    plan = Plan(
        SRC,
        D1,
        OCI_INDEX,
        (
            TargetPlan(a, TargetAction.CREATE),
            TargetPlan(b, TargetAction.MOVE, D2),
            TargetPlan(c, TargetAction.UNCHANGED, D1),
        ),
    )
    return PromotionResult(plan, dry_run, platforms=["linux/amd64", "linux/arm64"])


def test_result_text_lines_exact() -> None:
    assert _result(False).lines() == [
        D1,
        "reg.example.com/team/app:v1.2.3  created",
        f"reg.example.com/team/app:v1      moved from {D2}",
        "reg.example.com/team/app:latest  unchanged",
    ]
    assert _result(True).lines()[1:] == [
        "reg.example.com/team/app:v1.2.3  create",
        f"reg.example.com/team/app:v1      move from {D2}",
        "reg.example.com/team/app:latest  unchanged",
    ]


def test_result_json() -> None:
    data = json.loads(_result(False).json_text())
    assert data["digest"] == D1
    assert data["promoted"] is True
    assert data["dryRun"] is False
    assert data["platforms"] == ["linux/amd64", "linux/arm64"]
    assert data["targets"][1] == {
        "reference": "reg.example.com/team/app:v1",
        "action": "move",
        "status": f"moved from {D2}",
        "oldDigest": D2,
        "digest": D1,
    }
    assert json.loads(_result(True).json_text())["promoted"] is False


# -- copy planning ------------------------------------------------------------------------------


def _manifest(obj: dict[str, object], media_type: str) -> Manifest:
    raw = json.dumps(obj).encode()
    return Manifest(raw, media_type, sha256_digest(raw))


def _desc(
    n: int, media_type: str = "application/vnd.oci.image.layer.v1.tar+gzip"
) -> dict[str, object]:
    return {"mediaType": media_type, "digest": "sha256:" + f"{n:x}" * 64, "size": n * 10}


def _image_manifest(
    cfg: int, *layers: int, extra: list[dict[str, object]] | None = None
) -> Manifest:
    return _manifest(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _desc(cfg, "application/vnd.oci.image.config.v1+json"),
            "layers": [_desc(n) for n in layers] + (extra or []),
        },
        OCI_MANIFEST,
    )


def _index(*children: Manifest, platforms: list[str] | None = None) -> Manifest:
    entries = []
    for i, c in enumerate(children):
        entry: dict[str, object] = {
            "mediaType": c.media_type,
            "digest": c.digest,
            "size": len(c.raw),
        }
        if platforms:
            os_, arch = platforms[i].split("/")
            entry["platform"] = {"os": os_, "architecture": arch}
        entries.append(entry)
    return _manifest({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, OCI_INDEX)


def test_image_blobs_deduplicated_foreign_layers_left_out() -> None:
    foreign = _desc(9, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
    amd = _image_manifest(1, 2, 3, extra=[foreign])
    arm = _image_manifest(4, 2, 5)
    image = Image(_index(amd, arm, platforms=["linux/amd64", "linux/arm64"]), (amd, arm))
    assert [b.size for b in image.blobs] == [10, 20, 30, 40, 50]
    assert image.platforms == ["linux/amd64", "linux/arm64"]


def test_plan_blobs_per_destination() -> None:
    blobs = Image(_image_manifest(1, 2, 3)).blobs
    assert plan_blobs(blobs, same_registry=True, same_repository=True) == []
    assert {s.method for s in plan_blobs(blobs, same_registry=True, same_repository=False)} == {
        BlobMethod.MOUNT
    }
    steps = plan_blobs(
        blobs, same_registry=False, same_repository=False, present={blobs[1].digest: True}
    )
    assert [s.method for s in steps] == [BlobMethod.UPLOAD, BlobMethod.SKIP, BlobMethod.UPLOAD]


def test_manifest_levels_children_before_parents() -> None:
    leaf_a, leaf_b = _image_manifest(1, 2), _image_manifest(3, 4)
    inner = _index(leaf_a, leaf_b)
    top = _index(inner, leaf_a)
    image = Image(top, (leaf_a, leaf_b, inner))
    levels = manifest_levels(image)
    assert [sorted(m.digest for m in lvl) for lvl in levels] == [
        sorted([leaf_a.digest, leaf_b.digest]),
        [inner.digest],
    ]


# -- action helpers (pure) ----------------------------------------------------------------------


def test_with_aliases() -> None:
    from regkit.actions.promote import with_aliases

    assert with_aliases(["v1.2.3", "latest", "v1.2.3-rc.1"]) == [
        "v1.2.3",
        "v1.2",
        "v1",
        "latest",
        "v1.2.3-rc.1",
    ]
    assert with_aliases(["reg:5000/team/app:v2.0.1", "reg:5000/team/app"]) == [
        "reg:5000/team/app:v2.0.1",
        "reg:5000/team/app:v2.0",
        "reg:5000/team/app:v2",
        "reg:5000/team/app",
    ]


def test_image_repository() -> None:
    from regkit.actions.promote import image_repository
    from regkit.errors import UsageError

    assert image_repository("team/app", "reg.example.com") == Reference(
        "reg.example.com", "team/app"
    )
    assert image_repository("localhost:5000/app", None) == Reference("localhost:5000", "app")
    assert image_repository("reg.example.com/team/app", "other.example") == Reference(
        "reg.example.com", "team/app"
    )
    with pytest.raises(UsageError, match="set input 'registry'"):
        image_repository("team/app", None)
