"""Load: 10,000 tags in one repository. ``overview`` and ``prune --dry-run`` report every tag and
their memory stays flat (10x the tags must not mean anything near 10x the memory), on the real
registry (distribution 2.8, one page of tags) and on registry:3-style paginated answers.

The tags are seeded on disk (``tag_on_disk``): one manifest pushed through the API, then
thousands of tag links written straight into the registry's storage.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.clirun import regkit
from tests.fakeserver import Answer, Seen, json_answer
from tests.rig import Rig
from tests.rig.images import tag_on_disk

MANY = 10_000
FEW = 1_000


def _tag(i: int) -> str:
    return f"{i:07x}"  # short-SHA-like, so the default --match applies


@dataclass
class Run:
    returncode: int
    stdout: bytes
    stderr: bytes
    max_rss_kib: int


def _measured(args: list[str], env: dict[str, str], tmp_path: Path, name: str) -> Run:
    """``regkit ARGS`` as a child of its own, with the peak RSS of that child alone
    (``os.wait4`` gives the child's rusage; RUSAGE_CHILDREN would be the largest child of the
    whole test run)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    out_path, err_path = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "regkit", *args],
            env={**base, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(proc.returncode, out_path.read_bytes(), err_path.read_bytes(), usage.ru_maxrss)


def _env(rig: Rig) -> dict[str, str]:
    return {
        "REGISTRY_USERNAME": rig.username,
        "REGISTRY_PASSWORD": rig.password,
        "DOCKER_CONFIG": "/nonexistent",
    }


@pytest.fixture(scope="module")
def loaded(rig_factory_module: Rig) -> Iterator[tuple[Rig, str, str, str]]:
    """A private rig with ``few/app`` (1,000 tags) and ``many/app`` (10,000 tags), every tag on
    the same image."""
    rig = rig_factory_module
    pusher = rig.pusher()
    digests = []
    for repo, count in (("few/app", FEW), ("many/app", MANY)):
        image = pusher.push_image(repo, [_tag(0)], "oci")
        tag_on_disk(rig.storage_dir, repo, image.digest, [_tag(i) for i in range(1, count)])
        digests.append(image.digest)
    assert digests[0] != digests[1]  # two distinct images (random layers)
    yield rig, "few/app", "many/app", digests[1]


@pytest.fixture(scope="module")
def rig_factory_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    from tests.rig import start_rig

    # Auth-less: distribution checks the bcrypt hash on every request (4 ms of CPU each), which
    # would make this a benchmark of bcrypt rather than of regkit.
    r = start_rig("basic", tmp_path_factory.mktemp("rig-load"), registry_config={"auth": None})
    try:
        yield r
    finally:
        r.close()


def _overview(rig: Rig, host: str, repo: str, tmp_path: Path, name: str) -> Run:
    return _measured(
        ["overview", host, "--repo", repo, "--format", "json"], _env(rig), tmp_path, name
    )


def _prune(rig: Rig, host: str, repo: str, tmp_path: Path, name: str) -> Run:
    args = ["prune", f"{host}/{repo}", "--keep", "10", "--dry-run", "--json"]
    return _measured(args, _env(rig), tmp_path, name)


def _assert_flat(small: Run, large: Run, what: str) -> None:
    # 10x the tags: the process may grow by the result it holds (rows, JSON text), not 10x.
    ratio = large.max_rss_kib / small.max_rss_kib
    assert ratio < 3, (
        f"{what}: peak RSS {small.max_rss_kib} KiB for {FEW} tags, {large.max_rss_kib} KiB for "
        f"{MANY} tags (x{ratio:.1f})"
    )


def test_overview_of_10000_tags_reports_all_with_flat_memory(
    loaded: tuple[Rig, str, str, str], tmp_path: Path
) -> None:
    rig, few, many, digest = loaded
    small = _overview(rig, rig.host, few, tmp_path, "few")
    large = _overview(rig, rig.host, many, tmp_path, "many")
    for run in (small, large):
        assert run.returncode == 0, run.stderr.decode()[-2000:]
    (repo,) = json.loads(large.stdout)["repositories"]
    assert repo["name"] == many
    assert sorted(t["tag"] for t in repo["tags"]) == sorted(_tag(i) for i in range(MANY))
    assert {t["digest"] for t in repo["tags"]} == {digest}
    assert len(json.loads(small.stdout)["repositories"][0]["tags"]) == FEW
    _assert_flat(small, large, "overview")


def test_prune_dry_run_of_10000_tags_plans_all_with_flat_memory(
    loaded: tuple[Rig, str, str, str], tmp_path: Path
) -> None:
    rig, few, many, _digest = loaded
    before = rig.pusher().tags(many)
    small = _prune(rig, rig.host, few, tmp_path, "few")
    large = _prune(rig, rig.host, many, tmp_path, "many")
    for run in (small, large):
        assert run.returncode == 0, run.stderr.decode()[-2000:]
    _assert_plan_covers_every_tag(json.loads(large.stdout), MANY)
    _assert_flat(small, large, "prune --dry-run")
    assert rig.pusher().tags(many) == before  # a dry run changes nothing


def _assert_plan_covers_every_tag(document: dict[str, Any], count: int) -> None:
    assert document["dry_run"] is True
    (entry,) = document["repositories"]
    assert entry["result"] is None
    tags = entry["plan"]["tags"]
    assert sorted(t["tag"] for t in tags) == sorted(_tag(i) for i in range(count))
    # Every tag is the same image (one created time): the 10 newest stay, and so does every
    # other tag of that image (prune rule 5: removing a tag alone whose image stays frees
    # nothing, and a cut between two tags of one image must not untag `latest`).
    assert entry["plan"]["delete_manifests"] == []
    actions = [t["action"] for t in tags]
    assert actions.count("keep") == count
    reasons = [t["reason"] for t in tags if t["action"] == "keep"]
    assert sum(r.startswith("same image as ") for r in reasons) == count - 10


# -- registry:3-style pagination, recorded answers ------------------------------------------


@dataclass
class FastFake:
    host: str
    seen: list[Seen]


@contextmanager
def serve_fast(route: Callable[[Seen], Answer]) -> Iterator[FastFake]:
    """``tests.fakeserver.serve`` for volume: the same routes on an asyncio HTTP/1.1 keep-alive
    server (http.server spends milliseconds per request; 20,000 requests would take a minute)."""
    loop = asyncio.new_event_loop()
    seen: list[Seen] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                start = await reader.readexactly(1)
                if not start.isalpha():  # a TLS ClientHello: answer in plain HTTP, as a registry
                    writer.write(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request")
                    break
                head = (start + await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                first, *lines = head.split("\r\n")
                method, target, _version = first.split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (line.split(":", 1) for line in lines if ":" in line)
                }
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                parts = urlsplit(target)
                request = Seen(method, parts.path, parse_qs(parts.query), headers, body)
                seen.append(request)
                status, answer_headers, payload = route(request)
                out = [f"HTTP/1.1 {status} X"]
                out += [f"{k}: {v}" for k, v in answer_headers.items()]
                out.append(f"Content-Length: {len(payload)}")
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
                if method != "HEAD":
                    writer.write(payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield FastFake(f"127.0.0.1:{port}", seen)
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _registry3(
    tags: list[str], manifest: bytes, config: bytes, page: int
) -> Callable[[Seen], Answer]:
    """Routes that answer like registry:3: ``tags/list`` in pages of ``page`` with a relative
    ``Link: <...>; rel="next"`` (as distribution 3 writes it), manifests and the config."""
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()

    def route(seen: Seen) -> Answer:
        if seen.path == "/v2/":
            return json_answer(200, b"{}")
        if seen.path.endswith("/tags/list"):
            repo = seen.path[len("/v2/") : -len("/tags/list")]
            n = min(int(seen.query.get("n", [str(page)])[0]), page)
            last = seen.query.get("last", [""])[0]
            rest = [t for t in tags if t > last] if last else tags
            chunk = rest[:n]
            headers = {}
            if len(rest) > n:
                headers["Link"] = (
                    f'</v2/{repo}/tags/list?last={quote(chunk[-1])}&n={n}>; rel="next"'
                )
            body = json.dumps({"name": repo, "tags": chunk}).encode()
            return json_answer(200, body, **headers)
        if "/manifests/" in seen.path:
            return (
                200,
                {
                    "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                    "Docker-Content-Digest": digest,
                },
                manifest,
            )
        if seen.path.endswith(f"/blobs/{config_digest}"):
            return 200, {"Content-Type": "application/octet-stream"}, config
        return json_answer(404, b'{"errors":[{"code":"NOT_FOUND","message":"not here"}]}')

    return route


@pytest.mark.slow  # waits on purpose (deadlines, retries, budgets, 10,000 tags)
def test_registry3_pagination_at_10000_tags_overview_and_prune_see_every_page(
    tmp_path: Path,
) -> None:
    tags = sorted(_tag(i) for i in range(MANY))
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-01-02T03:04:05Z",
            "config": {"Labels": {"org.opencontainers.image.description": "paged"}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    env = {"DOCKER_CONFIG": "/nonexistent"}
    with serve_fast(_registry3(tags, manifest, config, page=1000)) as fake:
        ov = regkit("overview", fake.host, "--repo", "paged/app", "--format", "json", env=env)
        pr = regkit(
            "prune", f"{fake.host}/paged/app", "--keep", "10", "--dry-run", "--json", env=env
        )
        pages = [s for s in fake.seen if s.path.endswith("/tags/list")]
        writes = [s for s in fake.seen if s.method not in ("GET", "HEAD")]
    assert ov.returncode == 0, ov.stderr.decode()[-2000:]
    assert pr.returncode == 0, pr.stderr.decode()[-2000:]
    (repo,) = json.loads(ov.stdout)["repositories"]
    assert sorted(t["tag"] for t in repo["tags"]) == tags
    _assert_plan_covers_every_tag(json.loads(pr.stdout), MANY)
    # 10 pages for each of the two commands, each page after the first asked with `last`
    assert len(pages) == 20
    assert sum(1 for p in pages if "last" in p.query) == 18
    assert writes == []
