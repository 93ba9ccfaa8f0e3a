"""plan_ghcr: pure, no server. Children go only with their last parent, referrers with their
image, untagged versions only when old and referenced by nothing that stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from regkit.ghcr.prune import plan_ghcr, referrer_subject, untagged_to_inspect
from regkit.ghcr.rest import PackageVersion
from regkit.ops.prune.plan import ImageRefs, PrunePolicy, TagInfo, plan_prune
from regkit.timeparse import parse_created_time

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def d(name: str) -> str:
    return "sha256:" + (name * 64)[:64]


def tag(name: str, digest: str, hours: int, children: tuple[str, ...] = ()) -> TagInfo:
    created = parse_created_time((NOW - timedelta(hours=100 - hours)).isoformat())
    return TagInfo(name, digest, created, children)


def version(i: int, digest: str, tags: tuple[str, ...] = (), hours: int = 0) -> PackageVersion:
    return PackageVersion(i, digest, tags, NOW - timedelta(hours=100 - hours))


def test_a_child_shared_with_a_staying_index_stays() -> None:
    old, new = d("a"), d("b")
    shared, only_old = d("c"), d("e")
    tags = [tag("aaaaaaa", old, 1, (shared, only_old)), tag("bbbbbbb", new, 2, (shared,))]
    plan = plan_prune(tags, PrunePolicy(keep=1), NOW)
    versions = [
        version(1, shared, hours=0),
        version(2, only_old, hours=0),
        version(3, old, ("aaaaaaa",), 1),
        version(4, new, ("bbbbbbb",), 2),
    ]
    g = plan_ghcr(plan, versions)
    assert [(x.digest, x.role) for x in g.deletions] == [(old, "image"), (only_old, "child")]


def test_referrers_go_with_their_image_only() -> None:
    old, new = d("a"), d("b")
    sig_old, sig_new = d("5"), d("6")
    t_old = old.replace(":", "-") + ".sig"
    t_new = new.replace(":", "-") + ".att"
    tags = [
        tag("aaaaaaa", old, 1),
        tag("bbbbbbb", new, 2),
        tag(t_old, sig_old, 3),
        tag(t_new, sig_new, 4),
    ]
    plan = plan_prune(tags, PrunePolicy(keep=1), NOW)
    versions = [
        version(1, old, ("aaaaaaa",), 1),
        version(2, new, ("bbbbbbb",), 2),
        version(3, sig_old, (t_old,), 3),
        version(4, sig_new, (t_new,), 4),
    ]
    g = plan_ghcr(plan, versions)
    assert [(x.digest, x.role) for x in g.deletions] == [(old, "image"), (sig_old, "referrer")]
    assert {e.tag: e.action for e in g.plan.entries}[t_old] == "delete-manifest"
    assert {e.tag: e.action for e in g.plan.entries}[t_new] == "keep"
    # A protected referrer tag stays, even when its image goes.
    plan = plan_prune(tags, PrunePolicy(keep=1, protect_tags=frozenset({t_old})), NOW)
    g = plan_ghcr(plan, versions)
    assert [x.digest for x in g.deletions] == [old]
    assert referrer_subject(t_old) == old and referrer_subject("latest") is None


def test_untagged_versions_go_only_when_old_and_unreferenced() -> None:
    img = d("a")
    child, orphan, inflight, inflight_child = d("c"), d("e"), d("f"), d("7")
    plan = plan_prune([tag("aaaaaaa", img, 50, (child,))], PrunePolicy(keep=1), NOW)
    versions = [
        version(1, orphan, (), 1),
        version(2, child, (), 49),
        version(3, img, ("aaaaaaa",), 50),
        version(4, inflight_child, (), 60),  # a build in progress: children before the index
        version(5, inflight, (), 61),
    ]
    assert plan_ghcr(plan, versions).deletions == ()
    assert plan_ghcr(plan, versions).untagged_kept == 3
    g = plan_ghcr(plan, versions, delete_untagged=True)
    assert [(x.digest, x.role) for x in g.deletions] == [(orphan, "untagged")]
    # Without --delete-untagged every untagged version of unknown content is read first.
    assert untagged_to_inspect(plan, versions, delete_untagged=False) == sorted(
        [orphan, inflight, inflight_child]
    )
    assert untagged_to_inspect(plan, versions, delete_untagged=True) == sorted(
        [inflight, inflight_child]
    )


def test_an_untagged_index_that_stays_keeps_its_children() -> None:
    old, new, kept_index = d("a"), d("b"), d("9")
    child = d("c")
    tags = [tag("aaaaaaa", old, 1, (child,)), tag("bbbbbbb", new, 2)]
    plan = plan_prune(tags, PrunePolicy(keep=1), NOW)
    versions = [
        version(1, child, (), 0),
        version(2, old, ("aaaaaaa",), 1),
        version(3, new, ("bbbbbbb",), 2),
        version(4, kept_index, (), 3),  # stays: no --delete-untagged
    ]
    g = plan_ghcr(plan, versions, untagged_children={kept_index: (child,)})
    assert [x.digest for x in g.deletions] == [old]


def test_a_protected_digest_keeps_its_version_and_children() -> None:
    old, new, child = d("a"), d("b"), d("c")
    tags = [tag("aaaaaaa", old, 1, (child,)), tag("bbbbbbb", new, 2)]
    policy = PrunePolicy(keep=1, protect_digests=frozenset({old}))
    plan = plan_prune(tags, policy, NOW)
    versions = [
        version(1, child),
        version(2, old, ("aaaaaaa",), 1),
        version(3, new, ("bbbbbbb",), 2),
    ]
    g = plan_ghcr(plan, versions, delete_untagged=True)
    assert g.deletions == ()


def test_a_signed_child_takes_its_signature_and_a_dangling_signature_goes() -> None:
    old, new, child = d("a"), d("b"), d("c")
    sig_child, sig_gone = d("5"), d("6")
    t_child = child.replace(":", "-") + ".sig"
    t_gone = d("9").replace(":", "-") + ".sig"  # its subject no longer exists
    tags = [
        tag("aaaaaaa", old, 1, (child,)),
        tag("bbbbbbb", new, 2),
        tag(t_child, sig_child, 3),
        tag(t_gone, sig_gone, 4),
    ]
    plan = plan_prune(tags, PrunePolicy(keep=1), NOW)
    versions = [
        version(1, child),
        version(2, old, ("aaaaaaa",), 1),
        version(3, new, ("bbbbbbb",), 2),
        version(4, sig_child, (t_child,), 3),
        version(5, sig_gone, (t_gone,), 4),
    ]
    g = plan_ghcr(plan, versions)
    # the child before its signature: a referrer goes after what it refers to
    assert [(x.digest, x.role) for x in g.deletions] == [
        (old, "image"),
        (child, "child"),
        (sig_child, "referrer"),
        (sig_gone, "referrer"),
    ]


def test_an_sbom_goes_after_the_referrers_index_listing_it() -> None:
    """The referrers tag schema's index ``sha256-<hex>`` lists an SBOM manifest: the SBOM is
    that index's child, deleted only once the index is gone (issue 24)."""
    old, new, index, sbom = d("a"), d("b"), d("5"), d("c")
    t_index = old.replace(":", "-")
    tags = [tag("aaaaaaa", old, 1), tag("bbbbbbb", new, 2), tag(t_index, index, 3, (sbom,))]
    plan = plan_prune(tags, PrunePolicy(keep=1), NOW)
    versions = [
        version(1, sbom),
        version(2, old, ("aaaaaaa",), 1),
        version(3, new, ("bbbbbbb",), 2),
        version(4, index, (t_index,), 3),
    ]
    g = plan_ghcr(plan, versions)
    assert [(x.digest, x.role) for x in g.deletions] == [
        (old, "image"),
        (index, "referrer"),
        (sbom, "child"),
    ]


def test_delete_untagged_takes_the_signature_of_an_untagged_build() -> None:
    orphan, new, sig = d("e"), d("b"), d("5")
    t_sig = orphan.replace(":", "-") + ".sig"
    tags = [tag("bbbbbbb", new, 50), tag(t_sig, sig, 51)]
    plan = plan_prune(tags, PrunePolicy(keep=1), NOW, untagged=[ImageRefs(orphan)])
    versions = [version(1, orphan, (), 1), version(2, new, ("bbbbbbb",), 50)]
    versions.append(version(3, sig, (t_sig,), 51))
    assert plan_ghcr(plan, versions).deletions == ()  # the build stays: so does its signature
    g = plan_ghcr(plan, versions, delete_untagged=True)
    assert [(x.digest, x.role) for x in g.deletions] == [(orphan, "untagged"), (sig, "referrer")]
    assert {e.tag: e.action for e in g.plan.entries}[t_sig] == "delete-manifest"
