"""``regkit sync``: every (matching) tag of one repository copied to another, by digest.

``plan_sync`` (pure) decides per tag from the digests of both sides: ``create`` (the
destination has no such tag), ``update`` (it points at another digest) or ``unchanged``.
``sync`` reads both tag lists, resolves every matching source tag and every destination tag
that exists with one HEAD each (an unchanged tag costs one HEAD per side and nothing else),
then copies each distinct digest once through ``regkit.ops.copy`` (blobs mounted within a
registry, streamed across registries) and writes all its tags, several digests at a time.

With ``referrers``: the referrer tags (``sha256-<hex>``, ``sha256-<hex>.sig`` ...) are not
synced as tags of their own; every synced image (changed or not) gets its referrers copied
after it (``regkit.ops.copy.copy_referrers``: those already there are not written again).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from regkit import patterns
from regkit.errors import NotFoundError, UsageError
from regkit.ops.copy import CopyStats, ReferrerStats, copy_image, copy_referrers, fetch_image
from regkit.reference import Reference
from regkit.registry import Descriptor, RegistryClient
from regkit.registry.referrers import classify_tag

#: Digests copied at once; each copy spreads its blobs over the destination's ``jobs``.
DIGESTS_AT_ONCE = 4


class SyncAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class SyncItem:
    tag: str
    digest: str
    action: SyncAction
    old_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "digest": self.digest,
            "action": self.action.value,
            "old_digest": self.old_digest,
        }


@dataclass
class SyncResult:
    source: Reference
    destination: Reference
    items: tuple[SyncItem, ...]
    dry_run: bool
    skipped: tuple[str, ...] = ()  # tags that vanished from the source while listing
    stats: CopyStats = field(default_factory=CopyStats)
    referrers: ReferrerStats | None = None  # with referrers=True

    @property
    def writes(self) -> tuple[SyncItem, ...]:
        return tuple(i for i in self.items if i.action is not SyncAction.UNCHANGED)

    def count(self, action: SyncAction) -> int:
        return sum(1 for i in self.items if i.action is action)

    def summary(self) -> str:
        verb = "would sync" if self.dry_run else "synced"
        text = (
            f"{verb} {len(self.items)} tag{'s' if len(self.items) != 1 else ''} "
            f"from {self.source} to {self.destination}: "
            f"{self.count(SyncAction.CREATE)} created, {self.count(SyncAction.UPDATE)} updated, "
            f"{self.count(SyncAction.UNCHANGED)} unchanged"
        )
        if not self.dry_run and self.writes:
            s = self.stats
            text += (
                f"; blobs: {s.mounted} mounted, {s.uploaded} uploaded "
                f"({s.uploaded_bytes} bytes), {s.skipped} already there"
            )
        r = self.referrers
        if r is not None and not self.dry_run and any(r.found.values()):
            text += f"; attached: {r.describe('found')} ({sum(r.copied.values())} copied)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "destination": str(self.destination),
            "dry_run": self.dry_run,
            "tags": [i.to_json() for i in self.items],
            "created": self.count(SyncAction.CREATE),
            "updated": self.count(SyncAction.UPDATE),
            "unchanged": self.count(SyncAction.UNCHANGED),
            "blobs": self.stats.to_json(),
            "referrers": None if self.referrers is None else self.referrers.to_json(),
        }


def compile_match(pattern: str | None) -> re.Pattern[str] | None:
    """``pattern`` compiled with prune's guards (``regkit.patterns``); None without one."""
    return None if pattern is None else patterns.compile_match(pattern)


def select_tags(tags: Sequence[str], match: re.Pattern[str] | None) -> list[str]:
    """The tags ``match`` finds (``re.search``, within ``regkit.patterns``' time budget),
    sorted by name; all without one."""
    return sorted(tags if match is None else patterns.matching_tags(match, tags))


def plan_sync(source: Mapping[str, str], destination: Mapping[str, str | None]) -> list[SyncItem]:
    """Pure: per source tag (in order), create, update or leave the destination tag."""
    items: list[SyncItem] = []
    for tag, digest in source.items():
        old = destination.get(tag)
        if old == digest:
            items.append(SyncItem(tag, digest, SyncAction.UNCHANGED, old))
        elif old is None:
            items.append(SyncItem(tag, digest, SyncAction.CREATE))
        else:
            items.append(SyncItem(tag, digest, SyncAction.UPDATE, old))
    return items


def writes_by_digest(items: Sequence[SyncItem]) -> dict[str, list[str]]:
    """Digest -> the tags to write with it, in plan order."""
    groups: dict[str, list[str]] = {}
    for i in items:
        if i.action is not SyncAction.UNCHANGED:
            groups.setdefault(i.digest, []).append(i.tag)
    return groups


def _list(client: RegistryClient, repository: str, *, required: bool) -> list[str]:
    try:
        return client.tags(repository)
    except NotFoundError:
        if required:
            raise NotFoundError(
                f"repository {client.registry}/{repository} not found; "
                "check the name with 'regkit catalog'"
            ) from None
        return []


def _heads(client: RegistryClient, repository: str, tags: Sequence[str]) -> dict[str, str | None]:
    def head(tag: str) -> str | None:
        try:
            found: Descriptor | None = client.resolve(repository, tag)
        except NotFoundError:
            found = None
        return found.digest if found else None

    return dict(zip(tags, client.map(head, tags), strict=True))


def sync(
    source_client: RegistryClient,
    source: Reference,
    destination_client: RegistryClient,
    destination: Reference,
    *,
    match: re.Pattern[str] | None = None,
    dry_run: bool = False,
    on_stage: Callable[[str, int], None] | None = None,
    on_item: Callable[[], None] | None = None,
    referrers: bool = False,
) -> SyncResult:
    """Plan, then (unless ``dry_run``) copy every tag that differs. Idempotent. ``referrers``:
    each image's referrers come with it, referrer tags are not synced on their own."""
    stage = on_stage or (lambda _label, _total: None)
    tick = on_item or (lambda: None)
    if (source.registry, source.repository) == (destination.registry, destination.repository):
        raise UsageError(f"source and destination are the same repository ({source.name})")
    source_tags = _list(source_client, source.repository, required=True)
    listed = [t for t in source_tags if classify_tag(t) is None] if referrers else source_tags
    wanted = select_tags(listed, match)
    destination_tags = _list(destination_client, destination.repository, required=False)
    present = set(destination_tags)
    stage("reading tags", len(wanted))
    src_digests = _heads(source_client, source.repository, wanted)
    dst_digests = _heads(
        destination_client, destination.repository, [t for t in wanted if t in present]
    )
    found = {t: d for t, d in src_digests.items() if d is not None}
    vanished = tuple(t for t, d in src_digests.items() if d is None)
    result = SyncResult(
        source, destination, tuple(plan_sync(found, dst_digests)), dry_run, vanished
    )
    groups = writes_by_digest(result.items)
    if referrers:
        result.referrers = ReferrerStats()
        if not dry_run:
            for digest in found.values():
                groups.setdefault(digest, [])  # unchanged: its referrers may be new
    if dry_run or not groups:
        return result
    stage("copying tags", len(result.writes))
    lock = threading.Lock()

    def copy(item: tuple[str, list[str]]) -> None:
        digest, tags = item
        if tags:
            image = fetch_image(source_client, source.repository, digest)
            copy_image(
                source_client,
                source.repository,
                image,
                destination_client,
                destination.repository,
                tags,
                result.stats,
            )
        if result.referrers is not None:
            copy_referrers(
                source_client,
                source.repository,
                digest,
                destination_client,
                destination.repository,
                source_tags=source_tags,
                target_tags=lambda: destination_tags,
                stats=result.stats,
                found=result.referrers,
            )
        with lock:
            for _ in tags:
                tick()

    with ThreadPoolExecutor(min(DIGESTS_AT_ONCE, len(groups))) as pool:
        futures = [pool.submit(copy, g) for g in groups.items()]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return result


__all__ = [
    "SyncAction",
    "SyncItem",
    "SyncResult",
    "compile_match",
    "plan_sync",
    "select_tags",
    "sync",
    "writes_by_digest",
]
