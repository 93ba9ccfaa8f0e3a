"""Push test images through the registry HTTP API with plain httpx, independently of regkit.

Four kinds: ``"oci"`` (single-platform OCI manifest), ``"docker"`` (Docker schema2 manifest),
``"oci-index"`` (OCI index, linux/amd64 + linux/arm64) and ``"docker-list"`` (Docker manifest
list, same platforms). Configs carry the labels ``org.opencontainers.image.created``,
``org.opencontainers.image.description`` and ``org.opencontainers.image.revision`` plus the
config's own ``created``. Layers are small valid gzip'd tars of random bytes.

Uploads are POST then PUT (distribution 2.8 ignores a single ``POST ?digest=`` with a body).
Every manifest PUT checks that the registry's ``Docker-Content-Digest`` equals our sha256.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import random
import tarfile
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx

if TYPE_CHECKING:
    import ssl

    from .shapes import Rig

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])

LABEL_CREATED = "org.opencontainers.image.created"
LABEL_DESCRIPTION = "org.opencontainers.image.description"
LABEL_REVISION = "org.opencontainers.image.revision"

Kind = Literal["oci", "docker", "oci-index", "docker-list"]
KINDS: tuple[Kind, ...] = ("oci", "docker", "oci-index", "docker-list")
INDEX_KINDS: tuple[Kind, ...] = ("oci-index", "docker-list")
DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
DEFAULT_CREATED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
DEFAULT_DESCRIPTION = "regkit test image"


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# -- small helpers -----------------------------------------------------------------------------
def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def rfc3339(dt: datetime) -> str:
    """``2024-01-02T03:04:05Z`` (UTC, seconds)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def team_time(dt: datetime) -> str:
    """The team's label format ``2024-01-02 03:04:05`` (UTC)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def short_sha_tags(n: int, seed: int | None = None) -> list[str]:
    """``n`` distinct 7-hex-digit tags like short commit SHAs (deterministic with ``seed``)."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        tag = f"{rng.getrandbits(28):07x}"
        if tag not in seen:
            seen.add(tag)
            out.append(tag)
    return out


def _rng_bytes(rng: random.Random | None, n: int) -> bytes:
    return rng.randbytes(n) if rng is not None else os.urandom(n)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _split_platform(platform: str) -> dict[str, str]:
    parts = platform.split("/")
    out = {"architecture": parts[1], "os": parts[0]}
    if len(parts) > 2:
        out["variant"] = parts[2]
    return out


# -- what gets pushed --------------------------------------------------------------------------
@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    media_type: str
    data: bytes = field(repr=False)

    @classmethod
    def of(cls, data: bytes, media_type: str) -> Blob:
        return cls(sha256_digest(data), len(data), media_type, data)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def make_layer(
    size: int = 2048, *, media_type: str = OCI_LAYER, rng: random.Random | None = None
) -> tuple[Blob, str]:
    """A gzip'd tar holding one file of ``size`` random bytes: (blob, diff_id)."""
    content = _rng_bytes(rng, size)
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("data.bin")
        info.size = size
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = tar_buf.getvalue()
    gz = gzip.compress(tar_bytes, compresslevel=1, mtime=0)
    return Blob.of(gz, media_type), sha256_digest(tar_bytes)


@dataclass(frozen=True)
class PlatformManifest:
    """A single-platform manifest (OCI or Docker schema2) with its config and layers."""

    digest: str
    media_type: str
    raw: bytes = field(repr=False)
    platform: str  # "linux/amd64"
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def config_json(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.config.data)
        return result

    @property
    def content_size(self) -> int:
        """Bytes of config + layers."""
        return self.config.size + sum(layer.size for layer in self.layers)


@dataclass
class PushedImage:
    """An image as pushed. For index kinds ``manifests`` holds one entry per platform (in index
    order); for single-platform kinds it holds the image's own manifest."""

    repo: str
    tags: list[str]
    kind: Kind
    digest: str  # top-level manifest (the index for index kinds)
    media_type: str
    raw: bytes = field(repr=False)
    manifests: tuple[PlatformManifest, ...]
    label_created: str | None  # value of org.opencontainers.image.created (None: no label)
    config_created: str  # the config's "created"
    description: str | None
    revision: str | None

    @property
    def size(self) -> int:
        """Bytes of the top-level manifest."""
        return len(self.raw)

    @property
    def is_index(self) -> bool:
        return self.kind in INDEX_KINDS

    @property
    def children(self) -> list[str]:
        """Child manifest digests of an index (empty for single-platform kinds)."""
        return [m.digest for m in self.manifests] if self.is_index else []

    @property
    def config(self) -> Blob | None:
        """The config blob of a single-platform image (None for index kinds)."""
        return None if self.is_index else self.manifests[0].config

    @property
    def layers(self) -> tuple[Blob, ...]:
        """Layers of a single-platform image (empty for index kinds)."""
        return () if self.is_index else self.manifests[0].layers

    @property
    def platforms(self) -> list[str]:
        return [m.platform for m in self.manifests]

    @property
    def content_size(self) -> int:
        """Config + layer bytes summed over every platform manifest."""
        return sum(m.content_size for m in self.manifests)

    def manifest_for(self, platform: str) -> PlatformManifest:
        for m in self.manifests:
            if m.platform == platform:
                return m
        raise KeyError(platform)

    def ref(self, host: str, tag: str | None = None) -> str:
        """``host/repo:tag`` (first tag by default) or, with ``tag="@"``, ``host/repo@digest``."""
        if tag == "@":
            return f"{host}/{self.repo}@{self.digest}"
        return f"{host}/{self.repo}:{tag or self.tags[0]}"


def build_config(
    platform: str,
    *,
    created: str,
    labels: Mapping[str, str],
    diff_ids: Sequence[str],
    docker: bool,
) -> bytes:
    config: dict[str, Any] = {
        "created": created,
        **_split_platform(platform),
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Labels": dict(labels)},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created": created, "created_by": "regkit test rig"} for _ in diff_ids],
    }
    if docker:
        config["config"]["Cmd"] = ["/bin/sh"]
    return _dumps(config)


def build_manifest(docker: bool, config: Blob, layers: Sequence[Blob]) -> bytes:
    return _dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [layer.descriptor() for layer in layers],
        }
    )


def build_index(docker: bool, children: Sequence[PlatformManifest]) -> bytes:
    return _dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST if docker else OCI_INDEX,
            "manifests": [
                {
                    "mediaType": c.media_type,
                    "digest": c.digest,
                    "size": c.size,
                    "platform": _split_platform(c.platform),
                }
                for c in children
            ],
        }
    )


class PushError(AssertionError):
    """The registry refused something the rig pushed (a rig or registry problem, not regkit's)."""


# -- the pusher --------------------------------------------------------------------------------
class Pusher:
    """Registry API client for seeding test data: one httpx pool, Basic auth sent up front.

    HTTP/1.1 keep-alive only, by design: httpcore 1.0's sync HTTP/2 connection is not safe
    for concurrent requests from several threads (it allocates stream ids and sends HEADERS
    without a lock; nginx then answers PROTOCOL_ERROR / 400 "client sent HEADERS frame with
    incorrect identifier"), and ``push_images``/``tag(jobs=...)`` use a thread pool.
    """

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.client = httpx.Client(
            base_url=url,
            auth=auth,
            verify=verify,
            http2=False,
            timeout=timeout,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )

    @classmethod
    def for_rig(cls, rig: Rig) -> Pusher:
        return cls(rig.url, auth=rig.credentials, verify=rig.ssl_context())

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Pusher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw API ---------------------------------------------------------------------------
    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """``client.request`` retried (3 attempts) on transport errors.

        Needed for more than setup robustness: nginx ends an HTTP/2 connection with GOAWAY after
        ``keepalive_requests`` (default 1000) requests and httpcore then fails the next request
        on that connection with ``RemoteProtocolError`` instead of retrying it. Only used for
        requests that are safe to repeat (every call site here is).
        """
        for attempt in range(3):
            try:
                return self.client.request(method, url, **kwargs)
            except httpx.TransportError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _check(r: httpx.Response, *ok: int) -> httpx.Response:
        if r.status_code not in ok:
            raise PushError(
                f"{r.request.method} {r.request.url.path} -> {r.status_code}: {r.text[:300]}"
            )
        return r

    def blob_exists(self, repo: str, digest: str) -> bool:
        r = self.request("HEAD", f"/v2/{repo}/blobs/{digest}")
        return r.status_code == 200

    def upload_blob(self, repo: str, blob: Blob) -> Blob:
        """POST an upload session, then PUT the whole body with ``?digest=``."""
        for attempt in range(3):
            try:
                r = self._check(self.client.post(f"/v2/{repo}/blobs/uploads/"), 202)
                location = r.headers["location"]
                sep = "&" if "?" in location else "?"
                put_url = f"{location}{sep}digest={urllib.parse.quote(blob.digest, safe='')}"
                self._check(
                    self.client.put(
                        put_url,
                        content=blob.data,
                        headers={"Content-Type": "application/octet-stream"},
                    ),
                    201,
                )
                return blob
            except httpx.TransportError:  # a fresh upload session is always safe to start
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
        """PUT a manifest by tag or digest; returns its digest (checked against the registry's)."""
        r = self._check(
            self.request(
                "PUT",
                f"/v2/{repo}/manifests/{ref}",
                content=raw,
                headers={"Content-Type": media_type},
            ),
            201,
        )
        digest = sha256_digest(raw)
        served = r.headers.get("docker-content-digest")
        if served != digest:
            raise PushError(f"registry stored {repo}:{ref} as {served}, expected {digest}")
        return digest

    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        """(raw bytes, Content-Type, sha256 of the bytes), with the full Accept list."""
        r = self._check(
            self.request("GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT}), 200
        )
        return r.content, r.headers.get("content-type", ""), sha256_digest(r.content)

    def manifest_status(self, repo: str, ref: str) -> int:
        """Status of a HEAD on the manifest (200 present, 404 absent)."""
        return self.request(
            "HEAD", f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT}
        ).status_code

    def delete_manifest(self, repo: str, digest: str) -> None:
        self._check(self.request("DELETE", f"/v2/{repo}/manifests/{digest}"), 202)

    def tags(self, repo: str) -> list[str]:
        """Tags of ``repo`` (sorted by the registry; [] for ``"tags": null`` or 404)."""
        r = self.request("GET", f"/v2/{repo}/tags/list")
        if r.status_code == 404:
            return []
        self._check(r, 200)
        return list(r.json().get("tags") or [])

    def catalog(self) -> list[str]:
        """Every repository, following ``Link`` pages."""
        out: list[str] = []
        url: str | None = "/v2/_catalog?n=1000"
        while url:
            r = self._check(self.request("GET", url), 200)
            out.extend(r.json().get("repositories") or [])
            link = r.headers.get("link")
            url = link.split(";")[0].strip().strip("<>") if link else None
        return out

    # -- images ----------------------------------------------------------------------------
    def push_blobs(self, repo: str, blobs: Iterable[Blob], *, skip_existing: bool = False) -> None:
        for blob in blobs:
            if skip_existing and self.blob_exists(repo, blob.digest):
                continue
            self.upload_blob(repo, blob)

    def push_platform_manifest(
        self,
        repo: str,
        platform: str,
        *,
        docker: bool,
        config_created: str,
        labels: Mapping[str, str],
        layers: Sequence[tuple[Blob, str]],
        ref: str | None = None,
        upload_layers: bool = True,
    ) -> PlatformManifest:
        """Upload config (+ layers) and PUT the manifest (by digest unless ``ref`` given)."""
        if docker:
            layers = [(Blob.of(b.data, DOCKER_LAYER), d) for b, d in layers]
        config_raw = build_config(
            platform,
            created=config_created,
            labels=labels,
            diff_ids=[d for _, d in layers],
            docker=docker,
        )
        config = Blob.of(config_raw, DOCKER_CONFIG if docker else OCI_CONFIG)
        if upload_layers:
            self.push_blobs(repo, [b for b, _ in layers])
        self.upload_blob(repo, config)
        raw = build_manifest(docker, config, [b for b, _ in layers])
        media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
        digest = self.put_manifest(repo, ref or sha256_digest(raw), raw, media_type)
        return PlatformManifest(
            digest=digest,
            media_type=media_type,
            raw=raw,
            platform=platform,
            config=config,
            layers=tuple(b for b, _ in layers),
        )

    def push_image(
        self,
        repo: str,
        tags: str | Sequence[str] = "latest",
        kind: Kind = "oci",
        *,
        created: datetime | str = DEFAULT_CREATED,
        label_created: str | None = UNSET,
        description: str | None = DEFAULT_DESCRIPTION,
        revision: str | None = UNSET,
        labels: Mapping[str, str] | None = None,
        platforms: Sequence[str] | None = None,
        layers: int = 1,
        layer_size: int = 2048,
        shared_layers: Sequence[tuple[Blob, str]] | None = None,
        seed: int | None = None,
        jobs: int = 1,
    ) -> PushedImage:
        """Push one image of ``kind`` under every tag in ``tags`` and return what was pushed.

        ``created``: the config's ``created`` (datetime -> RFC3339, or a string as is).
        ``label_created``: the ``org.opencontainers.image.created`` label; default = the
        RFC3339 form of ``created``; pass ``team_time(dt)`` for the team's format, None to omit
        the label. ``description``/``revision``: labels (None omits; revision defaults to a
        random 40-hex SHA). ``labels``: extra labels. ``platforms``: default linux/amd64 for
        single kinds, linux/amd64 + linux/arm64 for index kinds. ``shared_layers``: reuse
        (blob, diff_id) pairs (from ``make_layer``) instead of making ``layers`` random ones;
        they must already be in ``repo`` (``push_blobs``), so no request is spent on them.
        ``seed`` makes layers and the default revision deterministic. An empty ``tags`` pushes
        by digest only.
        """
        rng = random.Random(seed) if seed is not None else None
        tag_list = [tags] if isinstance(tags, str) else list(tags)
        config_created = created if isinstance(created, str) else rfc3339(created)
        if label_created is UNSET:
            label_created = created if isinstance(created, str) else rfc3339(created)
        if revision is UNSET:
            revision = _rng_bytes(rng, 20).hex()
        all_labels: dict[str, str] = {}
        if label_created is not None:
            all_labels[LABEL_CREATED] = label_created
        if description is not None:
            all_labels[LABEL_DESCRIPTION] = description
        if revision is not None:
            all_labels[LABEL_REVISION] = revision
        all_labels.update(labels or {})

        is_index = kind in INDEX_KINDS
        docker = kind in ("docker", "docker-list")
        plats = list(platforms or (DEFAULT_PLATFORMS if is_index else DEFAULT_PLATFORMS[:1]))
        if not is_index and len(plats) != 1:
            raise ValueError(f"kind {kind!r} takes exactly one platform")

        manifests: list[PlatformManifest] = []
        for plat in plats:
            if shared_layers is not None:
                layer_pairs = list(shared_layers)
                upload = False
            else:
                layer_pairs = [make_layer(layer_size, rng=rng) for _ in range(layers)]
                upload = True
            first_tag = tag_list[0] if (tag_list and not is_index) else None
            manifests.append(
                self.push_platform_manifest(
                    repo,
                    plat,
                    docker=docker,
                    config_created=config_created,
                    labels=all_labels,
                    layers=layer_pairs,
                    ref=first_tag,
                    upload_layers=upload,
                )
            )
        if is_index:
            raw = build_index(docker, manifests)
            media_type = DOCKER_LIST if docker else OCI_INDEX
            digest = self.put_manifest(
                repo, tag_list[0] if tag_list else sha256_digest(raw), raw, media_type
            )
        else:
            raw, media_type, digest = manifests[0].raw, manifests[0].media_type, manifests[0].digest
        image = PushedImage(
            repo=repo,
            tags=tag_list,
            kind=kind,
            digest=digest,
            media_type=media_type,
            raw=raw,
            manifests=tuple(manifests),
            label_created=label_created,
            config_created=config_created,
            description=description,
            revision=revision,
        )
        if len(tag_list) > 1:
            self.tag(image, tag_list[1:], jobs=jobs)
        return image

    def tag(
        self,
        image: PushedImage,
        tags: Iterable[str],
        *,
        repo: str | None = None,
        jobs: int = 1,
    ) -> None:
        """PUT ``image``'s manifest bytes under each tag (in ``repo``, default the image's).

        ``jobs=1`` is a plain loop over one keep-alive connection (1,000 tags take about 2-3 s);
        more jobs run PUTs concurrently. The tags are appended to ``image.tags`` when the
        repository is the image's own.
        """
        target = repo or image.repo
        new = list(tags)

        def put(tag: str) -> None:
            self.put_manifest(target, tag, image.raw, image.media_type)

        if jobs <= 1:
            for t in new:
                put(t)
        else:
            with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
                list(pool.map(put, new))
        if target == image.repo:
            image.tags.extend(t for t in new if t not in image.tags)

    def push_images(
        self,
        repo: str,
        tags: Sequence[str],
        kind: Kind = "oci",
        *,
        start: datetime = DEFAULT_CREATED,
        step: timedelta = timedelta(hours=1),
        label_format: Literal["rfc3339", "team", "none"] = "rfc3339",
        description: str | None = DEFAULT_DESCRIPTION,
        jobs: int = 8,
    ) -> list[PushedImage]:
        """One distinct image per tag, fast: ``tags[i]`` gets created ``start + i*step`` (so the
        last tag is the newest), revision = a 40-hex SHA starting with the tag when the tag is
        hex. All images share one small layer (uploaded once); each has its own config, so
        every digest differs. Returns the images in ``tags`` order.
        """
        shared = [make_layer(512)]
        if kind in ("docker", "docker-list"):
            shared = [(Blob.of(shared[0][0].data, DOCKER_LAYER), shared[0][1])]
        self.push_blobs(repo, [b for b, _ in shared])
        fmt = {"rfc3339": rfc3339, "team": team_time}

        def one(i_tag: tuple[int, str]) -> PushedImage:
            i, tag = i_tag
            when = start + i * step
            label = None if label_format == "none" else fmt[label_format](when)
            rev = (tag + hashlib.sha1(tag.encode()).hexdigest())[:40]
            if not all(c in "0123456789abcdef" for c in rev):
                rev = hashlib.sha1(tag.encode()).hexdigest()
            return self.push_image(
                repo,
                tag,
                kind,
                created=when,
                label_created=label,
                description=description,
                revision=rev,
                shared_layers=shared,
            )

        items = list(enumerate(tags))
        if jobs <= 1:
            return [one(it) for it in items]
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            return list(pool.map(one, items))


def tag_on_disk(storage_dir: Path, repo: str, digest: str, tags: Iterable[str]) -> None:
    """Point ``tags`` at ``digest`` by writing distribution's tag link files directly.

    For seeding thousands of tags in milliseconds (the API takes several ms per tag PUT here).
    The manifest must already be in ``repo`` (push it through the API first). Distribution 2.8
    keeps no tag cache, so the tags are visible at once; this bypasses the API, so use it only
    for volume, never to test pushing.
    """
    algo, hexpart = digest.split(":", 1)
    base = storage_dir / "docker/registry/v2/repositories" / repo / "_manifests"
    if not (base / "revisions" / algo / hexpart / "link").exists():
        raise ValueError(f"{digest} is not a manifest of {repo}; push it through the API first")
    for tag in tags:
        tag_dir = base / "tags" / tag
        (tag_dir / "current").mkdir(parents=True, exist_ok=True)
        index = tag_dir / "index" / algo / hexpart
        index.mkdir(parents=True, exist_ok=True)
        (index / "link").write_text(digest)
        (tag_dir / "current" / "link").write_text(digest)
