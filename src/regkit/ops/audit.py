"""The prune audit trail: one JSON line per removed tag, appended to a file.

Each record says what went and what it was, so a removed image can be identified (and rebuilt
from its revision) later::

    {"time": "2026-03-01T05:23:00Z", "registry": "registry.example.com",
     "repository": "rednaw/hello-world", "tag": "1a2b3c4", "digest": "sha256:...",
     "action": "delete-manifest", "created": "2026-02-23T22:38:17Z",
     "labels": {"revision": "...", "source": "...", "description": "...", "version": null},
     "reclaimable_bytes": 31457280}

``action`` is ``delete-manifest`` (the manifest was deleted by digest, with every doomed tag
on it) or ``untag`` (the tag alone went, the manifest stays for another tag or an index).
``reclaimable_bytes`` is what only that manifest held (0 for ``untag``); tags removed with the
same manifest carry the same number, so sum it per digest, not per line.

The labels are read before anything is deleted (``snapshot_labels``), the records written
after, for the tags that actually went (``prune_records``, pure). ``append_records`` appends
each line with a single ``write`` on a file opened ``O_APPEND`` (mode 0640 when created), so
concurrent writers never interleave within a line.

The record file is never written through a symlink: its last path component is opened with
``O_NOFOLLOW`` (and ``check_record_path`` refuses a symlink, dangling or not, before anything is
deleted), so a link planted where the record goes cannot make a prune append to (or create)
another file. Directories on the way are the caller's choice and are followed.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from regkit.errors import Param, RegistryError, UsageError
from regkit.ops.prune.execute import PruneResult
from regkit.ops.prune.plan import DELETE_MANIFEST, PrunePlan, reclaimable_bytes
from regkit.registry import Manifest, RegistryClient
from regkit.registry.manifest import pick_child

#: Record key -> OCI label read from the image config.
LABELS = {
    "revision": "org.opencontainers.image.revision",
    "source": "org.opencontainers.image.source",
    "description": "org.opencontainers.image.description",
    "version": "org.opencontainers.image.version",
}


@dataclass(frozen=True, slots=True)
class Labels:
    revision: str | None = None
    source: str | None = None
    description: str | None = None
    version: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "revision": self.revision,
            "source": self.source,
            "description": self.description,
            "version": self.version,
        }


def labels_from_config(config: Any) -> Labels:
    """The OCI labels of an image config (absent or malformed: None each)."""
    inner = config.get("config") if isinstance(config, dict) else None
    raw = inner.get("Labels") if isinstance(inner, dict) else None
    found = raw if isinstance(raw, dict) else {}

    def get(key: str) -> str | None:
        value = found.get(LABELS[key])
        return value if isinstance(value, str) else None

    return Labels(get("revision"), get("source"), get("description"), get("version"))


def snapshot_labels(client: RegistryClient, plan: PrunePlan) -> dict[str, Labels]:
    """Labels of every manifest the plan removes a tag from, by digest (read before deleting;
    an image that cannot be read has no labels, never stops the prune)."""
    digests = sorted({e.digest for e in plan.removed if e.digest})
    repo = plan.repository

    def read(digest: str) -> Labels:
        try:
            top: Manifest = client.get_manifest(repo, digest)
            image: Manifest | None = top
            if top.is_index:
                picked = pick_child(top)
                image = client.get_manifest(repo, picked.digest) if picked else None
            if image is None or image.config is None:
                return Labels()
            return labels_from_config(json.loads(client.get_blob(repo, image.config.digest)))
        except (RegistryError, ValueError):
            return Labels()

    return dict(zip(digests, client.map(read, digests), strict=True))


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prune_records(
    registry: str,
    plan: PrunePlan,
    result: PruneResult,
    labels: Mapping[str, Labels],
    now: datetime,
) -> list[dict[str, Any]]:
    """One record per tag the prune removed (status ``deleted``), in plan order."""
    entries = {e.tag: e for e in plan.entries}
    exclusive: dict[str, int] = {}
    out: list[dict[str, Any]] = []
    for outcome in result.outcomes:
        if outcome.status != "deleted":
            continue
        entry = entries[outcome.tag]
        digest = outcome.digest
        reclaim = 0
        if outcome.action == DELETE_MANIFEST and digest:
            if digest not in exclusive:
                exclusive[digest] = reclaimable_bytes(plan.refs, [digest])
            reclaim = exclusive[digest]
        out.append(
            {
                "time": _rfc3339(now),
                "registry": registry,
                "repository": plan.repository,
                "tag": outcome.tag,
                "digest": digest or None,
                "action": outcome.action,
                "created": _rfc3339(entry.created.when) if entry.created else None,
                "labels": labels.get(digest, Labels()).to_json(),
                "reclaimable_bytes": reclaim,
            }
        )
    return out


def append_records(path: str | os.PathLike[str], records: Sequence[Mapping[str, Any]]) -> None:
    """Append ``records`` as JSON lines (created 0640 if missing; one write per line)."""
    if not records:
        return
    target = Path(path)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW, 0o640)
    except OSError as err:
        if err.errno == errno.ELOOP or target.is_symlink():
            raise _symlink_refused(target, before=False) from None
        raise UsageError(
            (
                f"cannot open the record file {target}: {err.strerror or err}; pass a writable "
                "path to ",
                Param("record"),
            )
        ) from None
    try:
        for record in records:
            line = json.dumps(record, sort_keys=True, ensure_ascii=True) + "\n"
            os.write(fd, line.encode())
        os.fsync(fd)
    except OSError as err:
        raise UsageError(f"cannot write the record file {target}: {err.strerror or err}") from None
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Executed:
    results: tuple[PruneResult, ...]
    records: int  # audit lines written
    #: repository -> platform manifests of deleted indexes deleted after them
    children: Mapping[str, tuple[str, ...]]


def execute_recorded(
    client: RegistryClient,
    plans: Sequence[PrunePlan],
    *,
    record: str | os.PathLike[str] | None = None,
    warn: Callable[[str], None] | None = None,
    tick: Callable[[], None] | None = None,
    now: Callable[[], datetime] | None = None,
) -> Executed:
    """Carry out ``plans``, several repositories side by side on the client's ``jobs`` workers
    (``regkit.ops.prune.execute.execute_plans``), each followed by the platform manifests of its
    deleted indexes that nothing uses (``regkit.ops.prune.children``); with ``record``, append
    an audit line per removed tag (labels read before a repository's deletes, its lines written
    after them, in plan order)."""
    from regkit.ops.prune.children import delete_children_after
    from regkit.ops.prune.execute import execute_plans

    clock = now or (lambda: datetime.now(UTC))
    if record is not None:
        check_record_path(record)
    labels: dict[str, dict[str, Labels]] = {}
    after_run: dict[str, tuple[str, ...]] = {}
    children: dict[str, tuple[str, ...]] = {}
    written = 0

    def before(plan: PrunePlan) -> None:
        if record is not None:
            labels[plan.repository] = snapshot_labels(client, plan)

    def after(plan: PrunePlan, result: PruneResult) -> None:
        after_run[plan.repository] = delete_children_after(client, plan, result, warn=warn)

    def done(plan: PrunePlan, result: PruneResult) -> None:  # in plan order
        nonlocal written
        if record is not None:
            mine = labels.get(plan.repository, {})
            lines = prune_records(client.registry, plan, result, mine, clock())
            append_records(record, lines)
            written += len(lines)
        gone = (*result.deleted_children, *after_run.get(plan.repository, ()))
        if gone:
            children[plan.repository] = gone

    results = execute_plans(
        client, plans, warn=warn, tick=tick, before=before, after=after, done=done
    )
    return Executed(tuple(results), written, children)


#: Open flag that refuses a symlink as the last path component (0 where the system has none).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _symlink_refused(target: Path, *, before: bool) -> UsageError:
    when = "nothing was deleted" if before else "the records of this run were not written"
    return UsageError(
        (
            f"refusing to write the record file {target}: it is a symlink; pass the path of the "
            "file itself to ",
            Param("record"),
            f" ({when})",
        )
    )


def check_record_path(path: str | os.PathLike[str]) -> None:
    """Refuse, before anything is deleted, a record file that cannot be appended to."""
    import stat

    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    problem = None
    if target.is_symlink():
        raise _symlink_refused(target, before=True)
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:  # e.g. a path through a regular file, or no permission to look
        mode, problem = None, f"cannot look at it ({err.strerror or err})"
    if problem is not None:
        pass  # already known
    elif mode is not None and stat.S_ISDIR(mode):
        problem = "it is a directory"
    elif mode is not None and not stat.S_ISREG(mode):
        problem = "it is not a regular file"
    elif mode is not None and not os.access(target, os.W_OK):
        problem = "it is not writable"
    elif mode is None and not parent.is_dir():
        problem = f"its directory {parent} does not exist"
    elif mode is None and not os.access(parent, os.W_OK):
        problem = f"its directory {parent} is not writable"
    if problem is not None:
        raise UsageError(
            (
                f"cannot append to the record file {target}: {problem}; pass a writable file "
                "path to ",
                Param("record"),
                " (nothing was deleted)",
            )
        )


__all__ = [
    "LABELS",
    "Executed",
    "Labels",
    "append_records",
    "check_record_path",
    "execute_recorded",
    "labels_from_config",
    "prune_records",
    "snapshot_labels",
]
