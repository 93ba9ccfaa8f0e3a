"""What a hostile or broken registry sends is bounded (issue 21, issue 20 section 4).

A scripted server on loopback plays the registry: links a new page forever, pages without
``Link`` the way go-containerregistry's registry does, trickles an answer a byte at a time,
sends a 300 MiB manifest or error body, a JSON document nested 100,000 deep, or tags that break
the tag grammar. Each ends in a complete result or one error line naming the limit, within the
limit: no endless loop, no unbounded memory, no traceback.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest

from regkit import defaults
from regkit.errors import ConnectionFailedError, NotFoundError, RegistryError
from regkit.registry import RegistryClient, RetryPolicy
from regkit.registry.manifest import OCI_MANIFEST, sha256_digest
from tests.clirun import regkit
from tests.fakeserver import Seen, json_answer, loopback_server, serve
from tests.mockserver import mock

ONE_TRY = RetryPolicy(attempts=1)
MiB = 1024 * 1024
ENV = {"DOCKER_CONFIG": "/nonexistent"}


def _error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("regkit: error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


def _v2(seen: Seen) -> tuple[int, dict[str, str], bytes] | None:
    if seen.path == "/v2/":
        return json_answer(200, b"{}")
    return None


# -- pagination: caps, repeated and empty pages ---------------------------------------------


def _endless(per_page: int, stop_after: int) -> Callable[[Seen], tuple[int, dict[str, str], bytes]]:
    """A registry that links a new page after every page, each with ``per_page`` new tags
    (it gives up after ``stop_after`` pages so that a test of the old code ends)."""
    count = {"pages": 0}

    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        k = count["pages"]
        count["pages"] += 1
        tags = [f"p{k}-{i}" for i in range(per_page)]
        headers = {}
        if k + 1 < stop_after:
            headers["Link"] = f'</v2/app/tags/list?n=1000&last={tags[-1]}&k={k}>; rel="next"'
        return json_answer(200, json.dumps({"name": "app", "tags": tags}).encode(), **headers)

    return route


def test_ls_stops_at_the_page_cap_with_one_line_naming_it() -> None:
    with serve(_endless(1, stop_after=3 * defaults.MAX_PAGES)) as fake:
        out = regkit("ls", f"{fake.host}/app", env=ENV)
        pages = len([s for s in fake.seen if s.path.endswith("/tags/list")])
    line = _error_line(out.stderr.decode())
    assert out.returncode == 1
    assert f"{defaults.MAX_PAGES} pages" in line, line
    assert pages == defaults.MAX_PAGES


def test_ls_stops_at_the_item_cap_with_one_line_naming_it() -> None:
    pages = defaults.MAX_ITEMS // 1000 + 50
    with serve(_endless(1000, stop_after=pages)) as fake:
        out = regkit("ls", f"{fake.host}/app", env=ENV)
        asked = len([s for s in fake.seen if s.path.endswith("/tags/list")])
    line = _error_line(out.stderr.decode())
    assert out.returncode == 1
    assert f"{defaults.MAX_ITEMS}" in line, line
    assert asked <= defaults.MAX_ITEMS // 1000 + 1
    assert out.stdout == b""  # a partial list is never printed


def test_a_repeated_page_under_a_new_link_ends_the_list() -> None:
    count = {"n": 0}

    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        count["n"] += 1
        link = {"Link": f'</v2/app/tags/list?n=1000&k={count["n"]}>; rel="next"'}
        if count["n"] > 3000:
            link = {}
        return json_answer(200, b'{"name":"app","tags":["a","b"]}', **link)

    with mock(route) as fake, RegistryClient(fake.host, transport=fake.transport) as client:
        assert client.tags("app") == ["a", "b"]
        assert len([s for s in fake.seen if s.path.endswith("/tags/list")]) == 2


def test_an_empty_page_under_a_new_link_ends_the_list() -> None:
    count = {"n": 0}

    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        count["n"] += 1
        link = {"Link": f'</v2/app/tags/list?n=1000&k={count["n"]}>; rel="next"'}
        if count["n"] > 3000:
            link = {}
        body = b'{"name":"app","tags":["a"]}' if count["n"] == 1 else b'{"name":"app","tags":[]}'
        return json_answer(200, body, **link)

    with mock(route) as fake, RegistryClient(fake.host, transport=fake.transport) as client:
        assert client.tags("app") == ["a"]
        assert len([s for s in fake.seen if s.path.endswith("/tags/list")]) == 2


# -- pagination without Link: go-containerregistry's registry --------------------------------


def ggcr_route(
    tags: list[str], repos: list[str]
) -> Callable[[Seen], tuple[int, dict[str, str], bytes]]:
    """``tags/list`` and ``_catalog`` as pkg/registry/manifest.go answers them (handleTags,
    handleCatalog): tags sorted, ``last`` keeps the tags after the first one greater than it
    (when none is greater, the whole list: it starts over), ``n`` cuts; never a ``Link``.
    The catalog ignores ``last``, cuts at ``n`` (10000 without it) and comes in Go's random
    map order."""
    ordered = sorted(tags)
    rotation = {"k": 0}

    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        if seen.path == "/v2/_catalog":
            n = int(seen.query.get("n", ["10000"])[0])
            rotation["k"] += 7
            k = rotation["k"] % max(len(repos), 1)
            found = (repos[k:] + repos[:k])[:n]
            return 200, {}, json.dumps({"repositories": found}).encode()
        page = list(ordered)
        if last := seen.query.get("last", [""])[0]:
            for i, t in enumerate(page):
                if t > last:
                    page = page[i:]
                    break
        if ns := seen.query.get("n", [""])[0]:
            page = page[: int(ns)]
        return 200, {}, json.dumps({"name": "app", "tags": page or None}).encode()

    return route


@pytest.mark.parametrize("count", [3, 1000, 1005, 2500])
def test_ls_reads_every_tag_of_a_registry_that_pages_without_link(count: int) -> None:
    tags = [f"t{i:05d}" for i in range(count)]
    with serve(ggcr_route(tags, [])) as fake:
        out = regkit("ls", f"{fake.host}/app", env=ENV)
        asked = [s for s in fake.seen if s.path.endswith("/tags/list")]
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().split() == tags
    assert len(asked) <= count // 1000 + 2
    if count > 1000:
        assert asked[1].query["last"] == ["t00999"]


def test_catalog_of_a_registry_that_ignores_last_is_an_error_not_a_partial_list() -> None:
    repos = [f"r{i:05d}" for i in range(1005)]
    with (
        mock(ggcr_route([], repos)) as fake,
        RegistryClient(fake.host, transport=fake.transport) as client,
        pytest.raises(RegistryError, match=r"last") as caught,
    ):
        client.catalog()
    assert "partial" in str(caught.value)


def test_catalog_of_a_registry_paging_without_link_reads_every_name() -> None:
    repos = [f"r{i:05d}" for i in range(40)]
    with (
        mock(ggcr_route([], repos)) as fake,
        RegistryClient(fake.host, transport=fake.transport) as client,
    ):
        assert sorted(client.catalog()) == repos


# -- body caps: read counted, never whole ----------------------------------------------------


@dataclass
class Streamed:
    """A server whose answer to one path is a large generated body, sent in chunks."""

    host: str = ""
    sent: int = 0
    done: threading.Event = field(default_factory=threading.Event)


@contextmanager
def big_body(
    path: str,
    status: int,
    size: int,
    *,
    head: bytes = b"",
    chunked: bool = False,
    headers: dict[str, str] | None = None,
) -> Iterator[Streamed]:
    """GET ``path`` answers ``status`` with ``head`` then spaces up to ``size`` bytes (a huge
    JSON document when ``head`` opens one), with Content-Length or chunked; ``/v2/`` answers
    200; anything else 404."""
    state = Streamed()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            if urlsplit(self.path).path == "/v2/":
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                return
            if urlsplit(self.path).path != path:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(size))
            self.end_headers()
            block = b" " * (256 * 1024)
            try:
                remaining = size
                first = head
                while remaining > 0:
                    data = (first + block)[: min(remaining, len(block))]
                    first = b""
                    if chunked:
                        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    else:
                        self.wfile.write(data)
                    state.sent += len(data)
                    remaining -= len(data)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True
            finally:
                state.done.set()

    with loopback_server(Handler) as host:
        state.host = host
        yield state


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_manifest_over_4_mib_is_refused_after_at_most_its_cap(chunked: bool) -> None:
    with (
        big_body("/v2/app/manifests/v1", 200, 300 * MiB, head=b'{"a":"', chunked=chunked) as big,
        RegistryClient(big.host, retry=ONE_TRY) as client,
    ):
        with pytest.raises(RegistryError, match=r"4 MiB") as caught:
            client.get_manifest("app", "v1")
        big.done.wait(10)
    assert "manifest" in str(caught.value)
    assert big.sent < 64 * MiB, big.sent


def test_a_huge_error_body_is_not_read_whole() -> None:
    with (
        big_body("/v2/app/manifests/v1", 404, 300 * MiB, head=b'{"errors":[') as big,
        RegistryClient(big.host, retry=ONE_TRY) as client,
    ):
        with pytest.raises(NotFoundError):
            client.get_manifest("app", "v1")
        big.done.wait(10)
    assert big.sent < 64 * MiB, big.sent


def test_a_huge_tag_list_is_refused_naming_its_cap() -> None:
    with (
        big_body("/v2/app/tags/list", 200, 300 * MiB, head=b'{"tags":["', chunked=True) as big,
        RegistryClient(big.host, retry=ONE_TRY) as client,
    ):
        with pytest.raises(RegistryError, match=rf"{defaults.MAX_LIST_BYTES // MiB} MiB"):
            client.tags("app")
        big.done.wait(10)
    assert big.sent < 64 * MiB, big.sent


def test_cli_manifest_over_the_cap_is_one_line() -> None:
    with big_body("/v2/app/manifests/v1", 200, 300 * MiB, head=b'{"a":"', chunked=True) as big:
        out = regkit("manifest", f"{big.host}/app:v1", env=ENV)
    line = _error_line(out.stderr.decode())
    assert out.returncode == 1
    assert "4 MiB" in line and "manifest" in line, line


# -- JSON nesting depth ---------------------------------------------------------------------

DEEP = b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'","x":'
DEEP += b"[" * 100_000 + b"]" * 100_000 + b"}"


def _deep_route(seen: Seen):  # type: ignore[no-untyped-def]
    if (hit := _v2(seen)) is not None:
        return hit
    if seen.path.endswith("/tags/list"):
        return json_answer(200, b'{"name":"app","tags":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    digest = sha256_digest(DEEP)
    headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}
    return 200, headers, DEEP


@pytest.mark.parametrize("verb", ["config", "manifest", "digest"])
def test_cli_on_a_deeply_nested_manifest_is_one_line_naming_the_depth(verb: str) -> None:
    with serve(_deep_route) as fake:
        out = regkit(verb, f"{fake.host}/app:v1", env=ENV)
    if out.returncode == 0:  # printing the bytes or the digest needs no parse
        assert verb in ("manifest", "digest")
        assert "Traceback" not in out.stderr.decode()
        return
    line = _error_line(out.stderr.decode())
    assert out.returncode == 1
    assert f"{defaults.MAX_JSON_DEPTH}" in line and "nest" in line, line


def test_a_deeply_nested_tag_list_is_one_error_naming_the_depth() -> None:
    with (
        mock(_deep_route) as fake,
        RegistryClient(fake.host, transport=fake.transport) as client,
        pytest.raises(RegistryError, match=rf"{defaults.MAX_JSON_DEPTH}"),
    ):
        client.tags("app")


# -- deadlines: the whole request, not one read ----------------------------------------------


@contextmanager
def trickle(path: str, body: bytes, *, every: float, in_head: bool = False) -> Iterator[str]:
    """GET ``path`` answers 200 ``body``, one byte every ``every`` seconds (the body, or the
    status line and headers with ``in_head``); ``/v2/`` answers at once."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            if urlsplit(self.path).path != path:
                self.send_response(200 if urlsplit(self.path).path == "/v2/" else 404)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                return
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                f"X-Pad: {'p' * 40}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            try:
                if in_head:
                    for i in range(len(head)):
                        self.wfile.write(head[i : i + 1])
                        self.wfile.flush()
                        time.sleep(every)
                    self.wfile.write(body)
                else:
                    self.wfile.write(head)
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(every)
            except OSError:
                pass
            self.close_connection = True

    with loopback_server(Handler) as host:
        yield host


@pytest.mark.parametrize("in_head", [False, True], ids=["body", "head"])
def test_a_trickled_answer_ends_at_the_deadline_naming_it(in_head: bool) -> None:
    body = json.dumps({"name": "app", "tags": ["a"] * 20}).encode()  # ~120 bytes: 24 s at 0.2
    with (
        trickle("/v2/app/tags/list", body, every=0.2, in_head=in_head) as host,
        RegistryClient(host, retry=ONE_TRY, timeout=1.0) as client,
    ):
        started = time.monotonic()
        with pytest.raises(ConnectionFailedError, match=r"deadline") as caught:
            client.tags("app")
        elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed
    assert "1 s" in str(caught.value)


def test_a_trickled_blob_stream_ends_by_the_progress_rule() -> None:
    blob = b"x" * 200
    digest = sha256_digest(blob)
    with (
        trickle(f"/v2/app/blobs/{digest}", blob, every=0.1) as host,
        RegistryClient(host, retry=ONE_TRY, timeout=0.5) as client,
    ):
        started = time.monotonic()
        with (
            pytest.raises(ConnectionFailedError, match=r"slowed below 256 KiB per 0.5 s"),
            client.open_blob("app", digest) as chunks,
        ):
            b"".join(chunks)
        elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed


def test_a_steady_blob_stream_longer_than_the_timeout_completes() -> None:
    """The deadline is for one small request: a blob stream that keeps delivering runs as long
    as it needs (here 2 MiB over ~1.6 s with a 0.5 s timeout)."""
    blob = bytes(range(256)) * (8 * 1024)  # 2 MiB
    digest = sha256_digest(blob)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/v2/":
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            for i in range(0, len(blob), 64 * 1024):
                self.wfile.write(blob[i : i + 64 * 1024])
                self.wfile.flush()
                time.sleep(0.05)

    with (
        loopback_server(Handler) as host,
        RegistryClient(host, retry=ONE_TRY, timeout=0.5) as client,
    ):
        started = time.monotonic()
        with client.open_blob("app", digest) as chunks:
            assert b"".join(chunks) == blob
        assert time.monotonic() - started > 1.0


# -- tags that break the grammar -------------------------------------------------------------

BAD_TAGS = ["good", "bad\nline", "-dash", "../up", "x" * 200, "v1.0"]


def _bad_tags_route(seen: Seen):  # type: ignore[no-untyped-def]
    if (hit := _v2(seen)) is not None:
        return hit
    return json_answer(200, json.dumps({"name": "app", "tags": BAD_TAGS}).encode())


def test_ls_warns_about_tags_that_break_the_grammar_and_lists_the_others() -> None:
    with serve(_bad_tags_route) as fake:
        out = regkit("ls", f"{fake.host}/app", env=ENV)
    stderr = out.stderr.decode()
    assert out.returncode == 0, stderr
    assert out.stdout.decode().splitlines() == ["good", "v1.0"]
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, stderr
    assert "4 tags" in warnings[0] and "grammar" in warnings[0]
    assert "\x1b" not in stderr and "bad\\nline" in warnings[0]


def test_tags_that_break_the_grammar_stop_an_operation_that_acts_on_the_list() -> None:
    with (
        mock(_bad_tags_route) as fake,
        RegistryClient(fake.host, transport=fake.transport) as client,
    ):
        with pytest.raises(RegistryError, match=r"4 tags .*grammar"):
            client.tags("app")
        assert client.tags("app", invalid="warn") == ["good", "v1.0"]


def test_prune_never_acts_on_a_repository_listing_invalid_tags() -> None:
    with serve(_bad_tags_route) as fake:
        out = regkit("prune", f"{fake.host}/app", "--keep", "1", "--yes", env=ENV)
        writes = [s for s in fake.seen if s.method not in ("GET", "HEAD")]
    assert out.returncode == 1
    line = _error_line(out.stderr.decode())
    assert "grammar" in line, line
    assert writes == []


def test_the_answer_to_a_streamed_upload_is_bound_by_the_deadline() -> None:
    """A streamed upload's body has no deadline (each write has the timeout), but the answer
    after it does: a server that takes the blob and then trickles its answer is cut off."""
    head = b"HTTP/1.1 201 Created\r\nX-Pad: " + b"p" * 100 + b"\r\nContent-Length: 0\r\n\r\n"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def do_POST(self) -> None:
            self.send_response(202)
            self.send_header("Location", "/v2/app/blobs/uploads/u1")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                for i in range(len(head)):
                    self.wfile.write(head[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            self.close_connection = True

    data = b"x" * 10
    with (
        loopback_server(Handler) as host,
        RegistryClient(host, retry=ONE_TRY, timeout=1.0) as client,
    ):
        started = time.monotonic()
        with pytest.raises(ConnectionFailedError, match=r"deadline"):
            client.upload_blob("app", sha256_digest(data), iter([data]), size=len(data))
        elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed


def test_cli_on_a_deeply_nested_config_is_one_line_naming_the_depth() -> None:
    config = b'{"config":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()

    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        if "/blobs/" in seen.path:
            return 200, {"Content-Type": "application/octet-stream"}, config
        headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha256_digest(manifest)}
        return 200, headers, manifest

    with serve(route) as fake:
        out = regkit("config", f"{fake.host}/app:v1", env=ENV)
    line = _error_line(out.stderr.decode())
    assert out.returncode == 1
    assert f"{defaults.MAX_JSON_DEPTH}" in line and "nest" in line, line


def test_catalog_warns_about_repository_names_that_break_the_grammar() -> None:
    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        names = ["team/app", "Team/App", "../etc", "a\x1b[31m", "team/web"]
        return json_answer(200, json.dumps({"repositories": names}).encode())

    with serve(route) as fake:
        out = regkit("catalog", fake.host, env=ENV)
        with RegistryClient(fake.host) as client, pytest.raises(RegistryError, match="grammar"):
            client.catalog()
    stderr = out.stderr.decode()
    assert out.returncode == 0, stderr
    assert out.stdout.decode().splitlines() == ["team/app", "team/web"]
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "3 repository names" in warnings[0], stderr
    assert "\x1b" not in stderr
