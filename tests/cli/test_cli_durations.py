"""Durations are echoed as typed: --older-than 30d says 30d (not 4w2d), in the reasons and in
the JSON policy; the reason reads "older than the N newest and older than 30d"."""

from __future__ import annotations

from regkit.ops.prune.plan import plan_prune
from regkit.ops.prune.run import build_policy
from tests.prune.test_prune_plan import NOW, image, reasons


def test_older_than_is_echoed_as_typed() -> None:
    tags = [image(f"{i:07x}", f"img{i}", hours_ago=24 * 10 * (5 - i)) for i in range(5)]
    policy = build_policy(match=None, keep=1, older_than="30d")
    plan = plan_prune(tags, policy, NOW)
    # created 50, 40, 30, 20, 10 days ago
    assert reasons(plan)["0000003"] == "newer than 30d"
    assert reasons(plan)["0000000"] == "older than the 1 newest and older than 30d"
    assert policy.to_json()["older_than"] == "30d"
    assert build_policy(match=None, keep=0, older_than="1d12h").to_json()["older_than"] == "1d12h"
