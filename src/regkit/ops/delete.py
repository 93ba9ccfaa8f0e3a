"""Deleting a manifest without losing a tag that should stay, and ``regkit delete``.

A manifest DELETE by digest takes every tag pointing at that digest *when the registry runs
it*. Another client may point a tag there meanwhile (a rollback: ``latest`` back on an old
build) between our last look and the DELETE: that tag would silently go. No registry offers a
conditional delete, so ``delete_keeping`` checks after: it lists the tags again, and a tag that
was listed just before, was not meant to go and vanished pointed at the deleted manifest; it is
put back from the manifest's bytes (the blobs stay until garbage collection). When other
deletions ran at the same time, the tag may have pointed at any of them: it is not guessed, it
is reported with the commands that put it back.

``plan_delete`` (reads only) and ``execute_delete`` carry out the ``delete`` verb:
``REF@DIGEST`` deletes the manifest and every tag on it (the caller shows them and confirms
first); ``REF:TAG`` removes the tag alone when other tags share its manifest (or an index uses
it), and deletes the manifest with it when it was its only tag, so nothing is left untagged.
A deleted index takes its platform manifests with it when nothing else uses them (as prune
does): distribution keeps them otherwise, untagged, and garbage-collect without
--delete-untagged never reclaims them.

Not every registry takes the tags with a manifest DELETE by digest: go-containerregistry's
(``crane registry serve``) removes the digest only and keeps every tag, still serving the
deleted manifest (an index's tags then name an index whose platform manifests are gone). So
the tags meant to go are checked in the listing after the DELETE: one still there and still
naming the deleted manifest is removed by tag (``remove_leftovers``), one moved elsewhere
meanwhile is left alone and not reported as removed, and one the registry keeps anyway is an
error naming it (the manifest is gone, the tag is not).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Literal

from regkit.errors import NotFoundError, RegkitError, UsageError
from regkit.reference import Reference, parse_reference
from regkit.registry import Manifest, RegistryClient
from regkit.registry.manifest import INDEX_TYPES

Warn = Callable[[str], None]


# -- one guarded manifest delete -------------------------------------------------------------


class Windows:
    """The guard windows (just before a DELETE until the tags were listed after it) open at
    once in one run: a tag that vanished while several were open cannot be attributed.

    A window is armed once its DELETE may be sent (at ``open`` by default). A window opened
    unarmed (``arm`` before its DELETE) is not in the way of windows that close before it is
    armed: a platform manifest's window opened right after its index's DELETE returned, before
    the listing that serves as the index's "after" and as its own "before" (``ignore``: the
    index's window, whose DELETE is done and whose listing is the one it starts from)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._active: dict[int, str] = {}
        self._armed: set[int] = set()
        self._overlaps: dict[int, set[str]] = {}
        self._claimed: set[str] = set()

    def open(self, digest: str, *, armed: bool = True, ignore: int | None = None) -> int:
        with self._lock:
            wid = next(self._ids)
            self._overlaps[wid] = {self._active[w] for w in self._armed if w != ignore}
            self._active[wid] = digest
            if armed:
                self._arm(wid)
            return wid

    def arm(self, wid: int) -> None:
        """Its DELETE is about to be sent: every window open now overlaps it."""
        with self._lock:
            self._arm(wid)

    def _arm(self, wid: int) -> None:
        digest = self._active[wid]
        for other in self._active:
            if other != wid:
                self._overlaps[other].add(digest)
        self._armed.add(wid)

    def claim(self, tag: str) -> bool:
        """True for the first window to report ``tag`` lost (each overlapping one sees it)."""
        with self._lock:
            first = tag not in self._claimed
            self._claimed.add(tag)
            return first

    def close(self, wid: int) -> set[str]:
        """The other digests whose windows overlapped this one."""
        with self._lock:
            digest = self._active.pop(wid)
            self._armed.discard(wid)
            return self._overlaps.pop(wid) - {digest}


class Lister:
    """The tag list of one repository, shared by concurrent deletes: ``after(mark())`` gives a
    listing requested after the mark was taken, so deletes that run side by side share their
    listings instead of sending one each.

    One listing is in flight at a time. A caller whose mark is older than the listing in
    flight joins it; a caller that needs a newer one waits for the next, which starts when the
    one in flight ends and serves everyone who asked meanwhile (as a group commit does): with
    16 deletes in flight, a listing per round trip instead of one per delete. A listing taken
    before a DELETE may be the one that followed the same worker's previous DELETE
    (``recent_mark``): each DELETE then waits for one listing, not two."""

    def __init__(self, client: RegistryClient, repository: str) -> None:
        self.client = client
        self.repository = repository
        self._lock = threading.Lock()
        self._seq = 0
        self._latest: tuple[int, Future[frozenset[str]]] | None = None
        self._next: Future[frozenset[str]] | None = None  # starts when _latest ends
        self._local = threading.local()  # per worker: the newest mark it listed after

    def mark(self) -> int:
        with self._lock:
            return self._seq

    def recent_mark(self) -> int:
        """The mark for a listing taken *before* a DELETE: the newest mark this thread listed
        after (the one taken after its previous DELETE), so the listing that followed that
        DELETE serves as this one's; a fresh mark on a thread's first DELETE."""
        last: int | None = getattr(self._local, "mark", None)
        return self.mark() if last is None else last

    def after(self, mark: int) -> frozenset[str]:
        self._local.mark = max(mark, getattr(self._local, "mark", mark))
        waiting_for: Future[frozenset[str]] | None = None
        with self._lock:
            latest = self._latest
            if latest is not None and latest[0] > mark:
                future, mine = latest[1], False  # started after the mark
            elif self._next is not None:
                future, mine = self._next, False  # will start after the mark
            elif latest is not None and not latest[1].done():
                self._next = future = Future()  # next in line, once the one in flight ends
                mine, waiting_for = True, latest[1]
            else:
                self._seq += 1
                future, mine = Future(), True
                self._latest = (self._seq, future)
        if waiting_for is not None:
            wait([waiting_for])  # its outcome is its callers'; this one lists anew
            with self._lock:
                self._seq += 1
                self._latest = (self._seq, future)
                self._next = None
        if mine:
            try:
                future.set_result(frozenset(self.client.tags(self.repository)))
            except BaseException as err:
                future.set_exception(err)
                raise
        return future.result()


@dataclass(frozen=True, slots=True)
class Deletion:
    digest: str
    deleted: bool  # False: it was gone already
    restored: tuple[str, ...] = ()  # tags that went with it though they should stay: put back
    lost: tuple[str, ...] = ()  # ... and could not be put back (see the warning)
    # Of the tags meant to go (``going``): still listed after the DELETE
    untagged: tuple[str, ...] = ()  # ... on the deleted manifest, then removed by tag
    moved: tuple[str, ...] = ()  # ... on another manifest (moved meanwhile): left alone
    stuck: tuple[str, ...] = ()  # ... on the deleted manifest, and the registry kept them
    stuck_reason: str = ""  # why they could not be removed
    listed: frozenset[str] = frozenset()  # the tags listed after the DELETE


def get_manifest_or_none(client: RegistryClient, repository: str, digest: str) -> Manifest | None:
    try:
        return client.get_manifest(repository, digest)
    except NotFoundError:
        return None


def delete_keeping(
    client: RegistryClient,
    repository: str,
    manifest: Manifest,
    staying: Collection[str],
    *,
    warn: Warn,
    windows: Windows | None = None,
    window: int | None = None,
    stand_in: tuple[str, Callable[[], Manifest | None]] | None = None,
    lister: Lister | None = None,
    with_it: Collection[str] = (),
    then: Callable[[], object] | None = None,
) -> Deletion:
    """DELETE ``manifest`` by digest, then put back any tag of ``staying`` (listed just before,
    not meant to go) that vanished with it. ``window`` (from ``windows.open``, taken before the
    tags were listed) is closed here.

    ``with_it``: tags that named ``manifest`` and are meant to go with it. Any still listed after
    the DELETE (a registry that keeps tags on a digest delete) is removed by tag when it still
    names the deleted manifest (``remove_leftovers``); the result says which went that way,
    moved or stuck. (Prune passes none: its own check after the deletes finishes such tags.)

    ``stand_in``: ``manifest`` is a throw-away standing in for a tag, (that tag, a reader of
    the manifest it named). A tag copied from that tag meanwhile got the throw-away; it is put
    back on the image the tag named, not on the empty throw-away.

    ``then``: called once the DELETE succeeded, before the tags are listed after it (prune opens
    the windows of an index's platform manifests there: that listing is their "before")."""
    digest = manifest.digest
    try:
        try:
            client.delete_manifest(repository, digest)
        except NotFoundError:
            return Deletion(digest, False)
        if then is not None:
            then()
        after = set(lister.after(lister.mark()) if lister else client.tags(repository))
    finally:
        others = windows.close(window) if windows is not None and window is not None else set()
    return _settle(
        client,
        repository,
        manifest,
        staying,
        after,
        others,
        warn=warn,
        windows=windows,
        stand_in=stand_in,
        with_it=with_it,
    )


def delete_all_keeping(
    client: RegistryClient,
    repository: str,
    group: Collection[tuple[Manifest, int]],
    staying: Collection[str],
    *,
    warn: Warn,
    windows: Windows,
    lister: Lister,
    run: Callable[
        [Callable[[tuple[Manifest, int]], bool | None], list[tuple[Manifest, int]]],
        list[bool | None],
    ],
) -> list[Deletion | None]:
    """``delete_keeping`` for several manifests at once (an index's platform manifests), with
    one listing after them all: each is DELETEd (``run`` maps over ``group``, concurrently if
    it likes), its window (from ``windows.open``, armed here) closed after that one listing;
    the windows overlap, so a tag that vanished is reported, not guessed. None for one whose
    DELETE failed (the others are still checked)."""
    items = list(group)

    def delete(item: tuple[Manifest, int]) -> bool | None:
        manifest, wid = item
        windows.arm(wid)
        try:
            client.delete_manifest(repository, manifest.digest)
        except NotFoundError:
            return False
        except RegkitError:
            return None
        return True

    try:
        done = run(delete, items)
        after = set(lister.after(lister.mark()))
    finally:
        others = [windows.close(wid) for _m, wid in items]
    return [
        None
        if ok is None
        else _settle(client, repository, m, staying, after, o, warn=warn, windows=windows)
        if ok
        else Deletion(m.digest, False)
        for (m, _wid), ok, o in zip(items, done, others, strict=True)
    ]


def _settle(
    client: RegistryClient,
    repository: str,
    manifest: Manifest,
    staying: Collection[str],
    after: set[str],
    others: set[str],
    *,
    warn: Warn,
    windows: Windows | None,
    stand_in: tuple[str, Callable[[], Manifest | None]] | None = None,
    with_it: Collection[str] = (),
) -> Deletion:
    """After ``manifest``'s DELETE and the listing after it (``after``; ``others``: the digests
    whose windows overlapped its own): put back what vanished with it, or report it."""
    digest = manifest.digest
    vanished = sorted(set(staying) - after)
    restored: list[str] = []
    lost: list[str] = []
    for tag in vanished:
        if others:
            if windows is not None and not windows.claim(tag):
                continue  # an overlapping delete reported it already
            candidates = ", ".join(sorted({digest, *others}))
            warn(
                f"{repository}:{tag} vanished while {candidates} were being deleted: it was "
                "pointed at one of them meanwhile; put it back with 'regkit tag "
                f"REGISTRY/{repository}@DIGEST {tag}' for the right one"
            )
            lost.append(tag)
            continue
        source = manifest
        how = f"{repository}:{tag} pointed at {digest} when it was deleted (it was moved there "
        how += "meanwhile, e.g. a rollback); put back on it"
        try:
            if stand_in is not None:
                found = stand_in[1]()
                if found is None:
                    raise NotFoundError(f"the image {stand_in[0]} named is gone")
                source = found
                how = (
                    f"{repository}:{tag} pointed at the throw-away manifest standing in for "
                    f"{stand_in[0]} when it was deleted (copied from {stand_in[0]} meanwhile, "
                    f"e.g. a rollback); put back on {source.digest}, the image {stand_in[0]} named"
                )
            client.put_manifest(repository, tag, source.raw, source.media_type)
        except RegkitError as err:
            warn(
                f"{repository}:{tag} pointed at {digest} when it was deleted and could not be "
                f"put back ({err.message}); put it back with 'regkit tag "
                f"REGISTRY/{repository}@{digest} {tag}' before garbage collection"
            )
            lost.append(tag)
            continue
        warn(how)
        restored.append(tag)
    leftovers = sorted(set(with_it) & after)
    if not leftovers:
        return Deletion(digest, True, tuple(restored), tuple(lost), listed=frozenset(after))
    untagged, moved, stuck, reason = remove_leftovers(client, repository, digest, leftovers, warn)
    return Deletion(
        digest,
        True,
        tuple(restored),
        tuple(lost),
        untagged,
        moved,
        stuck,
        stuck_reason=reason,
        listed=frozenset(after),
    )


def remove_leftovers(
    client: RegistryClient, repository: str, digest: str, tags: Collection[str], warn: Warn
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]:
    """Tags meant to go with ``digest`` that are still listed after its DELETE: (removed by tag,
    moved to another manifest and left alone, kept by the registry, why they were kept).

    A tag still naming ``digest`` (or nothing) is removed by a DELETE by tag, not by
    ``RegistryClient.delete_tag``: its fallback for registries without tag deletes (a
    throw-away manifest deleted by digest) relies on a digest DELETE taking the tag, which is
    what failed here. The tags are listed once more to confirm."""
    removed: list[str] = []
    moved: list[str] = []
    stuck: list[str] = []
    reason = ""
    for tag in sorted(tags):
        desc = client.resolve(repository, tag)
        if desc is not None and desc.digest != digest:
            warn(
                f"{repository}:{tag} was moved to {desc.digest} while {digest} was being "
                "deleted; it stays there"
            )
            moved.append(tag)
            continue
        try:
            client.delete_manifest(repository, tag)
        except NotFoundError:
            pass  # gone meanwhile
        except RegkitError as err:  # 405, 400 (no tag delete), a connection lost...
            stuck.append(tag)
            reason = reason or err.message
            continue
        removed.append(tag)
    if removed:
        still = set(client.tags(repository)) & set(removed)
        if still:
            stuck.extend(sorted(still))
            removed = [t for t in removed if t not in still]
            reason = reason or f"{client.registry} answered the DELETE by tag but kept the tag"
    return tuple(removed), tuple(moved), tuple(sorted(stuck)), reason


def delete_listed_keeping(
    client: RegistryClient,
    repository: str,
    manifest: Manifest,
    going: Collection[str],
    *,
    warn: Warn,
    windows: Windows | None = None,
    stand_in: tuple[str, Callable[[], Manifest | None]] | None = None,
    lister: Lister | None = None,
    with_it: Collection[str] = (),
) -> Deletion:
    """List the tags, then ``delete_keeping`` with every listed tag not in ``going`` as
    staying (the delete verb and the throw-away path use this); ``with_it``: see there."""
    window = windows.open(manifest.digest) if windows is not None else None
    try:
        listed = set(lister.after(lister.recent_mark()) if lister else client.tags(repository))
    except BaseException:
        if windows is not None and window is not None:
            windows.close(window)
        raise
    return delete_keeping(
        client,
        repository,
        manifest,
        listed - set(going),
        warn=warn,
        windows=windows,
        window=window,
        stand_in=stand_in,
        lister=lister,
        with_it=with_it,
    )


# -- regkit delete ------------------------------------------------------------------------------

Kind = Literal["manifest", "tag", "tag-and-manifest"]


@dataclass(frozen=True, slots=True)
class DeletePlan:
    reference: Reference
    kind: Kind
    digest: str
    tags: tuple[str, ...]  # the tags that go
    others: tuple[str, ...] = ()  # with kind "tag": the tags that stay on the manifest
    index_users: tuple[str, ...] = ()  # with kind "tag": tags of an index using the manifest


@dataclass(frozen=True, slots=True)
class DeleteResult:
    plan: DeletePlan
    deletion: Deletion | None = None
    how: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    children: tuple[str, ...] = ()  # platform manifests of a deleted index, deleted with it

    @property
    def removed_tags(self) -> tuple[str, ...]:
        """The tags of the plan that are gone now (not those moved away meanwhile)."""
        if self.deletion is None:
            return self.plan.tags
        kept = {*self.deletion.moved, *self.deletion.stuck}
        return tuple(t for t in self.plan.tags if t not in kept)


def _usage(
    client: RegistryClient, repository: str, digest: str
) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """(tags on ``digest``, {index digest: its tags} for tagged indexes using it, every tag)."""
    tags = client.tags(repository)
    descs = client.map(lambda t: client.resolve(repository, t), tags)
    found = sorted(t for t, d in zip(tags, descs, strict=True) if d and d.digest == digest)
    indexes = sorted(
        {d.digest for d in descs if d is not None and d.media_type in INDEX_TYPES} - {digest}
    )
    users: dict[str, list[str]] = {}
    for index_digest, manifest in zip(
        indexes, client.map(lambda d: client.get_manifest(repository, d), indexes), strict=True
    ):
        if any(c.digest == digest for c in manifest.children):
            users[index_digest] = sorted(
                t for t, d in zip(tags, descs, strict=True) if d and d.digest == index_digest
            )
    return found, users, tags


def plan_delete(client: RegistryClient, text: str) -> DeletePlan:
    """What ``regkit delete REF`` would do; reads only."""
    ref = parse_reference(text, require_identifier=True)
    repo = ref.repository
    if ref.digest:
        if ref.tag:
            raise UsageError(
                f"give a tag or a digest, not both: {text!r} (a digest deletes every tag on it)"
            )
        if client.resolve(repo, ref.digest) is None:
            raise NotFoundError(f"{ref}: manifest not found on {ref.registry}")
        found, users, _ = _usage(client, repo, ref.digest)
        if users:
            index_digest, index_tags = next(iter(users.items()))
            raise RegkitError(
                f"{repo}@{ref.digest} is a platform manifest of the multi-platform image "
                f"{index_digest} (tags: {', '.join(index_tags)}); deleting it would break that "
                "image; delete the index instead, or remove its tags"
            )
        return DeletePlan(ref, "manifest", ref.digest, tuple(found))
    assert ref.tag is not None
    desc = client.resolve(repo, ref.tag)
    if desc is None:
        raise NotFoundError(f"{ref}: tag not found on {ref.registry}")
    found, users, _ = _usage(client, repo, desc.digest)
    others = tuple(t for t in found if t != ref.tag)
    using = tuple(sorted({t for ts in users.values() for t in ts}))
    if others or using:
        return DeletePlan(ref, "tag", desc.digest, (ref.tag,), others, using)
    return DeletePlan(ref, "tag-and-manifest", desc.digest, (ref.tag,))


def execute_delete(client: RegistryClient, plan: DeletePlan, *, warn: Warn) -> DeleteResult:
    """Carry out ``plan``; the tags are checked again just before the DELETE."""
    said: list[str] = []

    def note(message: str) -> None:
        said.append(message)
        warn(message)

    repo = plan.reference.repository
    if plan.kind == "tag":
        throwaway: list[Deletion] = []

        def named() -> Manifest | None:
            return get_manifest_or_none(client, repo, plan.digest)

        def delete_throwaway(m: Manifest) -> Deletion:
            deletion = delete_listed_keeping(
                client,
                repo,
                m,
                plan.tags,
                warn=note,
                stand_in=(plan.tags[0], named),
                with_it=plan.tags,
            )
            throwaway.append(deletion)
            return deletion

        how = client.delete_tag(repo, plan.tags[0], delete_digest=delete_throwaway)
        if throwaway and throwaway[-1].stuck:
            raise RegkitError(
                f"{plan.reference} still names the throw-away manifest that stood in for it: "
                f"{plan.reference.registry} kept the tag when regkit deleted that manifest and "
                f"would not remove it by tag ({throwaway[-1].stuck_reason}); remove it on the "
                "registry itself"
            )
        return DeleteResult(plan, None, how, tuple(said))
    if plan.kind == "tag-and-manifest":
        desc = client.resolve(repo, plan.tags[0])
        if desc is None:
            raise NotFoundError(f"{plan.reference}: tag not found on {plan.reference.registry}")
        if desc.digest != plan.digest:
            raise RegkitError(
                f"{plan.reference} moved to {desc.digest} meanwhile (a push?); nothing deleted: "
                "run the command again"
            )
    manifest = get_manifest_or_none(client, repo, plan.digest)
    deletion = (
        delete_listed_keeping(client, repo, manifest, plan.tags, warn=note, with_it=plan.tags)
        if manifest is not None
        else None
    )
    if deletion is None or not deletion.deleted:
        raise NotFoundError(
            f"{plan.reference.name}@{plan.digest}: manifest not found on "
            f"{plan.reference.registry} (deleted meanwhile?)"
        )
    assert manifest is not None
    if deletion.stuck:
        raise RegkitError(
            f"deleted {plan.reference.name}@{plan.digest}, but {plan.reference.registry} kept "
            f"its tags {', '.join(deletion.stuck)} and would not remove them by tag "
            f"({deletion.stuck_reason}); they name a deleted manifest: remove them on the "
            "registry itself"
        )
    children = delete_unused_children(client, repo, manifest)
    return DeleteResult(plan, deletion, "by digest", tuple(said), children)


def delete_unused_children(
    client: RegistryClient, repository: str, index: Manifest
) -> tuple[str, ...]:
    """After ``index`` was deleted: delete each of its platform manifests that no tag points at
    and no tagged index lists (read again now); the digests deleted."""
    wanted = {c.digest for c in index.children}
    if not wanted:
        return ()
    tags = client.tags(repository)
    descs = [d for d in client.map(lambda t: client.resolve(repository, t), tags) if d]
    wanted -= {d.digest for d in descs}
    indexes = sorted({d.digest for d in descs if d.media_type in INDEX_TYPES})
    for other in client.map(lambda d: get_manifest_or_none(client, repository, d), indexes):
        if other is not None:
            wanted -= {c.digest for c in other.children}
    ordered = sorted(wanted)

    def delete(digest: str) -> bool:
        try:
            client.delete_manifest(repository, digest)
        except NotFoundError:
            return False
        return True

    done = client.map(delete, ordered)
    return tuple(d for d, ok in zip(ordered, done, strict=True) if ok)


__all__ = [
    "DeletePlan",
    "DeleteResult",
    "Deletion",
    "Lister",
    "Windows",
    "delete_all_keeping",
    "delete_keeping",
    "delete_listed_keeping",
    "delete_unused_children",
    "execute_delete",
    "get_manifest_or_none",
    "plan_delete",
    "remove_leftovers",
]
