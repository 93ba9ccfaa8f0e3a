"""What an image says about itself: OCI labels, created time, platforms, attestations. Pure.

One place for the rules every verb shares, so overview, inspect, prune and promote agree:

- the created time is the label ``org.opencontainers.image.created``, else the config's
  ``created``, else the annotation of the image manifest, else the annotation of the index;
- of a multi-platform index, one platform stands for the image (``pick_platform``):
  the one asked for, else linux/amd64, else the first runnable one;
- attestation manifests (BuildKit's ``unknown/unknown`` entries, or any entry annotated
  ``vnd.docker.reference.type: attestation-manifest``) are not platforms.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from regkit.registry.manifest import (
    Descriptor,
    Manifest,
    is_attestation,
    pick_child,
    platforms_of,
)
from regkit.timeparse import CreatedTime, parse_created_time

LABEL_PREFIX = "org.opencontainers.image."
CREATED_LABEL = "org.opencontainers.image.created"
DESCRIPTION_LABEL = "org.opencontainers.image.description"
REVISION_LABEL = "org.opencontainers.image.revision"
SOURCE_LABEL = "org.opencontainers.image.source"
VERSION_LABEL = "org.opencontainers.image.version"

#: The labels ``inspect`` shows by their short name, in this order.
SHOWN_LABELS = {
    "revision": REVISION_LABEL,
    "source": SOURCE_LABEL,
    "version": VERSION_LABEL,
    "description": DESCRIPTION_LABEL,
}

#: The annotation BuildKit puts on an attestation manifest: the digest of the image it is about.
ATTESTATION_SUBJECT = "vnd.docker.reference.digest"


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def labels_of(config: Mapping[str, Any] | None) -> dict[str, str]:
    """The config's ``config.Labels`` as strings (empty when absent or malformed)."""
    inner = (config or {}).get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items() if v is not None}


def created_time(
    config: Mapping[str, Any] | None,
    image: Manifest | None = None,
    index: Manifest | None = None,
) -> CreatedTime | None:
    """Label, then the config's ``created``, then the image's, then the index's annotation."""
    cfg = config or {}
    candidates = [_str(labels_of(cfg).get(CREATED_LABEL)), _str(cfg.get("created"))]
    for m in (image, index):
        if m is not None:
            candidates.append(m.annotations.get(CREATED_LABEL))
    for text in candidates:
        parsed = parse_created_time(text)
        if parsed is not None:
            return parsed
    return None


def created_of(
    config: Mapping[str, Any] | None,
    image: Manifest | None = None,
    index: Manifest | None = None,
) -> datetime | None:
    """``created_time`` as a UTC datetime."""
    found = created_time(config, image, index)
    return found.when if found else None


def description_of(
    config: Mapping[str, Any] | None, image: Manifest | None = None, index: Manifest | None = None
) -> str | None:
    """The description label, else the image's, else the index's annotation."""
    found = _str(labels_of(config).get(DESCRIPTION_LABEL))
    for m in (image, index):
        if found is None and m is not None:
            found = m.annotations.get(DESCRIPTION_LABEL) or None
    return found


def pick_platform(index: Manifest, platform: str | None = None) -> Descriptor | None:
    """The child standing for ``index``: ``platform``, else linux/amd64, else the first."""
    return pick_child(index, platform)


def runnable_children(index: Manifest) -> list[Descriptor]:
    """The platform manifests of an index, attestations left out."""
    return [c for c in index.children if not is_attestation(c)]


def attestations(index: Manifest) -> list[Descriptor]:
    """The attestation manifests of an index."""
    return [c for c in index.children if is_attestation(c)]


def config_platform(config: Mapping[str, Any] | None) -> str | None:
    """``os/arch[/variant]`` of an image from its config."""
    cfg = config or {}
    os_name, arch, variant = _str(cfg.get("os")), _str(cfg.get("architecture")), cfg.get("variant")
    if not os_name or not arch:
        return None
    return f"{os_name}/{arch}/{variant}" if _str(variant) else f"{os_name}/{arch}"


__all__ = [
    "ATTESTATION_SUBJECT",
    "CREATED_LABEL",
    "DESCRIPTION_LABEL",
    "LABEL_PREFIX",
    "REVISION_LABEL",
    "SHOWN_LABELS",
    "SOURCE_LABEL",
    "VERSION_LABEL",
    "attestations",
    "config_platform",
    "created_of",
    "created_time",
    "description_of",
    "is_attestation",
    "labels_of",
    "pick_platform",
    "platforms_of",
    "runnable_children",
]
