"""GHCR package versions through the GitHub REST API: list, get, delete; an owner's packages.

On ghcr.io every manifest (an index, each platform manifest, each attestation manifest) is a
package version whose ``name`` is the manifest digest and whose ``metadata.container.tags``
are its tags. The registry API cannot delete there (``DELETE /v2/.../manifests/...`` answers
405 UNSUPPORTED); versions are deleted here, through the GitHub REST API on httpx (no
redirect followed, each answer read within ``defaults.MAX_LIST_BYTES`` and parsed within
``defaults.MAX_JSON_DEPTH``), retried with the one retry primitive (``regkit.registry.retry``):

- ``GET|DELETE /{orgs/ORG|users/USER}/packages/container/{NAME}/versions[/{ID}]``, ``NAME``
  URL-encoded (``a/b`` -> ``a%2Fb``), pages of 100 followed through ``Link: rel="next"``;
- ``GET /{orgs/ORG|users/USER}/packages?package_type=container`` (no catalog on GHCR);
- ``GET /users/{OWNER}`` tells an organisation from a user (once per owner).

Rate limits: a 429, or a 403 carrying ``retry-after`` or ``x-ratelimit-remaining: 0``, is
waited out (``retry-after`` seconds, else until ``x-ratelimit-reset``), and the wait is
announced through ``notify`` before sleeping; a wait longer than ``max_wait`` is an error that
says when the limit resets. Writes are spaced by ``write_interval`` seconds (GitHub asks for
serial writes; its secondary limit allows about 180 deletions a minute).

This module knows nothing of Actions or the CLI: ``token`` and ``base_url`` are given.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

from regkit import defaults
from regkit.errors import (
    AuthenticationError,
    ConnectionFailedError,
    LimitExceededError,
    NotFoundError,
    RegkitError,
)
from regkit.registry.retry import Again, RetryPolicy, retrying

if TYPE_CHECKING:
    import httpx

DEFAULT_API_URL = "https://api.github.com"
PER_PAGE = 100
#: Longest rate-limit wait taken without giving up (GITHUB_TOKEN's hourly window is 60 min).
MAX_WAIT = 15 * 60.0
#: Seconds between two deletions: under GitHub's ~180 deletions/minute secondary limit.
WRITE_INTERVAL = 0.35
MAX_RATE_RETRIES = 6
#: Server errors retried (twice, 1 s then 2 s); a repeated DELETE of a deleted version is a 404.
RETRY_STATUSES = frozenset({500, 502, 503, 504})

DELETE_PERMISSION_HINT = (
    "the token needs admin access to the package to delete its versions: give the workflow's "
    "repository the Admin role under the package's settings (Manage Actions access) and the job "
    "'permissions: packages: write', or use a classic token with delete:packages"
)


class GitHubPackagesError(RegkitError):
    """The GitHub API refused or failed a package request."""


class RateLimitedError(GitHubPackagesError):
    """The GitHub API rate limit lasts longer than we are willing to wait."""


class PermissionDeniedError(GitHubPackagesError):
    """The token may not do this (403 without a rate limit)."""


@dataclass(frozen=True, slots=True)
class PackageVersion:
    id: int
    digest: str  # the version's ``name``
    tags: tuple[str, ...]
    created_at: datetime | None

    @classmethod
    def from_json(cls, data: Any) -> PackageVersion:
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise GitHubPackagesError("GitHub API: a package version without an id")
        meta = data.get("metadata") or {}
        container = meta.get("container") if isinstance(meta, dict) else None
        tags = container.get("tags") if isinstance(container, dict) else None
        return cls(
            id=int(data["id"]),
            digest=str(data.get("name") or ""),
            tags=tuple(sorted(t for t in tags if isinstance(t, str)))
            if isinstance(tags, list)
            else (),
            created_at=_time(data.get("created_at")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "digest": self.digest,
            "tags": list(self.tags),
            "created_at": self.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            if self.created_at
            else None,
        }


@dataclass(frozen=True, slots=True)
class Package:
    owner: str
    name: str
    visibility: str
    version_count: int | None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def split_package(repository: str) -> tuple[str, str]:
    """``owner/name[/more]`` -> (owner, name)."""
    owner, _, name = repository.partition("/")
    if not owner or not name:
        raise GitHubPackagesError(
            f"{repository!r} is not a GHCR package: expected OWNER/NAME (ghcr.io/OWNER/NAME)"
        )
    return owner, name


def rate_limit_wait(
    status: int, headers: dict[str, str], now: float, message: str = ""
) -> float | None:
    """Seconds to wait before retrying an answer GitHub refused for its rate limit, or None
    when the answer is not a rate-limit refusal. Pure.

    GitHub's rules: ``retry-after`` when present; else, with ``x-ratelimit-remaining: 0``,
    until ``x-ratelimit-reset``; else (a secondary limit that names no time) one minute."""
    h = {k.lower(): v for k, v in headers.items()}
    retry_after = h.get("retry-after")
    limited = status == 429 or (
        status == 403
        and (
            retry_after is not None
            or h.get("x-ratelimit-remaining") == "0"
            or "rate limit" in message.lower()
        )
    )
    if not limited:
        return None
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    reset = h.get("x-ratelimit-reset")
    if reset is not None and h.get("x-ratelimit-remaining") == "0":
        try:
            return max(0.0, float(reset) - now) + 1.0
        except ValueError:
            pass
    return 60.0  # GitHub: "wait at least one minute" when it names no time


class PackagesAPI:
    """Package versions of GHCR owners. Thread-safe for reads; deletions are serialised."""

    def __init__(
        self,
        token: str | None,
        *,
        base_url: str | None = None,
        timeout: float = defaults.TIMEOUT,
        notify: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_wait: float = MAX_WAIT,
        write_interval: float = WRITE_INTERVAL,
    ) -> None:
        import httpx

        from regkit import __version__

        self.base_url = _checked_base_url(base_url or DEFAULT_API_URL)
        self._token = token or ""
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": f"regkit/{__version__}",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # No redirect is followed: the token goes to the API's own origin only.
        self._http = httpx.Client(headers=headers, timeout=timeout, follow_redirects=False)
        self.notify = notify or (lambda _m: None)
        self.sleep = sleep
        self.clock = clock
        self.max_wait = max_wait
        self.write_interval = write_interval
        self._kinds: dict[str, str] = {}
        self._write_lock = threading.Lock()
        self._last_write = 0.0
        self.requests = 0  # answers received (rate-limit refusals included)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PackagesAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def secrets(self) -> list[str]:
        return [self._token] if self._token else []

    # -- requests --------------------------------------------------------------------------
    def _request(self, verb: str, url: str, what: str) -> tuple[dict[str, str], Any]:
        """One API call, retried with ``regkit.registry.retry``: a rate-limit refusal is waited
        out as GitHub asks (said through ``notify``), a server error retried twice (1 s, 2 s)."""
        server_errors = 0

        def attempt(_n: int) -> tuple[dict[str, str], Any]:
            nonlocal server_errors
            status, headers, data = self._send(verb, url, what)
            if 200 <= status < 300:
                return headers, data
            said = data.get("message") if isinstance(data, dict) else None
            wait = rate_limit_wait(status, headers, self.clock(), str(said or ""))
            if wait is None and status in RETRY_STATUSES and server_errors < 2:
                server_errors += 1
                wait = float(server_errors)
                self.notify(f"GitHub API answered {status} while {what}: retrying in {wait:.0f} s")
                raise Again(f"answered {status}", retry_after=wait)
            if wait is None:
                raise self._translate(status, data, what)
            self._announce(wait, status, headers, what)
            raise Again(f"rate limited ({status})", retry_after=wait)

        policy = RetryPolicy(
            attempts=MAX_RATE_RETRIES + 3,
            base_delay=1.0,
            max_delay=max(self.max_wait, 2.0),  # the waits are GitHub's, checked in _announce
            total=float("inf"),
        )
        try:
            return retrying(attempt, policy, what, sleep=self.sleep)
        except Again:
            raise RateLimitedError(
                f"GitHub API: still rate limited after {MAX_RATE_RETRIES} waits while {what}; "
                "run again later"
            ) from None

    def _send(self, verb: str, url: str, what: str) -> tuple[int, dict[str, str], Any]:
        """(status, headers, JSON body or None) of one request; the body read within
        ``MAX_LIST_BYTES`` and parsed within ``MAX_JSON_DEPTH``."""
        import httpx

        from regkit.registry.manifest import parse_json

        self.requests += 1
        try:
            with self._http.stream(verb, self._absolute(url)) as response:
                raw = _read_capped(response, defaults.MAX_LIST_BYTES, what)
        except httpx.TransportError as err:
            host = urlsplit(self.base_url).netloc
            raise ConnectionFailedError(
                f"GitHub API at {host} unreachable while {what}: {type(err).__name__}; "
                "check the network and GITHUB_API_URL"
            ) from None
        data: Any = None
        if raw.strip():
            try:
                data = parse_json(raw, f"GitHub API answer while {what}")
            except LimitExceededError:
                raise
            except RegkitError:
                data = None  # not JSON (a proxy's error page): the status speaks
        return response.status_code, dict(response.headers), data

    def _announce(self, seconds: float, status: int, headers: dict[str, str], what: str) -> None:
        """Say the wait GitHub asks for (the caller sleeps), or refuse one over ``max_wait``."""
        lower = {k.lower(): v for k, v in headers.items()}
        why = (
            "retry-after"
            if "retry-after" in lower
            else "x-ratelimit-reset"
            if lower.get("x-ratelimit-remaining") == "0"
            else "no time given: one minute"
        )
        if seconds > self.max_wait:
            at = datetime.fromtimestamp(self.clock() + seconds, UTC).strftime("%H:%M UTC")
            raise RateLimitedError(
                f"GitHub API rate limit reached while {what} (HTTP {status}); it resets at {at} "
                f"(in {seconds / 60:.0f} min): run again then"
            )
        self.notify(
            f"GitHub API rate limit (HTTP {status}) while {what}: waiting {seconds:.0f} s "
            f"as GitHub asks ({why})"
        )

    def _translate(self, status: int, data: Any, what: str) -> RegkitError:
        message = data.get("message") if isinstance(data, dict) else None
        said = f" {str(message)[:200]}" if message else ""
        if status == 401:
            return AuthenticationError(
                f"GitHub API refused the token while {what} (401{said}); check the github-token "
                "(GITHUB_TOKEN)",
                status=401,
            )
        if status == 403:
            return PermissionDeniedError(f"GitHub API refused {what} (403{said})")
        if status == 404:
            return NotFoundError(f"GitHub API: {what}: not found (404{said})", status=404)
        return GitHubPackagesError(f"GitHub API: {what} failed ({status}{said})")

    # -- owners ----------------------------------------------------------------------------
    def owner_path(self, owner: str) -> str:
        """``/orgs/OWNER`` or ``/users/OWNER`` (asked once per owner)."""
        kind = self._kinds.get(owner)
        if kind is None:
            try:
                _, data = self._request(
                    "GET", f"/users/{quote(owner, safe='')}", f"looking up {owner}"
                )
            except NotFoundError:
                raise NotFoundError(
                    f"GitHub has no user or organisation {owner!r}; check the GHCR owner"
                ) from None
            kind = (
                "orgs" if isinstance(data, dict) and data.get("type") == "Organization" else "users"
            )
            self._kinds[owner] = kind
        return f"/{kind}/{quote(owner, safe='')}"

    def _versions_url(self, repository: str) -> str:
        owner, name = split_package(repository)
        return f"{self.owner_path(owner)}/packages/container/{quote(name, safe='')}/versions"

    def _absolute(self, url: str) -> str:
        return url if "://" in url else f"{self.base_url}{url}"

    def _pages(self, url: str, what: str) -> list[Any]:
        out: list[Any] = []
        walk = _PageWalk(self._absolute(url), self.base_url, what)
        while walk.next:
            page_url = walk.next
            headers, data = self._request("GET", page_url, what)
            if not isinstance(data, list):
                raise GitHubPackagesError(f"GitHub API: {what}: expected a list")
            out.extend(data)
            walk.take(page_url, headers, len(data))
        return out

    # -- versions --------------------------------------------------------------------------
    def list_versions(self, repository: str) -> list[PackageVersion]:
        """Every active version of the package ``owner/name``, newest first."""
        what = f"listing the versions of {repository}"
        url = f"{self._versions_url(repository)}?per_page={PER_PAGE}"
        try:
            data = self._pages(url, what)
        except NotFoundError:
            raise NotFoundError(
                f"package {repository} not found on GitHub, or the token cannot read it (needs "
                "read access to the package: 'permissions: packages: read')"
            ) from None
        return parse_page(data, what)

    def find_version(self, repository: str, digest: str) -> PackageVersion | None:
        """The version named ``digest``, looking through the newest pages first (a manifest
        just pushed is on the first page)."""
        what = f"looking for {digest} in {repository}"
        first = f"{self._versions_url(repository)}?per_page={PER_PAGE}"
        walk = _PageWalk(self._absolute(first), self.base_url, what)
        while walk.next:
            page_url = walk.next
            headers, data = self._request("GET", page_url, what)
            versions = parse_page(data, what)
            for version in versions:
                if version.digest == digest:
                    return version
            walk.take(page_url, headers, len(versions))
        return None

    def get_version(self, repository: str, version_id: int) -> PackageVersion | None:
        try:
            _, data = self._request(
                "GET",
                f"{self._versions_url(repository)}/{version_id}",
                f"reading version {version_id} of {repository}",
            )
        except NotFoundError:
            return None
        return PackageVersion.from_json(data)

    def delete_version(self, repository: str, version_id: int) -> bool:
        """DELETE one version; False when it was gone already."""
        url = f"{self._versions_url(repository)}/{version_id}"
        with self._write_lock:
            pause = self._last_write + self.write_interval - time.monotonic()
            if pause > 0:
                self.sleep(pause)
            try:
                self._request("DELETE", url, f"deleting version {version_id} of {repository}")
            except NotFoundError:
                gone = True
            except PermissionDeniedError as err:
                raise PermissionDeniedError(f"{err.message}: {DELETE_PERMISSION_HINT}") from None
            else:
                gone = False
            finally:
                self._last_write = time.monotonic()
        if gone and self.get_version(repository, version_id) is not None:
            # GitHub answers 404 "Package not found." to a DELETE without admin rights, for a
            # version it still lists: a refusal, not a version deleted meanwhile.
            raise PermissionDeniedError(
                f"GitHub API answered 404 to deleting version {version_id} of {repository}, "
                f"which still exists: {DELETE_PERMISSION_HINT}"
            )
        return not gone

    # -- packages --------------------------------------------------------------------------
    def list_packages(self, owner: str) -> list[Package]:
        """The container packages of ``owner`` that the token can see."""
        what = f"listing the container packages of {owner}"
        url = f"{self.owner_path(owner)}/packages?package_type=container&per_page={PER_PAGE}"
        out = []
        for p in self._pages(url, what):
            if not isinstance(p, dict) or not isinstance(p.get("name"), str):
                continue
            count = p.get("version_count")
            out.append(
                Package(
                    owner=owner,
                    name=p["name"],
                    visibility=str(p.get("visibility") or ""),
                    version_count=count if isinstance(count, int) else None,
                )
            )
        return sorted(out, key=lambda p: p.name)


def _read_capped(response: httpx.Response, cap: int, what: str) -> bytes:
    """The body of ``response``, at most ``cap`` bytes (a ``LimitExceededError`` past it)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > cap:
            raise LimitExceededError(
                f"GitHub API: {what}: the answer is over {cap} bytes, regkit's limit on one "
                "answer; a partial list is not safe to act on",
                limit="bytes of one answer",
                value=cap,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _checked_base_url(url: str) -> str:
    """``url`` without its trailing slash when it is HTTPS (plain HTTP: loopback only, the
    tests' fake); anything else carries no token."""
    from regkit.reference import host_is_loopback

    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    ok = bool(parts.netloc) and (
        scheme == "https" or (scheme == "http" and host_is_loopback(parts.netloc))
    )
    if not ok:
        raise GitHubPackagesError(
            f"GitHub API URL {url.strip()[:100]!r} is not an https:// URL; a GitHub token goes "
            "over HTTPS only"
        )
    return url.strip().rstrip("/")


_LINK_RE = re.compile(r"<([^>]*)>\s*((?:;[^;,<]*)*)")
_REL_RE = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def next_page_url(link: str | None, current_url: str, base_url: str, what: str) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or None at the end of the list. Pure.

    The next page must be on the API's own origin (scheme, host, port) and under its path: a
    page elsewhere is an error, not the end of the list (a partial list is not safe to prune
    from), and the token never goes there. A relative link is read against ``current_url``.
    """
    from regkit.registry.auth import origin_of
    from regkit.textsafe import escape

    if not link:
        return None
    for match in _LINK_RE.finditer(link):
        rels = {
            rel.lower()
            for m in _REL_RE.finditer(match.group(2))
            for rel in (m.group(1) if m.group(1) is not None else m.group(2)).split()
        }
        if "next" not in rels:
            continue
        try:
            target: str = urljoin(current_url, str(match.group(1)).strip())
            theirs, ours = origin_of(target), origin_of(base_url)
            parts = urlsplit(target)
            path, _port = parts.path, parts.port  # a port out of range is no URL
        except ValueError:
            raise GitHubPackagesError(
                f"GitHub API: {what}: the next-page link is not a URL; a partial list is not "
                "safe to act on"
            ) from None
        base_path = urlsplit(base_url).path.rstrip("/")
        if theirs != ours or not (path == base_path or path.startswith(base_path + "/")):
            where = escape(f"{theirs}{path}")[:120]
            raise GitHubPackagesError(
                f"GitHub API: {what}: the next page is on {where}, not on the API at "
                f"{ours}{base_path}; regkit follows pages on the API's own origin only, and a "
                "partial list is not safe to act on"
            )
        return target
    return None


def parse_page(data: Any, what: str) -> list[PackageVersion]:
    """One page of ``.../versions``: a JSON list of versions. Pure; any other shape is one
    ``GitHubPackagesError``."""
    if not isinstance(data, list):
        raise GitHubPackagesError(f"GitHub API: {what}: expected a list")
    return [PackageVersion.from_json(item) for item in data]


class _PageWalk:
    """The pages of one list: the bounds (``defaults.MAX_PAGES`` pages, ``defaults.MAX_ITEMS``
    items) and no page asked for twice (a loop)."""

    def __init__(self, first: str, base_url: str, what: str) -> None:
        self.next: str | None = first
        self.base_url, self.what = base_url, what
        self.seen: set[str] = set()
        self.items = 0

    def take(self, url: str, headers: dict[str, str], count: int) -> None:
        self.items += count
        if self.items > defaults.MAX_ITEMS:
            raise LimitExceededError.on_list(
                f"GitHub API: {self.what}:",
                f"more than {defaults.MAX_ITEMS} items",
                limit="items in one list",
                value=defaults.MAX_ITEMS,
            )
        link = next((v for k, v in headers.items() if k.lower() == "link"), None)
        target = next_page_url(link, url, self.base_url, self.what)
        if target is not None and target in self.seen | {url}:
            raise GitHubPackagesError(
                f"GitHub API: {self.what}: the next page is a page already read again (a page "
                "loop); a partial list is not safe to act on"
            )
        if target is not None and len(self.seen) + 1 >= defaults.MAX_PAGES:
            raise LimitExceededError.on_list(
                f"GitHub API: {self.what}:",
                f"more than {defaults.MAX_PAGES} pages",
                limit="pages of one list",
                value=defaults.MAX_PAGES,
            )
        self.seen.add(url)
        self.next = target


__all__ = [
    "DEFAULT_API_URL",
    "DELETE_PERMISSION_HINT",
    "GitHubPackagesError",
    "Package",
    "PackageVersion",
    "PackagesAPI",
    "PermissionDeniedError",
    "RateLimitedError",
    "next_page_url",
    "parse_page",
    "rate_limit_wait",
    "split_package",
]
