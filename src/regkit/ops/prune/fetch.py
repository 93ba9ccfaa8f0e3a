"""Everything the planner needs from one repository, fetched concurrently.

Requests: one tag list; one GET per tag (manifest and digest in one answer); one GET per
distinct platform manifest of the indexes; one GET per distinct config needed for a created
time (one child per index). Each tag is a chain of these on a worker, content shared by tags
is fetched once (``regkit.ops.once``). Sizes come from the descriptors, so no blob is
HEADed. Protected digests that no tag points at are fetched too, so their platform manifests
count as staying.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
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
    manifests: Mapping[str, Manifest] = field(default_factory=dict, compare=False, repr=False)
    #: digest -> OCI labels of the image a tag points at (``oci_labels``), from the configs
    #: already read for the created time: no request of its own
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False, repr=False)


def created_of(
    manifest: Manifest, image: Manifest | None, config: dict[str, Any] | None
) -> CreatedTime | None:
    """The label ``org.opencontainers.image.created``, then the config's ``created``, then the
    annotations of the image, then of the index (``regkit.imagemeta``, as overview)."""
    index = manifest if manifest.is_index else None
    return imagemeta.created_time(config, image if image is not None else manifest, index)


def oci_labels(
    config: dict[str, Any] | None, image: Manifest | None, index: Manifest | None
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


def image_blobs(manifest: Manifest) -> list[Blob]:
    """The manifest itself, its config and its layers (an image manifest)."""
    blobs: list[Blob] = [(manifest.digest, len(manifest.raw))]
    if manifest.config is not None:
        blobs.append((manifest.config.digest, manifest.config.size))
    blobs.extend((layer.digest, layer.size) for layer in manifest.layers)
    return blobs


def refs_of(manifest: Manifest, children: dict[str, Manifest]) -> ImageRefs:
    blobs: dict[str, int] = {}
    if manifest.is_index:
        blobs[manifest.digest] = len(manifest.raw)
        for child in manifest.children:
            blobs[child.digest] = child.size
            found = children.get(child.digest)
            if found is not None:
                blobs.update(image_blobs(found))
        kids = tuple(c.digest for c in manifest.children)
    else:
        blobs.update(image_blobs(manifest))
        kids = ()
    return ImageRefs(manifest.digest, kids, tuple(sorted(blobs.items())))


def fetch_repository(
    client: RegistryClient,
    repository: str,
    *,
    protect_digests: Iterable[str] = (),
    tick: Callable[[], None] | None = None,
) -> RepositoryState:
    """The tags of ``repository`` with digests, created times and references."""
    advance = tick or (lambda: None)
    try:
        names = client.tags(repository)
    except NotFoundError:
        raise NotFoundError(
            f"repository {repository} not found on {client.registry}; "
            "check the name with 'regkit catalog'"
        ) from None

    def get(ref: str) -> Manifest | None:
        try:
            return client.get_manifest(repository, ref)
        except NotFoundError:
            return None  # a tag deleted since the listing, a child missing from a broken index
        finally:
            advance()

    def get_config(digest: str) -> dict[str, Any] | None:
        try:
            data = json.loads(client.get_blob(repository, digest, limit=4 * 1024 * 1024))
        except (RegistryError, ValueError):
            return None  # an unreadable config: the created time is unknown, and said so
        finally:
            advance()
        return data if isinstance(data, dict) else None

    child_once: Once[str, Manifest | None] = Once()
    config_once: Once[str, dict[str, Any] | None] = Once()

    def chain(ref: str) -> Manifest | None:
        """One tag (or protected digest): its manifest, then for an index the platform
        manifest whose config tells the created time and that config, then the other platform
        manifests (their blobs count for what stays and what is reclaimed)."""
        m = get(ref)
        if m is None:
            return None
        if classify_tag(ref) is not None:
            # a referrer tag: no created time needed (never counts toward keep); the manifests
            # a referrers index lists go with it, so they are read (their sizes, a put-back)
            for child in m.children:
                child_once.get(child.digest, partial(get, child.digest))
            return m
        image: Manifest | None = m
        if m.is_index:
            picked = pick_child(m)
            image = child_once.get(picked.digest, lambda: get(picked.digest)) if picked else None
        if image is not None and (cfg := image.config) is not None:
            config_once.get(cfg.digest, lambda: get_config(cfg.digest))
        for child in m.children:
            child_once.get(child.digest, partial(get, child.digest))
        return m

    # Chains run side by side on the workers, with no barrier between their steps.
    tagged = dict(zip(names, client.map(chain, names), strict=True))
    manifests: dict[str, Manifest] = {m.digest: m for m in tagged.values() if m is not None}
    wanted_protected = [d for d in sorted(set(protect_digests)) if d not in manifests]
    protected = {
        d: m
        for d, m in zip(wanted_protected, client.map(chain, wanted_protected), strict=True)
        if m is not None
    }
    # the subjects of referrer tags that are neither a tag's manifest nor a protected digest nor
    # a platform manifest: read, so one that exists untagged is no orphan (its referrers stay)
    listed_children = {
        c.digest for m in (*manifests.values(), *protected.values()) for c in m.children
    }
    subjects = {rt.subject for tag in names if (rt := classify_tag(tag)) is not None}
    wanted_subjects = sorted(subjects - set(manifests) - set(protected) - listed_children)
    if wanted_subjects:
        protected.update(
            {
                d: m
                for d, m in zip(wanted_subjects, client.map(chain, wanted_subjects), strict=True)
                if m is not None
            }
        )
    every = {**manifests, **protected}
    all_children = {c.digest for m in every.values() for c in m.children}
    children = {d: m for d, m in child_once.results().items() if m is not None}
    children.update({d: m for d, m in every.items() if d in all_children})
    configs = config_once.results()

    def image_of(m: Manifest) -> Manifest | None:
        if not m.is_index:
            return m
        picked = pick_child(m)
        return children.get(picked.digest) if picked else None

    infos: list[TagInfo] = []
    labels: dict[str, dict[str, str]] = {}
    missing = [tag for tag, m in tagged.items() if m is None]
    if missing:
        # Deleted since the listing, or dangling: still listed, its manifest gone (the registry
        # stopped between deleting a manifest and its tag links). Only the latter is listed now.
        listed = set(client.tags(repository))
        infos += [TagInfo(tag, "", None, dangling=True) for tag in missing if tag in listed]
    for tag, m in tagged.items():
        if m is None:
            continue
        image = image_of(m)
        cfg = configs.get(image.config.digest) if image and image.config else None
        refs = refs_of(m, children)
        if m.digest not in labels:
            labels[m.digest] = oci_labels(cfg, image, m if m.is_index else None)
        # Only the exact throw-away of this repository and tag is a prune's leftover; an image
        # that merely carries the key is an image like any other.
        leftover = has_marker(m) and is_throwaway(m, cfg, repository, tag)
        infos.append(
            TagInfo(
                tag=tag,
                digest=m.digest,
                created=None if leftover else created_of(m, image, cfg),
                children=refs.children,
                blobs=refs.blobs,
                throwaway=leftover,
            )
        )
    untagged = tuple(refs_of(m, children) for m in protected.values())
    # every manifest read, platform manifests too: what a put-back or a child's DELETE needs
    return RepositoryState(repository, tuple(infos), untagged, {**children, **every}, labels)


__all__ = [
    "CREATED_LABEL",
    "THROWAWAY_KEY",
    "RepositoryState",
    "created_of",
    "fetch_repository",
    "image_blobs",
    "is_throwaway",
    "oci_labels",
    "refs_of",
]
