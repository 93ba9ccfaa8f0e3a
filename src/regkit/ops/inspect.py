"""``regkit inspect``: everything one image reference tells, in one call, and what is attached
to it (signatures, attestations, SBOMs: ``regkit.registry.referrers``, for the top digest).

``build_inspection`` is pure: from the top manifest, its children, the parsed configs and the
digest of every tag of the repository, it makes an ``Inspection``. ``inspect`` fetches those
concurrently: the top manifest and one HEAD per tag in one round, then every platform manifest,
then every config.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from regkit import imagemeta
from regkit.errors import NotFoundError
from regkit.ops import platform_child
from regkit.reference import Reference
from regkit.registry import Descriptor, Manifest, RegistryClient
from regkit.registry.referrers import Referrer, count_kinds, referrers


@dataclass(frozen=True, slots=True)
class Layer:
    digest: str
    size: int
    media_type: str

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "size": self.size, "media_type": self.media_type}


@dataclass(frozen=True, slots=True)
class PlatformImage:
    """One runnable image: of an index, one child; else the image itself."""

    platform: str | None
    digest: str
    media_type: str
    config_digest: str | None
    layers: tuple[Layer, ...]

    config_size: int = 0

    @property
    def size(self) -> int:
        """Compressed bytes a client of this platform pulls: config and layers."""
        return sum(layer.size for layer in self.layers) + self.config_size

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "digest": self.digest,
            "media_type": self.media_type,
            "size": self.size,
            "config_digest": self.config_digest,
            "layer_count": len(self.layers),
            "layers": [layer.to_json() for layer in self.layers],
        }


@dataclass(frozen=True, slots=True)
class Attestation:
    digest: str
    size: int
    media_type: str
    subject: str | None  # the digest of the image it is about

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "size": self.size,
            "media_type": self.media_type,
            "subject": self.subject,
        }


@dataclass(frozen=True, slots=True)
class Inspection:
    reference: str
    registry: str
    repository: str
    digest: str
    media_type: str
    tags: tuple[str, ...]
    created: datetime | None
    labels: dict[str, str]
    platforms: tuple[PlatformImage, ...]
    attestations: tuple[Attestation, ...]
    shown_platform: str | None  # whose created and labels these are (an index)
    # what is attached to the digest (regkit.registry.referrers): signatures, SBOMs, ...
    referrers: tuple[Referrer, ...] = ()

    def label(self, short: str) -> str | None:
        return self.labels.get(imagemeta.SHOWN_LABELS[short])

    @property
    def attached(self) -> dict[str, int]:
        """Referrers by kind: signature, attestation, sbom, other (zero when none)."""
        return count_kinds(self.referrers)

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "registry": self.registry,
            "repository": self.repository,
            "digest": self.digest,
            "media_type": self.media_type,
            "tags": list(self.tags),
            "created": self.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if self.created
            else None,
            "revision": self.label("revision"),
            "source": self.label("source"),
            "version": self.label("version"),
            "description": self.label("description"),
            "labels": dict(sorted(self.labels.items())),
            "labels_of": self.shown_platform,
            "platforms": [p.to_json() for p in self.platforms],
            "attestations": [a.to_json() for a in self.attestations],
            "attached": self.attached,
            "referrers": [r.to_json() for r in self.referrers],
        }


def _platform_image(
    manifest: Manifest, platform: str | None, configs: Mapping[str, Mapping[str, Any]]
) -> PlatformImage:
    cfg = manifest.config
    if platform is None and cfg is not None:
        platform = imagemeta.config_platform(configs.get(cfg.digest))
    return PlatformImage(
        platform=platform,
        digest=manifest.digest,
        media_type=manifest.media_type,
        config_digest=cfg.digest if cfg else None,
        layers=tuple(Layer(x.digest, x.size, x.media_type) for x in manifest.layers),
        config_size=cfg.size if cfg else 0,
    )


def build_inspection(
    ref: Reference,
    top: Manifest,
    children: Mapping[str, Manifest],
    configs: Mapping[str, Mapping[str, Any]],
    tag_digests: Mapping[str, str | None],
    platform: str | None = None,
    attached: Sequence[Referrer] = (),
) -> Inspection:
    """Pure: the inspection of ``top`` from what was fetched (``attached``: its referrers)."""
    images: list[PlatformImage] = []
    found: list[Attestation] = []
    shown: Manifest | None = top
    shown_platform: str | None = None
    if top.is_index:
        for child in imagemeta.runnable_children(top):
            m = children.get(child.digest)
            if m is not None and not m.is_index:
                images.append(_platform_image(m, child.platform, configs))
        for child in imagemeta.attestations(top):
            subject = child.annotations.get(imagemeta.ATTESTATION_SUBJECT)
            found.append(Attestation(child.digest, child.size, child.media_type, subject))
        pick = imagemeta.pick_platform(top, platform)
        shown = children.get(pick.digest) if pick else None
        shown_platform = pick.platform if pick else None
    else:
        images.append(_platform_image(top, None, configs))
    config: Mapping[str, Any] | None = None
    if shown is not None and shown.config is not None:
        config = configs.get(shown.config.digest)
    index = top if top.is_index else None
    image = shown if top.is_index else top
    tags = tuple(sorted(t for t, d in tag_digests.items() if d == top.digest))
    return Inspection(
        reference=str(ref),
        registry=ref.registry,
        repository=ref.repository,
        digest=top.digest,
        media_type=top.media_type,
        tags=tags,
        created=imagemeta.created_of(config, image, index),
        labels=imagemeta.labels_of(config),
        platforms=tuple(images),
        attestations=tuple(found),
        shown_platform=shown_platform,
        referrers=tuple(r for r in attached if r.subject == top.digest),
    )


def _call(f: Callable[[], object]) -> object:
    return f()


def inspect(
    client: RegistryClient,
    ref: Reference,
    *,
    platform: str | None = None,
    on_item: Callable[[], None] | None = None,
) -> Inspection:
    """Fetch and build the inspection of ``ref`` (a tag or a digest)."""
    tick = on_item or (lambda: None)
    repo = ref.repository

    def read_top() -> Manifest:
        try:
            return client.get_manifest(repo, ref.identifier)
        except NotFoundError:
            raise NotFoundError(
                f"{ref} not found on {ref.registry}; list the tags with 'regkit ls {ref.name}'"
            ) from None

    def list_tags() -> list[str]:
        try:
            return client.tags(repo, invalid="warn")  # shown only
        except NotFoundError:
            return []

    first: list[Callable[[], object]] = [read_top, list_tags]
    top, listed = client.map(_call, first)
    assert isinstance(top, Manifest)
    platform_child(ref, top, platform)  # a platform the index lacks: the error config gives
    tags = [str(t) for t in listed] if isinstance(listed, list) else []

    def head(tag: str) -> str | None:
        try:
            found: Descriptor | None = client.resolve(repo, tag)
        except NotFoundError:
            found = None
        tick()
        return found.digest if found else None

    def child(desc: Descriptor) -> Manifest | None:
        try:
            return client.get_manifest(repo, desc.digest)
        except NotFoundError:
            return None

    def config(digest: str) -> dict[str, Any]:
        try:
            data = json.loads(client.get_blob(repo, digest))
        except (NotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    wanted = imagemeta.runnable_children(top) if top.is_index else []
    jobs: list[Callable[[], object]] = [partial(head, t) for t in tags]
    jobs += [partial(child, c) for c in wanted]
    answers = client.map(_call, jobs)
    tag_digests = {
        t: d if isinstance(d, str) else None
        for t, d in zip(tags, answers[: len(tags)], strict=True)
    }
    children = {
        c.digest: m
        for c, m in zip(wanted, answers[len(tags) :], strict=True)
        if isinstance(m, Manifest)
    }
    images = list(children.values()) if top.is_index else [top]
    config_digests = list(dict.fromkeys(m.config.digest for m in images if m.config is not None))
    parsed = client.map(config, config_digests)
    configs = dict(zip(config_digests, parsed, strict=True))
    # what is attached to the digest: the referrers API, else the tag schemes in ``tags``
    found = referrers(client, repo, top.digest, tags=tags)
    return build_inspection(ref, top, children, configs, tag_digests, platform, found)


__all__ = ["Attestation", "Inspection", "Layer", "PlatformImage", "build_inspection", "inspect"]
