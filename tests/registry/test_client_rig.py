"""The registry client in-process against the real registries (2.8 and registry:3, both shapes)."""

from __future__ import annotations

import hashlib
import os

import pytest

from regkit.errors import NotFoundError, UnsupportedError
from regkit.registry import client as client_module
from regkit.registry.manifest import sha256_digest
from tests.rig import Rig, client_for, regctl, tag_on_disk
from tests.rig.crane import crane


def test_catalog_pagination_on_28(
    rig: Rig, repo_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pusher = rig.pusher()
    for i in range(5):
        pusher.push_image(f"{repo_prefix}/r{i}", ["v1"], layer_size=16)
    monkeypatch.setattr(client_module, "PAGE_SIZE", 2)  # 2.8 paginates _catalog by n
    rig.mark()
    with client_for(rig) as client:
        repos = client.catalog()
    assert [f"{repo_prefix}/r{i}" for i in range(5)] == [
        r for r in repos if r.startswith(repo_prefix)
    ]
    pages = [r for r in rig.requests() if r.path.startswith("/v2/_catalog")]
    assert len(pages) >= 3
    assert crane(rig, "catalog", rig.host).stdout.decode().splitlines() == repos


def test_tag_pagination(rig: Rig, repo_prefix: str) -> None:
    """2,500 tags: registry:3 pages them in sorted order (n clamped to 1000, relative ``Link``
    until a short page); 2.8 ignores ``n`` and answers everything at once, in storage order
    (not sorted). The client gets every tag either way, in the registry's order. (crane 0.22.1
    cannot list past the first page over HTTPS on 127.0.0.1: it takes loopback for plain HTTP
    and refuses the https ``Link``; hence regctl here.)"""
    repo = f"{repo_prefix}/many"
    image = rig.pusher().push_image(repo, ["t0000"], layer_size=16)
    names = [f"t{i:04d}" for i in range(2500)]
    tag_on_disk(rig.storage_dir, repo, image.digest, names[1:])
    rig.mark()
    with client_for(rig) as client:
        listed = client.tags(repo)
    assert listed == names if rig.version == "3" else sorted(listed) == names
    pages = [r for r in rig.requests() if r.path.startswith(f"/v2/{repo}/tags/list")]
    assert all(r.status == 200 for r in pages)
    if rig.version == "2.8":
        assert len(pages) == 1
    else:
        assert len(pages) == 3, pages  # 1000 + 1000 + 500 (no Link on a short page)
        assert "last=t0999" in pages[1].path and "last=t1999" in pages[2].path
    # regctl sorts what it lists
    assert regctl(rig, "tag", "ls", rig.ref(repo)).stdout.decode().split() == names


@pytest.mark.parametrize("known_size", [True, False], ids=["streamed-put", "chunked-patch"])
def test_blob_upload_streams(rig: Rig, repo_prefix: str, known_size: bool) -> None:
    data = os.urandom(9 * 1024 * 1024 + 123)  # more than two 4 MiB chunks
    digest = sha256_digest(data)
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    repo = f"{repo_prefix}/blobs"
    with client_for(rig) as client:
        client.upload_blob(repo, digest, iter(chunks), len(data) if known_size else None)
        assert client.blob_size(repo, digest) == len(data)
        h = hashlib.sha256()
        with client.open_blob(repo, digest) as stream:
            for chunk in stream:
                h.update(chunk)
        assert "sha256:" + h.hexdigest() == digest
    patches = [r for r in rig.requests() if r.method == "PATCH"]
    assert len(patches) == (0 if known_size else 3)


def test_mount_and_refused_mount(rig: Rig, repo_prefix: str) -> None:
    data = os.urandom(1000)
    with client_for(rig) as client:
        digest = client.upload_bytes(f"{repo_prefix}/a", data)
        assert client.mount_blob(f"{repo_prefix}/b", digest, f"{repo_prefix}/a") is True
        assert client.blob_size(f"{repo_prefix}/b", digest) == 1000
        missing = sha256_digest(b"not there")
        assert client.mount_blob(f"{repo_prefix}/c", missing, f"{repo_prefix}/a") is False
        assert client.blob_size(f"{repo_prefix}/c", missing) is None


def test_deletes_by_tag_and_digest(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    image = rig.pusher().push_image(repo, ["old", "latest"])
    with client_for(rig) as client:
        if rig.version == "2.8":
            with pytest.raises(UnsupportedError, match="cannot delete a tag"):
                client.delete_manifest(repo, "old")
            assert sorted(client.tags(repo)) == ["latest", "old"]
        else:  # registry:3 deletes the tag alone; the digest and its other tags stay
            client.delete_manifest(repo, "old")
            assert client.tags(repo) == ["latest"]
            latest = client.resolve(repo, "latest")
            assert latest is not None and latest.digest == image.digest
            with pytest.raises(NotFoundError):
                client.delete_manifest(repo, "old")
        client.delete_manifest(repo, image.digest)
        assert client.tags(repo) == []  # a digest delete takes every tag with it
        assert client.resolve(repo, "latest") is None
        with pytest.raises(NotFoundError):
            client.delete_manifest(repo, image.digest)


def test_resolve_and_get_agree_for_every_kind(rig: Rig, repo_prefix: str) -> None:
    pusher = rig.pusher()
    with client_for(rig) as client:
        for kind in ("oci", "docker", "oci-index", "docker-list"):
            image = pusher.push_image(f"{repo_prefix}/{kind}", ["v1"], kind)  # type: ignore[arg-type]
            desc = client.resolve(f"{repo_prefix}/{kind}", "v1")
            assert desc is not None
            assert (desc.digest, desc.media_type, desc.size) == (
                image.digest,
                image.media_type,
                len(image.raw),
            )
            manifest = client.get_manifest(f"{repo_prefix}/{kind}", "v1")
            assert manifest.raw == image.raw
            assert [c.digest for c in manifest.children] == image.children
