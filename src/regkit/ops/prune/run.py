"""The prune as the CLI and the action run it: targets, plans per repository, execution.

Also the single-reference delete of ``regkit delete`` (crane-compatible verb).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from regkit.errors import NotFoundError, RegkitError, UsageError
from regkit.ops.prune.execute import Hook, PruneResult, delete_digest, execute_plan, remove_tag
from regkit.ops.prune.fetch import fetch_repository
from regkit.ops.prune.plan import PrunePlan, PrunePolicy, plan_prune
from regkit.ops.prune.protect import Protection, load_protect_file
from regkit.reference import (
    parse_reference,
    validate_digest,
    validate_host,
    validate_repository,
    validate_tag,
)
from regkit.registry import RegistryClient
from regkit.registry.manifest import INDEX_TYPES


def build_policy(
    *,
    match: str | None,
    keep: int | None,
    older_than: str | None,
    protect_tags: Iterable[str] = (),
    protect_digests: Iterable[str] = (),
    protect_files: Iterable[str] = (),
) -> PrunePolicy:
    """A policy from user input, every value checked (UsageError naming the bad one)."""
    from regkit.ops.prune.plan import DEFAULT_KEEP, DEFAULT_MATCH
    from regkit.timeparse import parse_duration

    protection = Protection(
        frozenset(validate_tag(t) for t in protect_tags),
        frozenset(validate_digest(d) for d in protect_digests),
    )
    for path in protect_files:
        protection = protection | load_protect_file(path)
    return PrunePolicy(
        match=DEFAULT_MATCH if match is None else match,
        keep=DEFAULT_KEEP if keep is None else keep,
        older_than=parse_duration(older_than) if older_than else None,
        older_than_text=older_than.strip() if older_than else None,
        protect_tags=protection.tags,
        protect_digests=protection.digests,
    )


@dataclass(frozen=True, slots=True)
class Target:
    registry: str
    repositories: tuple[str, ...]  # empty with all_repos: the whole catalog
    all_repos: bool = False


def targets(repos: Sequence[str], all_repos: Sequence[str] = ()) -> list[Target]:
    """Group ``HOST/REPO`` arguments by registry; ``all_repos`` hosts take their catalog."""
    grouped: dict[str, list[str]] = {}
    for text in repos:
        ref = parse_reference(text)
        if ref.tag or ref.digest:
            raise UsageError(
                f"prune takes repositories, not images: drop the tag or digest from {text!r}"
            )
        grouped.setdefault(ref.registry, [])
        if ref.repository not in grouped[ref.registry]:
            grouped[ref.registry].append(ref.repository)
    out = [Target(h, tuple(r)) for h, r in grouped.items() if h not in all_repos]
    out += [Target(validate_host(h), (), True) for h in dict.fromkeys(all_repos)]
    if not out:
        raise UsageError("name at least one repository (HOST/REPO) or pass --all-repos HOST")
    return out


def plan_target(
    client: RegistryClient,
    target: Target,
    policy: PrunePolicy,
    now: datetime,
    *,
    tick: Callable[[], None] | None = None,
) -> list[PrunePlan]:
    """One plan per repository of ``target``, in catalog (or argument) order."""
    names = list(target.repositories)
    if target.all_repos:
        names = client.catalog()
    plans = []
    for name in names:
        validate_repository(name)
        try:
            state = fetch_repository(
                client, name, protect_digests=policy.protect_digests, tick=tick
            )
        except NotFoundError:
            if not target.all_repos:
                raise
            continue  # listed in the catalog, gone since (or never had a tag)
        plans.append(
            plan_prune(list(state.tags), policy, now, untagged=state.untagged, repository=name)
        )
    return plans


def execute_plans(
    client: RegistryClient,
    plans: Sequence[PrunePlan],
    *,
    warn: Callable[[str], None] | None = None,
    on_delete: Hook | None = None,
    tick: Callable[[], None] | None = None,
) -> list[PruneResult]:
    return [execute_plan(client, plan, warn=warn, on_delete=on_delete, tick=tick) for plan in plans]


# -- regkit delete -----------------------------------------------------------------------------


def tags_pointing_at(client: RegistryClient, repository: str, digest: str) -> list[str]:
    """Every tag of ``repository`` whose manifest is ``digest``; refuses a platform manifest
    of a tagged index (deleting it would break that image)."""
    tags = client.tags(repository)
    descs = client.map(lambda t: client.resolve(repository, t), tags)
    found = sorted(
        t for t, d in zip(tags, descs, strict=True) if d is not None and d.digest == digest
    )
    indexes = sorted(
        {d.digest for d in descs if d is not None and d.media_type in INDEX_TYPES} - {digest}
    )
    for index_digest, manifest in zip(
        indexes, client.map(lambda d: client.get_manifest(repository, d), indexes), strict=True
    ):
        if any(c.digest == digest for c in manifest.children):
            users = [t for t, d in zip(tags, descs, strict=True) if d and d.digest == index_digest]
            raise RegkitError(
                f"{repository}@{digest} is a platform manifest of the multi-platform image "
                f"{index_digest} (tags: {', '.join(users)}); deleting it would break that "
                "image; delete the index instead, or remove its tags"
            )
    return found


def delete_reference(
    client: RegistryClient, text: str, *, on_delete: Hook | None = None
) -> tuple[str, str, list[str]]:
    """``regkit delete REF``: ("manifest", digest, tags that went) or ("tag", digest, [tag])."""
    ref = parse_reference(text, require_identifier=True)
    repo = ref.repository
    if ref.digest:
        if ref.tag:
            raise UsageError(
                f"give a tag or a digest, not both: {text!r} (a digest deletes every tag on it)"
            )
        if client.resolve(repo, ref.digest) is None:
            raise NotFoundError(f"{ref}: manifest not found on {ref.registry}")
        tags = tags_pointing_at(client, repo, ref.digest)
        if not delete_digest(client, repo, ref.digest):
            raise NotFoundError(f"{ref}: manifest not found on {ref.registry}")
        if on_delete:
            on_delete(f"{repo}@{ref.digest}")
        return "manifest", ref.digest, tags
    assert ref.tag is not None
    desc = client.resolve(repo, ref.tag)
    if desc is None:
        raise NotFoundError(f"{ref}: tag not found on {ref.registry}")
    remove_tag(client, repo, ref.tag, on_delete=on_delete)
    return "tag", desc.digest, [ref.tag]


__all__ = [
    "Target",
    "build_policy",
    "delete_reference",
    "execute_plans",
    "plan_target",
    "tags_pointing_at",
    "targets",
]
