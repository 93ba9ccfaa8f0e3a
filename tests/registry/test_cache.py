"""The content cache of ``regkit overview``: a repeated overview reads only the tags'
manifests, prints the same bytes, never trusts a damaged file, and keeps to its directory."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from regkit.registry.cache import ContentCache
from tests.clirun import regkit
from tests.rig import PRODUCTION, Rig, rig_shapes


def _digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def test_round_trip_and_modes(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "c")
    raw = b'{"schemaVersion":2}'
    cache.put(_digest(raw), "application/vnd.oci.image.manifest.v1+json", raw)
    assert cache.get(_digest(raw)) is None  # written at flush, not before
    cache.flush()
    assert cache.get(_digest(raw)) == ("application/vnd.oci.image.manifest.v1+json", raw)
    files = [p for p in (tmp_path / "c").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    for directory in (tmp_path / "c", tmp_path / "c" / "sha256", files[0].parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_refuses_what_does_not_hash_to_its_digest_and_drops_damaged_files(
    tmp_path: Path,
) -> None:
    cache = ContentCache(tmp_path)
    raw, other = b"config-a", b"config-b"
    cache.put(_digest(raw), "x", other)  # bytes that are not the digest's: never stored
    cache.put("sha256:../../etc", "x", raw)  # not a digest: never a path
    cache.flush()
    assert cache.writes == 0
    assert not list(tmp_path.rglob("*"))
    cache.put(_digest(raw), "x", raw)
    cache.flush()
    [path] = [p for p in tmp_path.rglob("*") if p.is_file()]
    path.write_bytes(b"x\nconfig-A")  # changed on disk
    assert cache.get(_digest(raw)) is None
    assert not path.exists()  # removed, so it is fetched and written again


def test_reads_no_more_than_an_entry_and_never_waits_on_a_special_file(tmp_path: Path) -> None:
    # What stands in the cache under a digest's name is data: a huge file, a FIFO or a link to
    # a device is refused after reading at most one entry's size, and never blocks the read.
    cache = ContentCache(tmp_path)
    raw = b"config-a"
    cache.put(_digest(raw), "application/json", raw)
    cache.flush()
    (path,) = (p for p in tmp_path.rglob("*") if p.is_file())

    path.unlink()
    with path.open("wb") as f:  # a sparse 64 MiB file: larger than any entry ever written
        f.truncate(64 * 1024 * 1024)
    assert cache.get(_digest(raw)) is None
    assert not path.exists()  # dropped as damaged

    os.mkfifo(path)  # nobody writes to it: a plain read would wait forever
    done: list[object] = []
    reader = threading.Thread(target=lambda: done.append(cache.get(_digest(raw))), daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():
        with open(path, "wb"):  # let the stuck read end, then fail
            pass
        reader.join(5)
        pytest.fail("the cache waited on a FIFO standing under a digest's name")
    assert done == [None]

    path.unlink(missing_ok=True)  # dropped as damaged too
    path.symlink_to("/dev/zero")
    assert cache.get(_digest(raw)) is None


def test_trim_keeps_the_newest(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path)
    digests = []
    for i in range(12):
        raw = f"object {i}".encode()
        digests.append(_digest(raw))
        cache.put(digests[-1], "x", raw)
    cache.flush()
    for age, digest in enumerate(reversed(digests)):  # the last written is the newest
        path = cache._path(digest)
        assert path is not None
        os.utime(path, (1_000_000 - age, 1_000_000 - age))
    assert cache.trim(keep=5, limit=10) == 7
    assert [cache.get(d) is not None for d in digests] == [False] * 7 + [True] * 5


def test_environment_switches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REGKIT_CACHE", "off")
    assert ContentCache.from_environment() is None
    monkeypatch.delenv("REGKIT_CACHE")
    monkeypatch.setenv("REGKIT_CACHE_DIR", str(tmp_path / "here"))
    cache = ContentCache.from_environment()
    assert cache is not None and cache.root == tmp_path / "here"
    monkeypatch.delenv("REGKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = ContentCache.from_environment()
    assert cache is not None and cache.root == tmp_path / "xdg" / "regkit" / "content"


@rig_shapes(PRODUCTION)
def test_second_overview_reads_only_the_tags(rig: Rig, repo_prefix: str, tmp_path: Path) -> None:
    pusher = rig.pusher()
    repo = f"{repo_prefix}/app"
    pusher.push_image(repo, ["aaaaaaa"], "oci-index", description="one")
    pusher.push_image(repo, ["bbbbbbb"], "docker", description="two")
    env = rig.env(REGKIT_CACHE="on", REGKIT_CACHE_DIR=str(tmp_path / "cache"))
    args = ("overview", rig.host, "--repo", repo, "--format", "json")

    rig.mark()
    first = regkit(*args, env=env)
    assert first.returncode == 0, first.stderr.decode()
    first_paths = [r.path for r in rig.requests() if r.method == "GET" and r.status == 200]
    assert any("/blobs/" in p for p in first_paths)  # configs read from the registry

    rig.mark()
    second = regkit(*args, env=env)
    assert second.returncode == 0, second.stderr.decode()
    assert second.stdout == first.stdout
    reads = [r.path for r in rig.requests() if r.method == "GET" and r.status == 200]
    by_tag = {f"/v2/{repo}/manifests/aaaaaaa", f"/v2/{repo}/manifests/bbbbbbb"}
    assert set(reads) - {"/v2/"} == by_tag | {f"/v2/{repo}/tags/list?n=1000"}

    # --no-cache reads everything again, and prints the same bytes
    rig.mark()
    third = regkit(*args, "--no-cache", env=env)
    assert third.stdout == first.stdout
    assert {r.path for r in rig.requests() if r.method == "GET"} >= set(first_paths)

    # a damaged file is a miss: read again from the registry, same output, file repaired
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert files
    for path in files:
        path.write_bytes(path.read_bytes() + b" ")
    rig.mark()
    fourth = regkit(*args, env=env)
    assert fourth.stdout == first.stdout
    assert any("/blobs/" in r.path for r in rig.requests())
    assert regkit(*args, env=env).stdout == first.stdout


@rig_shapes(PRODUCTION)
def test_overview_cache_off_writes_nothing(rig: Rig, repo_prefix: str, tmp_path: Path) -> None:
    rig.pusher().push_image(f"{repo_prefix}/app", ["v1"], "oci-index")
    home = tmp_path / "home"
    home.mkdir()
    for extra in ({"REGKIT_CACHE": "off"}, {"REGKIT_CACHE": "on"}):
        env = rig.env(HOME=str(home), **extra)
        env.pop("REGKIT_CACHE_DIR", None)
        env.pop("XDG_CACHE_HOME", None)
        out = regkit("overview", rig.host, "--repo", f"{repo_prefix}/app", "--no-cache", env=env)
        assert out.returncode == 0, out.stderr.decode()
        out = regkit("overview", rig.host, "--repo", f"{repo_prefix}/app", env={**env})
        assert out.returncode == 0
        cached = list((home / ".cache").rglob("*")) if (home / ".cache").exists() else []
        if extra["REGKIT_CACHE"] == "off":
            assert cached == []
        else:
            assert any(p.is_file() for p in cached)  # the default place: ~/.cache/regkit
            assert (home / ".cache" / "regkit" / "content" / "sha256").is_dir()
