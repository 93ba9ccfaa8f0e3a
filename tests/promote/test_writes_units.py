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
    assert "  latest: went with a DELETE of this prune and was not put back\n" in render_result(
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


def test_lister_shares_a_listing_only_when_it_was_asked_for_after_the_mark() -> None:
    import threading

    from regkit.ops.delete import Lister

    class Tags:
        """Stands for the client: counts tag listings, each one holding until released."""

        def __init__(self) -> None:
            self.calls = 0
            self.release = threading.Event()
            self.started = threading.Event()

        def tags(self, _repository: str) -> list[str]:
            self.calls += 1
            self.started.set()
            self.release.wait(10)
            return [f"t{self.calls}"]

    fake = Tags()
    lister = Lister(fake, "app")  # type: ignore[arg-type]
    mark = lister.mark()
    got: list[frozenset[str]] = []
    first = threading.Thread(target=lambda: got.append(lister.after(mark)))
    first.start()
    assert fake.started.wait(10)
    second = threading.Thread(target=lambda: got.append(lister.after(mark)))
    second.start()  # asked with the same mark: joins the listing in flight
    fake.release.set()
    first.join(10)
    second.join(10)
    assert got == [frozenset({"t1"}), frozenset({"t1"})] and fake.calls == 1
    later = lister.mark()  # e.g. after a DELETE: that listing is too old now
    assert lister.after(later) == frozenset({"t2"}) and fake.calls == 2
    assert lister.after(mark) == frozenset({"t2"}) and fake.calls == 2  # newer is fine


def test_lister_callers_during_a_listing_share_the_next_one() -> None:
    """Deletes that end while a listing is in flight (it started before their DELETE) all wait
    for one next listing, started when that one ends: one listing per round, not per delete."""
    import threading
    import time

    from regkit.ops.delete import Lister

    class Tags:
        def __init__(self) -> None:
            self.calls = 0
            self.in_flight = 0
            self.most_at_once = 0
            self.lock = threading.Lock()
            self.started = threading.Event()
            self.release = threading.Event()

        def tags(self, _repository: str) -> list[str]:
            with self.lock:
                self.calls += 1
                self.in_flight += 1
                self.most_at_once = max(self.most_at_once, self.in_flight)
                n = self.calls
            self.started.set()
            if n == 1:
                self.release.wait(10)
            else:
                time.sleep(0.05)
            with self.lock:
                self.in_flight -= 1
            return [f"t{n}"]

    fake = Tags()
    lister = Lister(fake, "app")  # type: ignore[arg-type]
    got: list[frozenset[str]] = []
    first = threading.Thread(target=lambda: lister.after(lister.mark()))
    first.start()
    assert fake.started.wait(10)
    marks = [lister.mark() for _ in range(8)]  # eight DELETEs ended after listing 1 started
    waiters = [threading.Thread(target=lambda m=m: got.append(lister.after(m))) for m in marks]
    for w in waiters:
        w.start()
    time.sleep(0.2)
    assert fake.calls == 1  # nobody started a listing while one was in flight
    fake.release.set()
    for w in [first, *waiters]:
        w.join(10)
    assert got == [frozenset({"t2"})] * 8  # all eight got listing 2, started after their marks
    assert fake.calls == 2 and fake.most_at_once == 1


def test_lister_reuses_a_workers_listing_after_its_delete_before_its_next() -> None:
    """The listing a worker took after its DELETE is the one before its next DELETE (no
    second listing); another worker's first DELETE still gets a listing of its own."""
    import threading

    from regkit.ops.delete import Lister

    class Tags:
        calls = 0

        def tags(self, _repository: str) -> list[str]:
            self.calls += 1
            return [f"t{self.calls}"]

    fake = Tags()
    lister = Lister(fake, "app")  # type: ignore[arg-type]
    assert lister.after(lister.recent_mark()) == {"t1"}  # before the first DELETE
    # ... DELETE ...
    assert lister.after(lister.mark()) == {"t2"}  # after it
    assert lister.after(lister.recent_mark()) == {"t2"} and fake.calls == 2  # before the next
    got: list[frozenset[str]] = []
    other = threading.Thread(target=lambda: got.append(lister.after(lister.recent_mark())))
    other.start()
    other.join(10)
    assert got == [frozenset({"t3"})] and fake.calls == 3  # a fresh listing on its first


def test_prune_text_escapes_what_the_registry_sent() -> None:
    """A registry that lists a tag with control characters (distribution would refuse such a
    tag; a hostile or broken one need not): text and Markdown escape it, JSON keeps it."""
    from regkit.ops.prune.render import markdown, render_plan, to_json

    hostile = "x\r::error::y\x1b[2J"
    plan = PrunePlan(
        (TagPlan(hostile, A, None, DELETE_MANIFEST, "old\x1b]0;t\x07"),), (A,), 0, repository="app"
    )
    text = render_plan("reg.test", plan)
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    assert "x\\r::error::y\\x1b[2J" in text and "old\\x1b]0;t\\x07" in text
    _, rows = markdown("reg.test", plan, None)
    assert rows[0][0] == "x\\r::error::y\\x1b[2J"
    assert (
        to_json("reg.test", [plan], None, dry_run=True)["repositories"][0]["plan"]["tags"][0]["tag"]
        == hostile
    )
