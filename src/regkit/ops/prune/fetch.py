"""Everything the planner needs from the repositories of one registry, fetched concurrently.

Requests: one tag list per repository; one GET per tag (manifest and digest in one answer);
one GET per distinct platform manifest of the indexes; one GET per distinct config needed for
a created time (one child per index). Each tag is a chain of these on a worker, content shared
by tags of a repository is fetched once (``regkit.ops.once``). Sizes come from the
descriptors, so no blob is HEADed. Protected digests that no tag points at are fetched too, so
their platform manifests count as staying.

Several repositories are read side by side (``fetch_repositories``), like the overview: the
tag lists of all of them in one round, then the chains of all their tags, every request on the
client's workers (``RegistryClient.map``), so ``jobs`` bounds the requests in flight across
repositories as it does within one.

What is kept: per manifest its bytes, media type and digest (a put-back or a DELETE needs
them; not the parsed body), the digests of its platform manifests and its blob sizes; per
config, the fields a created time, the labels and the throw-away test read (``_trim_config``).
Peak memory follows the number of manifests by their bytes, not by their parsed bodies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from regkit import imagemeta
from regkit.errors import NotFoundError, RegistryError
from regkit.ops.once import Once
from regkit.ops.prune.plan import Blob, ImageRefs, TagInfo
from regkit.registry import Manifest, RegistryClient
from regkit.registry.manifest import pick_child
from regkit.registry.referrers import classify_tag
from regkit.registry.throwaway import THROWAWAY_KEY, has_marker, is_throwaway
from regkit.timeparse import CreatedTime

CREATED_LABEL = imagemeta.CREATED_LABEL


@dataclass(frozen=True, slots=True)
class RepositoryState:
    repository: str
    tags: tuple[TagInfo, ...]
    #: manifests no tag points at that exist and stay: protected digests, and subjects of
    #: referrer tags found untagged (their referrers are no orphans)
    untagged: tuple[ImageRefs, ...]
    #: digest -> every manifest read (bytes, media type, digest; the body is parsed again
    #: where it is needed): what a put-back or a platform manifest's DELETE needs
    manifests: Mapping[str, Manifest] = field(default_factory=dict, compare=False, repr=False)
    #: digest -> OCI labels of the image a tag points at (``oci_labels``), from the configs
    #: already read for the created time: no request of its own
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Facts:
    """What planning keeps of one manifest read: its bytes (``source``, not parsed), the
    digests of its platform manifests (an index), the descriptors it lists (digest, size) and
    its own blobs as an image (``image_blobs``)."""

    source: Manifest
    children: tuple[str, ...] = ()
    listed: tuple[Blob, ...] = ()
    image: tuple[Blob, ...] = ()

    @classmethod
    def of(cls, manifest: Manifest) -> Facts:
        kids = manifest.children
        return cls(
            Manifest(manifest.raw, manifest.media_type, manifest.digest),  # no parsed body
            tuple(c.digest for c in kids),
            tuple((c.digest, c.size) for c in kids),
            tuple(image_blobs(manifest)),
        )

    @property
    def digest(self) -> str:
        return self.source.digest

    def parsed(self) -> Manifest:
        """The manifest, parsed again (dropped after use)."""
        return Manifest(self.source.raw, self.source.media_type, self.source.digest)


def created_of(
    manifest: Manifest, image: Manifest | None, config: Mapping[str, Any] | None
) -> CreatedTime | None:
    """The label ``org.opencontainers.image.created``, then the config's ``created``, then the
    annotations of the image, then of the index (``regkit.imagemeta``, as overview)."""
    index = manifest if manifest.is_index else None
    return imagemeta.created_time(config, image if image is not None else manifest, index)


def tag_info(
    repository: str,
    tag: str,
    manifest: Manifest,
    image: Manifest | None,
    config: dict[str, Any] | None,
    refs: ImageRefs,
) -> TagInfo:
    """What planning knows of ``tag`` (on ``manifest``, whose ``image`` and ``config`` were
    read): its created time and references. Only the exact throw-away of this repository and
    tag is a prune's leftover (no created time); an image that merely carries the key is an
    image like any other."""
    leftover = has_marker(manifest) and is_throwaway(manifest, config, repository, tag)
    return TagInfo(
        tag=tag,
        digest=manifest.digest,
        created=None if leftover else created_of(manifest, image, config),
        children=refs.children,
        blobs=refs.blobs,
        throwaway=leftover,
    )


def oci_labels(
    config: Mapping[str, Any] | None, image: Manifest | None, index: Manifest | None
) -> dict[str, str]:
    """The ``org.opencontainers.image.*`` labels of an image as ``regkit.imagemeta`` reads
    them: the config's labels, else the image manifest's annotations, else the index's."""
    found = {
        k: v for k, v in imagemeta.labels_of(config).items() if k.startswith(imagemeta.LABEL_PREFIX)
    }
    for m in (image, index):
        if m is not None:
            for key, value in m.annotations.items():
                if key.startswith(imagemeta.LABEL_PREFIX) and value and key not in found:
                    found[key] = value
    return found


def _trim_config(config: dict[str, Any]) -> dict[str, Any]:
    """What planning reads of an image config, as the config has it: ``created`` and the
    labels ``org.opencontainers.image.*`` and the throw-away marker (the rest, e.g. a long
    history, is not kept)."""
    out: dict[str, Any] = {}
    if "created" in config:
        out["created"] = config["created"]
    inner = config.get("config")
    if isinstance(inner, dict):
        labels = inner.get("Labels")
        if isinstance(labels, dict):
            kept = {
                k: v
                for k, v in labels.items()
                if str(k).startswith(imagemeta.LABEL_PREFIX) or k == THROWAWAY_KEY
            }
            out["config"] = {"Labels": kept}
        else:
            out["config"] = {}
    return out


def image_blobs(manifest: Manifest) -> list[Blob]:
    """The manifest itself, its config and its layers (an image manifest)."""
    blobs: list[Blob] = [(manifest.digest, len(manifest.raw))]
    if manifest.config is not None:
        blobs.append((manifest.config.digest, manifest.config.size))
    blobs.extend((layer.digest, layer.size) for layer in manifest.layers)
    return blobs


def refs_of(manifest: Manifest, children: Mapping[str, Manifest]) -> ImageRefs:
    """``manifest``'s references, its platform manifests from ``children`` (by digest)."""
    kids = {d: Facts.of(m) for d, m in children.items()}
    return _refs(Facts.of(manifest), kids)


def _refs(top: Facts, children: Mapping[str, Facts]) -> ImageRefs:
    blobs: dict[str, int] = {}
    if top.source.is_index:
        blobs[top.digest] = len(top.source.raw)
        for digest, size in top.listed:
            blobs[digest] = size
            found = children.get(digest)
            if found is not None:
                blobs.update(found.image)
        kids = top.children
    else:
        blobs.update(top.image)
        kids = ()
    return ImageRefs(top.digest, kids, tuple(sorted(blobs.items())))


class _Reader:
    """One repository's reads: its chains, and what they found."""

    def __init__(
        self,
        client: RegistryClient,
        repository: str,
        protect_digests: Iterable[str],
        advance: Callable[[], None],
    ) -> None:
        self.client, self.repository, self.advance = client, repository, advance
        self.protect_digests = protect_digests
        self.error: NotFoundError | None = None  # the repository does not exist (any more)
        self.names: list[str] = []
        self.tagged: dict[str, Facts | None] = {}
        self.protected: dict[str, Facts] = {}
        self.listed_again: set[str] | None = None
        self.child_once: Once[str, Facts | None] = Once()
        self.config_once: Once[str, dict[str, Any] | None] = Once()

    def list_tags(self) -> None:
        try:
            self.names = self.client.tags(self.repository)
        except NotFoundError:
            self.error = NotFoundError(
                f"repository {self.repository} not found on {self.client.registry}; "
                "check the name with 'regkit catalog'"
            )

    def get(self, ref: str) -> Manifest | None:
        try:
            return self.client.get_manifest(self.repository, ref)
        except NotFoundError:
            return None  # a tag deleted since the listing, a child missing from a broken index
        finally:
            self.advance()

    def get_facts(self, ref: str) -> Facts | None:
        found = self.get(ref)
        return None if found is None else Facts.of(found)

    def get_config(self, digest: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.client.get_blob(self.repository, digest, limit=4 * 1024 * 1024))
        except (RegistryError, ValueError):
            return None  # an unreadable config: the created time is unknown, and said so
        finally:
            self.advance()
        return _trim_config(data) if isinstance(data, dict) else None

    def chain(self, ref: str) -> Facts | None:
        """One tag (or protected digest): its manifest, then for an index the platform
        manifest whose config tells the created time and that config, then the other platform
        manifests (their blobs count for what stays and what is reclaimed)."""
        m = self.get(ref)
        if m is None:
            return None
        if classify_tag(ref) is not None:
            # a referrer tag: no created time needed (never counts toward keep); the manifests
            # a referrers index lists go with it, so they are read (their sizes, a put-back)
            for child in m.children:
                self.child_once.get(child.digest, partial(self.get_facts, child.digest))
            return Facts.of(m)
        image: Manifest | None = m
        if m.is_index:
            picked = pick_child(m)
            found = (
                self.child_once.get(picked.digest, partial(self.get_facts, picked.digest))
                if picked
                else None
            )
            image = found.parsed() if found is not None else None
        if image is not None and (cfg := image.config) is not None:
            self.config_once.get(cfg.digest, partial(self.get_config, cfg.digest))
        for child in m.children:
            self.child_once.get(child.digest, partial(self.get_facts, child.digest))
        return Facts.of(m)

    def tops(self) -> list[Facts]:
        found = [f for f in self.tagged.values() if f is not None]
        return found + list(self.protected.values())

    def wanted_protected(self) -> list[str]:
        mine = {f.digest for f in self.tagged.values() if f is not None}
        return [d for d in sorted(set(self.protect_digests)) if d not in mine]

    def wanted_subjects(self) -> list[str]:
        """The subjects of referrer tags that are neither a tag's manifest nor a protected
        digest nor a platform manifest: read, so one that exists untagged is no orphan (its
        referrers stay)."""
        tops = self.tops()
        known = {f.digest for f in tops}
        listed_children = {c for f in tops for c in f.children}
        subjects = {rt.subject for tag in self.names if (rt := classify_tag(tag)) is not None}
        return sorted(subjects - known - listed_children)

    def missing(self) -> list[str]:
        return [tag for tag, f in self.tagged.items() if f is None]

    def list_again(self) -> None:
        # Deleted since the listing, or dangling: still listed, its manifest gone (the registry
        # stopped between deleting a manifest and its tag links). Only the latter is listed now.
        try:
            self.listed_again = set(self.client.tags(self.repository))
        except NotFoundError as err:
            self.error = err

    def state(self) -> RepositoryState:
        """The repository as planning sees it (pure: from what the chains read)."""
        every = {f.digest: f for f in self.tops()}
        all_children = {c for f in every.values() for c in f.children}
        children = {d: f for d, f in self.child_once.results().items() if f is not None}
        children.update({d: f for d, f in every.items() if d in all_children})
        configs = self.config_once.results()

        def image_of(m: Manifest) -> Manifest | None:
            if not m.is_index:
                return m
            picked = pick_child(m)
            found = children.get(picked.digest) if picked else None
            return found.parsed() if found is not None else None

        infos: list[TagInfo] = []
        labels: dict[str, Mapping[str, str]] = {}
        if self.listed_again is not None:
            listed = self.listed_again
            infos += [TagInfo(t, "", None, dangling=True) for t in self.missing() if t in listed]
        for tag, facts in self.tagged.items():
            if facts is None:
                continue
            m = facts.parsed()  # parsed again here, dropped after this tag
            image = image_of(m)
            cfg = configs.get(image.config.digest) if image and image.config else None
            refs = _refs(facts, children)
            if m.digest not in labels:
                labels[m.digest] = oci_labels(cfg, image, m if m.is_index else None)
            infos.append(tag_info(self.repository, tag, m, image, cfg, refs))
        untagged = tuple(_refs(f, children) for f in self.protected.values())
        # every manifest read, platform manifests too: what a put-back or a child's DELETE needs
        sources = {d: f.source for d, f in {**children, **every}.items()}
        return RepositoryState(self.repository, tuple(infos), untagged, sources, labels)


def fetch_repositories(
    client: RegistryClient,
    repositories: Sequence[str],
    *,
    protect_digests: Mapping[str, Iterable[str]] | None = None,
    tick: Callable[[], None] | None = None,
) -> list[RepositoryState | NotFoundError]:
    """The state of each of ``repositories`` (in order), read side by side on the client's
    workers (``jobs`` requests in flight at most, across repositories); a repository that does
    not exist is its ``NotFoundError``. ``protect_digests``: per repository, digests no tag
    may point at, read too (they stay)."""
    advance = tick or (lambda: None)
    protect = protect_digests or {}
    readers = [_Reader(client, r, protect.get(r, ()), advance) for r in repositories]
    client.map(_Reader.list_tags, readers)
    found = [r for r in readers if r.error is None]
    # Chains run side by side on the workers, with no barrier between their steps.
    pairs = [(r, tag) for r in found for tag in r.names]
    for (r, tag), facts in zip(pairs, client.map(_chain, pairs), strict=True):
        r.tagged[tag] = facts
    for wanted in (_Reader.wanted_protected, _Reader.wanted_subjects):
        more = [(r, d) for r in found for d in wanted(r)]
        for (r, digest), facts in zip(more, client.map(_chain, more), strict=True):
            if facts is not None:
                r.protected[digest] = facts
    client.map(_Reader.list_again, [r for r in found if r.missing()])
    return [r.error or r.state() for r in readers]


def _chain(pair: tuple[_Reader, str]) -> Facts | None:
    reader, ref = pair
    return reader.chain(ref)


def fetch_repository(
    client: RegistryClient,
    repository: str,
    *,
    protect_digests: Iterable[str] = (),
    tick: Callable[[], None] | None = None,
) -> RepositoryState:
    """The tags of ``repository`` with digests, created times and references."""
    (state,) = fetch_repositories(
        client, [repository], protect_digests={repository: protect_digests}, tick=tick
    )
    if isinstance(state, NotFoundError):
        raise state
    return state


__all__ = [
    "CREATED_LABEL",
    "THROWAWAY_KEY",
    "Facts",
    "RepositoryState",
    "created_of",
    "fetch_repositories",
    "fetch_repository",
    "image_blobs",
    "is_throwaway",
    "oci_labels",
    "refs_of",
    "tag_info",
]
