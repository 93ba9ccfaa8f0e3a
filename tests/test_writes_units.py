"""Pure parts of the write rules (issue 12 §2), without a server: the throw-away shape, the
release-tag refusal, the prune result and interruption texts, the overlap of guard windows."""

from __future__ import annotations

import json

import pytest

from regkit.ops.delete import Windows
from regkit.ops.promote import (
    ReleaseTagMoveError,
    TargetAction,
    TargetPlan,
    plan_promotion,
    refuse_release_moves,
)
from regkit.ops.prune.execute import Outcome, PruneResult
from regkit.ops.prune.plan import DELETE_MANIFEST, PrunePlan, TagPlan
from regkit.ops.prune.render import interrupted_report, render_result
from regkit.reference import parse_reference
from regkit.registry import Descriptor, Manifest
from regkit.registry.manifest import OCI_MANIFEST, sha256_digest
from regkit.registry.throwaway import THROWAWAY_KEY, is_throwaway, throwaway_image

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64


def _manifest(raw: bytes) -> Manifest:
    return Manifest(raw, OCI_MANIFEST, sha256_digest(raw))


def test_throwaway_shape_is_exact() -> None:
    config, raw = throwaway_image("team/app", "0aaaaaa", "0123456789abcdef")
    cfg = json.loads(config)
    m = _manifest(raw)
    assert is_throwaway(m, cfg, "team/app", "0aaaaaa")
    assert not is_throwaway(m, cfg, "team/app", "0bbbbbb")  # another tag
    assert not is_throwaway(m, cfg, "team/other", "0aaaaaa")  # another repository
    assert not is_throwaway(m, None, "team/app", "0aaaaaa")  # config unreadable
    assert not is_throwaway(m, {"config": {"Labels": {}}}, "team/app", "0aaaaaa")
    doc = json.loads(raw)
    doc["layers"] = [{"mediaType": "x", "digest": A, "size": 1}]
    assert not is_throwaway(_manifest(json.dumps(doc).encode()), cfg, "team/app", "0aaaaaa")
    doc = json.loads(raw)
    doc["annotations"] = {THROWAWAY_KEY: "team/app:0aaaaaa not-a-nonce"}
    assert not is_throwaway(_manifest(json.dumps(doc).encode()), cfg, "team/app", "0aaaaaa")


def test_release_moves_are_refused_naming_each_tag() -> None:
    src = parse_reference("reg.test/app:abc1234")
    names = ["v1.2.3", "1.2.3", "v1", "latest", "v2.0.0"]
    targets = [src.with_tag(t) for t in names]
    current = dict(zip(targets, [A, A, A, A, None], strict=True))
    plan = plan_promotion(src, Descriptor(OCI_MANIFEST, B, 10), targets, current)
    assert [t.action for t in plan.targets] == [
        TargetAction.MOVE,
        TargetAction.MOVE,
        TargetAction.MOVE,
        TargetAction.MOVE,
        TargetAction.CREATE,
    ]
    with pytest.raises(ReleaseTagMoveError) as caught:
        refuse_release_moves(plan)
    assert caught.value.message == (
        f"refusing to move the release tags reg.test/app:v1.2.3, reg.test/app:1.2.3 from {A} to "
        f"{B}: a published version must not change; nothing was written; pass --force to move "
        "them"
    )
    same = plan_promotion(src, Descriptor(OCI_MANIFEST, A, 10), targets, current)
    refuse_release_moves(same)  # a rerun at the same digest: unchanged, no refusal
    moved = TargetPlan(targets[0], TargetAction.MOVE, A, ("abc1234",))
    assert moved.describe(done=True) == f"moved from {A} (still on it: abc1234)"
    assert (
        TargetPlan(targets[0], TargetAction.MOVE, A, ())
        .describe(done=True)
        .endswith("(still on it: none)")
    )


def test_result_text_says_what_was_put_back() -> None:
    result = PruneResult(
        "app",
        (Outcome("0aaaaaa", A, DELETE_MANIFEST, "deleted", "by digest"),),
        (),
        0,
        restored=(("latest", A),),
        put_back_manifests=(A,),
    )
    assert render_result("reg.test", result) == (
        "reg.test/app: deleted 1 tag (1 manifest by digest, since put back for 1 tag); about "
        "0 B reclaimable after garbage collection\n"
        f"  latest: put back on {A} (it went with a DELETE of this prune)\n"
    )
    lost = PruneResult("app", (), (), 0, lost=(("latest", A),))
    assert not lost.complete
    assert f"  latest: went with the DELETE of {A} and was not put back\n" in render_result(
        "reg.test", lost
    )


def test_interrupted_report() -> None:
    done = PruneResult(
        "app",
        (
            Outcome("0aaaaaa", A, DELETE_MANIFEST, "deleted"),
            Outcome("0bbbbbb", B, DELETE_MANIFEST, "not-run", "interrupted (Ctrl-C)"),
        ),
        (A,),
        0,
    )
    pending = PrunePlan(
        (TagPlan("0cccccc", C, None, DELETE_MANIFEST, "old"),), (C,), 0, repository="web"
    )
    assert interrupted_report([("reg.test", [done])], [("reg.test", [pending])]) == [
        "deleted 1 tag: reg.test/app:0aaaaaa",
        "not deleted: reg.test/app:0bbbbbb, reg.test/web:0cccccc",
        "the registry is consistent; run the same command again to finish",
    ]
    assert interrupted_report([], [("reg.test", [pending])])[0] == "nothing was deleted"


def test_guard_windows_report_overlaps() -> None:
    w = Windows()
    first = w.open(A)
    second = w.open(B)
    assert w.close(first) == {B}
    third = w.open(C)
    assert w.close(second) == {A, C}
    assert w.close(third) == {B}
    alone = w.open(A)
    assert w.close(alone) == set()
