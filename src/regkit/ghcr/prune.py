"""Prune on GHCR: the same tag plan as on distribution, carried out as package-version deletes.

On GHCR every manifest is a package version, and the registry API cannot delete. The tag plan
(``regkit.ops.prune.plan``: keep the N newest images, protected tags and digests, tags of
unknown age) decides which tags go; this module turns it into version deletions:

- an image whose tags all go (``delete-manifest``): its version, then each child (platform and
  attestation manifests) that no staying manifest references: children go only with their last
  parent, and only after that parent is gone;
- a referrer (``sha256-<hex>[.sig|.att|...]`` tags, e.g. cosign signatures) goes after the
  manifest it refers to (an image or a child that goes), never alone; one whose subject no
  longer exists (left by an interrupted run) goes too;
- a tag that goes while its manifest stays (``untag``: it shares the digest of a staying tag, or
  names a platform manifest of a staying index): a throw-away manifest is pushed over the tag,
  then that throw-away version is deleted;
- with ``delete_untagged``: untagged versions that no staying manifest references and that are
  older than the newest tagged version (a build in progress pushes its children first).

Before any deletion the tags are listed again (a staying tag that moved onto a doomed manifest
saves it and its children), and each version is read again just before its DELETE: a version
gone meanwhile is "gone", one that gained a tag is skipped. A refusal for want of permission
stops the run (nothing else would work); so does Ctrl-C, after the deletion in flight, with
what went reported. Deletions are serial (GitHub asks for serial writes).

``plan_ghcr`` is pure; ``inspect_untagged`` and ``execute_ghcr`` are the I/O shell.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from regkit.errors import RegkitError
from regkit.ghcr.rest import PackagesAPI, PackageVersion, PermissionDeniedError
from regkit.ops.audit import Labels
from regkit.ops.prune.execute import Outcome, PruneResult, throwaway_manifest
from regkit.ops.prune.plan import (
    DELETE_MANIFEST,
    KEEP,
    UNTAG,
    PrunePlan,
    PrunePolicy,
    TagPlan,
    sort_entries,
)
from regkit.ops.prune.render import plural, short_digest
from regkit.registry import RegistryClient
from regkit.registry.manifest import INDEX_TYPES, OCI_MANIFEST
from regkit.registry.referrers import REFERRER_TAG

Role = Literal["image", "referrer", "child", "untagged", "throwaway"]
VersionStatus = Literal["deleted", "gone", "skipped", "failed", "not-run"]

INTERRUPTED = (
    "interrupted (Ctrl-C); every image left is whole: run the same command again to finish"
)
#: Deletion order: an image before its children, a referrer after what it refers to (and what
#: a referrers index lists after that index: ``_phases``).
ROLE_ORDER: dict[str, int] = {"image": 0, "child": 1, "referrer": 2, "untagged": 3}


def referrer_subject(tag: str) -> str | None:
    """``sha256-<hex>.sig`` -> ``sha256:<hex>`` (the referrers tag scheme); else None."""
    m = REFERRER_TAG.match(tag)
    return f"sha256:{m.group(1)}" if m else None


@dataclass(frozen=True, slots=True)
class VersionDeletion:
    """One package version to delete: why, and what must hold just before."""

    version_id: int
    digest: str
    role: Role
    tags: tuple[str, ...]  # the tags it carries now (all of them going with it)
    parents: tuple[str, ...] = ()  # image/referrer: nothing; child: the doomed parents
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.version_id,
            "digest": self.digest,
            "role": self.role,
            "tags": list(self.tags),
            "parents": list(self.parents),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class GhcrPlan:
    plan: PrunePlan  # the tag plan, referrer tags included
    deletions: tuple[VersionDeletion, ...]  # in order: images, children, referrers, untagged
    versions: int  # versions listed
    untagged_kept: int  # untagged versions left (not referenced, --delete-untagged not given)
    #: the labels of each tagged image's config, read for planning: what ``--record`` writes
    #: (``regkit.ghcr.fetch``), so nothing is downloaded again
    _record_labels: Mapping[str, Labels] = field(default_factory=dict, compare=False, repr=False)

    @property
    def repository(self) -> str:
        return self.plan.repository

    @property
    def untags(self) -> tuple[TagPlan, ...]:
        return tuple(e for e in self.plan.entries if e.action == UNTAG)

    def counts(self) -> dict[str, int]:
        out = {role: 0 for role in ROLE_ORDER}
        for d in self.deletions:
            out[d.role] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "ghcr": {
                "versions": self.versions,
                "delete_versions": [d.to_json() for d in self.deletions],
                "counts": self.counts(),
                "untag_with_throwaway": [e.tag for e in self.untags],
                "untagged_kept": self.untagged_kept,
            },
        }


def _children(refs: Mapping[str, tuple[str, ...]], digest: str) -> set[str]:
    """Every manifest ``digest`` references, transitively (an index of indexes)."""
    out: set[str] = set()
    todo = [digest]
    while todo:
        for child in refs.get(todo.pop(), ()):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def untagged_to_inspect(
    plan: PrunePlan, versions: Sequence[PackageVersion], *, delete_untagged: bool
) -> list[str]:
    """Untagged versions that stay and whose content the tag plan does not know: an index
    among them may reference children of a doomed image, so their manifests are read. Pure."""
    known = {c for r in plan.refs.values() for c in r.children} | set(plan.refs)
    newest = _newest_tagged(versions)
    return sorted(
        v.digest
        for v in versions
        if not v.tags and v.digest not in known and not (delete_untagged and _older(v, newest))
    )


def _newest_tagged(versions: Iterable[PackageVersion]) -> datetime | None:
    times = [v.created_at for v in versions if v.tags and v.created_at is not None]
    return max(times) if times else None


def _older(v: PackageVersion, newest: datetime | None) -> bool:
    return newest is not None and v.created_at is not None and v.created_at < newest


def _referrers(
    versions: Iterable[PackageVersion],
    gone: set[str],
    present: set[str],
    policy: PrunePolicy,
) -> dict[str, str]:
    """Versions whose tags are all referrer tags of manifests that go (or no longer exist):
    digest -> the subjects, for the reason. Protected tags and digests stay."""
    out: dict[str, str] = {}
    for v in versions:
        subjects = {referrer_subject(t) for t in v.tags}
        if (
            v.tags
            and None not in subjects
            and all(s in gone or s not in present for s in subjects if s)
            and not set(v.tags) & policy.protect_tags
            and v.digest not in policy.protect_digests
        ):
            out[v.digest] = ", ".join(short_digest(s) for s in sorted(s for s in subjects if s))
    return out


def _phases(deletions: Sequence[VersionDeletion]) -> dict[str, int]:
    """Digest -> how many referrers stand between it and an image: 0 for images, their
    children and referrers; 1 for what a doomed referrers index lists (an SBOM), which goes
    after that index (a child only after its last parent), for referrers of those, and for
    referrers of untagged versions (deleted last in their phase); and so on. Deletions run by
    phase, then images, children, referrers, untagged."""
    by_digest = {d.digest: d for d in deletions}
    out: dict[str, int] = {}

    def phase(d: VersionDeletion, seen: frozenset[str]) -> int:
        if d.digest in out:
            return out[d.digest]
        seen = seen | {d.digest}
        before: list[int] = []
        if d.role == "child":
            for p in d.parents:
                parent = by_digest.get(p)
                if parent is not None and p not in seen:
                    before.append(phase(parent, seen) + (1 if parent.role == "referrer" else 0))
        elif d.role == "referrer":
            for tag in d.tags:
                subject = by_digest.get(referrer_subject(tag) or "")
                if subject is not None and subject.digest not in seen:
                    after = 1 if subject.role == "untagged" else 0  # untagged go last
                    before.append(phase(subject, seen) + after)
        out[d.digest] = max(before, default=0)
        return out[d.digest]

    for d in deletions:
        phase(d, frozenset())
    return out


def plan_ghcr(
    plan: PrunePlan,
    versions: Sequence[PackageVersion],
    *,
    delete_untagged: bool = False,
    untagged_children: Mapping[str, tuple[str, ...]] | None = None,
) -> GhcrPlan:
    """The version deletions that carry out ``plan`` on GHCR. Pure.

    ``versions``: every version of the package (REST). ``untagged_children``: children of the
    untagged indexes read by ``untagged_to_inspect``.
    """
    by_digest = {v.digest: v for v in versions}
    present = set(by_digest)
    refs: dict[str, tuple[str, ...]] = {d: r.children for d, r in plan.refs.items()}
    refs.update(untagged_children or {})
    doomed_images = set(plan.delete_digests)
    # Referrers of doomed images (or of manifests already gone) go with them.
    referrers = _referrers(versions, doomed_images, present, plan.policy)
    doomed = doomed_images | set(referrers)

    # What stays: every tagged version not doomed, protected digests, untagged versions that
    # are not deleted (neither a doomed image's child nor an old orphan under
    # --delete-untagged); and everything they reference.
    newest = _newest_tagged(versions)
    roots = {v.digest for v in versions if v.tags and v.digest not in doomed}
    roots |= set(plan.policy.protect_digests)
    referenced: set[str] = set()  # by a tagged or protected manifest that stays
    for r in roots:
        referenced |= {r} | _children(refs, r)
    doomed_children = {c for x in doomed for c in _children(refs, x)}
    roots |= {  # untagged versions that stay: what they reference stays with them
        v.digest
        for v in versions
        if not v.tags
        and v.digest not in doomed_children
        and not (delete_untagged and _older(v, newest))
    }
    staying: set[str] = set()
    for d in roots:
        staying |= {d} | _children(refs, d)

    children: list[VersionDeletion] = []
    parents_of: dict[str, set[str]] = {}
    for d in doomed:
        for c in _children(refs, d):
            parents_of.setdefault(c, set()).add(d)
    for c in sorted(parents_of):
        child = by_digest.get(c)
        if child is None or c in staying or c in doomed or child.tags:
            continue
        parents = tuple(sorted(parents_of[c]))
        why = f"child of {', '.join(short_digest(p) for p in parents)}, its last parent"
        children.append(VersionDeletion(child.id, c, "child", (), parents, why))
    # Signatures of the children that go (a platform manifest signed on its own).
    more = _referrers(versions, doomed | {c.digest for c in children}, present, plan.policy)
    referrers.update(more)
    doomed |= set(referrers)

    deletions: list[VersionDeletion] = []
    for d in sorted(doomed):
        image = by_digest.get(d)
        if image is None:
            continue  # listed by the registry but not by the API (a version deleted meanwhile)
        if d in referrers:
            deletions.append(
                VersionDeletion(
                    image.id, d, "referrer", image.tags, (), f"referrer of {referrers[d]}"
                )
            )
        else:
            why = f"every tag goes ({', '.join(image.tags)})"
            deletions.append(VersionDeletion(image.id, d, "image", image.tags, (), why))
    deletions += children
    taken = doomed | set(parents_of)
    untagged_kept = 0
    for v in versions:
        if v.tags or v.digest in taken or v.digest in referenced:
            continue
        if delete_untagged and _older(v, newest) and v.digest not in staying:
            deletions.append(
                VersionDeletion(
                    v.id, v.digest, "untagged", (), (), "untagged, referenced by nothing that stays"
                )
            )
        else:
            untagged_kept += 1
    untagged_gone = {d.digest for d in deletions if d.role == "untagged"}
    if untagged_gone:  # their referrers (a signed build left untagged) go with them
        gone = doomed | {c.digest for c in children} | untagged_gone
        for digest, why in sorted(_referrers(versions, gone, present, plan.policy).items()):
            if digest in referrers or digest in untagged_gone:
                continue
            referrers[digest] = why
            v = by_digest[digest]
            deletions.append(
                VersionDeletion(v.id, digest, "referrer", v.tags, (), f"referrer of {why}")
            )
    phase = _phases(deletions)
    deletions.sort(key=lambda x: (phase[x.digest], ROLE_ORDER[x.role], x.digest))

    entries = [*plan.entries, *plan.referrers]  # GHCR deletes referrer tags as versions
    for i, e in enumerate(entries):
        if e.digest in referrers and e.action == KEEP:
            entries[i] = dataclasses.replace(
                e, action=DELETE_MANIFEST, reason=f"referrer of {referrers[e.digest]}, which goes"
            )
    tag_plan = dataclasses.replace(
        plan,
        entries=sort_entries(entries),
        delete_digests=tuple(sorted(doomed_images | set(referrers))),
        referrers=(),
    )
    return GhcrPlan(tag_plan, tuple(deletions), len(versions), untagged_kept)


# -- carrying it out ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionOutcome:
    deletion: VersionDeletion
    status: VersionStatus
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**self.deletion.to_json(), "status": self.status, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class GhcrResult:
    repository: str
    tags: tuple[Outcome, ...]
    versions: tuple[VersionOutcome, ...]
    warnings: tuple[str, ...] = ()
    error: str = ""  # why the run stopped (a permission refusal, Ctrl-C), empty when it did not
    interrupted: bool = False  # stopped by Ctrl-C

    @property
    def complete(self) -> bool:
        ok = ("deleted", "gone", "skipped")
        return (
            not self.error
            and all(o.status in ok for o in self.tags)
            and all(o.status in ok for o in self.versions)
        )

    @property
    def deleted_versions(self) -> tuple[VersionOutcome, ...]:
        return tuple(o for o in self.versions if o.status == "deleted")

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "complete": self.complete,
            "error": self.error or None,
            "deleted_tags": [o.tag for o in self.tags if o.status == "deleted"],
            "deleted_versions": [o.deletion.version_id for o in self.deleted_versions],
            "outcomes": [o.to_json() for o in self.tags],
            "versions": [o.to_json() for o in self.versions],
            "warnings": list(self.warnings),
        }


def inspect_untagged(
    client: RegistryClient, repository: str, digests: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """The children of those of ``digests`` that are indexes (HEAD each, GET the indexes)."""

    def one(digest: str) -> tuple[str, ...]:
        desc = client.resolve(repository, digest)
        if desc is None or desc.media_type not in INDEX_TYPES:
            return ()
        return tuple(c.digest for c in client.get_manifest(repository, digest).children)

    return {d: c for d, c in zip(digests, client.map(one, digests), strict=True) if c}


def plan_package(
    client: RegistryClient,
    api: PackagesAPI,
    repository: str,
    policy: PrunePolicy,
    now: datetime,
    *,
    delete_untagged: bool = False,
    tick: Callable[[], None] | None = None,
    protect_dir: str | None = None,
) -> GhcrPlan:
    """Fetch the tags (registry API, only what the plan uses: ``regkit.ghcr.fetch``) and plan
    as on distribution (deploy markers and ``protect_dir`` protected too), then the versions
    (REST) and their deletions."""
    from regkit.ghcr.fetch import plan_tags

    plan, labels = plan_tags(client, repository, policy, now, tick=tick, protect_dir=protect_dir)
    versions = api.list_versions(repository)
    wanted = untagged_to_inspect(plan, versions, delete_untagged=delete_untagged)
    children = inspect_untagged(client, repository, wanted)
    planned = plan_ghcr(plan, versions, delete_untagged=delete_untagged, untagged_children=children)
    return dataclasses.replace(planned, _record_labels=labels)


def as_prune_result(result: GhcrResult) -> PruneResult:
    """The tag outcomes in the shape of a distribution prune's result (audit records)."""
    return PruneResult(
        repository=result.repository,
        outcomes=result.tags,
        deleted_manifests=tuple(sorted(o.deletion.digest for o in result.deleted_versions)),
        reclaimable_bytes=0,
        warnings=result.warnings,
    )


@dataclass
class _Run:
    client: RegistryClient
    api: PackagesAPI
    plan: GhcrPlan
    warn: Callable[[str], None]
    tick: Callable[[], None]
    on_delete: Callable[[str], None]
    warnings: list[str] = field(default_factory=list)
    error: str = ""
    interrupted: str = ""

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        self.warn(message)


def execute_ghcr(
    client: RegistryClient,
    api: PackagesAPI,
    plan: GhcrPlan,
    *,
    warn: Callable[[str], None] | None = None,
    tick: Callable[[], None] | None = None,
    on_delete: Callable[[str], None] | None = None,
) -> GhcrResult:
    """Carry out ``plan``: version deletions (serial, each re-checked), then tag removals."""
    run = _Run(
        client,
        api,
        plan,
        warn or (lambda _m: None),
        tick or (lambda: None),
        on_delete or (lambda _r: None),
    )
    repo = plan.repository
    removed = plan.plan.removed
    if not removed and not plan.deletions:
        return GhcrResult(repo, (), ())
    deletions = list(plan.deletions)
    saved = _recheck_tags(run, {e.tag for e in removed}, deletions)
    deletions = [d for d in deletions if d.digest not in saved]

    done: dict[str, VersionStatus] = {}
    outcomes: list[VersionOutcome] = []
    for d in deletions:
        try:
            outcome = _delete_one(run, d, done)
        except KeyboardInterrupt:  # Ctrl-C: stop here; what went is reported (and recorded)
            run.error = run.interrupted = INTERRUPTED
            outcome = VersionOutcome(d, "failed", "interrupted: deleted or not")
        done[d.digest] = outcome.status
        outcomes.append(outcome)
        run.tick()
    for digest in sorted(saved):
        for d in plan.deletions:
            if d.digest == digest:
                outcomes.append(VersionOutcome(d, "skipped", "a staying tag points at it now"))

    tag_outcomes: list[Outcome] = []
    for e in removed:
        if e.action == DELETE_MANIFEST:
            status = done.get(e.digest, "skipped" if e.digest in saved else "not-run")
            tag_status = "deleted" if status == "deleted" else status
            tag_outcomes.append(Outcome(e.tag, e.digest, e.action, tag_status, "version deleted"))
    for e in removed:
        if e.action == UNTAG:
            try:
                tag_outcomes.append(_untag(run, e))
            except KeyboardInterrupt:
                run.error = run.interrupted = INTERRUPTED
                tag_outcomes.append(Outcome(e.tag, e.digest, e.action, "failed", INTERRUPTED))
            run.tick()
    order = {e.tag: i for i, e in enumerate(plan.plan.entries)}
    tag_outcomes.sort(key=lambda o: order.get(o.tag, len(order)))
    return GhcrResult(
        repo,
        tuple(tag_outcomes),
        tuple(outcomes),
        tuple(run.warnings),
        run.error,
        interrupted=bool(run.interrupted),
    )


def _recheck_tags(run: _Run, doomed_tags: set[str], deletions: list[VersionDeletion]) -> set[str]:
    """List the tags again: a tag that stays (or was pushed since planning) and now points at a
    manifest planned for deletion, or at an index using one, saves it. Returns saved digests."""
    repo = run.plan.repository
    targets = {d.digest for d in deletions}
    if not targets:
        return set()
    others = [t for t in run.client.tags(repo) if t not in doomed_tags]
    descs = run.client.map(lambda t: run.client.resolve(repo, t), others)
    known = {d: r.children for d, r in run.plan.plan.refs.items()}
    saved: set[str] = set()
    for tag, desc in zip(others, descs, strict=True):
        if desc is None:
            continue
        used = {desc.digest}
        if desc.media_type in INDEX_TYPES:
            kids = known.get(desc.digest)
            if kids is None:
                kids = tuple(c.digest for c in run.client.get_manifest(repo, desc.digest).children)
            used |= set(kids)
        hit = used & targets
        if hit:
            saved |= hit
            run.warning(
                f"{repo}:{tag} now points at {desc.digest}, which uses "
                f"{plural(len(hit), 'manifest')} planned for deletion (a push since planning?); "
                "they stay"
            )
    # A child whose doomed parent was saved stays too.
    for d in deletions:
        if d.role == "child" and set(d.parents) & saved:
            saved.add(d.digest)
    return saved


def _delete_one(run: _Run, d: VersionDeletion, done: Mapping[str, VersionStatus]) -> VersionOutcome:
    repo = run.plan.repository
    if run.error:
        return VersionOutcome(d, "not-run", run.error)
    if d.role == "child" and any(done.get(p) not in ("deleted", "gone") for p in d.parents):
        return VersionOutcome(d, "skipped", "its parent was not deleted: the child stays")
    if d.role == "referrer":  # after its subject; a subject already gone is not planned
        planned = {x.digest for x in run.plan.deletions}
        subjects = {referrer_subject(t) for t in d.tags} & planned
        if any(done.get(s) not in ("deleted", "gone") for s in subjects if s):
            return VersionOutcome(d, "skipped", "the image it refers to stays")
    try:
        now = run.api.get_version(repo, d.version_id)
        if now is None or now.digest != d.digest:
            return VersionOutcome(d, "gone", "deleted meanwhile")
        extra = set(now.tags) - set(d.tags)
        if extra:
            run.warning(
                f"{repo}@{d.digest} (version {d.version_id}) is now tagged "
                f"{', '.join(sorted(extra))} (a push since planning?); left alone"
            )
            return VersionOutcome(d, "skipped", "tagged since planning")
        if not run.api.delete_version(repo, d.version_id):
            return VersionOutcome(d, "gone", "deleted meanwhile")
    except PermissionDeniedError as err:
        run.error = err.message
        return VersionOutcome(d, "failed", err.message)
    except RegkitError as err:
        return VersionOutcome(d, "failed", err.message)
    run.on_delete(f"{repo}@{d.digest}")
    return VersionOutcome(d, "deleted", f"version {d.version_id}")


def _untag(run: _Run, e: TagPlan) -> Outcome:
    """Push a throw-away manifest over ``e.tag``, then delete that throw-away version."""
    repo = run.plan.repository
    if run.error:
        return Outcome(e.tag, e.digest, e.action, "not-run", run.error)
    try:
        desc = run.client.resolve(repo, e.tag)
        if desc is None:
            return Outcome(e.tag, e.digest, e.action, "gone")
        if desc.digest != e.digest:
            run.warning(f"{repo}:{e.tag} moved to {desc.digest} since planning; left alone")
            return Outcome(e.tag, e.digest, e.action, "skipped", "moved since planning")
        config, raw = throwaway_manifest(repo, e.tag)
        run.client.upload_bytes(repo, config)
        digest = run.client.put_manifest(repo, e.tag, raw, OCI_MANIFEST)
        version = run.api.find_version(repo, digest)
        for wait in (1.0, 3.0):  # GitHub may list a version a moment after the push
            if version is not None:
                break
            run.api.sleep(wait)
            version = run.api.find_version(repo, digest)
        if version is None:
            raise RegkitError(
                f"{repo}:{e.tag} points at a throw-away manifest {digest} that GitHub does not "
                "list yet; run the prune again to delete it"
            )
        if set(version.tags) != {e.tag}:
            raise RegkitError(
                f"the throw-away manifest {digest} of {repo}:{e.tag} carries other tags "
                f"({', '.join(version.tags)}); left alone"
            )
        run.api.delete_version(repo, version.id)
    except PermissionDeniedError as err:
        run.error = err.message
        return Outcome(e.tag, e.digest, e.action, "failed", err.message)
    except RegkitError as err:
        return Outcome(e.tag, e.digest, e.action, "failed", err.message)
    run.on_delete(f"{repo}@{digest}")
    return Outcome(e.tag, e.digest, e.action, "deleted", "throw-away manifest pushed, deleted")


__all__ = [
    "GhcrPlan",
    "GhcrResult",
    "VersionDeletion",
    "VersionOutcome",
    "as_prune_result",
    "execute_ghcr",
    "inspect_untagged",
    "plan_ghcr",
    "plan_package",
    "referrer_subject",
    "untagged_to_inspect",
]
