"""What the check after ``--then`` says when it finds damage (pure)."""

from __future__ import annotations

from regkit.ops.check import CheckReport, OrphanedReferrer
from regkit.ops.gc import ThenResult
from regkit.ops.prune.session import AfterPrune


def test_orphaned_referrers_are_named_not_counted_as_zero_broken_images() -> None:
    sig = OrphanedReferrer(
        "team/app", "sha256-" + "a" * 64 + ".sig", "sha256:" + "a" * 64, "signature"
    )
    after = AfterPrune(
        ThenResult(("gc",), 0), (CheckReport("r.example", (), orphaned_referrers=(sig,)),)
    )
    assert after.problems() == ["check found 1 orphaned referrer (their image is gone)"]
    assert AfterPrune(ThenResult(("gc",), 0), (CheckReport("r.example", ()),)).problems() == []
