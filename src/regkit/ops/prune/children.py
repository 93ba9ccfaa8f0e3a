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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from regkit.errors import RegkitError
from regkit.ops.delete import Lister, Windows, delete_listed_keeping, get_manifest_or_none
from regkit.ops.prune.execute import PruneResult
from regkit.ops.prune.plan import PrunePlan
from regkit.registry import RegistryClient


def orphaned_children(plan: PrunePlan, deleted: Iterable[str]) -> tuple[str, ...]:
    """Platform manifests of the ``deleted`` indexes that nothing staying references (pure)."""
    gone = set(deleted)
    staying = [r for d, r in plan.refs.items() if d not in gone]
    used = {c for r in staying for c in r.children} | {r.digest for r in staying}
    used |= {e.digest for e in plan.kept} | set(plan.policy.protect_digests)
    out: set[str] = set()
    for digest in gone:
        refs = plan.refs.get(digest)
        if refs is not None:
            out |= {c for c in refs.children if c not in used}
    return tuple(sorted(out))


def delete_orphaned_children(
    client: RegistryClient,
    plan: PrunePlan,
    result: PruneResult,
    *,
    warn: Callable[[str], None] | None = None,
) -> tuple[str, ...]:
    """Delete the platform manifests ``orphaned_children`` names; the digests deleted."""
    handled = set(result.deleted_children)  # deleted right after their index already
    candidates = [c for c in orphaned_children(plan, result.deleted_manifests) if c not in handled]
    if not candidates:
        return ()
    repo = plan.repository
    wanted = set(candidates)
    tags = client.tags(repo)
    for tag, desc in zip(tags, client.map(lambda t: client.resolve(repo, t), tags), strict=True):
        if desc is not None and desc.digest in wanted:
            wanted.discard(desc.digest)
            if warn:
                warn(
                    f"{repo}:{tag} points at {desc.digest}, a platform manifest of a deleted "
                    "index (pushed since planning?); left it"
                )
    ordered = sorted(wanted)
    lister = Lister(client, repo)
    windows = Windows()

    def delete(digest: str) -> bool:
        """False when it was gone already (e.g. a retried DELETE)."""
        # the bytes (to put back a tag that went with it) as planning read them, else read now
        manifest = plan.sources.get(digest) or get_manifest_or_none(client, repo, digest)
        if manifest is None:
            return False
        return delete_listed_keeping(
            client,
            repo,
            manifest,
            (),
            warn=warn or (lambda _m: None),
            windows=windows,
            lister=lister,
        ).deleted

    done = client.map(delete, ordered)
    return tuple(d for d, ok in zip(ordered, done, strict=True) if ok)


def delete_children_after(
    client: RegistryClient,
    plan: PrunePlan,
    result: PruneResult,
    *,
    warn: Callable[[str], None] | None = None,
) -> tuple[str, ...]:
    """``delete_orphaned_children`` after a run, complete or partial (a rerun plans from the
    tags and cannot find the platform manifests of indexes this run deleted); a failure is a
    warning, not an error: the prune itself is done."""
    if not result.deleted_manifests:
        return ()
    try:
        return delete_orphaned_children(client, plan, result, warn=warn)
    except RegkitError as err:
        if warn:
            warn(
                f"{plan.repository}: platform manifests of deleted indexes left ({err.message}); "
                "'regkit check --storage DIR' on the registry host lists them"
            )
        return ()


__all__ = ["delete_children_after", "delete_orphaned_children", "orphaned_children"]
