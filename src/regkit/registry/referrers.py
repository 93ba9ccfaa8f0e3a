"""What is attached to a digest: signatures, attestations, SBOMs (an image's referrers).

Three ways a referrer is found, each named in ``Referrer.found``:

- ``referrers-api``: the OCI 1.1 referrers API, ``GET /v2/<name>/referrers/<digest>`` (with
  ``?artifactType=`` when filtering), an OCI index of descriptors, paginated by ``Link`` like a
  tag list. A registry serves it when it answers 200 with an OCI index; 404 (and 400, 405,
  501) means it does not (distribution 2.8 and ``registry:3`` answer 404, as does
  go-containerregistry's ``crane registry serve``, which builds without it). Spec: a registry
  that serves the API never answers 404 to it.
- ``referrers-tag``: the referrers tag schema, the fallback of OCI 1.1 clients (oras, regctl)
  on registries without the API: an OCI index tagged ``sha256-<hex of the subject>`` whose
  ``manifests`` are the referrers.
- ``cosign-tag``: cosign's own tag scheme, ``sha256-<hex>.sig`` (signatures), ``.att``
  (attestations), ``.sbom`` (SBOMs): one manifest per tag. cosign v2 writes these by default on
  every registry, with or without the API, so they are always looked for.

The tag schemes are read from the repository's tag list (one listing; a caller that has it
passes ``tags=``); the API is asked once per digest. A referrer the API lists without an
artifact type, or with the OCI empty config's media type (go-containerregistry's registry
reports the config's media type, not the manifest's ``artifactType``), gets the type read from
its own manifest. Requests are sent one by one (no thread pool here), so a caller may run
``referrers`` for many digests on the client's pool. A referrer seen twice (the API and a tag
index) is reported once, the first way it was found, in the order above. The ``artifactType``
filter is applied here as well as sent to the API (a registry may ignore it).

Bounded like every registry body: a page of the API and a tag-schema index are read up to
``MAX_MANIFEST_BYTES`` each through the client's capped reads, at most ``MAX_PAGES`` pages,
JSON nesting at most ``MAX_JSON_DEPTH``, and at most ``MAX_REFERRERS`` referrers per digest
(``referrer_limit()``): the API's list, a tag index's and the tags naming the digest are each
counted before what they name is read (a hostile registry listing thousands of
``sha256-<hex>.<suffix>`` tags costs no request per tag), and the limit ends the operation with
one error line. A descriptor whose digest is not ``sha256:<64 hex>`` is an error (text from a
registry never becomes a reference unchecked).

Pure parsing (``referrer_tags``, ``parse_referrers_index``, ``referrer_from_manifest``,
``kind_of``) is separate from the I/O (``referrers``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from regkit import defaults
from regkit.errors import (
    InvalidReferenceError,
    LimitExceededError,
    NotFoundError,
    RegistryError,
)
from regkit.reference import DIGEST_RE
from regkit.registry.manifest import (
    DOCKER_CONFIG,
    OCI_CONFIG,
    OCI_INDEX,
    Manifest,
    parse_json,
)

if TYPE_CHECKING:
    from regkit.registry.client import RegistryClient

Found = Literal["referrers-api", "referrers-tag", "cosign-tag"]
Kind = Literal["signature", "attestation", "sbom", "other"]

FOUND_API: Found = "referrers-api"
FOUND_TAG_INDEX: Found = "referrers-tag"
FOUND_COSIGN: Found = "cosign-tag"

#: A referrer tag: ``sha256-<64 hex>`` (the referrers tag schema) or ``sha256-<64 hex>.<suffix>``
#: (cosign: ``.sig``, ``.att``, ``.sbom``; other tools add their own). Group 1: the subject's
#: hex, group 2: the suffix (None for the tag schema).
REFERRER_TAG = re.compile(r"^sha256-([0-9a-f]{64})(?:\.(.+))?$")

#: The empty config of an OCI 1.1 artifact: not an artifact type of its own.
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
#: Status codes that say "this registry does not serve the referrers API": 404 (distribution,
#: crane's registry; the spec forbids it from a registry that serves the API), 405, 501, and 400
#: (a registry that does not know the route; one that serves it answers 400 only to a malformed
#: digest, and ours is checked first).
_NOT_SERVED = frozenset({400, 404, 405, 501})

_SIGNATURE_TYPES = frozenset(
    {
        COSIGN_SIMPLESIGNING,
        "application/vnd.dev.cosign.artifact.sig.v1+json",
        "application/vnd.cncf.notary.signature",
        "application/vnd.dev.sigstore.bundle+json",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    }
)
_ATTESTATION_TYPES = frozenset(
    {
        "application/vnd.dsse.envelope.v1+json",
        "application/vnd.in-toto+json",
        "application/vnd.dev.cosign.attestation.v1+json",
    }
)
_SUFFIX_KIND: dict[str, Kind] = {"sig": "signature", "att": "attestation", "sbom": "sbom"}
#: Every kind, in the order they are shown.
KINDS: tuple[Kind, ...] = ("signature", "attestation", "sbom", "other")


@dataclass(frozen=True, slots=True)
class ReferrerTag:
    """A tag of one of the referrer tag schemes, and the digest it belongs to."""

    tag: str
    subject: str  # sha256:<hex>
    suffix: str | None  # "sig", "att", "sbom", ...; None: the referrers tag schema's index

    @property
    def scheme(self) -> Found:
        return FOUND_TAG_INDEX if self.suffix is None else FOUND_COSIGN


def referrer_subject(tag: str) -> str | None:
    """``sha256-<hex>[.suffix]`` -> ``sha256:<hex>`` (the digest it belongs to); else None."""
    m = REFERRER_TAG.match(tag)
    return f"sha256:{m.group(1)}" if m else None


def classify_tag(tag: str) -> ReferrerTag | None:
    """The referrer tag ``tag`` is, or None for an ordinary tag."""
    m = REFERRER_TAG.match(tag)
    if m is None:
        return None
    return ReferrerTag(tag, f"sha256:{m.group(1)}", m.group(2))


def referrer_tags(tags: Iterable[str]) -> dict[str, list[ReferrerTag]]:
    """From a repository's tag list: its referrer tags by subject digest (each list sorted by
    tag; ordinary tags left out)."""
    found: dict[str, list[ReferrerTag]] = {}
    for tag in tags:
        rt = classify_tag(tag)
        if rt is not None:
            found.setdefault(rt.subject, []).append(rt)
    for entries in found.values():
        entries.sort(key=lambda r: r.tag)
    return found


@dataclass(frozen=True, slots=True)
class Referrer:
    """One manifest attached to a subject digest, and how it was found."""

    subject: str
    digest: str
    media_type: str
    artifact_type: str
    size: int
    found: Found
    annotations: Mapping[str, str] = field(default_factory=dict)
    tag: str | None = None  # the tag that carries it (cosign-tag) or lists it (referrers-tag)
    suffix: str | None = None  # cosign's tag suffix ("sig", "att", "sbom")

    @property
    def kind(self) -> Kind:
        return kind_of(self.artifact_type, self.suffix)

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "media_type": self.media_type,
            "artifact_type": self.artifact_type,
            "kind": self.kind,
            "size": self.size,
            "annotations": dict(self.annotations),
            "found": self.found,
            "tag": self.tag,
        }


def kind_of(artifact_type: str, suffix: str | None = None) -> Kind:
    """signature, attestation, sbom or other, from the artifact type (cosign's tag suffix
    decides when the type says nothing)."""
    at = artifact_type.lower()
    if at in _SIGNATURE_TYPES or at.endswith(".signature") or "signature" in at.split("/")[-1]:
        return "signature"
    if at in _ATTESTATION_TYPES or "in-toto" in at or "dsse" in at or "provenance" in at:
        return "attestation"
    if "spdx" in at or "cyclonedx" in at or "syft" in at or "sbom" in at:
        return "sbom"
    return _SUFFIX_KIND.get(suffix or "", "other")


def count_kinds(found: Iterable[Referrer]) -> dict[str, int]:
    """How many referrers of each kind (every kind present, in ``KINDS`` order)."""
    counts: dict[str, int] = dict.fromkeys(KINDS, 0)
    for r in found:
        counts[r.kind] += 1
    return counts


_KIND_NAMES: dict[str, tuple[str, str]] = {
    "signature": ("signature", "signatures"),
    "attestation": ("attestation", "attestations"),
    "sbom": ("SBOM", "SBOMs"),
    "other": ("other referrer", "other referrers"),
}


def describe_kinds(counts: Mapping[str, int]) -> str:
    """``2 signatures, 1 SBOM``: each kind with a count, in ``KINDS`` order; ``none``."""
    parts = [f"{n} {_KIND_NAMES[kind][n != 1]}" for kind in KINDS if (n := counts.get(kind, 0)) > 0]
    return ", ".join(parts) or "none"


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _digest(value: Any, what: str) -> str:
    if not isinstance(value, str) or not DIGEST_RE.match(value):
        raise RegistryError(f"{what}: a referrer's digest is not sha256:<64 hex>")
    return value


def _is_image_layer(media_type: str) -> bool:
    return ".layer." in media_type or ".rootfs." in media_type


def artifact_type_of(doc: Mapping[str, Any]) -> str:
    """A manifest's artifact type: ``artifactType``; else, for cosign's shape (an image config
    and a payload layer that is not a filesystem layer: a simplesigning signature, a DSSE
    attestation, an SBOM), the payload layer's media type; else the config's media type unless
    it is the OCI empty config; else the first layer's; "" when none says anything."""
    at = doc.get("artifactType")
    if isinstance(at, str) and at:
        return at
    config = doc.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    layers = doc.get("layers")
    first = layers[0] if isinstance(layers, list) and layers else None
    layer_type = first.get("mediaType") if isinstance(first, dict) else None
    layer = layer_type if isinstance(layer_type, str) else ""
    image_config = config_type in (OCI_CONFIG, DOCKER_CONFIG)
    if layer and (image_config or not config_type) and not _is_image_layer(layer):
        return layer  # cosign: the payload's type says what it is
    if isinstance(config_type, str) and config_type and config_type != OCI_EMPTY:
        return config_type
    return layer


def parse_referrers_index(
    raw: bytes, subject: str, found: Found, what: str, *, tag: str | None = None
) -> list[Referrer] | None:
    """The referrers an OCI index lists (a page of the API, or a tag-schema index); None when
    ``raw`` is not an index (a JSON object with a ``manifests`` list)."""
    data = parse_json(raw, what)
    if not isinstance(data, dict) or not isinstance(data.get("manifests"), list):
        return None
    media_type = data.get("mediaType")
    if media_type is not None and media_type != OCI_INDEX:
        return None
    out: list[Referrer] = []
    for entry in data["manifests"]:
        if not isinstance(entry, dict):
            raise RegistryError(f"{what}: a referrer is not a JSON object")
        size = entry.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RegistryError(f"{what}: a referrer's size is not a number of bytes")
        at = entry.get("artifactType")
        out.append(
            Referrer(
                subject=subject,
                digest=_digest(entry.get("digest"), what),
                media_type=str(entry.get("mediaType") or ""),
                artifact_type=at if isinstance(at, str) else "",
                size=size,
                found=found,
                annotations=_str_map(entry.get("annotations")),
                tag=tag,
            )
        )
    return out


def referrer_from_manifest(manifest: Manifest, rt: ReferrerTag) -> Referrer:
    """The referrer a cosign-scheme tag points at (``sha256-<hex>.sig`` etc.)."""
    doc = manifest.json
    return Referrer(
        subject=rt.subject,
        digest=manifest.digest,
        media_type=manifest.media_type,
        artifact_type=artifact_type_of(doc),
        size=len(manifest.raw),
        found=FOUND_COSIGN,
        annotations=manifest.annotations,
        tag=rt.tag,
        suffix=rt.suffix,
    )


def referrer_limit() -> int:
    """Referrers of one digest regkit reads: ``MAX_REFERRERS`` (never more than ``MAX_ITEMS``,
    the limit on any list)."""
    return min(defaults.MAX_REFERRERS, defaults.MAX_ITEMS)


def too_many_referrers(what: str, where: str) -> LimitExceededError:
    """The limit's error: ``what`` (``referrers of app@sha256:...``), ``where`` (who listed
    them: ``127.0.0.1:5000 listed``)."""
    cap = referrer_limit()
    return LimitExceededError(
        f"{what}: {where} more than {cap} referrers, regkit's limit on the referrers of one "
        "digest; a partial list is not safe to act on",
        limit="referrers of one digest",
        value=cap,
    )


def _unique(found: Iterable[Referrer], artifact_type: str | None) -> list[Referrer]:
    seen: set[str] = set()
    out: list[Referrer] = []
    for r in found:
        if r.digest in seen or (artifact_type is not None and r.artifact_type != artifact_type):
            continue
        seen.add(r.digest)
        out.append(r)
    return out


# -- I/O ----------------------------------------------------------------------------------


def from_api(
    client: RegistryClient, repository: str, digest: str, artifact_type: str | None = None
) -> list[Referrer] | None:
    """The referrers the OCI 1.1 referrers API lists for ``digest``, every page; None when the
    registry does not serve the API."""
    from regkit.registry.client import next_link  # client imports nothing from here

    what = f"referrers of {repository}@{digest}"
    url: str | None = f"/v2/{repository}/referrers/{digest}"
    params = {"artifactType": artifact_type} if artifact_type is not None else None
    out: list[Referrer] = []
    seen_urls: set[str] = set()
    pages = 0
    while url and url not in seen_urls:
        seen_urls.add(url)
        if pages >= defaults.MAX_PAGES:
            raise LimitExceededError(
                f"{what}: {client.registry} sent more than {defaults.MAX_PAGES} pages, regkit's "
                "limit on one list; a partial list is not safe to act on",
                limit="pages of one list",
                value=defaults.MAX_PAGES,
            )
        pages += 1
        response = client.transport.request(
            "GET",
            url,
            repository=repository,
            headers={"Accept": OCI_INDEX},
            params=params if pages == 1 else None,
            limit=(defaults.MAX_MANIFEST_BYTES, "a page of referrers"),
        )
        if response.status_code in _NOT_SERVED and pages == 1:
            return None
        if response.status_code != 200:
            raise client._fail(response, what)
        page = parse_referrers_index(response.content, digest, FOUND_API, what)
        if page is None:
            if pages == 1:
                return None  # 200 but not an index: not the referrers API
            raise RegistryError(f"{what}: {client.registry} sent a page that is not an OCI index")
        if len(out) + len(page) > referrer_limit():
            raise too_many_referrers(what, f"{client.registry} listed")
        out.extend(page)
        url = next_link(response, str(response.request.url), what)
    return [_typed(client, repository, r) for r in out]


def _typed(client: RegistryClient, repository: str, found: Referrer) -> Referrer:
    """Fallback for a registry that reports no artifact type, or the OCI empty config's media
    type (go-containerregistry's registry puts the config's media type there, not the
    manifest's ``artifactType``): the type read from the referrer's own manifest."""
    if found.artifact_type not in ("", OCI_EMPTY):
        return found
    try:
        manifest = client.get_manifest(repository, found.digest)  # bounded, digest checked
    except NotFoundError:
        return found
    return dataclasses.replace(found, artifact_type=artifact_type_of(manifest.json))


def from_tags(
    client: RegistryClient, repository: str, digest: str, tags: Sequence[str]
) -> list[Referrer]:
    """The referrers the tag schemes name for ``digest`` (``tags``: the repository's list)."""
    mine = referrer_tags(tags).get(digest, [])
    what = f"referrers of {repository}@{digest}"
    if len(mine) > referrer_limit():  # before reading any: one manifest per tag
        raise too_many_referrers(what, f"the tag list of {client.registry} names")

    def read(rt: ReferrerTag) -> list[Referrer]:
        try:
            manifest = client.get_manifest(repository, rt.tag)  # bounded: MAX_MANIFEST_BYTES
        except NotFoundError:
            return []  # removed since the tags were listed
        if rt.suffix is not None:
            return [referrer_from_manifest(manifest, rt)]
        what = f"referrers index {repository}:{rt.tag}"
        listed = parse_referrers_index(manifest.raw, digest, FOUND_TAG_INDEX, what, tag=rt.tag)
        return listed or []  # not an index: not the referrers tag schema

    found: list[Referrer] = []
    for rt in mine:  # one by one: a caller may run referrers() on the client's thread pool
        found.extend(read(rt))
        if len(found) > referrer_limit():
            raise too_many_referrers(what, f"the tags and tag indexes of {client.registry} name")
    # the tag schema's index first (it lists what oras and regctl attach), then cosign's tags
    found.sort(key=lambda r: (r.found != FOUND_TAG_INDEX, r.tag or ""))
    return found


def referrers(
    client: RegistryClient,
    repository: str,
    digest: str,
    artifact_type: str | None = None,
    *,
    tags: Sequence[str] | None = None,
) -> list[Referrer]:
    """Every referrer of ``digest`` in ``repository``: the referrers API where served, the
    referrers tag schema and cosign's tags (see the module doc). ``artifact_type`` keeps only
    that type. ``tags``: the repository's tag list when the caller has it (else it is listed).
    """
    if not DIGEST_RE.match(digest):
        raise InvalidReferenceError(
            f"referrers: {digest!r} is not a digest (sha256:<64 hex>); referrers belong to a "
            "digest, resolve a tag first"
        )
    served = from_api(client, repository, digest, artifact_type)
    listing = list(tags) if tags is not None else client.tags(repository, invalid="warn")
    tagged = from_tags(client, repository, digest, listing)
    found = _unique([*(served or []), *tagged], artifact_type)
    if len(found) > referrer_limit():
        raise too_many_referrers(f"referrers of {repository}@{digest}", f"{client.registry} has")
    return found


def too_deep(repository: str, digest: str) -> LimitExceededError:
    """The error of a referrer more than ``MAX_REFERRER_DEPTH`` levels below ``digest``."""
    depth = defaults.MAX_REFERRER_DEPTH
    return LimitExceededError(
        f"referrers of {repository}@{digest}: a referrer more than {depth} levels below the "
        "image (a referrer of a referrer of ...), regkit's limit on referrer chains",
        limit="levels of referrers",
        value=depth,
    )


def referrers_below(
    client: RegistryClient, repository: str, digest: str, *, tags: Sequence[str] | None = None
) -> list[Referrer]:
    """Every referrer of ``digest`` and theirs (a signed SBOM's signature), level by level, at
    most ``MAX_REFERRER_DEPTH`` levels (a deeper one: ``too_deep``), each digest once (a
    registry naming one again is not followed again); the API asked until it says it is not
    served. What ``regkit.ops.copy.copy_referrers`` copies."""
    listing = list(tags) if tags is not None else client.tags(repository, invalid="warn")
    seen = {digest}
    out: list[Referrer] = []
    level = [digest]
    served = True
    for depth in range(defaults.MAX_REFERRER_DEPTH + 1):
        below: list[Referrer] = []
        for subject in level:
            api = from_api(client, repository, subject) if served else None
            served = api is not None
            for r in _unique(
                [*(api or []), *from_tags(client, repository, subject, listing)], None
            ):
                if r.digest not in seen:
                    seen.add(r.digest)
                    below.append(r)
        if not below:
            break
        if depth == defaults.MAX_REFERRER_DEPTH:
            raise too_deep(repository, digest)
        out += below
        level = [r.digest for r in below]
    return out


__all__ = [
    "FOUND_API",
    "FOUND_COSIGN",
    "FOUND_TAG_INDEX",
    "KINDS",
    "OCI_EMPTY",
    "REFERRER_TAG",
    "Found",
    "Kind",
    "Referrer",
    "ReferrerTag",
    "artifact_type_of",
    "classify_tag",
    "count_kinds",
    "describe_kinds",
    "from_api",
    "from_tags",
    "kind_of",
    "parse_referrers_index",
    "referrer_from_manifest",
    "referrer_limit",
    "referrer_subject",
    "referrer_tags",
    "referrers",
    "referrers_below",
    "too_deep",
    "too_many_referrers",
]
