"""buildx-style pushes for the local GHCR: what ``docker/build-push-action`` sends.

Each build is an OCI index with two platform manifests (linux/amd64, linux/arm64) and, per
platform, a provenance attestation manifest (``unknown/unknown`` in the index, annotated
``vnd.docker.reference.type: attestation-manifest`` and ``vnd.docker.reference.digest``). Children
are pushed first (by digest), the index last (by tag), as buildx does; on GHCR each of the five
manifests becomes a package version. ``sign`` pushes a cosign-style signature under the referrer
tag ``sha256-<hex>.sig``.

Pushes go straight to the registry behind the fake (the storage GHCR would hold), one manifest
at a time, so the versions' created times follow the push order.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.rig.images import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    Pusher,
    make_layer,
    rfc3339,
)

INTOTO = "application/vnd.in-toto+json"
COSIGN_SIG = "application/vnd.dev.cosign.simplesigning.v1+json"
PLATFORMS = ("linux/amd64", "linux/arm64")


@dataclass(frozen=True)
class Build:
    repo: str
    tags: tuple[str, ...]
    index: str
    platforms: tuple[str, ...]  # platform manifest digests
    attestations: tuple[str, ...]  # attestation manifest digests
    created: datetime

    @property
    def children(self) -> tuple[str, ...]:
        return self.platforms + self.attestations

    @property
    def manifests(self) -> tuple[str, ...]:
        return (self.index, *self.children)


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _manifest(config: Blob, layers: list[Blob], annotations: dict[str, str] | None = None) -> bytes:
    body: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    if annotations:
        body["annotations"] = annotations
    return _dumps(body)


def push_build(
    pusher: Pusher,
    repo: str,
    tags: tuple[str, ...] | list[str] | str,
    created: datetime,
    *,
    seed: int,
) -> Build:
    """One buildx build: 2 platform manifests + 2 attestations + the index under ``tags``."""
    tag_list = (tags,) if isinstance(tags, str) else tuple(tags)
    rng = random.Random(seed)
    when = rfc3339(created)
    platform_digests: list[tuple[str, str, int]] = []
    for platform in PLATFORMS:
        os_, arch = platform.split("/")
        layer, diff_id = make_layer(512, rng=rng)
        config = Blob.of(
            _dumps(
                {
                    "created": when,
                    "architecture": arch,
                    "os": os_,
                    "config": {
                        "Labels": {
                            "org.opencontainers.image.created": when,
                            "org.opencontainers.image.description": f"build {seed}",
                        }
                    },
                    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                }
            ),
            OCI_CONFIG,
        )
        pusher.push_blobs(repo, [layer, config])
        raw = _manifest(config, [layer])
        digest = pusher.put_manifest(repo, Blob.of(raw, OCI_MANIFEST).digest, raw, OCI_MANIFEST)
        platform_digests.append((platform, digest, len(raw)))
    attestations: list[tuple[str, str, int]] = []
    for _platform, subject, _size in platform_digests:
        statement = Blob.of(
            _dumps(
                {"_type": "https://in-toto.io/Statement/v0.1", "subject": subject, "seed": seed}
            ),
            INTOTO,
        )
        config = Blob.of(
            _dumps(
                {
                    "architecture": "unknown",
                    "os": "unknown",
                    "config": {},
                    "rootfs": {"type": "layers", "diff_ids": [statement.digest]},
                }
            ),
            OCI_CONFIG,
        )
        pusher.push_blobs(repo, [statement, config])
        raw = _manifest(config, [statement])
        digest = pusher.put_manifest(repo, Blob.of(raw, OCI_MANIFEST).digest, raw, OCI_MANIFEST)
        attestations.append((subject, digest, len(raw)))
    entries: list[dict[str, object]] = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": d,
            "size": size,
            "platform": {"os": p.split("/")[0], "architecture": p.split("/")[1]},
        }
        for p, d, size in platform_digests
    ]
    entries += [
        {
            "mediaType": OCI_MANIFEST,
            "digest": d,
            "size": size,
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {
                "vnd.docker.reference.digest": subject,
                "vnd.docker.reference.type": "attestation-manifest",
            },
        }
        for subject, d, size in attestations
    ]
    index = _dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    digest = pusher.put_manifest(repo, tag_list[0], index, OCI_INDEX)
    for tag in tag_list[1:]:
        pusher.put_manifest(repo, tag, index, OCI_INDEX)
    return Build(
        repo,
        tag_list,
        digest,
        tuple(d for _, d, _ in platform_digests),
        tuple(d for _, d, _ in attestations),
        created,
    )


def sign(pusher: Pusher, repo: str, subject: str, *, seed: int) -> str:
    """A cosign-style signature of ``subject`` under ``sha256-<hex>.sig``; its digest."""
    payload = Blob.of(
        _dumps({"critical": {"image": {"docker-manifest-digest": subject}}, "n": seed}), COSIGN_SIG
    )
    config = Blob.of(
        _dumps(
            {
                "architecture": "",
                "os": "",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [payload.digest]},
            }
        ),
        OCI_CONFIG,
    )
    pusher.push_blobs(repo, [payload, config])
    raw = _manifest(config, [payload])
    return pusher.put_manifest(repo, referrer_tag(subject), raw, OCI_MANIFEST)


def referrer_tag(subject: str) -> str:
    return subject.replace(":", "-") + ".sig"


def push_history(
    pusher: Pusher, repo: str, tags: list[str], *, start: datetime | None = None
) -> list[Build]:
    """One build per tag, an hour apart (oldest first)."""
    base = start or datetime(2026, 1, 1, tzinfo=UTC)
    return [
        push_build(pusher, repo, tag, base + timedelta(hours=i), seed=i * 7919 + len(repo))
        for i, tag in enumerate(tags)
    ]
