"""The prune planner (pure): rules, reasons, and properties that must hold for any input."""

from __future__ import annotations

import hashlib
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regkit.errors import UsageError
from regkit.ops.prune import (
    DELETE_MANIFEST,
    KEEP,
    UNTAG,
    ImageRefs,
    PrunePolicy,
    TagInfo,
    parse_deploy_info,
    plan_prune,
)
from regkit.ops.prune.render import render_plans
from regkit.timeparse import CreatedTime

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def dg(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def at(hours_ago: float, zoneless: bool = False) -> CreatedTime:
    return CreatedTime(NOW - timedelta(hours=hours_ago), zoneless)


def image(tag: str, name: str, hours_ago: float | None, **kw: object) -> TagInfo:
    created = at(hours_ago) if hours_ago is not None else None
    blobs = ((dg(name), 500), (dg(name + "-config"), 100), (dg(name + "-layer"), 10_000))
    return TagInfo(tag, dg(name), created, blobs=blobs, **kw)  # type: ignore[arg-type]


def actions(plan: object) -> dict[str, str]:
    return {e.tag: e.action for e in plan.entries}  # type: ignore[attr-defined]


def reasons(plan: object) -> dict[str, str]:
    return {e.tag: e.reason for e in plan.entries}  # type: ignore[attr-defined]


# -- the rules, one by one -----------------------------------------------------------------------


def test_keeps_newest_n_and_deletes_the_rest_by_digest() -> None:
    tags = [image(f"{i:07x}", f"img{i}", hours_ago=100 - i) for i in range(6)]
    plan = plan_prune(tags, PrunePolicy(keep=2), NOW)
    assert actions(plan) == {
        "0000005": KEEP,
        "0000004": KEEP,
        "0000003": DELETE_MANIFEST,
        "0000002": DELETE_MANIFEST,
        "0000001": DELETE_MANIFEST,
        "0000000": DELETE_MANIFEST,
    }
    assert [e.tag for e in plan.entries] == [f"{i:07x}" for i in range(5, -1, -1)]  # newest first
    assert plan.delete_digests == tuple(sorted(dg(f"img{i}") for i in range(4)))
    assert reasons(plan)["0000005"] == "among the 2 newest"
    assert reasons(plan)["0000000"] == "older than the 2 newest"
    # each deleted image frees its manifest, config and layer
    assert plan.reclaimable_bytes == 4 * 10_600


def test_shared_digest_with_a_staying_tag_is_untagged_not_deleted() -> None:
    # "edge" and "stable", not latest and v1.0.0: those are always kept with every tag on their
    # digest now; these stay only because the pattern does not match them, so the SHA tags on
    # their digests still take the untag path.
    tags = [image(f"{i:07x}", f"img{i}", hours_ago=100 - i) for i in range(5)]
    tags.append(image("edge", "img0", hours_ago=100))  # a rollback: edge on the oldest
    tags.append(image("stable", "img1", hours_ago=99))
    plan = plan_prune(tags, PrunePolicy(keep=1), NOW)
    a = actions(plan)
    assert a["edge"] == KEEP and a["stable"] == KEEP
    assert a["0000000"] == UNTAG and a["0000001"] == UNTAG
    assert a["0000002"] == DELETE_MANIFEST and a["0000003"] == DELETE_MANIFEST
    assert a["0000004"] == KEEP
    assert dg("img0") not in plan.delete_digests and dg("img1") not in plan.delete_digests
    assert reasons(plan)["0000000"] == "older than the 1 newest; manifest stays: also tagged edge"
    assert reasons(plan)["edge"] == "does not match ^[0-9a-f]{7}$"
    assert plan.reclaimable_bytes == 2 * 10_600  # untagged images free nothing


def test_protected_tag_digest_and_deploy_file() -> None:
    tags = [image(f"{i:07x}", f"img{i}", hours_ago=100 - i) for i in range(5)]
    deployed = parse_deploy_info(
        f"app: hello\nimage:\n  repo: r/x\n  tag: '0000001'\n  digest: {dg('img2')}\n"
    )
    policy = PrunePolicy(
        keep=0,
        protect_tags=deployed.tags | {"0000000"},
        protect_digests=deployed.digests,
    )
    plan = plan_prune(tags, policy, NOW)
    a = actions(plan)
    assert a["0000000"] == KEEP and reasons(plan)["0000000"] == "protected tag"
    assert a["0000001"] == KEEP
    assert a["0000002"] == KEEP and reasons(plan)["0000002"] == "protected digest"
    assert a["0000003"] == DELETE_MANIFEST and a["0000004"] == DELETE_MANIFEST


def test_doomed_tag_on_protected_untagged_digest_is_untagged() -> None:
    tags = [image("aaaaaaa", "img0", 100), image("bbbbbbb", "img1", 1)]
    plan = plan_prune(tags, PrunePolicy(keep=0, protect_digests=frozenset()), NOW)
    assert set(plan.delete_digests) == {dg("img0"), dg("img1")}
    # the deployed index is untagged; its amd64 child is what aaaaaaa points at
    deployed = ImageRefs(dg("deployed"), children=(dg("img0"),), blobs=((dg("deployed"), 300),))
    plan = plan_prune(
        tags,
        PrunePolicy(keep=0, protect_digests=frozenset({dg("deployed")})),
        NOW,
        untagged=[deployed],
    )
    assert actions(plan) == {"aaaaaaa": UNTAG, "bbbbbbb": DELETE_MANIFEST}
    assert "platform manifest of an image that stays" in reasons(plan)["aaaaaaa"]


def test_child_of_an_index_is_never_deleted_directly() -> None:
    index = TagInfo("ccccccc", dg("index"), at(50), children=(dg("amd64"), dg("arm64")))
    child = TagInfo("aaaaaaa", dg("amd64"), at(60))
    plan = plan_prune([index, child], PrunePolicy(keep=0), NOW)
    assert actions(plan) == {"ccccccc": DELETE_MANIFEST, "aaaaaaa": UNTAG}
    assert plan.delete_digests == (dg("index"),)
    assert reasons(plan)["aaaaaaa"].endswith("manifest stays: platform manifest of an index")


def test_unknown_and_epoch_times_are_kept_and_said_so() -> None:
    tags = [
        image("aaaaaaa", "a", None),
        TagInfo("bbbbbbb", dg("b"), CreatedTime(datetime(1970, 1, 1, tzinfo=UTC))),
        TagInfo("ccccccc", dg("c"), CreatedTime(datetime(1, 1, 1, tzinfo=UTC))),
        image("ddddddd", "d", 5000),
    ]
    plan = plan_prune(tags, PrunePolicy(keep=0), NOW)
    assert actions(plan) == {
        "aaaaaaa": KEEP,
        "bbbbbbb": KEEP,
        "ccccccc": KEEP,
        "ddddddd": DELETE_MANIFEST,
    }
    assert reasons(plan)["aaaaaaa"] == "created time unknown"
    assert reasons(plan)["bbbbbbb"] == "created time is the epoch or zero time (unknown age)"
    assert [e.tag for e in plan.entries][-3:] == ["aaaaaaa", "bbbbbbb", "ccccccc"]  # last


def test_older_than_keeps_recent_tags_beyond_keep() -> None:
    tags = [image(f"{i:07x}", f"img{i}", hours_ago=24 * (10 - i)) for i in range(10)]
    plan = plan_prune(tags, PrunePolicy(keep=1, older_than=timedelta(days=5)), NOW)
    kept = sorted(e.tag for e in plan.kept)
    # created 1..10 days ago; the newest is kept by count, the rest until 5 days by age
    assert kept == ["0000005", "0000006", "0000007", "0000008", "0000009"]
    assert reasons(plan)["0000006"] == "newer than 5d"
    assert reasons(plan)["0000004"] == "older than the 1 newest and older than 5d"


def test_throwaway_left_by_interrupted_prune_is_deleted() -> None:
    tags = [
        image("aaaaaaa", "a", 10),
        TagInfo("bbbbbbb", dg("throwaway"), None, blobs=((dg("throwaway"), 300),), throwaway=True),
    ]
    plan = plan_prune(tags, PrunePolicy(keep=5), NOW)
    assert actions(plan) == {"aaaaaaa": KEEP, "bbbbbbb": DELETE_MANIFEST}
    assert reasons(plan)["bbbbbbb"] == "throw-away manifest left by an interrupted prune"
    # ...but a protected tag is never touched, whatever it points at
    plan = plan_prune(tags, PrunePolicy(keep=5, protect_tags=frozenset({"bbbbbbb"})), NOW)
    assert actions(plan)["bbbbbbb"] == KEEP


def test_dangling_tags_matching_are_removed_alone_others_kept() -> None:
    tags = [
        image("aaaaaaa", "a", 10),
        TagInfo("bbbbbbb", "", None, dangling=True),
        TagInfo("latest", "", None, dangling=True),
    ]
    plan = plan_prune(tags, PrunePolicy(keep=5), NOW)
    assert actions(plan) == {"aaaaaaa": KEEP, "bbbbbbb": UNTAG, "latest": KEEP}
    assert reasons(plan)["bbbbbbb"].startswith("its manifest no longer exists")
    assert plan.delete_digests == ()
    assert "(missing)" in render_plans("reg.test", [plan])


def test_custom_match_is_a_search() -> None:
    tags = [image("pr-12", "a", 100), image("pr-13", "b", 50), image("main", "c", 200)]
    plan = plan_prune(tags, PrunePolicy(match=r"^pr-", keep=1), NOW)
    assert actions(plan) == {"pr-13": KEEP, "pr-12": DELETE_MANIFEST, "main": KEEP}


def test_policy_validation() -> None:
    with pytest.raises(UsageError, match=r"invalid --match pattern '\('"):
        PrunePolicy(match="(")
    with pytest.raises(UsageError, match="keep must be 0 or more"):
        PrunePolicy(keep=-1)


def test_deploy_info_forms() -> None:
    history = f"- image:\n    tag: 0123456\n    digest: {dg('x')}\n- image:\n    tag: 1e10000\n"
    prot = parse_deploy_info(history)
    assert prot.tags == {"0123456", "1e10000"}  # strings as written, not YAML numbers
    assert prot.digests == {dg("x")}
    with pytest.raises(UsageError, match=r"names no image\.tag or image\.digest"):
        parse_deploy_info("app: x\n", "deploy-info.yml")
    with pytest.raises(UsageError, match="invalid digest"):
        parse_deploy_info("image:\n  digest: sha256:nothex\n")
    with pytest.raises(UsageError, match="cannot read"):
        parse_deploy_info("image: [unclosed\n")


def test_render_table_exact() -> None:
    tags = [
        image("aaaaaaa", "a", 1),
        TagInfo("bbbbbbb", dg("a"), at(1)),
        TagInfo("latest", dg("b"), at(30, zoneless=True)),
        TagInfo("ccccccc", dg("b"), at(30, zoneless=True)),
    ]
    plan = plan_prune(tags, PrunePolicy(keep=0), NOW, repository="app")
    text = render_plans("reg.test", [plan])
    a, b = dg("a")[:19], dg("b")[:19]
    # latest always stays, and so does every tag on its digest: ccccccc is kept, and REASON
    # names the rule (issue 20 §1; it was "untag ... manifest stays: also tagged latest")
    expected_head = (
        "reg.test/app\n"
        "TAG      DIGEST               CREATED               ACTION           REASON\n"
        f"aaaaaaa  {a}  2026-03-01 11:00:00   delete-manifest  matches ^[0-9a-f]{{7}}$ (keep 0)\n"
        f"bbbbbbb  {a}  2026-03-01 11:00:00   delete-manifest  matches ^[0-9a-f]{{7}}$ (keep 0)\n"
        f"ccccccc  {b}  2026-02-28 06:00:00*  keep             same image as latest\n"
        f"latest   {b}  2026-02-28 06:00:00*  keep             latest\n"
        "2 of 4 tags to delete: 2 by deleting 1 manifest, 0 alone (manifest stays); 2 kept; "
        "about 10.4 KiB reclaimable (10600 bytes)\n"
        "\n* CREATED times written without a zone (YYYY-MM-DD HH:MM:SS) are read as UTC.\n"
    )
    assert text.startswith(expected_head)
    # the garbage-collection note: one short line pointing to the README section
    gc = (
        "Disk space returns only after garbage collection on the server: see the README, "
        '"Garbage collection".\n'
    )
    assert text.count(gc) == 1


def test_render_table_exact_with_an_untag_row() -> None:
    # The table above before issue 20 §1, with "edge" where latest was: no built-in rule
    # protects edge (it stays because the pattern does not match it), so ccccccc still takes
    # the untag path and the table still shows an untag row and "1 alone (manifest stays)".
    tags = [
        image("aaaaaaa", "a", 1),
        TagInfo("bbbbbbb", dg("a"), at(1)),
        TagInfo("edge", dg("b"), at(30, zoneless=True)),
        TagInfo("ccccccc", dg("b"), at(30, zoneless=True)),
    ]
    plan = plan_prune(tags, PrunePolicy(keep=0), NOW, repository="app")
    text = render_plans("reg.test", [plan])
    a, b = dg("a")[:19], dg("b")[:19]
    expected_head = (
        "reg.test/app\n"
        "TAG      DIGEST               CREATED               ACTION           REASON\n"
        f"aaaaaaa  {a}  2026-03-01 11:00:00   delete-manifest  matches ^[0-9a-f]{{7}}$ (keep 0)\n"
        f"bbbbbbb  {a}  2026-03-01 11:00:00   delete-manifest  matches ^[0-9a-f]{{7}}$ (keep 0)\n"
        f"ccccccc  {b}  2026-02-28 06:00:00*  untag            matches ^[0-9a-f]{{7}}$ (keep 0); "
        "manifest stays: also tagged edge\n"
        f"edge     {b}  2026-02-28 06:00:00*  keep             does not match ^[0-9a-f]{{7}}$\n"
        "3 of 4 tags to delete: 2 by deleting 1 manifest, 1 alone (manifest stays); 1 kept; "
        "about 10.4 KiB reclaimable (10600 bytes)\n"
        "\n* CREATED times written without a zone (YYYY-MM-DD HH:MM:SS) are read as UTC.\n"
    )
    assert text.startswith(expected_head)


# -- properties ----------------------------------------------------------------------------------

HEX_TAGS = [f"{i:07x}" for i in range(0xABC0000, 0xABC0000 + 12)]
OTHER_TAGS = ["latest", "v1.0.0", "main", "deadbeef"]


@st.composite
def repositories(draw: st.DrawFn) -> tuple[list[TagInfo], list[ImageRefs], PrunePolicy]:
    n_images = draw(st.integers(1, 8))
    names = [f"img{i}" for i in range(n_images)]
    times = st.one_of(
        st.none(),
        st.just(CreatedTime(datetime(1970, 1, 1, tzinfo=UTC))),
        st.integers(0, 2000).map(lambda h: at(h, zoneless=h % 2 == 0)),
    )
    created = {n: draw(times) for n in names}
    # some images are indexes whose children may be other images of the pool, or tagged alone
    children: dict[str, tuple[str, ...]] = {}
    for n in names:
        if draw(st.booleans()):
            kids = draw(st.lists(st.sampled_from([*names, "kid-a", "kid-b"]), max_size=2))
            children[n] = tuple(dg(k) for k in kids if k != n)
    pool_digests = [*names, "kid-a", "kid-b"]
    tags = draw(
        st.lists(st.sampled_from(HEX_TAGS + OTHER_TAGS), min_size=1, max_size=14, unique=True)
    )
    infos = []
    for tag in tags:
        if draw(st.integers(0, 9)) == 0:  # listed, but its manifest is gone
            infos.append(TagInfo(tag, "", None, dangling=True))
            continue
        target = draw(st.sampled_from(pool_digests))
        info_created = created.get(target)
        blobs = ((dg(target), 100), (dg(target + "-layer"), 1000), (dg("shared-base"), 5000))
        infos.append(
            TagInfo(
                tag,
                dg(target),
                info_created,
                children=children.get(target, ()),
                blobs=blobs,
                throwaway=draw(st.booleans()) if target == "kid-b" else False,
            )
        )
    untagged = []
    if draw(st.booleans()):
        untagged.append(
            ImageRefs(dg("deployed"), children=(dg(draw(st.sampled_from(pool_digests))),))
        )
    policy = PrunePolicy(
        match=draw(st.sampled_from([r"^[0-9a-f]{7}$", r"^[0-9a-f]+$", "."])),
        keep=draw(st.integers(0, 5)),
        older_than=draw(
            st.one_of(st.none(), st.integers(0, 1500).map(lambda h: timedelta(hours=h)))
        ),
        protect_tags=frozenset(draw(st.lists(st.sampled_from(tags), max_size=2))),
        protect_digests=frozenset(
            draw(
                st.lists(
                    st.sampled_from([dg(p) for p in pool_digests] + [dg("deployed")]), max_size=2
                )
            )
        ),
    )
    return infos, untagged, policy


PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(repositories())
def test_no_manifest_a_staying_tag_or_protected_digest_needs_is_deleted(
    repo: tuple[list[TagInfo], list[ImageRefs], PrunePolicy],
) -> None:
    tags, untagged, policy = repo
    plan = plan_prune(tags, policy, NOW, untagged=untagged)
    staying = {e.digest for e in plan.kept} | policy.protect_digests
    refs = {i.digest: i.children for i in tags} | {u.digest: u.children for u in untagged}
    needed = staying | {c for d in staying for c in refs.get(d, ())}
    every_child = {c for kids in refs.values() for c in kids}
    deleted = set(plan.delete_digests)
    assert not deleted & needed
    assert not deleted & every_child  # platform manifests are never deleted directly
    # deleting a digest removes every tag on it: each of those must be planned for removal
    for e in plan.entries:
        if e.digest in deleted:
            assert e.action == DELETE_MANIFEST
        if e.action == DELETE_MANIFEST:
            assert e.digest in deleted
        if e.tag in policy.protect_tags or e.digest in policy.protect_digests:
            assert e.action == KEEP


@PROPERTY_SETTINGS
@given(repositories())
def test_at_least_min_keep_eligible_tags_stay(
    repo: tuple[list[TagInfo], list[ImageRefs], PrunePolicy],
) -> None:
    tags, untagged, policy = repo
    plan = plan_prune(tags, policy, NOW, untagged=untagged)
    pattern = re.compile(policy.match)
    eligible = {
        t.tag
        for t in tags
        if pattern.search(t.tag)
        and not t.throwaway
        and not t.dangling
        and t.tag not in policy.protect_tags
        and t.digest not in policy.protect_digests
    }
    kept = {e.tag for e in plan.kept}
    assert len(eligible & kept) >= min(policy.keep, len(eligible))
    for t in tags:
        if t.tag in eligible and (t.created is None or t.created.meaningless):
            assert t.tag in kept  # unknown age: kept
        if not pattern.search(t.tag) and not t.throwaway:
            assert t.tag in kept
    # with older-than, nothing newer than the cut-off is removed
    if policy.older_than is not None:
        for e in plan.removed:
            assert e.created is None or e.created.when < NOW - policy.older_than
    # the newest eligible dated tags are the kept ones: no removed tag is newer than a kept one
    # that was kept only because of the count
    counted = [e for e in plan.kept if e.reason.startswith("among the")]
    removed_dated = [e for e in plan.removed if e.created is not None]
    if counted and removed_dated:
        assert min(e.created.when for e in counted if e.created) >= max(
            e.created.when for e in removed_dated if e.created
        )


@PROPERTY_SETTINGS
@given(repositories(), st.randoms(use_true_random=False))
def test_plan_does_not_depend_on_tag_order(
    repo: tuple[list[TagInfo], list[ImageRefs], PrunePolicy], rnd: random.Random
) -> None:
    tags, untagged, policy = repo
    shuffled = list(tags)
    rnd.shuffle(shuffled)
    a = plan_prune(tags, policy, NOW, untagged=untagged)
    b = plan_prune(shuffled, policy, NOW, untagged=untagged)
    assert a == b
    assert a.to_json() == b.to_json()
    assert a.reclaimable_bytes == b.reclaimable_bytes


@PROPERTY_SETTINGS
@given(repositories())
def test_every_tag_has_an_action_and_a_reason(
    repo: tuple[list[TagInfo], list[ImageRefs], PrunePolicy],
) -> None:
    tags, untagged, policy = repo
    plan = plan_prune(tags, policy, NOW, untagged=untagged)
    assert sorted(e.tag for e in plan.entries) == sorted(t.tag for t in tags)
    for e in plan.entries:
        assert e.action in (KEEP, DELETE_MANIFEST, UNTAG)
        assert e.reason
    total = sum(size for t in tags for _, size in set(t.blobs))
    assert 0 <= plan.reclaimable_bytes <= total
    if not plan.delete_digests:
        assert plan.reclaimable_bytes == 0


@PROPERTY_SETTINGS
@given(repositories())
def test_rerun_after_partial_execution_deletes_nothing_the_first_plan_kept(
    repo: tuple[list[TagInfo], list[ImageRefs], PrunePolicy],
) -> None:
    """Execute an arbitrary prefix of the plan, re-plan what is left: the second plan removes
    only tags the first plan removed."""
    tags, untagged, policy = repo
    first = plan_prune(tags, policy, NOW, untagged=untagged)
    removed = [e for e in first.removed]
    done = {e.tag for e in removed[: len(removed) // 2]}
    done_digests = {e.digest for e in removed[: len(removed) // 2] if e.action == DELETE_MANIFEST}
    left = [t for t in tags if t.tag not in done and t.digest not in done_digests]
    second = plan_prune(left, policy, NOW, untagged=untagged)
    assert {e.tag for e in second.removed} <= {e.tag for e in first.removed}
    assert {e.tag for e in second.kept} == {e.tag for e in first.kept}
