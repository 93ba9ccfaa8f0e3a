"""The prune plan: a pure function from a repository's tags to an action and a reason per tag.

Rules, in order (the first that applies decides):

1. A tag that is protected stays, whatever the pattern, ``keep`` and ``older_than`` say: named
   by ``--protect-tag`` or a deploy file; pointing at a protected digest; protected by a
   built-in rule (``latest``, release tags and aliases, ``deployed-*`` markers:
   ``regkit.ops.prune.rules``) unless named in ``unprotect``; or sharing a digest with any
   tag protected by name (``same image as latest``). The REASON names the rule.
2. A tag pointing at a throw-away manifest left by an interrupted prune goes (it points at
   nothing of value; the tag was already doomed by the run that made it).
3. A tag that does not match the pattern stays.
4. A tag whose created time is unknown, the epoch or the zero time stays, and says so.
5. The ``keep`` newest of the remaining (dated, matching) tags stay, and so does every other
   tag of the same image (a ``latest`` that ties with its SHA tag at the cut).
6. With ``older_than``, a tag created less than that long ago stays.
7. Every other tag goes.

How a doomed tag goes: when no staying tag and no protected digest references its manifest
(directly, or as a platform manifest of an index that stays) and the manifest is nobody's
platform manifest, the manifest is deleted by digest (``delete-manifest``), which removes
every doomed tag that shares it at once. Otherwise the tag alone is removed (``untag``) and
the manifest stays. Child manifests of an index are never deleted directly.

Referrers (issue 23): a referrer tag (``sha256-<hex>``, the referrers tag schema's index;
``sha256-<hex>.sig``/``.att``/``.sbom``, cosign's) is not an image: it never counts toward
``keep``, is never an entry of the plan whatever ``match`` says, and is listed under its subject
in ``PrunePlan.referrers``. It stays when protected by name or digest, or when its subject
stays; it goes (``delete-manifest``, after its subject: ``regkit.ops.prune.children``) when its
subject's manifest is deleted (directly, or as a platform manifest of a deleted index). One whose
subject no longer exists (not a tag's manifest, nobody's platform manifest, not known to exist
untagged) is an orphan: reported, and deleted only with ``delete_orphans``. The manifests a
referrers index lists (an oras SBOM) go with the index (its ``children``).

The plan does not depend on the order of ``tags``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from regkit.errors import Param, Phrase, UsageError
from regkit.ops.prune.rules import builtin_rule

# The pattern guards (length cap, clean errors, a time budget on any thread) live in
# regkit.patterns, shared by every verb that takes --match; re-exported from here.
from regkit.patterns import (
    MATCH_BUDGET,
    MAX_MATCH_LENGTH,
    compile_match,
    matching_tags,
)
from regkit.registry.referrers import ReferrerTag, classify_tag
from regkit.timeparse import CreatedTime, format_duration

Action = Literal["keep", "delete-manifest", "untag"]
KEEP: Action = "keep"
DELETE_MANIFEST: Action = "delete-manifest"
UNTAG: Action = "untag"

DEFAULT_MATCH = r"^[0-9a-f]{7}$"
DEFAULT_KEEP = 10

Blob = tuple[str, int]  # (digest, size)


@dataclass(frozen=True, slots=True)
class ImageRefs:
    """A manifest and what it keeps alive: its platform manifests and every blob (with sizes).

    ``blobs`` holds the manifest itself, its platform manifests, configs and layers, so that
    the bytes garbage collection could reclaim can be summed without another request.
    """

    digest: str
    children: tuple[str, ...] = ()
    blobs: tuple[Blob, ...] = ()


@dataclass(frozen=True, slots=True)
class TagInfo:
    """One tag as fetched: where it points, when that image was made, what it references."""

    tag: str
    digest: str
    created: CreatedTime | None = None
    children: tuple[str, ...] = ()
    blobs: tuple[Blob, ...] = ()
    throwaway: bool = False  # a throw-away manifest left by an interrupted prune
    dangling: bool = False  # listed, but its manifest is gone (a delete interrupted mid-way)

    @property
    def refs(self) -> ImageRefs:
        return ImageRefs(self.digest, self.children, self.blobs)


@dataclass(frozen=True, slots=True)
class PrunePolicy:
    match: str = DEFAULT_MATCH
    keep: int = DEFAULT_KEEP
    older_than: timedelta | None = None
    protect_tags: frozenset[str] = frozenset()
    protect_digests: frozenset[str] = frozenset()
    older_than_text: str | None = None  # as typed ("30d"): echoed back, not "4w2d"
    #: tags taken out of the built-in protection (``latest``, releases, deploy markers) by name
    unprotect: frozenset[str] = frozenset()
    #: why a protected tag or digest is protected (its REASON), by tag or digest; default
    #: "protected tag" / "protected digest"
    protect_reasons: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: delete referrers whose subject no longer exists (``--delete-orphans``); else reported
    delete_orphans: bool = False

    def __post_init__(self) -> None:
        if self.keep < 0:
            raise UsageError(f"keep must be 0 or more, got {self.keep}")
        if self.older_than is not None and self.older_than < timedelta(0):
            raise UsageError("older-than must not be negative")
        compile_match(self.match)

    def pattern(self) -> re.Pattern[str]:
        return compile_match(self.match)

    def older_than_shown(self) -> str | None:
        """``--older-than`` as typed (``30d``, not ``4w2d``)."""
        if self.older_than is None:
            return None
        return self.older_than_text or format_duration(self.older_than)

    def to_json(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "keep": self.keep,
            "older_than": self.older_than_shown(),
            "protect_tags": sorted(self.protect_tags),
            "protect_digests": sorted(self.protect_digests),
            "unprotect": sorted(self.unprotect),
            "delete_orphans": self.delete_orphans,
        }


@dataclass(frozen=True, slots=True)
class TagPlan:
    tag: str
    digest: str
    created: CreatedTime | None
    action: Action
    reason: str
    #: a referrer tag's subject (``sha256:<hex>``); empty for an image's tag
    subject: str = ""
    #: a referrer whose subject no longer exists
    orphan: bool = False
    #: what a referrer only the referrers API lists is (``regkit.registry.referrers.KINDS``)
    kind: str = ""

    @property
    def removed(self) -> bool:
        return self.action != KEEP

    @property
    def dangling(self) -> bool:
        """The tag is listed but its manifest is gone (no digest known)."""
        return not self.digest

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tag": self.tag,
            "digest": self.digest,
            "created": self.created.when.strftime("%Y-%m-%dT%H:%M:%SZ") if self.created else None,
            "action": self.action,
            "reason": self.reason,
        }
        if self.subject:
            out["subject"] = self.subject
            out["orphan"] = self.orphan
        if self.kind:
            out["kind"] = self.kind
        return out


@dataclass(frozen=True, slots=True)
class PrunePlan:
    """Every tag with its action, newest first; the manifests to delete; the bytes estimate."""

    entries: tuple[TagPlan, ...]
    delete_digests: tuple[str, ...]  # manifests deleted by digest, sorted
    reclaimable_bytes: int
    repository: str = ""
    policy: PrunePolicy = field(default_factory=PrunePolicy)
    refs: Mapping[str, ImageRefs] = field(default_factory=dict, compare=False, repr=False)
    # The manifests as fetched for planning, by digest (to put back a tag that went with a
    # DELETE without reading the manifest again); empty when the plan was built without them.
    sources: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # The OCI labels (``org.opencontainers.image.*``) of each tag's image, by digest, as read
    # for planning (``regkit.ops.prune.fetch.oci_labels``): what a removed tag was.
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False, repr=False)
    #: the referrer tags, each under its subject (``TagPlan.subject``), sorted by tag; not in
    #: ``entries`` (the executor's), deleted after their subjects by ``regkit.ops.prune.children``
    referrers: tuple[TagPlan, ...] = ()
    #: the referrers only the referrers API lists (no tag: ``TagPlan.tag`` is empty) of the
    #: manifests that go, and theirs, each under its subject; asked at planning where the
    #: registry serves the API (``regkit.ops.prune.children.with_untagged_referrers``)
    untagged_referrers: tuple[TagPlan, ...] = ()

    @property
    def referrer_digests(self) -> tuple[str, ...]:
        """The referrer manifests that go (sorted): with their subject, or orphans."""
        going = [r for r in (*self.referrers, *self.untagged_referrers) if r.removed]
        return tuple(sorted({r.digest for r in going}))

    @property
    def orphans(self) -> tuple[TagPlan, ...]:
        return tuple(r for r in self.referrers if r.orphan)

    def referrers_of(self, subject: str) -> tuple[TagPlan, ...]:
        return tuple(r for r in self.referrers if r.subject == subject)

    @property
    def removed(self) -> tuple[TagPlan, ...]:
        return tuple(e for e in self.entries if e.removed)

    @property
    def kept(self) -> tuple[TagPlan, ...]:
        return tuple(e for e in self.entries if not e.removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "policy": self.policy.to_json(),
            "tags": [e.to_json() for e in self.entries],
            "delete_manifests": list(self.delete_digests),
            "untag": [e.tag for e in self.entries if e.action == UNTAG],
            "counts": {
                "tags": len(self.entries),
                "keep": len(self.kept),
                "delete_manifest": sum(1 for e in self.entries if e.action == DELETE_MANIFEST),
                "untag": sum(1 for e in self.entries if e.action == UNTAG),
            },
            "reclaimable_bytes": self.reclaimable_bytes,
            "referrers": [r.to_json() for r in self.referrers],
            "untagged_referrers": [r.to_json() for r in self.untagged_referrers],
            "delete_referrers": list(self.referrer_digests),
        }


_DANGLING = "its manifest no longer exists (a delete interrupted mid-way?)"


def _newest_first_key(info: TagInfo) -> tuple[float, str]:
    assert info.created is not None
    return (-info.created.when.timestamp(), info.tag)


def sort_entries(entries: Iterable[TagPlan]) -> tuple[TagPlan, ...]:
    """Newest first, tags with unknown time last, ties by tag name."""

    def key(e: TagPlan) -> tuple[int, float, str]:
        if e.created is None or e.created.meaningless:
            return (1, 0.0, e.tag)
        return (0, -e.created.when.timestamp(), e.tag)

    return tuple(sorted(entries, key=key))


def _listing(names: Iterable[str], limit: int = 3) -> str:
    items = sorted(names)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    return ", ".join(items)


def plan_prune(
    tags: Sequence[TagInfo],
    policy: PrunePolicy,
    now: datetime,
    *,
    untagged: Sequence[ImageRefs] = (),
    repository: str = "",
) -> PrunePlan:
    """The plan for one repository.

    ``untagged`` describes manifests known to exist without a tag (protected digests that no
    tag points at): their platform manifests and blobs count as staying.
    """
    every = _unique(tags)
    referrer_infos: list[tuple[TagInfo, ReferrerTag]] = []
    infos: list[TagInfo] = []
    for info in every:
        rt = None if info.dangling or info.throwaway else classify_tag(info.tag)
        if rt is not None:
            referrer_infos.append((info, rt))
        else:
            infos.append(info)
    matched = matching_tags(policy.pattern(), (info.tag for info in infos))
    decided: dict[str, tuple[Action | None, str]] = {}  # tag -> (KEEP or None=doomed, reason)
    protected = _protected_by_name(infos, policy)
    same_image = _same_image(infos, protected)
    dated: list[TagInfo] = []
    for info in infos:
        if info.tag in protected:
            decided[info.tag] = (KEEP, protected[info.tag])
        elif info.digest in policy.protect_digests:
            source = policy.protect_reasons.get(info.digest)
            decided[info.tag] = (KEEP, _explicit("protected digest", source))
        elif info.digest in same_image:
            decided[info.tag] = (KEEP, same_image[info.digest])
        elif info.throwaway:
            decided[info.tag] = (None, "throw-away manifest left by an interrupted prune")
        elif info.dangling:
            if info.tag in matched:
                decided[info.tag] = (None, _DANGLING + "; removing the broken tag")
            else:
                decided[info.tag] = (KEEP, _DANGLING + f"; does not match {policy.match}")
        elif info.tag not in matched:
            decided[info.tag] = (KEEP, f"does not match {policy.match}")
        elif info.created is None:
            decided[info.tag] = (KEEP, "created time unknown")
        elif info.created.meaningless:
            decided[info.tag] = (KEEP, "created time is the epoch or zero time (unknown age)")
        else:
            dated.append(info)

    dated.sort(key=_newest_first_key)
    cutoff = now - policy.older_than if policy.older_than is not None else None
    newest: dict[str, str] = {}  # digest -> a tag among the keep newest
    for rank, info in enumerate(dated):
        assert info.created is not None
        if rank < policy.keep:
            decided[info.tag] = (KEEP, f"among the {policy.keep} newest")
            newest.setdefault(info.digest, info.tag)
        elif info.digest in newest:  # the cut fell between two tags of one image: keep both
            decided[info.tag] = (KEEP, f"same image as {newest[info.digest]}, among the newest")
        elif cutoff is not None and info.created.when >= cutoff:
            assert policy.older_than is not None
            decided[info.tag] = (KEEP, f"newer than {policy.older_than_shown()}")
        else:
            why = (
                f"older than the {policy.keep} newest"
                if policy.keep
                else f"matches {policy.match} (keep 0)"
            )
            if policy.older_than is not None:
                why += f" and older than {policy.older_than_shown()}"
            decided[info.tag] = (None, why)

    by_digest: dict[str, TagInfo] = {}
    for info in infos:
        if not info.dangling:
            by_digest.setdefault(info.digest, info)
    refs: dict[str, ImageRefs] = {r.digest: r for r in untagged}
    refs.update({d: i.refs for d, i in by_digest.items()})

    staying_tags: dict[str, list[str]] = {}
    for info in infos:
        if decided[info.tag][0] == KEEP and not info.dangling:
            staying_tags.setdefault(info.digest, []).append(info.tag)
    staying = set(staying_tags) | set(policy.protect_digests)
    children_of_staying = {c for d in staying if d in refs for c in refs[d].children}
    all_children = {c for r in refs.values() for c in r.children}

    entries: list[TagPlan] = []
    delete_digests: set[str] = set()
    for info in infos:
        action, reason = decided[info.tag]
        if action == KEEP:
            entries.append(TagPlan(info.tag, info.digest, info.created, KEEP, reason))
            continue
        d = info.digest
        if info.dangling:
            entries.append(TagPlan(info.tag, d, None, UNTAG, reason))
            continue
        if d in staying_tags:
            mechanism, why = UNTAG, f"manifest stays: also tagged {_listing(staying_tags[d])}"
        elif d in staying:
            mechanism, why = UNTAG, "manifest stays: protected digest"
        elif d in children_of_staying:
            mechanism, why = UNTAG, "manifest stays: platform manifest of an image that stays"
        elif d in all_children:
            mechanism, why = UNTAG, "manifest stays: platform manifest of an index"
        else:
            mechanism, why = DELETE_MANIFEST, ""
            delete_digests.add(d)
        entries.append(
            TagPlan(info.tag, d, info.created, mechanism, f"{reason}; {why}" if why else reason)
        )

    referrers = _plan_referrers(
        referrer_infos,
        policy,
        entries,
        refs,
        staying=staying | {r.digest for r in untagged} | children_of_staying,
        deleted=delete_digests,
    )
    for info, _rt in referrer_infos:
        refs.setdefault(info.digest, info.refs)
    gone = delete_digests | {r.digest for r in referrers if r.removed}
    return PrunePlan(
        entries=sort_entries(entries),
        delete_digests=tuple(sorted(delete_digests)),
        reclaimable_bytes=reclaimable_bytes(refs, gone),
        repository=repository,
        policy=policy,
        refs=refs,
        referrers=tuple(sorted(referrers, key=lambda r: r.tag)),
    )


#: What a referrer tag's suffix says it is, in a REASON.
_KIND_WORDS = {"sig": "signature", "att": "attestation", "sbom": "SBOM", None: "referrers index"}


def _plan_referrers(
    found: Sequence[tuple[TagInfo, ReferrerTag]],
    policy: PrunePolicy,
    entries: Sequence[TagPlan],
    refs: Mapping[str, ImageRefs],
    *,
    staying: set[str],
    deleted: set[str],
) -> list[TagPlan]:
    """Each referrer tag's fate, from its subject's (see the module's docstring)."""
    names: dict[str, str] = {}  # digest -> a tag naming it, for the REASON
    for e in sorted(entries, key=lambda e: e.tag):
        names.setdefault(e.digest, e.tag)
    parents: dict[str, set[str]] = {}
    for digest, r in refs.items():
        for child in r.children:
            parents.setdefault(child, set()).add(digest)
    known = set(names) | set(parents) | set(refs) | set(policy.protect_digests)
    # a platform manifest that goes: every index listing it is deleted, none stays
    doomed = set(deleted) | {
        c for c, ps in parents.items() if c not in staying and ps and ps <= deleted
    }
    staying_all = set(staying) | (known - doomed)
    # a referrer of a referrer follows it, at any depth: of a referrer tag's manifest (a signed
    # signature), or of a manifest a referrers index lists (an oras SBOM's cosign signature or
    # attestation follows the index); decided after it
    parent_of: dict[str, str] = {info.digest: info.digest for info, _ in found}
    for info, _rt in found:
        for child in info.children:
            parent_of.setdefault(child, info.digest)
    out: dict[str, TagPlan] = {}
    pending = sorted(found, key=lambda f: f[0].tag)
    while pending:
        decided = {p.digest for p in out.values()}
        ready = [
            f
            for f in pending
            if parent_of.get(f[1].subject, f[0].digest) in decided | {f[0].digest}
        ]
        # none ready: tags that claim a loop (content addressing makes none): by subject alone
        for info, rt in ready or pending:
            out[info.tag] = _referrer(info, rt, policy, names, staying_all, doomed, out, parent_of)
        pending = [f for f in pending if f[0].tag not in out]
    return list(out.values())


def _referrer(
    info: TagInfo,
    rt: ReferrerTag,
    policy: PrunePolicy,
    names: Mapping[str, str],
    staying: set[str],
    doomed: set[str],
    decided: Mapping[str, TagPlan],
    parent_of: Mapping[str, str],
) -> TagPlan:
    subject = rt.subject
    what = _KIND_WORDS.get(rt.suffix, "referrer")
    of = names.get(subject) or _short(subject)
    by_digest = {p.digest: p for p in decided.values()}
    listed = parent_of.get(subject, subject) != subject  # listed by a referrers index

    def plan(action: Action, reason: str, orphan: bool = False) -> TagPlan:
        return TagPlan(info.tag, info.digest, info.created, action, reason, subject, orphan)

    if info.tag in policy.protect_tags:
        return plan(KEEP, f"{what} of {of}; " + _explicit("protected tag", None))
    if info.digest in policy.protect_digests:
        return plan(KEEP, f"{what} of {of}; " + _explicit("protected digest", None))
    parent = by_digest.get(parent_of.get(subject, subject))
    if parent is not None:  # a referrer of a referrer follows it
        of = f"{_short(subject)} (listed by {parent.tag})" if listed else parent.tag
        return plan(parent.action, f"{what} of {of}" + (", which goes" if parent.removed else ""))
    if subject in doomed:
        return plan(DELETE_MANIFEST, f"{what} of {of}, which goes")
    if subject in staying:
        return plan(KEEP, f"{what} of {of}")
    gone = f"{what} of {_short(subject)}, which no longer exists (orphan)"
    if policy.delete_orphans:
        return plan(DELETE_MANIFEST, gone, orphan=True)
    return plan(KEEP, Phrase((gone, "; ", Param("delete-orphans"), " removes it")), orphan=True)


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _protected_by_name(infos: Iterable[TagInfo], policy: PrunePolicy) -> dict[str, str]:
    """Tag -> REASON for the tags protected by name: ``--protect-tag`` and deploy files first,
    then the built-in rules (``regkit.ops.prune.rules``) for tags not in ``policy.unprotect``."""
    out: dict[str, str] = {}
    for info in infos:
        if info.tag in policy.protect_tags:
            out[info.tag] = _explicit("protected tag", policy.protect_reasons.get(info.tag))
        elif info.tag not in policy.unprotect:
            rule = builtin_rule(info.tag)
            if rule is not None:
                out[info.tag] = rule
    return out


def _explicit(what: str, source: str | None) -> str:
    """ "protected tag", or with where it comes from: "protected tag (deploy file app/x.yml)"."""
    return f"{what} ({source})" if source else what


def _same_image(infos: Iterable[TagInfo], protected: Mapping[str, str]) -> dict[str, str]:
    """Digest -> REASON for every digest a protected tag points at: each other tag on it stays
    ("same image as latest", "same image as v1.0.0 (release tag)"), named after the strongest
    rule on that digest (explicit protection, latest, release, deploy marker, alias)."""
    out: dict[str, str] = {}
    strength = ("protected", "latest", "release tag", "deploy marker", "release alias")

    def rank(info: TagInfo) -> tuple[int, str]:
        reason = protected.get(info.tag, "")
        first = [i for i, word in enumerate(strength) if reason.startswith(word)]
        return (first[0] if first else len(strength), info.tag)

    for info in sorted(infos, key=rank):
        reason = protected.get(info.tag)
        if reason is None or info.dangling or info.throwaway or info.digest in out:
            continue
        why = "" if reason == info.tag else f" ({reason})"
        out[info.digest] = f"same image as {info.tag}{why}"
    return out


def reclaimable_bytes(refs: Mapping[str, ImageRefs], deleted: Iterable[str]) -> int:
    """Bytes of blobs (and manifests) referenced only by deleted manifests: an estimate of what
    garbage collection can reclaim. Manifests we know nothing of (untagged, not protected) are
    not counted as referencing anything."""
    gone = set(deleted)
    removed: dict[str, int] = {}
    for d in gone:
        if d in refs:
            removed.update(refs[d].blobs)
    kept = {digest for d, r in refs.items() if d not in gone for digest, _ in r.blobs}
    return sum(size for digest, size in removed.items() if digest not in kept)


def _unique(tags: Sequence[TagInfo]) -> list[TagInfo]:
    """Tags sorted by name, one entry per name (the order of the input never matters)."""
    seen: dict[str, TagInfo] = {}
    for info in sorted(tags, key=lambda t: (t.tag, t.digest)):
        seen.setdefault(info.tag, info)
    return list(seen.values())


__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_MATCH",
    "DELETE_MANIFEST",
    "KEEP",
    "MATCH_BUDGET",
    "MAX_MATCH_LENGTH",
    "UNTAG",
    "Action",
    "ImageRefs",
    "PrunePlan",
    "PrunePolicy",
    "TagInfo",
    "TagPlan",
    "compile_match",
    "matching_tags",
    "plan_prune",
    "reclaimable_bytes",
    "sort_entries",
]
