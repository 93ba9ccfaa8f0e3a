"""Copy an image (a manifest, or an index with its children) between repositories and registries.

The manifests are copied byte for byte, so every digest stays what it was. How the blobs
travel depends on where the copy goes (``plan_blobs``, pure):

- the same repository: nothing to copy, the manifest bytes are written to each new tag;
- another repository on the same registry: every blob is mounted (``?mount=&from=``), and only
  a blob whose mount the registry refuses is streamed through us (``BlobMethod.MOUNT``);
- another registry: blobs the target already holds are skipped, the rest are streamed from
  the source to the target in chunks, never whole in memory (``BlobMethod.UPLOAD``).

Then child manifests are written by digest (deepest first: a registry refuses an index whose
children it does not hold) and the top manifest to each tag. Work runs on ``client.map``, so
concurrency is bounded by the client's ``jobs``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from regkit import defaults
from regkit.errors import ConnectionFailedError, NotFoundError, RegistryError
from regkit.registry import Descriptor, Manifest, RegistryClient
from regkit.registry import referrers as refs
from regkit.registry.manifest import OCI_INDEX
from regkit.registry.retry import RETRY_STATUSES, retrying, tries_of, with_tries

#: Layers that registries do not store (Windows base layers); they are never copied.
_FOREIGN_MARKERS = ("foreign", "nondistributable")


class BlobMethod(StrEnum):
    MOUNT = "mount"
    UPLOAD = "upload"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class BlobStep:
    blob: Descriptor
    method: BlobMethod


@dataclass(frozen=True)
class Image:
    """A top manifest and every manifest below it, children before their parents."""

    top: Manifest
    below: tuple[Manifest, ...] = ()

    @property
    def digest(self) -> str:
        return self.top.digest

    @property
    def manifests(self) -> tuple[Manifest, ...]:
        return (*self.below, self.top)

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Configs and layers of every image manifest, each digest once, in manifest order."""
        seen: set[str] = set()
        out: list[Descriptor] = []
        for manifest in self.manifests:
            if manifest.is_index:
                continue
            cfg = manifest.config
            for blob in ([cfg] if cfg else []) + manifest.layers:
                if blob.digest in seen or any(m in blob.media_type for m in _FOREIGN_MARKERS):
                    continue
                seen.add(blob.digest)
                out.append(blob)
        return tuple(out)

    @property
    def platforms(self) -> list[str]:
        """``os/arch`` of each child of an index (attestations' ``unknown/unknown`` left out)."""
        return [
            c.platform
            for c in self.top.children
            if c.platform and not c.platform.startswith("unknown/")
        ]


@dataclass
class CopyStats:
    """What a copy did; the counters are updated from worker threads under a lock."""

    mounted: int = 0
    mount_refused: int = 0
    uploaded: int = 0
    uploaded_bytes: int = 0
    skipped: int = 0
    manifests_written: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def to_json(self) -> dict[str, int]:
        """The counters as the CLI's JSON documents carry them (``blobs`` of promote, sync)."""
        return {
            "mounted": self.mounted,
            "mount_refused": self.mount_refused,
            "uploaded": self.uploaded,
            "uploaded_bytes": self.uploaded_bytes,
            "skipped": self.skipped,
            "manifests_written": self.manifests_written,
        }

    def as_dict(self) -> dict[str, int]:
        """The counters in camelCase (the action's ``blobs`` output)."""
        return {_camel(k): v for k, v in self.to_json().items()}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


# -- pure planning ---------------------------------------------------------------------------


def plan_blobs(
    blobs: Sequence[Descriptor],
    *,
    same_registry: bool,
    same_repository: bool,
    present: Mapping[str, bool] | None = None,
) -> list[BlobStep]:
    """Which blob travels how. ``present`` (cross-registry only): digest -> target has it."""
    if same_repository:
        return []
    if same_registry:
        return [BlobStep(b, BlobMethod.MOUNT) for b in blobs]
    have = present or {}
    return [
        BlobStep(b, BlobMethod.SKIP if have.get(b.digest) else BlobMethod.UPLOAD) for b in blobs
    ]


def manifest_levels(image: Image) -> list[list[Manifest]]:
    """The manifests below the top, grouped so that each group only needs earlier ones."""
    by_digest = {m.digest: m for m in image.below}
    depth: dict[str, int] = {}

    def level(m: Manifest) -> int:
        if m.digest in depth:
            return depth[m.digest]
        below = [by_digest[c.digest] for c in m.children if c.digest in by_digest]
        depth[m.digest] = 1 + max((level(c) for c in below), default=-1)
        return depth[m.digest]

    levels: dict[int, list[Manifest]] = {}
    for m in image.below:
        levels.setdefault(level(m), []).append(m)
    return [levels[k] for k in sorted(levels)]


# -- I/O ---------------------------------------------------------------------------------------


def fetch_image(
    client: RegistryClient, repository: str, ref: str, top: Manifest | None = None
) -> Image:
    """Read a manifest (unless given) and, for an index, every manifest below it."""
    top = top or client.get_manifest(repository, ref)
    below: list[Manifest] = []
    seen = {top.digest}
    frontier = [top]
    while frontier:
        wanted: list[str] = []
        for m in frontier:
            for child in m.children:
                if child.digest not in seen:
                    seen.add(child.digest)
                    wanted.append(child.digest)
        frontier = client.map(lambda d: client.get_manifest(repository, d), wanted)
        below = frontier + below  # deeper levels first
    return Image(top, tuple(below))


def copy_image(
    source: RegistryClient,
    source_repository: str,
    image: Image,
    target: RegistryClient,
    target_repository: str,
    refs: Sequence[str],
    stats: CopyStats | None = None,
) -> CopyStats:
    """Make ``target_repository`` hold ``image`` under each of ``refs`` (tags or its digest)."""
    for ref in refs:
        if ref.startswith("sha256:") and ref != image.digest:
            raise RegistryError(
                f"cannot write {image.digest} as {target_repository}@{ref}: the digests differ"
            )
    stats = stats or CopyStats()
    same_registry = source is target or source.registry == target.registry
    same_repository = same_registry and source_repository == target_repository
    present: dict[str, bool] = {}
    if not same_registry:
        sizes = target.map(lambda b: target.blob_size(target_repository, b.digest), image.blobs)
        present = {b.digest: size is not None for b, size in zip(image.blobs, sizes, strict=True)}
    steps = plan_blobs(
        image.blobs,
        same_registry=same_registry,
        same_repository=same_repository,
        present=present,
    )
    # A fallback upload on the same registry holds two connections of one pool (GET + PUT):
    # at most half the pool does that at once, so the pool can never starve itself.
    streams = threading.BoundedSemaphore(max(1, target.jobs // 2) if same_registry else target.jobs)

    def stream(blob: Descriptor) -> None:
        # A streamed body cannot be sent again, so the transport does not retry it: a
        # transient failure restarts the whole blob copy here, from a fresh source stream.
        def attempt(n: int) -> None:
            if n > 1 and target.blob_size(target_repository, blob.digest) == blob.size:
                return  # the upload landed although its answer was lost
            with streams, source.open_blob(source_repository, blob.digest) as chunks:
                target.upload_blob(target_repository, blob.digest, chunks, blob.size)

        try:
            retrying(
                attempt,
                target.transport.retry,
                f"copy of {blob.digest} to {target_repository}",
                transient=lambda err: isinstance(err, RegistryError) and _transient(err),
                notify=target.transport.notice,
            )
        except RegistryError as err:
            raise with_tries(err, tries_of(err)) from None
        stats.add(uploaded=1, uploaded_bytes=blob.size)

    def run(step: BlobStep) -> None:
        if step.method is BlobMethod.SKIP:
            stats.add(skipped=1)
        elif step.method is BlobMethod.MOUNT:
            if target.mount_blob(target_repository, step.blob.digest, source_repository):
                stats.add(mounted=1)
            else:
                stats.add(mount_refused=1)
                stream(step.blob)
        else:
            stream(step.blob)

    target.map(run, steps)
    if not same_repository:
        for level in manifest_levels(image):
            target.map(lambda m: _put(target, target_repository, m, m.digest, stats), level)
    target.map(lambda ref: _put(target, target_repository, image.top, ref, stats), refs)
    return stats


def _transient(err: RegistryError) -> bool:
    """A failure worth a fresh try: the connection broke, or the registry was busy or down."""
    return isinstance(err, ConnectionFailedError) or err.status in RETRY_STATUSES


def _put(client: RegistryClient, repository: str, m: Manifest, ref: str, stats: CopyStats) -> None:
    client.put_manifest(repository, ref, m.raw, m.media_type)
    stats.add(manifests_written=1)


# -- referrers: what is attached to an image travels with it ---------------------------------


@dataclass
class ReferrerStats:
    """Referrers of the copied images: found in the source and written to the target (a
    referrer already there, and its tag at the same digest, is not written again), by kind."""

    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(refs.KINDS, 0))
    copied: dict[str, int] = field(default_factory=lambda: dict.fromkeys(refs.KINDS, 0))
    indexes_written: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, kind: str, *, copied: bool) -> None:
        with self._lock:
            self.found[kind] += 1
            if copied:
                self.copied[kind] += 1

    def index_written(self) -> None:
        with self._lock:
            self.indexes_written += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "found": dict(self.found),
            "copied": dict(self.copied),
            "indexes_written": self.indexes_written,
        }

    def describe(self, which: str = "copied") -> str:
        """``1 signature, 1 SBOM`` (the kinds with a count), ``none`` without any."""
        return describe_kinds(self.copied if which == "copied" else self.found)


#: ``2 signatures, 1 SBOM``: one copy, in ``regkit.registry.referrers`` (prune's summary uses it)
describe_kinds = refs.describe_kinds


def _descriptor(r: refs.Referrer) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": r.media_type, "digest": r.digest, "size": r.size}
    if r.artifact_type:
        out["artifactType"] = r.artifact_type
    if r.annotations:
        out["annotations"] = dict(r.annotations)
    return out


def referrers_index(entries: Sequence[refs.Referrer]) -> bytes:
    """The referrers tag schema's index listing ``entries`` (an OCI index, as oras writes)."""
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [_descriptor(r) for r in entries],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def copy_referrers(
    source: RegistryClient,
    source_repository: str,
    subject: str,
    target: RegistryClient,
    target_repository: str,
    *,
    source_tags: Sequence[str],
    target_tags: Callable[[], Sequence[str]],
    stats: CopyStats,
    found: ReferrerStats,
) -> None:
    """Copy every referrer of ``subject`` (already in the target) from the source repository to
    the target one, keeping the subject relation: each referrer manifest (and its blobs, as
    ``copy_image`` moves them) by digest, cosign's ``sha256-<hex>.sig``/``.att``/``.sbom`` tags
    as tags, and, unless the target serves the referrers API (where a manifest's ``subject`` is
    enough), the referrers tag schema's ``sha256-<hex>`` index, merged with the one the target
    already has. ``source_tags``: the source's tag list; ``target_tags``: lists the target's
    (called only when there is a referrer to copy).

    A referrer of a referrer (a signed SBOM's signature, an attestation of an SBOM) comes too,
    level by level below the image, at most ``MAX_REFERRER_DEPTH`` levels; one deeper ends the
    copy with the limit's error line (what is above it was copied). Each digest is followed
    once: a registry that lists one again (or lists the image as its own referrer's referrer)
    costs nothing more. Whether a registry serves the referrers API is asked once per walk."""
    walk = _ReferrerWalk(
        source, source_repository, target, target_repository, source_tags, target_tags
    )
    seen = {subject}
    level = [subject]
    depth = 0
    while level:
        depth += 1
        below: list[str] = []
        for digest in level:
            if depth > defaults.MAX_REFERRER_DEPTH:
                if any(r.digest not in seen for r in walk.attached(digest)):
                    raise refs.too_deep(source_repository, subject)
                continue
            for r in walk.copy(digest, stats, found):
                if r not in seen:
                    seen.add(r)
                    below.append(r)
        level = below


class _ReferrerWalk:
    """One ``copy_referrers``: the source's and target's answers it asks once."""

    def __init__(
        self,
        source: RegistryClient,
        source_repository: str,
        target: RegistryClient,
        target_repository: str,
        source_tags: Sequence[str],
        target_tags: Callable[[], Sequence[str]],
    ) -> None:
        self.source, self.source_repository = source, source_repository
        self.target, self.target_repository = target, target_repository
        self.source_tags = source_tags
        self._target_tags = target_tags
        self._have: set[str] | None = None
        self._source_api = True  # until the source says it does not serve it
        self._target_api: bool | None = None

    def have(self) -> set[str]:
        if self._have is None:
            self._have = set(self._target_tags())
        return self._have

    def attached(self, subject: str) -> list[refs.Referrer]:
        """What the source lists for ``subject``: the tag schemes', then the API's."""
        tagged = refs.from_tags(self.source, self.source_repository, subject, self.source_tags)
        served: list[refs.Referrer] = []
        if self._source_api:
            listed = refs.from_api(self.source, self.source_repository, subject)
            self._source_api = listed is not None
            served = listed or []
        return [*tagged, *served]

    def target_serves_api(self, subject: str) -> bool:
        if self._target_api is None:
            answer = refs.from_api(self.target, self.target_repository, subject)
            self._target_api = answer is not None
        return self._target_api

    def copy(self, subject: str, stats: CopyStats, found: ReferrerStats) -> list[str]:
        """Copy the referrers of ``subject``; their digests (copied or already there)."""
        source, target, target_repository = self.source, self.target, self.target_repository
        listed = self.attached(subject)
        cosign_tags = [r for r in listed if r.found == refs.FOUND_COSIGN]
        indexed = {r.digest: r for r in listed if r.found != refs.FOUND_COSIGN}
        if not cosign_tags and not indexed:
            return []  # nothing attached: no more requests
        have = self.have()
        by_tag = {r.digest for r in cosign_tags}
        work = [(r, r.tag or r.digest) for r in cosign_tags]
        work += [(r, r.digest) for r in indexed.values() if r.digest not in by_tag]
        for r, ref in work:
            there = (
                target.resolve(target_repository, ref) if ref in have or ref == r.digest else None
            )
            if there is not None and there.digest == r.digest:
                found.add(r.kind, copied=False)
                continue
            image = fetch_image(source, self.source_repository, r.digest)
            copy_image(
                source, self.source_repository, image, target, target_repository, [ref], stats
            )
            found.add(r.kind, copied=True)
        digests = list(dict.fromkeys(r.digest for r, _ in work))
        if not indexed or self.target_serves_api(subject):
            return digests  # nothing listed by the tag schema, or the target lists referrers
        tag = "sha256-" + subject.removeprefix("sha256:")
        current: list[refs.Referrer] = []
        if tag in have:
            try:
                manifest = target.get_manifest(target_repository, tag)
            except NotFoundError:
                manifest = None
            if manifest is not None:
                what = f"referrers index {target_repository}:{tag}"
                current = (
                    refs.parse_referrers_index(manifest.raw, subject, refs.FOUND_TAG_INDEX, what)
                    or []
                )
        there_now = {r.digest for r in current}
        missing = [r for r in indexed.values() if r.digest not in there_now]
        if missing:
            index = referrers_index([*current, *missing])
            target.put_manifest(target_repository, tag, index, OCI_INDEX)
            stats.add(manifests_written=1)
            found.index_written()
        return digests
