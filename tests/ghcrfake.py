"""A faithful local GHCR: a REAL distribution registry behind a small loopback front, plus a
GitHub REST server for package versions built from GitHub's documented answers.

What is real: every tag, manifest and blob lives in a Debian ``docker-registry`` (tests/rig)
started without auth; a package version IS one of its manifests (listed from the registry's
own storage), its tags are the registry's tags, and deleting a version deletes the manifest
through the registry's real ``DELETE /v2/<name>/manifests/<digest>``.

What is imitated, and only what the real thing answers (registry-facts.md, GHCR section):

Registry front (``host``):
- ``GET /token?service=ghcr.io&scope=repository:OWNER/NAME:pull,push``: Basic with any user
  name and a known token as password -> ``{"token": ...}``; anonymous -> a pull-only token for
  public packages; a wrong password -> 401 ``UNAUTHORIZED``.
- ``/v2/`` and every repository path challenge with ``Bearer realm=".../token",
  service="ghcr.io",scope=...``; a token without the scope -> 401 with the wanted scope; a scope
  asked for but not granted (no ``packages: write``) -> 403 ``DENIED``.
- ``DELETE /v2/<name>/manifests/<ref>`` -> 405 ``UNSUPPORTED``; ``/v2/_catalog`` -> 404.
- A cross-repository mount is honoured only between packages of one owner and when the token
  covers pull on ``from``; otherwise the mount parameters are dropped and the registry opens an
  upload (202), so the client streams the blob.
- Everything else is proxied to the registry, ``Location`` rewritten to the front.

REST (``api_url``): ``GET /users/{u}`` (login, type), ``GET /orgs/{org}/packages``,
``/users/{u}/packages``, ``/user/packages`` (refused for a ``GITHUB_TOKEN``: 403 "Resource not
accessible by integration"), ``GET {owner}/packages/container/{name}/versions[?page,per_page,
state]`` (newest first, ``per_page`` <= 100, ``Link`` with ``rel="next"``/``"last"``), ``GET``
and ``DELETE .../versions/{id}`` (204; 404 "Package not found."; 403 without admin; 400 for
the last version of a package).
``x-ratelimit-*`` headers on every answer; ``rate_limit(...)`` makes the next answers a
secondary (403/429 + ``retry-after``) or primary (403, remaining 0, ``x-ratelimit-reset``)
limit refusal.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx

from tests.rig.ports import LOOPBACK
from tests.rig.registry import RegistryProcess

SERVICE = "ghcr.io"
DOCS = "https://docs.github.com/rest/packages/packages"
NO_ADMIN_MESSAGE = "You need admin access to the package to delete it."  # 403 without admin


@dataclass(frozen=True)
class Token:
    """A GitHub token as the fake knows it.

    ``kind``: ``github_token`` (a workflow's GITHUB_TOKEN: 1,000 requests/hour, no
    /user/packages) or ``pat``. ``owners``: whose packages it may read (and push with
    ``write``); ``admin``: may delete versions of those packages.
    """

    login: str
    owners: frozenset[str]
    write: bool = True
    admin: bool = True
    kind: str = "pat"

    @property
    def limit(self) -> int:
        return 1000 if self.kind == "github_token" else 5000


@dataclass
class Fault:
    kind: str  # "secondary", "secondary-bare", "primary" or "server" (status 5xx)
    status: int  # 403 or 429
    seconds: int
    methods: frozenset[str]


@dataclass
class ApiRequest:
    method: str
    path: str
    status: int


@dataclass
class _Grant:
    token: Token | None
    access: dict[str, set[str]]  # repository -> granted actions
    asked: dict[str, set[str]]  # repository -> asked actions


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeGHCR:
    """Start with ``start()`` (or as a context manager); ``stop()`` ends every server."""

    workdir: Path
    tokens: dict[str, Token] = field(default_factory=dict)
    orgs: frozenset[str] = frozenset()  # owners that are organisations (others are users)
    public: set[str] = field(default_factory=set)  # public repositories (anonymous pull)
    no_admin_status: int = 403

    def __post_init__(self) -> None:
        self.registry = RegistryProcess(self.workdir / "registry", delete_enabled=True)
        self._front: ThreadingHTTPServer | None = None
        self._api: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._grants: dict[str, _Grant] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._next_id = 1000
        self._deleted: dict[tuple[str, int], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._used: dict[str, int] = {}
        self.api_requests: list[ApiRequest] = []
        self.registry_requests: list[ApiRequest] = []
        self.http = httpx.Client(timeout=30)

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> FakeGHCR:
        self.registry.start()
        self._front = self._serve(_FrontHandler)
        self._api = self._serve(_ApiHandler)
        return self

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((LOOPBACK, 0), handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self._threads.append(thread)
        return server

    def stop(self) -> None:
        for server in (self._front, self._api):
            if server is not None:
                server.shutdown()
                server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._front = self._api = None
        self._threads = []
        self.registry.stop()
        self.http.close()

    def __enter__(self) -> FakeGHCR:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        assert self._front is not None
        return f"{LOOPBACK}:{self._front.server_address[1]}"

    @property
    def api_url(self) -> str:
        assert self._api is not None
        return f"http://{LOOPBACK}:{self._api.server_address[1]}"

    @property
    def backend_url(self) -> str:
        return self.registry.url

    # -- faults --------------------------------------------------------------------------------
    def rate_limit(
        self,
        count: int = 1,
        *,
        kind: str = "secondary",
        status: int = 403,
        seconds: int = 1,
        methods: tuple[str, ...] = ("GET", "DELETE"),
    ) -> None:
        """The next ``count`` REST answers (to ``methods``) are rate-limit refusals."""
        with self._lock:
            self._faults += [Fault(kind, status, seconds, frozenset(methods))] * count

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if method in fault.methods:
                    return self._faults.pop(i)
        return None

    # -- the registry's storage is the truth ---------------------------------------------------
    def _repo_dir(self, repository: str) -> Path:
        return self.registry.storage_dir / "docker/registry/v2/repositories" / repository

    def repositories(self) -> list[str]:
        root = self.registry.storage_dir / "docker/registry/v2/repositories"
        if not root.is_dir():
            return []
        return sorted(
            str(p.parent.relative_to(root)) for p in root.rglob("_manifests") if p.is_dir()
        )

    def tags_by_digest(self, repository: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        tags_dir = self._repo_dir(repository) / "_manifests/tags"
        if tags_dir.is_dir():
            for tag_dir in sorted(tags_dir.iterdir()):
                link = tag_dir / "current/link"
                if link.is_file():
                    out.setdefault(link.read_text().strip(), []).append(tag_dir.name)
        return out

    def versions(self, repository: str) -> list[dict[str, Any]]:
        """Every manifest of ``repository`` as a package version, newest first."""
        revisions = self._repo_dir(repository) / "_manifests/revisions/sha256"
        found: list[tuple[float, str]] = []
        if revisions.is_dir():
            for d in revisions.iterdir():
                link = d / "link"
                if link.is_file():
                    found.append((link.stat().st_mtime, f"sha256:{d.name}"))
        tags = self.tags_by_digest(repository)
        out = []
        with self._lock:
            for mtime, digest in sorted(found):
                key = (repository, digest)
                if key not in self._ids:
                    self._ids[key] = self._next_id
                    self._next_id += 1
                out.append((self._ids[key], mtime, digest))
        out.sort(key=lambda v: (v[1], v[0]), reverse=True)
        return [self._version_json(repository, i, m, d, tags.get(d, [])) for i, m, d in out]

    def _owner_path(self, owner: str) -> str:
        return f"orgs/{owner}" if owner in self.orgs else f"users/{owner}"

    def _version_json(
        self, repository: str, vid: int, mtime: float, digest: str, tags: list[str]
    ) -> dict[str, Any]:
        owner, name = repository.split("/", 1)
        base = f"{self.api_url}/{self._owner_path(owner)}/packages/container/{quote(name, safe='')}"
        html = f"https://github.com/{'orgs/' if owner in self.orgs else 'users/'}{owner}"
        return {
            "id": vid,
            "name": digest,
            "url": f"{base}/versions/{vid}",
            "package_html_url": f"{html}/packages/container/package/{quote(name, safe='')}",
            "created_at": _iso(mtime),
            "updated_at": _iso(mtime),
            "html_url": f"{html}/packages/container/{quote(name, safe='')}/{vid}",
            "metadata": {"package_type": "container", "container": {"tags": sorted(tags)}},
        }

    def space_out(self, repository: str, step: float = 60.0) -> None:
        """Re-date the versions ``step`` seconds apart, in push order, ending now: GitHub's
        ``created_at`` has whole seconds, and pushes in one test share a second."""
        revisions = self._repo_dir(repository) / "_manifests/revisions/sha256"
        links = sorted(
            (link.stat().st_mtime_ns, link) for link in revisions.glob("*/link") if link.is_file()
        )
        now = time.time()
        for i, (_, link) in enumerate(links):
            when = now - (len(links) - i) * step
            os.utime(link, (when, when))

    def version_ids(self, repository: str) -> dict[str, int]:
        return {v["name"]: v["id"] for v in self.versions(repository)}

    def delete_version(self, repository: str, vid: int) -> bool:
        """What the REST DELETE does: the registry's real DELETE of that manifest."""
        for v in self.versions(repository):
            if v["id"] == vid:
                r = self.http.delete(f"{self.backend_url}/v2/{repository}/manifests/{v['name']}")
                if r.status_code != 202:
                    raise AssertionError(f"registry DELETE answered {r.status_code}: {r.text}")
                with self._lock:
                    self._deleted[(repository, vid)] = (v["name"], time.time())
                    self._ids.pop((repository, v["name"]), None)
                return True
        return False

    # -- tokens --------------------------------------------------------------------------------
    def _basic_token(self, header: str | None) -> Token | bool | None:
        """The Token of a Basic header; None without one; False for a wrong password."""
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            _user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return self.tokens.get(password, False)

    def issue(self, token: Token | None, scopes: list[str]) -> str:
        access: dict[str, set[str]] = {}
        asked: dict[str, set[str]] = {}
        for scope in (part for text in scopes for part in text.split()):
            kind, _, rest = scope.partition(":")
            repo, _, actions = rest.rpartition(":")
            if kind != "repository" or not repo:
                continue
            wanted = set(actions.split(",")) & {"pull", "push"}
            asked.setdefault(repo, set()).update(wanted)
            allowed: set[str] = set()
            owner = repo.split("/", 1)[0]
            if token is not None and owner in token.owners:
                allowed = {"pull", "push"} if token.write else {"pull"}
            elif repo in self.public:
                allowed = {"pull"}
            access.setdefault(repo, set()).update(wanted & allowed)
        value = "ghcr_" + secrets.token_hex(16)
        with self._lock:
            self._grants[value] = _Grant(token, access, asked)
        return value

    def grant(self, header: str | None) -> _Grant | None:
        if not header or not header.lower().startswith("bearer "):
            return None
        with self._lock:
            return self._grants.get(header[7:].strip())

    def api_token(self, header: str | None) -> Token | bool | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return False
        return self.tokens.get(value.strip(), False)

    def count(self, token: Token) -> tuple[int, int]:
        with self._lock:
            self._used[token.login] = self._used.get(token.login, 0) + 1
            used = self._used[token.login]
        return used, max(0, token.limit - used)


# -- the registry front ------------------------------------------------------------------------

_REPO_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?P<kind>manifests|blobs|tags)(?P<rest>/.*)?$")
_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "date", "server"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def fake(self) -> FakeGHCR:
        return self.server.fake  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        """The whole request body (read before answering, so keep-alive stays in step)."""
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _FrontHandler(_Handler):
    def _errors(self, status: int, code: str, message: str, extra: dict[str, str] | None = None):
        headers = {"Content-Type": "application/json", **(extra or {})}
        self._record(status)
        self.send(status, _json({"errors": [{"code": code, "message": message}]}), headers)

    def _challenge(self, scope: str) -> None:
        realm = f"http://{self.fake.host}/token"
        header = f'Bearer realm="{realm}",service="{SERVICE}",scope="{scope}"'
        self._errors(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": header})

    def _record(self, status: int) -> None:
        self.fake.registry_requests.append(ApiRequest(self.command, self.path, status))

    def handle_one(self) -> None:
        self.body = self._body()
        url = urlsplit(self.path)
        if url.path == "/token":
            self._token(url.query)
            return
        if url.path in ("/v2/", "/v2"):
            if self.fake.grant(self.headers.get("authorization")) is None:
                self._challenge("repository:user/image:pull")
                return
            self.send(200, b"{}", {"Content-Type": "application/json"})
            return
        if url.path.startswith("/v2/_catalog"):
            self._errors(404, "NOT_FOUND", "404 page not found")
            return
        m = _REPO_PATH.match(url.path)
        if m is None:
            self._errors(404, "NOT_FOUND", "404 page not found")
            return
        name = m["name"]
        if m["kind"] == "manifests" and self.command == "DELETE":
            self._errors(405, "UNSUPPORTED", "The operation is unsupported.")
            return
        needed = "pull" if self.command in ("GET", "HEAD") else "push"
        grant = self.fake.grant(self.headers.get("authorization"))
        granted = grant.access.get(name, set()) if grant else set()
        if needed not in granted:
            if grant is not None and needed in grant.asked.get(name, set()):
                self._errors(403, "DENIED", "permission_denied: write_package")
                return
            actions = "pull" if needed == "pull" else "pull,push"
            scope = f"repository:{name}:{actions}"
            source = (parse_qs(url.query).get("from") or [""])[0]
            if source and self.command == "POST":  # as distribution: a mount asks for both
                scope += f" repository:{source}:pull"
            self._challenge(scope)
            return
        query = parse_qs(url.query)
        if "mount" in query and grant is not None:
            source = (query.get("from") or [""])[0]
            same_owner = source.split("/", 1)[0] == name.split("/", 1)[0]
            if "pull" not in grant.access.get(source, set()) or not same_owner:
                query.pop("mount", None)
                query.pop("from", None)
        self._proxy(url.path, urlencode(query, doseq=True))

    def _token(self, query: str) -> None:
        params = parse_qs(query)
        token = self.fake._basic_token(self.headers.get("authorization"))
        if token is False:
            self._errors(401, "UNAUTHORIZED", "authentication required")
            return
        value = self.fake.issue(
            token if isinstance(token, Token) else None, params.get("scope", [])
        )
        self.send(200, _json({"token": value}), {"Content-Type": "application/json"})

    def _proxy(self, path: str, query: str) -> None:
        body = self.body
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        headers.pop("Authorization", None)
        headers.pop("authorization", None)
        target = f"{self.fake.backend_url}{path}" + (f"?{query}" if query else "")
        r = self.fake.http.request(self.command, target, content=body, headers=headers)
        out = {k: v for k, v in r.headers.items() if k.lower() not in _HOP}
        if "location" in r.headers:
            out.pop("location", None)
            out["Location"] = r.headers["location"].replace(
                self.fake.backend_url, f"http://{self.fake.host}"
            )
        self._record(r.status_code)
        self.send_response(r.status_code)
        for k, v in out.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(r.content)

    def do_GET(self) -> None:
        self.handle_one()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET


# -- the REST API ------------------------------------------------------------------------------

_VERSIONS = re.compile(
    r"^/(?:(?P<kind>orgs|users)/(?P<owner>[^/]+)|user)/packages/container/(?P<name>[^/]+)"
    r"/versions(?:/(?P<id>\d+))?$"
)
_PACKAGES = re.compile(r"^/(?:(?P<kind>orgs|users)/(?P<owner>[^/]+)|user)/packages$")
_USER = re.compile(r"^/users/(?P<login>[^/]+)$")


class _ApiHandler(_Handler):
    def _answer(self, status: int, data: Any = None, headers: dict[str, str] | None = None) -> None:
        body = b"" if data is None else _json(data)
        h = {"Content-Type": "application/json; charset=utf-8", **self._limits, **(headers or {})}
        self.fake.api_requests.append(ApiRequest(self.command, self.path, status))
        self.send(status, body, h)

    def _message(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._answer(
            status, {"message": message, "documentation_url": DOCS, "status": str(status)}, headers
        )

    def handle_one(self) -> None:
        self._body()
        self._limits: dict[str, str] = {}
        token = self.fake.api_token(self.headers.get("authorization"))
        if token is False:
            self._message(401, "Bad credentials")
            return
        if token is None:
            self._message(401, "Requires authentication")
            return
        assert isinstance(token, Token)
        used, remaining = self.fake.count(token)
        reset = int(time.time()) + 3600
        self._limits = {
            "x-ratelimit-limit": str(token.limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-used": str(used),
            "x-ratelimit-resource": "core",
        }
        fault = self.fake._take_fault(self.command)
        if fault is not None:
            if fault.kind == "server":
                self._answer(fault.status, {"message": "Server Error"})
                return
            if fault.kind == "primary":
                self._limits["x-ratelimit-remaining"] = "0"
                self._limits["x-ratelimit-reset"] = str(int(time.time()) + fault.seconds)
                self._message(fault.status, f"API rate limit exceeded for user ID {token.login}.")
            else:  # secondary; "secondary-bare" names no time (GitHub: wait a minute)
                self._message(
                    fault.status,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before "
                    "you try again.",
                    {} if fault.kind == "secondary-bare" else {"retry-after": str(fault.seconds)},
                )
            return
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if (m := _USER.match(url.path)) and self.command == "GET":
            login = m["login"]
            known = login in self.fake.orgs or any(
                login in t.owners or login == t.login for t in self.fake.tokens.values()
            )
            if not known:
                self._message(404, "Not Found")
                return
            kind = "Organization" if login in self.fake.orgs else "User"
            self._answer(200, {"login": login, "id": abs(hash(login)) % 10**8, "type": kind})
            return
        if (m := _PACKAGES.match(url.path)) and self.command == "GET":
            self._packages(token, m, query)
            return
        if m := _VERSIONS.match(url.path):
            self._versions(token, m, query, url.path)
            return
        self._message(404, "Not Found")

    def _owner(self, token: Token, m: re.Match[str]) -> str | None:
        """The owner a path names, or None after answering the refusal."""
        kind, owner = m["kind"], m["owner"]
        if kind is None:  # /user/...
            if token.kind == "github_token":
                self._message(403, "Resource not accessible by integration")
                return None
            return token.login
        if (kind == "orgs") != (owner in self.fake.orgs):
            self._message(404, "Not Found")
            return None
        return str(owner)

    def _page(self, items: list[Any], query: dict[str, str], path: str) -> None:
        try:
            per_page = max(1, min(100, int(query.get("per_page", "30"))))
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            self._message(400, "Invalid request.")
            return
        last = max(1, -(-len(items) // per_page))
        links = []
        base = {k: v for k, v in query.items() if k not in ("page", "per_page")}

        def link(n: int, rel: str) -> str:
            q = urlencode({**base, "per_page": per_page, "page": n})
            return f'<{self.fake.api_url}{path}?{q}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"Link": ", ".join(links)} if links else {}
        self._answer(200, items[(page - 1) * per_page : page * per_page], headers)

    def _packages(self, token: Token, m: re.Match[str], query: dict[str, str]) -> None:
        if query.get("package_type") != "container":
            self._message(400, "package_type is required: container")
            return
        owner = self._owner(token, m)
        if owner is None:
            return
        out = []
        for repo in self.fake.repositories():
            o, _, name = repo.partition("/")
            if o != owner or not name:
                continue
            visible = repo in self.fake.public or owner in token.owners
            count = len(self.fake.versions(repo))
            if not visible or not count:
                continue
            out.append(
                {
                    "id": abs(hash(repo)) % 10**8,
                    "name": name,
                    "package_type": "container",
                    "owner": {
                        "login": owner,
                        "type": "Organization" if owner in self.fake.orgs else "User",
                    },
                    "version_count": count,
                    "visibility": "public" if repo in self.fake.public else "private",
                    "url": f"{self.fake.api_url}/{self.fake._owner_path(owner)}/packages/"
                    f"container/{quote(name, safe='')}",
                    "created_at": "2026-01-01T00:00:00Z",
                    "updated_at": "2026-01-01T00:00:00Z",
                }
            )
        self._page(out, query, urlsplit(self.path).path)

    def _versions(self, token: Token, m: re.Match[str], query: dict[str, str], path: str) -> None:
        owner = self._owner(token, m)
        if owner is None:
            return
        name = unquote(m["name"])
        repo = f"{owner}/{name}"
        visible = repo in self.fake.public or owner in token.owners
        versions = self.fake.versions(repo) if visible else []
        if not versions:
            self._message(404, "Package not found.")
            return
        if m["id"] is None:
            if self.command != "GET":
                self._message(404, "Not Found")
                return
            if query.get("state") == "deleted":
                deleted = [
                    {**self.fake._version_json(repo, vid, ts, digest, []), "deleted_at": _iso(ts)}
                    for (r, vid), (digest, ts) in sorted(self.fake._deleted.items())
                    if r == repo
                ]
                self._page(deleted, query, path)
                return
            self._page(versions, query, path)
            return
        vid = int(m["id"])
        found = next((v for v in versions if v["id"] == vid), None)
        if self.command == "GET":
            if found is None:
                self._message(404, "Package not found.")
            else:
                self._answer(200, found)
            return
        if self.command != "DELETE":
            self._message(404, "Not Found")
            return
        if owner not in token.owners or not token.admin:
            self._message(self.fake.no_admin_status, NO_ADMIN_MESSAGE)
            return
        if found is not None and len(versions) == 1:
            self._message(
                400,
                "You cannot delete the last version of a package. You must delete the package "
                "instead.",
            )
            return
        if found is None or not self.fake.delete_version(repo, vid):
            self._message(404, "Package not found.")
            return
        self._answer(204)

    def do_GET(self) -> None:
        self.handle_one()

    do_DELETE = do_POST = do_PUT = do_PATCH = do_GET


def start_fake(workdir: Path, **kwargs: Any) -> FakeGHCR:
    return FakeGHCR(workdir, **kwargs).start()


def running(workdir: Path, **kwargs: Any) -> Iterator[FakeGHCR]:
    fake = FakeGHCR(workdir, **kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
