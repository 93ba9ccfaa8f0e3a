"""Targets, policy and plans per repository (the loop around them: ``regkit.ops.prune.session``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from regkit.errors import NotFoundError, Param, RegkitError, UsageError
from regkit.ops.prune.execute import (
    Hook,
)
from regkit.ops.prune.fetch import fetch_repositories
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


def build_policy(
    *,
    match: str | None,
    keep: int | None,
    older_than: str | None,
    protect_tags: Iterable[str] = (),
    protect_digests: Iterable[str] = (),
    protect_files: Iterable[str] = (),
    unprotect: Iterable[str] = (),
    force: bool = False,
) -> PrunePolicy:
    """A policy from user input, every value checked (UsageError naming the bad one).

    ``unprotect``: tags taken out of the built-in protection (``latest``, release tags and
    aliases, ``deployed-*``), by exact name. ``force``: allow ``keep`` 0 with the default
    ``match`` and no ``older_than`` (every short-SHA tag would go, the newest build included)."""
    from regkit.ops.prune.plan import DEFAULT_KEEP, DEFAULT_MATCH
    from regkit.timeparse import parse_duration

    protection = Protection(
        frozenset(validate_tag(t) for t in protect_tags),
        frozenset(validate_digest(d) for d in protect_digests),
    )
    for path in protect_files:
        protection = protection | load_protect_file(path).because(f"deploy file {path}")
    if keep == 0 and match is None and not older_than and not force:
        raise UsageError(
            (
                Param("keep"),
                " 0 with the default ",
                Param("match"),
                " deletes every short-SHA tag, the newest build included; keep at least 1, add ",
                Param("older-than"),
                " or a narrower ",
                Param("match"),
                ", or ",
                Param("force", ask=True),
                " to delete them all",
            )
        )
    return PrunePolicy(
        match=DEFAULT_MATCH if match is None else match,
        keep=DEFAULT_KEEP if keep is None else keep,
        older_than=parse_duration(older_than) if older_than else None,
        older_than_text=older_than.strip() if older_than else None,
        protect_tags=protection.tags,
        protect_digests=protection.digests,
        protect_reasons=protection.reasons,
        unprotect=frozenset(validate_tag(t) for t in unprotect),
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
        raise UsageError(
            ("name at least one repository (HOST/REPO) or ", Param("all-repos", "HOST", ask=True))
        )
    return out


def plan_target(
    client: RegistryClient,
    target: Target,
    policy: PrunePolicy,
    now: datetime,
    *,
    tick: Callable[[], None] | None = None,
    protect_dir: str | None = None,
) -> list[PrunePlan]:
    """One plan per repository of ``target``, in catalog (or argument) order.

    Per repository, the policy also protects what ``protect_dir`` names for it
    (``regkit.ops.prune.deploydir``); the plan adds the built-in protection (``latest``,
    releases, ``deployed-*`` markers, and every tag on their digests)."""
    from concurrent.futures import ThreadPoolExecutor

    from regkit.ops.prune.children import with_untagged_referrers
    from regkit.ops.prune.deploydir import deploy_dir_protection, with_protection
    from regkit.ops.prune.execute import repositories_at_once

    names = list(target.repositories)
    if target.all_repos:
        names = client.catalog()
    policies = {}
    for name in names:
        validate_repository(name)
        repo_policy = policy
        if protect_dir is not None:
            repo_policy = with_protection(policy, deploy_dir_protection(protect_dir, name))
        policies[name] = repo_policy
    # the repositories are read side by side (regkit.ops.prune.fetch.fetch_repositories)
    protect = {name: p.protect_digests for name, p in policies.items()}
    states = fetch_repositories(client, names, protect_digests=protect, tick=tick)
    plans = []
    for name, state in zip(names, states, strict=True):
        if isinstance(state, NotFoundError):
            if not target.all_repos:
                raise state
            continue  # listed in the catalog, gone since (or never had a tag)
        plan = plan_prune(
            list(state.tags), policies[name], now, untagged=state.untagged, repository=name
        )
        plans.append(dataclasses.replace(plan, sources=state.manifests, labels=state.labels))
    if len(plans) <= 1:
        return [with_untagged_referrers(client, p) for p in plans]  # what only the API lists
    # asked per repository side by side (each on the client's workers), in plan order
    with ThreadPoolExecutor(repositories_at_once(client.jobs, len(plans))) as pool:
        return list(pool.map(lambda p: with_untagged_referrers(client, p), plans))


def delete_reference(
    client: RegistryClient,
    text: str,
    *,
    on_delete: Hook | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[str, str, list[str]]:
    """``regkit delete REF`` without asking (callers that confirmed, or scripts): ("manifest",
    digest, tags that went) or ("tag", digest, [tag]). A tag that was its manifest's only tag
    takes the manifest with it ("manifest"). See ``regkit.ops.delete`` for plan and execute."""
    from regkit.ops.delete import execute_delete, plan_delete

    plan = plan_delete(client, text)
    result = execute_delete(client, plan, warn=warn or (lambda _m: None))
    repo = plan.reference.repository
    if on_delete is not None:
        on_delete(f"{repo}@{plan.digest}" if plan.kind != "tag" else f"{repo}:{plan.tags[0]}")
    if result.deletion is not None and result.deletion.lost:
        raise RegkitError(
            f"tags {', '.join(result.deletion.lost)} of {repo} went with {plan.digest} and were "
            "not put back (see the warnings)"
        )
    kind = "tag" if plan.kind == "tag" else "manifest"
    return kind, plan.digest, list(result.removed_tags)  # not a tag moved away meanwhile


__all__ = [
    "Target",
    "build_policy",
    "delete_reference",
    "plan_target",
    "targets",
]
