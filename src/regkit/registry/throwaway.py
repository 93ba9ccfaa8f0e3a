"""The throw-away manifest: how a tag is removed alone on a registry without tag DELETE.

Distribution 2.8 refuses ``DELETE /v2/<repo>/manifests/<tag>``. To remove one tag there, the
tag is pointed at a unique, empty image (no layers; its config carries a label and its manifest
an annotation ``org.regkit.prune.throwaway`` = ``<repository>:<tag> <16 hex nonce>``), then that
image is deleted by digest: only the tag goes, the real manifest and its other tags stay.

A prune stopped between the two steps leaves the tag on the throw-away; the next prune deletes
it. Only the exact shape counts as such a leftover (``is_throwaway``): an image manifest with no
layers whose annotation names this repository and this tag, and whose config label is the same
marker. A user's image that merely carries the key is a normal image.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from regkit.registry.manifest import OCI_CONFIG, OCI_MANIFEST, Manifest, sha256_digest

THROWAWAY_KEY = "org.regkit.prune.throwaway"
_NONCE = re.compile(r"[0-9a-f]{16}")


def throwaway_image(repository: str, tag: str, nonce: str | None = None) -> tuple[bytes, bytes]:
    """(config, manifest) of a unique empty image marking itself as the throw-away of
    ``repository:tag``."""
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


def has_marker(manifest: Manifest) -> bool:
    """The manifest carries the key (cheap first test; ``is_throwaway`` decides)."""
    return not manifest.is_index and THROWAWAY_KEY in manifest.annotations


def is_throwaway(
    manifest: Manifest, config: dict[str, Any] | None, repository: str, tag: str
) -> bool:
    """True only for the exact throw-away of ``repository:tag``: an image manifest with no
    layers, annotated with a marker naming this repository and tag, whose config label is the
    same marker."""
    if manifest.is_index or manifest.layers or manifest.config is None:
        return False
    marker = manifest.annotations.get(THROWAWAY_KEY)
    prefix = f"{repository}:{tag} "
    if not marker or not marker.startswith(prefix) or not _NONCE.fullmatch(marker[len(prefix) :]):
        return False
    inner = (config or {}).get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    return isinstance(labels, dict) and labels.get(THROWAWAY_KEY) == marker


__all__ = ["THROWAWAY_KEY", "has_marker", "is_throwaway", "throwaway_image"]
