"""Manifests: media types, digests, index children, configs. Pure data, no I/O.

Every JSON document from a registry is read with ``parse_json``: its nesting is checked
against ``regkit.defaults.MAX_JSON_DEPTH`` before it is parsed (Python's parser would raise
``RecursionError`` on a document 100,000 deep), and whatever is wrong with it ends in one
``RegistryError``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from regkit import defaults
from regkit.errors import LimitExceededError, RegistryError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_TYPES

#: Every manifest type regkit understands, in the Accept header of every manifest request.
#: Distribution converts or refuses when one is missing (registry-facts.md, "Manifests and Accept").
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_depth(raw: bytes, limit: int | None = None) -> int:
    """How deep arrays and objects nest in ``raw`` (brackets inside strings do not count);
    counting stops once past ``limit``."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    opening = brackets.count(b"[") + brackets.count(b"{")
    if limit is not None and opening <= limit:
        return opening  # at most that deep: the usual document needs no walk
    depth = deepest = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if limit is not None and deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def parse_json(raw: bytes | str, what: str) -> Any:
    """``raw`` parsed, or one ``RegistryError`` naming ``what`` (not JSON, not UTF-8, or nested
    deeper than ``MAX_JSON_DEPTH``: a ``LimitExceededError``)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    limit = defaults.MAX_JSON_DEPTH
    if json_depth(data, limit) > limit:
        raise LimitExceededError(
            f"{what}: JSON nested deeper than {limit} levels, regkit's limit on a document "
            "from a registry; refusing to read it",
            limit="JSON nesting depth",
            value=limit,
        )
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as err:
        raise RegistryError(f"{what}: not JSON ({_short(str(err))})") from None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) < 120 else text[:117] + "..."


def _list(value: Any, what: str) -> list[Any]:
    """A JSON array field (absent or null: empty); anything else is malformed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RegistryError(f"malformed manifest: {what} is not a list")
    return value


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def format_platform(platform: dict[str, Any] | None) -> str | None:
    """``os/arch[/variant]`` from an index entry's ``platform`` object."""
    if not isinstance(platform, dict):
        return None
    os_name, arch = platform.get("os"), platform.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        return None
    variant = platform.get("variant")
    return (
        f"{os_name}/{arch}/{variant}"
        if isinstance(variant, str) and variant
        else f"{os_name}/{arch}"
    )


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A pointer to content: what an index lists, what a HEAD tells."""

    media_type: str
    digest: str
    size: int
    platform: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Any) -> Descriptor:
        if not isinstance(obj, dict):
            raise RegistryError("malformed manifest: a descriptor is not an object")
        digest, size = obj.get("digest"), obj.get("size")
        if not isinstance(digest, str) or not isinstance(size, int):
            raise RegistryError("malformed manifest: a descriptor lacks digest or size")
        annotations = obj.get("annotations") or {}
        return cls(
            media_type=str(obj.get("mediaType", "")),
            digest=digest,
            size=size,
            platform=format_platform(obj.get("platform")),
            annotations={str(k): str(v) for k, v in annotations.items()}
            if isinstance(annotations, dict)
            else {},
        )


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as the registry served it: bytes, media type and digest."""

    raw: bytes
    media_type: str
    digest: str

    @cached_property
    def json(self) -> dict[str, Any]:
        data = parse_json(self.raw, f"malformed manifest {self.digest}")
        if not isinstance(data, dict):
            raise RegistryError(f"malformed manifest {self.digest}: not a JSON object")
        return data

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def children(self) -> list[Descriptor]:
        """The platform manifests of an index (empty for an image manifest)."""
        if not self.is_index:
            return []
        return [Descriptor.from_json(m) for m in _list(self.json.get("manifests"), "manifests")]

    @property
    def config(self) -> Descriptor | None:
        if self.is_index or "config" not in self.json:
            return None
        return Descriptor.from_json(self.json["config"])

    @property
    def layers(self) -> list[Descriptor]:
        if self.is_index:
            return []
        return [Descriptor.from_json(m) for m in _list(self.json.get("layers"), "layers")]

    @property
    def annotations(self) -> dict[str, str]:
        ann = self.json.get("annotations") or {}
        return {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {}

    @property
    def image_size(self) -> int:
        """Bytes of config and layers (for an image manifest)."""
        cfg = self.config
        return (cfg.size if cfg else 0) + sum(layer.size for layer in self.layers)

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.raw))


def media_type_of(raw: bytes, header: str | None) -> str:
    """The media type from the Content-Type header, else from the body's ``mediaType``."""
    if header:
        value = header.split(";", 1)[0].strip()
        if value and value != "application/json":
            return value
    try:
        data = parse_json(raw, "manifest")
    except LimitExceededError:
        raise
    except RegistryError:
        return header or ""
    if isinstance(data, dict):
        mt = data.get("mediaType")
        if isinstance(mt, str):
            return mt
        if "manifests" in data:
            return OCI_INDEX
        if "layers" in data:
            return OCI_MANIFEST
    return header or ""


def is_attestation(child: Descriptor) -> bool:
    """BuildKit attestation manifests (``unknown/unknown``) are not runnable platforms."""
    return child.platform in (None, "unknown/unknown") or (
        child.annotations.get("vnd.docker.reference.type") == "attestation-manifest"
    )


def platforms_of(index: Manifest) -> list[str]:
    return [c.platform for c in index.children if c.platform and not is_attestation(c)]


def pick_child(index: Manifest, platform: str | None = None) -> Descriptor | None:
    """The child for ``platform`` (``os/arch[/variant]``); without one, linux/amd64, else the first.

    A platform without a variant matches a child with one (``linux/arm64`` -> ``linux/arm64/v8``).
    """
    children = [c for c in index.children if not is_attestation(c)]
    wanted = platform or "linux/amd64"
    for child in children:
        if child.platform == wanted:
            return child
    for child in children:
        if child.platform and child.platform.startswith(wanted + "/"):
            return child
    if platform is None and children:
        return children[0]
    return None
