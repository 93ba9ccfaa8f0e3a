"""After a prune deleted an index by digest: delete its platform manifests that nothing uses.

Distribution's DELETE of an index removes the index only; its platform manifests stay in the
repository, untagged. ``registry garbage-collect`` without ``--delete-untagged`` keeps every
manifest the repository lists, so those platform manifests, their configs and their layers
would never be reclaimed (and ``--delete-untagged`` is unsafe for multi-platform images on
distribution 2.8). So each platform manifest of a deleted index is deleted too, by digest, when
no staying tag points at it and no manifest that stays (tagged or protected) lists it. Right
before, the tags are read again: a tag pushed meanwhile onto such a manifest keeps it; and each
DELETE is guarded like the prune's own (``regkit.ops.delete``): a tag pointed at the platform
manifest while it was deleted is put back (or, when several went at once, named with the
command that puts it back).

An image's referrers (``PrunePlan.referrers``: cosign's ``sha256-<hex>.sig/.att/.sbom``, the
referrers tag schema's ``sha256-<hex>`` index and the manifests it lists, e.g. an oras SBOM) go
here too, after their subject: only those whose subject this run deleted (a subject saved by a
tag pushed meanwhile keeps them), and orphans (``delete_orphans``) whose subject is still
missing. Right before, every referrer tag is resolved again: one that no longer points where the
plan saw it (an SBOM attached meanwhile rewrote the index) stays. Children before parents: the
manifests a referrers index lists first, then the referrer manifests (cosign's and the indexes),
each guarded like any DELETE of the prune (a staying tag that vanished with it is put back; a
referrer tag still listed after its manifest's DELETE, on a registry that keeps tags, is removed
by name).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from regkit import defaults
from regkit.errors import Param, Phrase, RegkitError
from regkit.ops.delete import Lister, Windows, delete_listed_keeping, get_manifest_or_none
from regkit.ops.prune.execute import PruneResult
from regkit.ops.prune.plan import DELETE_MANIFEST, PrunePlan, TagPlan
from regkit.registry import RegistryClient
from regkit.registry.referrers import Referrer, from_api


def orphaned_children(plan: PrunePlan, deleted: Iterable[str]) -> tuple[str, ...]:
    """Platform manifests of the ``deleted`` indexes that nothing staying references (pure)."""
    gone = set(deleted)
    return _children_left(plan, gone, {d for d in plan.refs if d not in gone})


def delete_orphaned_children(
    client: RegistryClient, plan: PrunePlan, candidates: Collection[str], say: Callable[[str], None]
) -> tuple[str, ...]:
    """Delete the platform manifests ``candidates`` (``orphaned_children`` of a run's deleted
    indexes) that no tag points at now, each guarded; the digests deleted."""
    if not candidates:
        return ()
    repo = plan.repository
    wanted = set(candidates)
    tags = client.tags(repo)
    for tag, desc in zip(tags, client.map(lambda t: client.resolve(repo, t), tags), strict=True):
        if desc is not None and desc.digest in wanted:
            wanted.discard(desc.digest)
            say(
                f"{repo}:{tag} points at {desc.digest}, a platform manifest of a deleted "
                "index (pushed since planning?); left it"
            )
    ordered = sorted(wanted)
    done = client.map(_guarded_delete(client, plan, (), say), ordered)
    return tuple(d for d, ok in zip(ordered, done, strict=True) if ok)


def _guarded_delete(
    client: RegistryClient,
    plan: PrunePlan,
    going: Collection[str],
    say: Callable[[str], None],
    with_it: Mapping[str, Collection[str]] | None = None,
) -> Callable[[str], bool]:
    """A function deleting one manifest of ``plan``'s repository by digest as every DELETE of
    the prune is (``delete_listed_keeping``: a tag not in ``going`` that went with it is put
    back; ``with_it``: per digest, tags known to go with it), from the bytes planning read,
    else read now; False when it was gone already (e.g. a retried DELETE). Concurrent calls
    share their tag listings and guard windows."""
    repo = plan.repository
    lister = Lister(client, repo)
    windows = Windows()

    def delete(digest: str) -> bool:
        manifest = plan.sources.get(digest) or get_manifest_or_none(client, repo, digest)
        if manifest is None:
            return False
        return delete_listed_keeping(
            client,
            repo,
            manifest,
            going,
            warn=say,
            windows=windows,
            lister=lister,
            with_it=with_it.get(digest, ()) if with_it is not None else (),
        ).deleted

    return delete


def doomed_referrers(plan: PrunePlan, deleted: Iterable[str]) -> tuple[TagPlan, ...]:
    """The referrers of ``plan`` that go now (pure): those planned to go whose subject is among
    ``deleted`` (what this run deleted) or is a referrer going too, and the orphans planned to
    go (their subject is checked again before the DELETE)."""
    gone = set(deleted)
    planned = [r for r in plan.referrers if r.removed]
    out: dict[str, TagPlan] = {}
    while True:  # a referrer of a referrer follows it, at any depth (each round adds one)
        before = len(out)
        for r in planned:
            if r.orphan or r.subject in gone:
                out[r.tag] = r
        going = {r.digest for r in out.values()}
        # and what a going referrers index lists (an oras SBOM, whose signature goes too)
        gone |= going | {c for d in going if (refs := plan.refs.get(d)) for c in refs.children}
        if len(out) == before:
            return tuple(sorted(out.values(), key=lambda r: r.tag))


def listed_by_referrers(plan: PrunePlan, going: Iterable[TagPlan]) -> tuple[str, ...]:
    """The manifests the ``going`` referrers list (an oras SBOM in a referrers index) that no
    manifest staying lists and no staying tag names (pure)."""
    doomed = {r.digest for r in going}
    kept_referrers = {r.digest for r in plan.referrers if not r.removed}
    return _children_left(plan, doomed, kept_referrers | doomed)


def _children_left(plan: PrunePlan, gone: set[str], also_used: set[str]) -> tuple[str, ...]:
    """The children (platform manifests, listed referrers) of the ``gone`` manifests that no
    manifest staying lists, no kept tag names, no protected digest is, and not in
    ``also_used`` (pure)."""
    used = {c for d, r in plan.refs.items() if d not in gone for c in r.children}
    used |= {e.digest for e in plan.kept} | set(plan.policy.protect_digests) | also_used
    out = {c for d in gone if (refs := plan.refs.get(d)) is not None for c in refs.children}
    return tuple(sorted(out - used))


def api_referrers(
    client: RegistryClient,
    plan: PrunePlan,
    subjects: Iterable[str],
    going: Iterable[str] = (),
    *,
    warn: Callable[[str], None] | None = None,
) -> tuple[str, ...]:
    """The referrers the OCI referrers API lists for ``subjects`` (deleted by this run) that
    the tag schemes did not show (an artifact pushed with ``subject`` and no tag), and theirs
    in turn, and those of the ``going`` referrers (found by the tag schemes), at most
    ``MAX_REFERRER_DEPTH`` levels down (``warn`` names a deeper one, left for ``check``): asked
    once per digest where the registry serves the API; one question (the first subject) where
    it does not."""
    found = api_walk(client, plan, subjects, going, warn=warn)
    return tuple(sorted({r.digest for r in found}))


def api_walk(
    client: RegistryClient,
    plan: PrunePlan,
    subjects: Iterable[str],
    going: Iterable[str] = (),
    *,
    warn: Callable[[str], None] | None = None,
) -> list[Referrer]:
    """``api_referrers``' referrers themselves (each with its subject), level by level, each
    level's questions side by side on the client's pool after a first one alone (a registry
    that does not serve the API costs that one request)."""
    known = referrer_manifests(plan)
    kept = known | set(plan.policy.protect_digests) | {e.digest for e in plan.kept}
    out: dict[str, Referrer] = {}
    asked: set[str] = set()
    level = list(dict.fromkeys([*sorted(set(subjects) - known), *sorted(set(going))]))
    for depth in range(defaults.MAX_REFERRER_DEPTH + 1):
        level = [d for d in level if d not in asked]
        if not level:
            break
        asked |= set(level)
        first = from_api(client, plan.repository, level[0])
        if first is None:
            return []  # not served: no request per subject
        rest = client.map(lambda d: from_api(client, plan.repository, d) or [], level[1:])
        below = [r for page in (first, *rest) for r in page if r.digest not in kept]
        below = [r for r in below if r.digest not in out and r.digest not in asked]
        if not below:
            break
        if depth == defaults.MAX_REFERRER_DEPTH:
            if warn is not None:
                warn(
                    f"{plan.repository}: {len(below)} referrers more than "
                    f"{defaults.MAX_REFERRER_DEPTH} levels below a deleted image left (regkit's "
                    "limit on referrer chains); 'regkit check' reports them"
                )
            break
        for r in below:
            out.setdefault(r.digest, r)
        level = [r.digest for r in below]
    return list(out.values())


#: What a referrer's kind is called in a REASON.
_KIND_WORDS = {"signature": "signature", "attestation": "attestation", "sbom": "SBOM"}


def with_untagged_referrers(client: RegistryClient, plan: PrunePlan) -> PrunePlan:
    """``plan`` with the referrers only the referrers API lists (no tag) of the manifests it
    deletes, and theirs (``api_walk``), as ``untagged_referrers``: what ``prune --dry-run``
    shows going with each image. One request per manifest that goes (and per referrer found)
    where the registry serves the API; one in all where it does not; none when nothing goes.
    The executor asks again after the DELETEs (``delete_referrers``): what is attached meanwhile
    goes too."""
    if not plan.delete_digests:
        return plan
    found = api_walk(client, plan, plan.delete_digests)
    if not found:
        return plan
    names: dict[str, str] = {}
    for e in sorted(plan.entries, key=lambda e: e.tag):
        names.setdefault(e.digest, e.tag)
    untagged = []
    for r in found:
        what = _KIND_WORDS.get(r.kind, "referrer")
        if r.subject in names:
            reason = f"{what} of {names[r.subject]}, which goes (listed by the referrers API)"
        else:
            reason = f"{what} of {r.subject.removeprefix('sha256:')[:12]}, which goes"
        untagged.append(
            TagPlan("", r.digest, None, DELETE_MANIFEST, reason, r.subject, kind=r.kind)
        )
    return dataclasses.replace(plan, untagged_referrers=tuple(untagged))


def delete_referrers(
    client: RegistryClient,
    plan: PrunePlan,
    deleted: Iterable[str],
    *,
    warn: Callable[[str], None] | None = None,
) -> tuple[str, ...]:
    """Delete the referrers ``doomed_referrers`` names and those the referrers API lists for
    what this run deleted (``api_referrers``), children before parents, each guarded; the
    digests deleted."""
    say = warn or (lambda _m: None)
    deleted = tuple(deleted)
    going = list(doomed_referrers(plan, deleted))
    tagged = {r.digest for r in going} | set(listed_by_referrers(plan, going))
    from_the_api = api_referrers(client, plan, deleted, tagged, warn=say) if deleted else ()
    if not going and not from_the_api:
        return ()
    repo = plan.repository
    listed = set(client.tags(repo))
    # the referrer tags, and the tags new since planning: where they point now
    planned = {e.tag for e in plan.entries} | {r.tag for r in plan.referrers}
    ask = sorted({r.tag for r in going if r.tag in listed} | (listed - planned))
    now = dict(zip(ask, client.map(lambda t: client.resolve(repo, t), ask), strict=True))
    kept: list[TagPlan] = []
    for r in going:
        desc = now.get(r.tag)
        if desc is not None and desc.digest != r.digest:
            say(f"{repo}:{r.tag} moved to {desc.digest} since planning; left it")
            continue
        if r.orphan and client.resolve(repo, r.subject) is not None:
            say(f"{repo}:{r.tag}: its subject {r.subject} exists again; left it")
            continue
        kept.append(r)
    going = kept
    names = {r.tag for r in going}
    pointed = {d.digest for t, d in now.items() if d is not None and t not in names}
    by_digest: dict[str, list[str]] = {}
    for r in going:
        by_digest.setdefault(r.digest, []).append(r.tag)
    guarded = _guarded_delete(client, plan, names, say, by_digest)

    def delete(digest: str) -> bool:
        # a tag new since planning names it: it stays
        return digest not in pointed and guarded(digest)

    done: list[str] = []
    leaves = sorted(set(listed_by_referrers(plan, going)) | set(from_the_api))
    for batch in (leaves, sorted(set(by_digest) - set(leaves))):
        ok = client.map(delete, batch)
        done += [d for d, yes in zip(batch, ok, strict=True) if yes]
    return tuple(done)


@dataclass(frozen=True, slots=True)
class WithReferrers(PruneResult):
    """A repository's result with the referrers deleted after its images (the digests)."""

    deleted_referrers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = PruneResult.to_json(self)
        out["deleted_referrers"] = list(self.deleted_referrers)
        return out


def referrer_manifests(plan: PrunePlan) -> frozenset[str]:
    """Every referrer manifest of ``plan``: the referrer tags' and those their indexes list."""
    out = {r.digest for r in plan.referrers}
    for r in plan.referrers:
        refs = plan.refs.get(r.digest)
        if refs is not None:
            out |= set(refs.children)
    return frozenset(out)


def split_referrers(
    plan: PrunePlan, result: PruneResult, after: Iterable[str]
) -> tuple[PruneResult, tuple[str, ...]]:
    """``after`` (what was deleted after ``plan``'s run) split into the referrers, carried by
    the result (``WithReferrers``), and the platform manifests of deleted indexes."""
    mine = referrer_manifests(plan)
    platform = {c for d, r in plan.refs.items() if d not in mine for c in r.children}
    gone = tuple(after)
    # what is no platform manifest of an image: a referrer (the tag schemes' or the API's)
    refs = tuple(d for d in gone if d not in platform)
    rest = tuple(d for d in gone if d in platform)
    if not refs:
        return result, rest
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(PruneResult)}
    return WithReferrers(**fields, deleted_referrers=refs), rest


def delete_children_after(
    client: RegistryClient,
    plan: PrunePlan,
    result: PruneResult,
    *,
    warn: Callable[[str], None] | None = None,
) -> tuple[str, ...]:
    """``delete_orphaned_children`` after a run, complete or partial (a rerun plans from the
    tags and cannot find the platform manifests of indexes this run deleted), then the
    referrers of what went (``delete_referrers``); a failure is a warning, not an error: the
    prune itself is done."""
    gone: tuple[str, ...] = ()
    if result.deleted_manifests:
        handled = set(result.deleted_children)  # deleted right after their index already
        orphans = orphaned_children(plan, result.deleted_manifests)
        try:
            gone = delete_orphaned_children(
                client, plan, [c for c in orphans if c not in handled], warn or (lambda _m: None)
            )
        except RegkitError as err:
            if warn:
                warn(
                    f"{plan.repository}: platform manifests of deleted indexes left "
                    f"({err.message}); 'regkit check --storage DIR' on the registry host lists "
                    "them"
                )
    deleted = (*result.deleted_manifests, *result.deleted_children, *gone)
    if not deleted and not any(r.removed for r in plan.referrers):
        return gone
    try:
        return (*gone, *delete_referrers(client, plan, deleted, warn=warn))
    except RegkitError as err:
        if warn:
            warn(
                Phrase(
                    (
                        f"{plan.repository}: referrers of deleted images left ({err.message}); "
                        "the next prune reports them as orphans and removes them with ",
                        Param("delete-orphans"),
                    )
                )
            )
        return gone


__all__ = [
    "WithReferrers",
    "api_referrers",
    "api_walk",
    "delete_children_after",
    "delete_orphaned_children",
    "delete_referrers",
    "doomed_referrers",
    "listed_by_referrers",
    "orphaned_children",
    "referrer_manifests",
    "split_referrers",
    "with_untagged_referrers",
]
