"""Carrying out a prune plan, and removing a single tag without touching its manifest.

Each step is one request the registry applies atomically (a DELETE, a PUT), so a prune that
stops half-way (the registry died, the runner was cancelled) leaves a consistent registry and
a rerun plans the rest. The one two-step operation, the throw-away path, leaves at worst a tag
pointing at a throw-away manifest; the next plan recognises it by its annotation and deletes it.

Removing one tag (``untag``):

- ``DELETE /v2/<repo>/manifests/<tag>`` where the registry supports it (``registry:3`` answers
  202 and removes only that tag);
- distribution 2.8 answers 400 ``DIGEST_INVALID`` (learned once per registry and remembered):
  point the tag at a unique tiny throw-away manifest (an empty image whose config carries a
  label naming the tag and a random nonce), then delete that manifest by digest.

Before any delete the tags are checked again: a staying tag that moved onto a manifest planned
for deletion turns that deletion into tag removals, and a doomed tag that moved is skipped with
a warning (a push happened meanwhile).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from regkit.errors import (
    AuthenticationError,
    ConnectionFailedError,
    NotFoundError,
    RegkitError,
    TLSError,
    UnsupportedError,
)
from regkit.ops.prune.fetch import THROWAWAY_KEY
from regkit.ops.prune.plan import UNTAG, Action, PrunePlan, TagPlan, reclaimable_bytes
from regkit.registry import RegistryClient
from regkit.registry.manifest import OCI_CONFIG, OCI_MANIFEST, sha256_digest

Status = Literal["deleted", "gone", "skipped", "failed", "not-run"]
Hook = Callable[[str], None]

# -- removing one tag ---------------------------------------------------------------------------


class TagDeleteSupport:
    """Whether a registry deletes a tag by name; learned on the first try, then remembered."""

    def __init__(self) -> None:
        self.supported: bool | None = None
        self._lock = threading.Lock()

    def try_delete(self, client: RegistryClient, repository: str, tag: str) -> bool:
        """Delete ``tag`` by name; False (nothing changed) when the registry cannot."""
        with self._lock:
            known = self.supported
            if known is None:  # the first caller probes, the others wait for the answer
                return self._attempt(client, repository, tag)
        return self._attempt(client, repository, tag) if known else False

    def _attempt(self, client: RegistryClient, repository: str, tag: str) -> bool:
        try:
            client.delete_manifest(repository, tag)
        except NotFoundError:
            self.supported = True  # 2.8 would have said DIGEST_INVALID before looking
            return True
        except UnsupportedError as err:
            if err.status == 400 and err.code == "DIGEST_INVALID":
                self.supported = False  # distribution 2.8: no tag delete
                return False
            raise  # 405: deletion disabled on the registry
        self.supported = True
        return True


_SUPPORT: dict[str, TagDeleteSupport] = {}
_SUPPORT_LOCK = threading.Lock()


def tag_delete_support(registry: str) -> TagDeleteSupport:
    with _SUPPORT_LOCK:
        return _SUPPORT.setdefault(registry, TagDeleteSupport())


def throwaway_manifest(repository: str, tag: str, nonce: str | None = None) -> tuple[bytes, bytes]:
    """(config, manifest) of a unique empty image that marks itself as a prune's throw-away."""
    marker = f"{repository}:{tag} {nonce or secrets.token_hex(8)}"
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {THROWAWAY_KEY: marker}},
            "rootfs": {"type": "layers", "diff_ids": []},
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [],
            "annotations": {THROWAWAY_KEY: marker},
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return config, manifest


def delete_digest(client: RegistryClient, repository: str, digest: str) -> bool:
    """DELETE a manifest by digest; False when it was gone already (e.g. a retried DELETE)."""
    try:
        client.delete_manifest(repository, digest)
    except NotFoundError:
        return False
    return True


def remove_tag(
    client: RegistryClient, repository: str, tag: str, *, on_delete: Hook | None = None
) -> str:
    """Remove ``tag`` alone; its manifest and every other tag stay. Returns the way it went."""
    hook = on_delete or (lambda _ref: None)
    if tag_delete_support(client.registry).try_delete(client, repository, tag):
        hook(f"{repository}:{tag}")
        return "deleted by tag"
    config, raw = throwaway_manifest(repository, tag)
    client.upload_bytes(repository, config)
    digest = client.put_manifest(repository, tag, raw, OCI_MANIFEST)
    delete_digest(client, repository, digest)
    hook(f"{repository}@{digest}")
    return "re-pointed at a throw-away manifest, deleted"


# -- executing a plan ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    tag: str
    digest: str
    action: Action
    status: Status
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "digest": self.digest,
            "action": self.action,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class PruneResult:
    repository: str
    outcomes: tuple[Outcome, ...]
    deleted_manifests: tuple[str, ...]
    reclaimable_bytes: int
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def deleted_tags(self) -> tuple[str, ...]:
        return tuple(o.tag for o in self.outcomes if o.status == "deleted")

    @property
    def complete(self) -> bool:
        """Nothing failed or was left undone (skipped tags moved: they are not ours any more)."""
        return all(o.status in ("deleted", "gone", "skipped") for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "complete": self.complete,
            "deleted_tags": list(self.deleted_tags),
            "deleted_manifests": list(self.deleted_manifests),
            "reclaimable_bytes": self.reclaimable_bytes,
            "outcomes": [o.to_json() for o in self.outcomes],
            "warnings": list(self.warnings),
        }


_FATAL = (ConnectionFailedError, AuthenticationError, TLSError)


@dataclass
class _Run:
    client: RegistryClient
    plan: PrunePlan
    warn: Callable[[str], None]
    on_delete: Hook
    tick: Callable[[], None]
    abort: threading.Event = field(default_factory=threading.Event)
    abort_reason: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    warnings: list[str] = field(default_factory=list)
    deleted_manifests: list[str] = field(default_factory=list)
    listed: frozenset[str] = frozenset()

    def warning(self, message: str) -> None:
        with self.lock:
            self.warnings.append(message)
        self.warn(message)

    def fatal(self, err: RegkitError) -> None:
        with self.lock:
            if not self.abort.is_set():
                self.abort_reason = err.message
                self.abort.set()


def execute_plan(
    client: RegistryClient,
    plan: PrunePlan,
    *,
    warn: Callable[[str], None] | None = None,
    on_delete: Hook | None = None,
    tick: Callable[[], None] | None = None,
) -> PruneResult:
    """Carry out ``plan`` (concurrently, bounded by the client's jobs)."""
    run = _Run(
        client,
        plan,
        warn or (lambda _m: None),
        on_delete or (lambda _r: None),
        tick or (lambda: None),
    )
    repo = plan.repository
    delete_digests = set(plan.delete_digests)
    removed = plan.removed
    if not removed:
        return PruneResult(repo, (), (), 0)

    # A tag that stays (or was pushed since planning) and now points at a manifest planned for
    # deletion: delete its doomed tags one by one instead, so the manifest stays.
    doomed = {e.tag for e in removed}
    run.listed = frozenset(client.tags(repo))
    others = [t for t in sorted(run.listed) if t not in doomed]
    for tag, desc in zip(
        others, client.map(lambda t: client.resolve(repo, t), others), strict=True
    ):
        if desc is not None and desc.digest in delete_digests:
            delete_digests.discard(desc.digest)
            run.warning(
                f"{repo}:{tag} now points at {desc.digest}, planned for deletion (a push since "
                "planning?); removing the old tags of that manifest one by one instead"
            )

    units: list[tuple[str, tuple[str, ...]]] = [
        (d, tuple(e.tag for e in removed if e.digest == d)) for d in sorted(delete_digests)
    ]
    units += [("", (e.tag,)) for e in removed if e.digest not in delete_digests]
    by_tag = {e.tag: e for e in removed}

    def do(unit: tuple[str, tuple[str, ...]]) -> list[Outcome]:
        digest, tags = unit
        try:
            if run.abort.is_set():
                return [_outcome(by_tag[t], "not-run", run.abort_reason) for t in tags]
            if digest:
                return _delete_manifest(run, digest, [by_tag[t] for t in tags])
            return [_untag(run, by_tag[tags[0]])]
        except _FATAL as err:
            run.fatal(err)
            return [_outcome(by_tag[t], "failed", err.message) for t in tags]
        except UnsupportedError as err:  # deletion disabled: nothing else will work either
            run.fatal(err)
            return [_outcome(by_tag[t], "failed", err.message) for t in tags]
        except RegkitError as err:
            return [_outcome(by_tag[t], "failed", err.message) for t in tags]
        finally:
            run.tick()

    # Manifest deletes first, all at once. Then tag removals: concurrently where the registry
    # deletes tags by name; one at a time on the throw-away path (distribution 2.8), whose tag
    # link writes can race the registry's own tag lookup inside a concurrent manifest DELETE
    # (which then fails after the manifest went, leaving its tags dangling).
    digest_units = [u for u in units if u[0]]
    tag_units = [u for u in units if not u[0]]
    groups = client.map(do, digest_units)
    if tag_units:
        groups.append(do(tag_units[0]))  # learns whether tags can be deleted by name
        if tag_delete_support(client.registry).supported:
            groups += client.map(do, tag_units[1:])
        else:
            groups += [do(u) for u in tag_units[1:]]
    outcomes = [o for group in groups for o in group]
    if not run.abort.is_set():
        outcomes = _verify(run, outcomes)
    order = {e.tag: i for i, e in enumerate(plan.entries)}
    outcomes.sort(key=lambda o: order[o.tag])
    deleted = tuple(sorted(run.deleted_manifests))
    return PruneResult(
        repository=repo,
        outcomes=tuple(outcomes),
        deleted_manifests=deleted,
        reclaimable_bytes=reclaimable_bytes(plan.refs, deleted),
        warnings=tuple(run.warnings),
    )


def _verify(run: _Run, outcomes: list[Outcome], passes: int = 2) -> list[Outcome]:
    """List the tags once more: a tag reported deleted but still listed is finished alone.

    Distribution can leave a tag behind when a manifest DELETE fails half-way inside the
    registry (the manifest went, its tag links did not: a 500, then a retried DELETE answers
    404). Such a tag still points at what we deleted, or at nothing; it is removed alone.
    """
    repo = run.plan.repository
    by_tag = {e.tag: e for e in run.plan.entries}
    for _ in range(passes):
        listed = set(run.client.tags(repo))
        left = [o for o in outcomes if o.status == "deleted" and o.tag in listed]
        if not left:
            break
        run.listed = frozenset(listed)

        def finish(o: Outcome) -> Outcome:
            entry = by_tag[o.tag]
            desc = run.client.resolve(repo, o.tag)
            if desc is not None and desc.digest not in (entry.digest, *run.deleted_manifests):
                run.warning(f"{repo}:{o.tag} moved to {desc.digest} meanwhile; left alone")
                return _outcome(entry, "skipped", "moved since planning")
            remove_tag(run.client, repo, o.tag, on_delete=run.on_delete)
            return Outcome(o.tag, o.digest, o.action, "deleted", o.detail + "; finished alone")

        try:
            redone = {o.tag: o for o in (finish(o) for o in left)}  # rare: one at a time
        except RegkitError as err:
            bad = {o.tag for o in left}
            return [
                _outcome(by_tag[o.tag], "failed", err.message) if o.tag in bad else o
                for o in outcomes
            ]
        outcomes = [redone.get(o.tag, o) for o in outcomes]
    return outcomes


def _outcome(
    entry: TagPlan, status: Status, detail: str = "", action: Action | None = None
) -> Outcome:
    return Outcome(entry.tag, entry.digest, action or entry.action, status, detail)


def _check(run: _Run, tag: str, digest: str) -> Status | None:
    """None when ``tag`` still points at ``digest`` (or, for a dangling tag planned with no
    digest, is still listed and still resolves to nothing); else why it is left alone."""
    if not digest and tag not in run.listed:
        return "gone"
    desc = run.client.resolve(run.plan.repository, tag)
    if desc is None:
        return None if not digest else "gone"
    if desc.digest != digest:
        run.warning(
            f"{run.plan.repository}:{tag} moved to {desc.digest} since planning (a push "
            "meanwhile?); left alone"
        )
        return "skipped"
    return None


def _delete_manifest(run: _Run, digest: str, entries: list[TagPlan]) -> list[Outcome]:
    checks = [_check(run, e.tag, digest) for e in entries]
    if all(c is not None for c in checks):
        return [
            _outcome(e, c or "skipped", "moved since planning" if c == "skipped" else "")
            for e, c in zip(entries, checks, strict=True)
        ]
    if delete_digest(run.client, run.plan.repository, digest):
        with run.lock:
            run.deleted_manifests.append(digest)
    run.on_delete(f"{run.plan.repository}@{digest}")
    return [
        _outcome(e, c or "deleted", "moved since planning" if c == "skipped" else "by digest")
        for e, c in zip(entries, checks, strict=True)
    ]


def _untag(run: _Run, entry: TagPlan) -> Outcome:
    status = _check(run, entry.tag, entry.digest)
    action: Action = UNTAG
    if status is not None:
        return _outcome(
            entry, status, "moved since planning" if status == "skipped" else "", action
        )
    how = remove_tag(run.client, run.plan.repository, entry.tag, on_delete=run.on_delete)
    return _outcome(entry, "deleted", how, action)


__all__ = [
    "Outcome",
    "PruneResult",
    "TagDeleteSupport",
    "delete_digest",
    "execute_plan",
    "remove_tag",
    "tag_delete_support",
    "throwaway_manifest",
]
