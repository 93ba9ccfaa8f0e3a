"""Registry operations: catalog, tags, manifests, blobs, mounts, deletes.

Everything here speaks the distribution HTTP API and nothing else. Quirks of distribution 2.8
and ``registry:3`` are handled where they show, each fallback named:

- ``tags/list`` ignores ``n``/``last`` on 2.8 (one page), paginates on v3; ``"tags": null`` is
  an empty list; a v3.1.0 400 for ``n`` above its maximum is retried without ``n``.
- Pagination without ``Link`` (go-containerregistry's registry): a full page (as many names as
  the ``n`` asked; without ``n``, as many as the first page, when that held at least
  ``EVIDENT_PAGE``) asks for the next with ``last=<its last name>``. An empty page, or one
  whose names were all seen (ggcr starts over after the last page), ends the list; a page that
  mixes seen and new names under our ``last`` means the registry ignores ``last`` (ggcr's
  catalog): an error, as a partial list is not safe to act on. ``MAX_PAGES`` and ``MAX_ITEMS``
  (``regkit.defaults``) bound every list.
- Names that break the grammar (a tag, ``reference.validate_tag``; a repository,
  ``validate_repository``) are never acted on: an error by default, a warning and left out for
  a caller that only shows the list (``invalid="warn"``).
- A HEAD without ``Docker-Content-Digest`` falls back to GET and hashes the body.
- Manifest bodies are always hashed; a digest that does not match is an error.
- DELETE by tag is refused by 2.8 (400 ``DIGEST_INVALID``): ``delete_tag`` then falls back
  to the throw-away manifest (``regkit.registry.throwaway``); which way a registry takes is
  learned on the first tag delete of each client and remembered by it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Literal, TypeVar, Unpack
from urllib.parse import quote, urlencode, urljoin, urlsplit

import httpx

from regkit import defaults
from regkit.dockerconfig import Credentials
from regkit.errors import (
    AuthenticationError,
    ConnectionFailedError,
    DigestMismatchError,
    InvalidReferenceError,
    LimitExceededError,
    NotFoundError,
    RegistryError,
    UnsupportedError,
)
from regkit.reference import validate_repository, validate_tag
from regkit.registry import deadline
from regkit.registry.auth import same_host
from regkit.registry.manifest import (
    ACCEPT,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    json_depth,
    media_type_of,
    parse_json,
    sha256_digest,
)
from regkit.registry.options import Options, OptionsArgs, options_of
from regkit.registry.retry import Again, retrying, tries_of, with_tries
from regkit.registry.throwaway import throwaway_image
from regkit.registry.translate import forbidden
from regkit.registry.transport import Transport
from regkit.textsafe import escape

T = TypeVar("T")
R = TypeVar("R")

PAGE_SIZE = 1000
EVIDENT_PAGE = 100  # without n, a first page this long is taken for a page, not the whole list
CHUNK_SIZE = 4 * 1024 * 1024  # PATCH size of a chunked upload
STREAM_CHUNK = 256 * 1024  # read size of a streamed blob: memory per stream stays small
# One ``<target>; params`` link of a Link header. Linear: neither part crosses a "<" (the
# former ``<([^>]*)>\s*;[^,]*?rel=`` backtracked quadratically: 0.9 s on 32 KB of "<x>;").
_LINK_RE = re.compile(r"<([^<>]*)>([^<]*)")


def _next_target(header: str) -> str | None:
    """The target of the first link whose ``rel`` names ``next``."""
    for link in _LINK_RE.finditer(header):
        for param in link.group(2).split(";")[1:]:
            name, _, value = param.partition("=")
            rel = value.split(",", 1)[0].strip().strip('"').lower().split()
            if name.strip().lower() == "rel" and "next" in rel:
                return link.group(1)
    return None


def _registry_errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        data = parse_json(response.content or b"{}", "error answer")
    except (RegistryError, httpx.ResponseNotRead):
        return []
    errors = data.get("errors") if isinstance(data, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _first_code(response: httpx.Response) -> str | None:
    errs = _registry_errors(response)
    code: object = errs[0].get("code") if errs else None
    return str(code) if code else None


def next_link(response: httpx.Response, current_url: str, what: str = "list") -> str | None:
    """The ``rel="next"`` URL of a paginated answer, resolved; None when absent.

    A next page on another host is an error, not the end of the list: a list cut short is not
    safe to act on (prune would not see a staying tag on the missing page). An ``http://`` link
    to the registry's own host is followed; the transport upgrades it to HTTPS.
    """
    header = response.headers.get("link")
    if not header:
        return None
    found = _next_target(header)
    if found is None:
        return None
    current = urlsplit(current_url)
    try:  # text from the registry: "<http://[abc/...>" is not a URL (urlsplit: ValueError)
        target: str = urljoin(current_url, found)
        elsewhere = not same_host(target, current.netloc, current.scheme)
    except ValueError:
        raise RegistryError(
            f"{what}: {current.netloc} links the next page to an invalid URL; a partial list "
            "is not safe to act on"
        ) from None
    if elsewhere:
        raise RegistryError(
            f"{what}: {current.netloc} links the next page to {urlsplit(target).netloc}; regkit "
            f"follows pagination on {current.netloc} only, and a partial list is not safe to "
            "act on"
        )
    return target


def _show(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:37] + "...")


class PageWalk:
    """The pages of one list, walked: which URL comes next, what was read, the bounds. Pure
    (no I/O): ``take`` gets each page's body and ``Link`` target, returns the next URL."""

    def __init__(self, path: str, key: str, what: str, host: str) -> None:
        self.path, self.key, self.what, self.host = path, key, what, host
        self.asked: int | None = PAGE_SIZE  # the n sent; None once the registry refused it
        self.evident: int | None = None  # without n: the first page's length
        self.items: list[str] = []
        self.pages = 0
        self._seen: set[str] = set()
        self._ours = False  # the page being read is one we asked for with last=
        self._linked = False  # the registry pages with Link: a page without one is the last

    def first_url(self) -> str:
        return f"{self.path}?n={PAGE_SIZE}"

    def without_n(self) -> str:
        self.asked = None
        self.pages -= 1  # the refused page does not count
        return self.path

    def count_page(self) -> None:
        if self.pages >= defaults.MAX_PAGES:
            raise LimitExceededError.on_list(
                f"{self.what}: {self.host}",
                f"sent more than {defaults.MAX_PAGES} pages",
                limit="pages of one list",
                value=defaults.MAX_PAGES,
            )
        self.pages += 1

    def take(self, body: bytes, link: str | None) -> str | None:
        """Read one page; the URL of the next page, or None at the end of the list."""
        names = page_names(body, self.key, f"{self.what}: {self.host}")
        ours, self._ours = self._ours, False
        unique = list(dict.fromkeys(names))
        new = [n for n in unique if n not in self._seen]
        if not new:
            return None  # an empty page, or a page seen before: the end of the list
        if ours and len(new) < len(unique):
            raise RegistryError(
                f"{self.what}: {self.host} ignores last= (a page asked after "
                f"{_show(self.items[-1])} repeats earlier names); the list cannot be read "
                "whole, and a partial list is not safe to act on"
            )
        if len(self.items) + len(new) > defaults.MAX_ITEMS:
            raise LimitExceededError.on_list(
                f"{self.what}: {self.host}",
                f"listed more than {defaults.MAX_ITEMS} names",
                limit="names in one list",
                value=defaults.MAX_ITEMS,
            )
        self.items.extend(new)
        self._seen.update(new)
        if link is not None:
            self._linked = True
            return link
        if self._linked:
            return None  # a registry that links its pages says the end by linking no more
        if self.asked is None and self.evident is None:
            self.evident = len(names) if len(names) >= EVIDENT_PAGE else 0
        size = self.asked if self.asked is not None else self.evident
        if not size or len(names) != size:
            # Shorter: the last page. Longer than the n asked: the registry ignores n and
            # answered the whole list (distribution 2.8).
            return None
        # A full page without Link (go-containerregistry): ask for the names after its last.
        self._ours = True
        query = {"n": str(self.asked)} if self.asked is not None else {}
        return f"{self.path}?{urlencode({**query, 'last': names[-1]})}"


def page_names(body: bytes, key: str, what: str) -> list[str]:
    """The names of one page of a tag list or catalog: ``{key: [str, ...]}``, ``null`` or
    absent for none; anything else is one ``RegistryError``."""
    data = parse_json(body, what)
    if not isinstance(data, dict):
        raise RegistryError(f"{what} sent a list that is not a JSON object")
    names = data.get(key)
    if names is None:
        return []  # "tags": null is an empty list
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RegistryError(f"{what} sent {key!r} that is not a list of names")
    return names


class RegistryClient:
    """A client for one registry host. Thread-safe; use ``map`` for bounded concurrency."""

    def __init__(
        self, registry: str, options: Options | None = None, **changes: Unpack[OptionsArgs]
    ) -> None:
        """``options`` (``regkit.registry.options``: TLS, jobs, timeout, retry, credentials, an
        injected ``transport``...), or some of them as keyword arguments (over ``options``)."""
        options = options_of(options, changes)
        self.options = options = dataclasses.replace(options, jobs=max(1, options.jobs))
        self.registry = registry
        self.jobs = options.jobs
        # Manifests by digest and configs, shared by runs (regkit.registry.cache); opt-in.
        self.cache = options.cache
        self.transport = Transport(registry, options)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # Whether DELETE by tag works here: None until the first delete_tag finds out.
        self._tag_delete: bool | None = None
        self._tag_delete_lock = threading.Lock()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.transport.close()
        if self.cache is not None:
            self.cache.flush()
            if self.cache.writes:
                self.cache.trim()

    @property
    def credentials(self) -> Credentials | None:
        return self.transport.credentials

    # -- concurrency ----------------------------------------------------------------------

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]`` on at most ``jobs`` threads, in order; first error wins."""
        seq = list(items)
        if len(seq) <= 1 or self.jobs == 1:
            return [fn(x) for x in seq]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="regkit")
            pool = self._pool
        futures = [pool.submit(fn, x) for x in seq]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def warm(self, connections: int) -> None:
        """Start opening ``connections`` more connections (at most ``jobs``) in the background,
        for an operation about to send that many requests at once (see ``Transport.warm``)."""
        self.transport.warm(min(connections, self.jobs))

    # -- errors ---------------------------------------------------------------------------

    def _fail(self, response: httpx.Response, what: str) -> RegistryError:
        """The error for an unexpected answer; after retries, it says how many tries."""
        return with_tries(self._error_for(response, what), tries_of(response))

    def _error_for(self, response: httpx.Response, what: str) -> RegistryError:
        status = response.status_code
        code = _first_code(response)
        host = self.registry
        if status == 401:
            user = self.credentials.username if self.credentials else None
            if user:
                return AuthenticationError(
                    f"{host} refused the credentials of user {user!r} ({what}); check the "
                    "username and password, e.g. run 'regkit login' again",
                    status=status,
                    code=code,
                )
            return AuthenticationError(
                f"{host} requires authentication ({what}); run 'regkit login' or set "
                "REGISTRY_USERNAME and REGISTRY_PASSWORD",
                status=status,
                code=code,
            )
        if status == 403:  # often a proxy's rule (a write block), not the registry: both named
            errs = _registry_errors(response)
            return forbidden(
                host,
                what,
                method=response.request.method,
                code=code,
                detail=str(errs[0].get("message") or "") if errs else "",
            )
        if status == 404:
            detail = {
                "NAME_UNKNOWN": "repository not found",
                "MANIFEST_UNKNOWN": "manifest not found",
                "BLOB_UNKNOWN": "blob not found",
            }.get(code or "", "not found")
            return NotFoundError(f"{what}: {detail} on {host}", status=status, code=code)
        if status == 405 or code == "UNSUPPORTED":
            return UnsupportedError(
                f"{what}: {host} does not support this operation (is deletion enabled?)",
                status=status,
                code=code,
            )
        message = ""
        errs = _registry_errors(response)
        if errs:
            message = str(errs[0].get("message") or "")
        return RegistryError(
            f"{what}: {host} answered {status}{f' {code}' if code else ''}"
            f"{f' ({message})' if message else ''}",
            status=status,
            code=code,
        )

    # -- ping, catalog, tags --------------------------------------------------------------

    def ping(self, *, require_auth: bool = False) -> None:
        """Check that the registry answers and that our credentials (if any) are accepted."""
        self.transport.ping()
        if self.transport.credentials_verified:
            return
        if self.transport.auth_required or require_auth:
            response = self.transport.request("GET", "/v2/", repository=None)
            if response.status_code != 200:
                raise self._fail(response, "GET /v2/")

    def _paginate(self, path: str, key: str, repository: str | None, what: str) -> list[str]:
        """Every name of a paginated list (see the module doc for the rules)."""
        walk = PageWalk(path, key, what, self.registry)
        url: str | None = walk.first_url()
        retried_without_n = False
        seen_urls: set[str] = set()
        while url:
            if url in seen_urls:
                break  # a registry that links a page to itself must not loop us forever
            seen_urls.add(url)
            walk.count_page()
            response = self.transport.request(
                "GET",
                url,
                repository=repository,
                limit=(defaults.MAX_LIST_BYTES, "a page of a tag list or catalog"),
            )
            if (
                response.status_code == 400
                and _first_code(response) == "PAGINATION_NUMBER_INVALID"
                and not retried_without_n
            ):
                retried_without_n = True  # registry:3.1.0 refused n above its maximum
                url = walk.without_n()
                continue
            if response.status_code != 200:
                raise self._fail(response, what)
            link = next_link(response, str(response.request.url), what)
            url = walk.take(response.content, link)
        return walk.items

    def catalog(self, *, invalid: Literal["error", "warn"] = "error") -> list[str]:
        """Every repository (paginated, bounded); names that break the repository grammar: an
        error, or with ``invalid="warn"`` a warning on stderr and left out."""
        names = self._paginate("/v2/_catalog", "repositories", None, "list repositories")
        return self._valid(names, validate_repository, "repository names", "", invalid)

    def tags(self, repository: str, *, invalid: Literal["error", "warn"] = "error") -> list[str]:
        """Every tag of ``repository`` (paginated, bounded). A tag that breaks the tag grammar
        is never acted on: an error (the default: a caller deciding from the list must not see
        part of it), or with ``invalid="warn"`` (a caller only showing it) a warning on stderr
        and left out."""
        what = f"list tags of {repository}"
        names = self._paginate(f"/v2/{repository}/tags/list", "tags", repository, what)
        return self._valid(names, validate_tag, "tags", f" in {repository}", invalid)

    def _valid(
        self,
        names: list[str],
        validate: Callable[[str], str],
        kind: str,
        where: str,
        invalid: str,
    ) -> list[str]:
        bad: list[str] = []
        good: list[str] = []
        for name in names:
            try:
                good.append(validate(name))
            except InvalidReferenceError:
                bad.append(name)
        if not bad:
            return good
        shown = ", ".join(_show(b) for b in bad[:3]) + (", ..." if len(bad) > 3 else "")
        said = (
            f"{self.registry} lists {len(bad)} {kind}{where} that break the grammar ({shown}); "
            "regkit never acts on them"
        )
        if invalid != "warn":
            raise RegistryError(
                f"{said}, and a list without them is not safe to act on; remove them on the "
                "registry's side"
            )
        print(f"regkit: warning: {escape(said)}", file=sys.stderr)
        return good

    # -- manifests ------------------------------------------------------------------------

    def _manifest_url(self, repository: str, ref: str) -> str:
        return f"/v2/{repository}/manifests/{quote(ref, safe=':')}"

    def resolve(self, repository: str, ref: str) -> Descriptor | None:
        """HEAD a manifest: its descriptor, or None when it does not exist."""
        response = self.transport.request(
            "HEAD",
            self._manifest_url(repository, ref),
            repository=repository,
            headers={"Accept": ACCEPT},
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, f"resolve {repository}:{ref}")
        digest = response.headers.get("docker-content-digest")
        media_type = (response.headers.get("content-type") or "").split(";")[0].strip()
        size = response.headers.get("content-length")
        if not digest or not media_type or media_type == "application/json" or not size:
            # Fallback: a registry that leaves out the digest header; GET and hash the body.
            try:
                return self.get_manifest(repository, ref).descriptor()
            except NotFoundError:
                return None
        if ref.startswith("sha256:") and digest != ref:
            raise DigestMismatchError(f"{self.registry} answered {digest} for {repository}@{ref}")
        return Descriptor(media_type, digest, int(size))

    def get_manifest(self, repository: str, ref: str) -> Manifest:
        by_digest = ref.startswith("sha256:")
        if by_digest and self.cache is not None and (hit := self.cache.get(ref)) is not None:
            return Manifest(hit[1], hit[0], ref)
        what = f"{repository}{'@' if by_digest else ':'}{ref}"
        response = self.transport.request(
            "GET",
            self._manifest_url(repository, ref),
            repository=repository,
            headers={"Accept": ACCEPT},
            limit=(defaults.MAX_MANIFEST_BYTES, "a manifest"),
        )
        if response.status_code != 200:
            raise self._fail(response, f"get manifest {what}")
        raw = response.content
        digest = sha256_digest(raw)
        claimed = response.headers.get("docker-content-digest")
        if ref.startswith("sha256:") and digest != ref:
            raise DigestMismatchError(
                f"manifest {what} from {self.registry} hashes to {digest}; the content is corrupt "
                "or was changed in transit"
            )
        if claimed and claimed != digest:
            raise DigestMismatchError(
                f"manifest {what} from {self.registry} hashes to {digest} but the registry says "
                f"{claimed}; refusing to trust it"
            )
        manifest = Manifest(raw, media_type_of(raw, response.headers.get("content-type")), digest)
        if by_digest and self.cache is not None:  # by tag it is asked for again anyway
            self.cache.put(digest, manifest.media_type, raw)
        return manifest

    def put_manifest(self, repository: str, ref: str, raw: bytes, media_type: str) -> str:
        response = self.transport.request(
            "PUT",
            self._manifest_url(repository, ref),
            repository=repository,
            headers={"Content-Type": media_type},
            content=raw,
        )
        if response.status_code not in (200, 201, 202):
            raise self._fail(response, f"put manifest {repository}:{ref}")
        digest = sha256_digest(raw)
        claimed = response.headers.get("docker-content-digest")
        if claimed and claimed != digest:
            raise DigestMismatchError(
                f"{self.registry} stored {repository}:{ref} as {claimed}, expected {digest}"
            )
        return digest

    def delete_manifest(self, repository: str, ref: str) -> None:
        """DELETE a manifest by digest (all its tags go) or by tag (registry:3 only)."""
        response = self.transport.request(
            "DELETE", self._manifest_url(repository, ref), repository=repository
        )
        if response.status_code in (200, 202, 204):
            return
        code = _first_code(response)
        if (
            not ref.startswith("sha256:")
            and response.status_code == 400
            and code == "DIGEST_INVALID"
        ):
            raise UnsupportedError(
                f"{self.registry} cannot delete a tag by name (distribution 2.8)",
                status=400,
                code=code,
            )
        raise self._fail(
            response, f"delete {repository}{'@' if ref.startswith('sha256:') else ':'}{ref}"
        )

    @property
    def tag_delete_supported(self) -> bool | None:
        """Whether this registry deletes a tag by name (None: no tag deleted yet)."""
        return self._tag_delete

    def delete_tag(
        self,
        repository: str,
        tag: str,
        *,
        delete_digest: Callable[[Manifest], object] | None = None,
    ) -> str:
        """Remove ``tag`` alone: its manifest and every other tag stay. Returns the way taken.

        ``DELETE /v2/<repo>/manifests/<tag>`` where the registry supports it (``registry:3``);
        on distribution 2.8 (400 ``DIGEST_INVALID``) the fallback: point the tag at a unique
        throw-away image, then delete that by digest (``delete_digest``, given the throw-away
        manifest; by default a plain DELETE; a caller may guard it). The first call of a
        client probes, concurrent first calls wait for its answer; a 405 (deletion disabled)
        raises UnsupportedError, a 404 NotFoundError.
        """
        with self._tag_delete_lock:
            known = self._tag_delete
            if known is None:
                if self._delete_by_tag(repository, tag):
                    return "deleted by tag"
                known = False
        if known and self._delete_by_tag(repository, tag):
            return "deleted by tag"
        config, raw = throwaway_image(repository, tag)
        self.upload_bytes(repository, config)
        digest = self.put_manifest(repository, tag, raw, OCI_MANIFEST)
        if delete_digest is not None:
            delete_digest(Manifest(raw, OCI_MANIFEST, digest))
        else:
            with contextlib.suppress(NotFoundError):  # a retried DELETE found it gone
                self.delete_manifest(repository, digest)
        return "re-pointed at a throw-away manifest, deleted"

    def _delete_by_tag(self, repository: str, tag: str) -> bool:
        """DELETE by tag; False (nothing changed) where the registry cannot, and remembered."""
        try:
            self.delete_manifest(repository, tag)
        except NotFoundError:
            if self._tag_delete is None:  # 2.8 would have said DIGEST_INVALID before looking
                self._tag_delete = True
            raise
        except UnsupportedError as err:
            if err.status == 400 and err.code == "DIGEST_INVALID":
                self._tag_delete = False  # distribution 2.8: no tag delete
                return False
            raise  # 405: deletion disabled on the registry
        self._tag_delete = True
        return True

    # -- blobs ----------------------------------------------------------------------------

    def get_blob(
        self, repository: str, digest: str, *, limit: int = defaults.MAX_CONFIG_BYTES
    ) -> bytes:
        """A small blob (a config) in memory, verified against its digest, at most ``limit``
        bytes; a JSON blob nested deeper than ``MAX_JSON_DEPTH`` is refused (a caller parses
        it with ``json.loads``).

        A body cut short (connection reset, truncated answer) is fetched again, within the
        transport's retry policy.
        """
        if self.cache is not None and (hit := self.cache.get(digest)) is not None:
            return hit[1]

        def attempt(_n: int) -> bytes:
            data = self._read_blob(repository, digest, limit)
            if sha256_digest(data) != digest:
                raise Again("sent a body that does not match its digest")
            return data

        try:
            data = retrying(
                attempt,
                self.transport.retry,
                f"GET /v2/{repository}/blobs/{digest}",
                transient=lambda err: isinstance(err, httpx.TransportError),
                notify=self.transport.notice,
            )
        except httpx.TransportError as err:
            raise self.transport.translate(err, tries=tries_of(err)) from None
        except Again as again:
            raise with_tries(
                DigestMismatchError(f"blob {repository}@{digest} from {self.registry} is corrupt"),
                tries_of(again),
            ) from None
        if data.lstrip()[:1] in (b"{", b"[") and json_depth(data, defaults.MAX_JSON_DEPTH) > (
            defaults.MAX_JSON_DEPTH
        ):
            parse_json(data, f"blob {repository}@{digest}")  # raises, naming the limit
        if self.cache is not None:
            self.cache.put(digest, "application/octet-stream", data)
        return data

    @contextmanager
    def _blob_response(self, repository: str, digest: str) -> Iterator[httpx.Response]:
        """The streamed answer to ``GET /v2/<repository>/blobs/<digest>``, its body not read
        yet; any answer but 200 is read (bounded) and raised as the registry's error."""
        with self.transport.stream(
            "GET", f"/v2/{repository}/blobs/{digest}", repository=repository
        ) as response:
            if response.status_code != 200:
                self.transport.read_body(response)
                raise self._fail(response, f"get blob {repository}@{digest}")
            yield response

    def _read_blob(self, repository: str, digest: str, limit: int) -> bytes:
        with self._blob_response(repository, digest) as response:
            return self.transport.read_body(response, (limit, "a config blob"))

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
        """Stream a blob; the iterator raises DigestMismatchError at the end if it is corrupt."""
        with self._blob_response(repository, digest) as response:

            def chunks() -> Iterator[bytes]:
                # No deadline for the whole stream, but it must keep moving: each
                # STREAM_CHUNK (or the end) within the timeout, however slow it trickles.
                h = hashlib.sha256()
                pieces = response.iter_bytes(STREAM_CHUNK)
                try:
                    while True:
                        with deadline.until(time.monotonic() + self.transport.timeout):
                            chunk = next(pieces, None)
                        if chunk is None:
                            break
                        h.update(chunk)
                        yield chunk
                except httpx.TransportError as err:
                    if deadline.is_deadline(err):
                        raise ConnectionFailedError(
                            f"blob {repository}@{digest} from {self.registry} slowed below "
                            f"{STREAM_CHUNK // 1024} KiB per {self.transport.timeout:g} s (the "
                            "timeout), regkit's limit on a stream that still moves; check the "
                            "registry or the network, or allow a longer timeout"
                        ) from None
                    raise self.transport.translate(err) from None
                if "sha256:" + h.hexdigest() != digest:
                    raise DigestMismatchError(
                        f"blob {repository}@{digest} from {self.registry} is corrupt"
                    )

            yield chunks()

    def blob_size(self, repository: str, digest: str) -> int | None:
        response = self.transport.request(
            "HEAD", f"/v2/{repository}/blobs/{digest}", repository=repository
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, f"check blob {repository}@{digest}")
        length = response.headers.get("content-length")
        return int(length) if length and length.isdigit() else 0

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Cross-repository mount; False (upload session cancelled) when the registry refuses."""
        response = self.transport.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            repository=repository,
            params={"mount": digest, "from": from_repository},
            retry=True,  # a mount is safe to repeat
            scope=f"repository:{repository}:pull,push repository:{from_repository}:pull",
        )
        if response.status_code == 201:
            return True
        if response.status_code == 202:
            location = response.headers.get("location")
            if location:
                self._cancel_upload(repository, location)
            return False
        raise self._fail(response, f"mount {digest} from {from_repository} into {repository}")

    def _cancel_upload(self, repository: str, location: str) -> None:
        url = urljoin(f"{self.transport.base_url}/v2/{repository}/blobs/uploads/", location)
        with contextlib.suppress(RegistryError):  # an abandoned session expires on its own
            self.transport.request("DELETE", url, repository=repository).close()

    def _start_upload(self, repository: str) -> str:
        response = self.transport.request(
            "POST", f"/v2/{repository}/blobs/uploads/", repository=repository, retry=True
        )
        if response.status_code != 202 or "location" not in response.headers:
            raise self._fail(response, f"start upload to {repository}")
        return urljoin(
            f"{self.transport.base_url}/v2/{repository}/blobs/uploads/",
            response.headers["location"],
        )

    def upload_blob(
        self, repository: str, digest: str, chunks: Iterable[bytes], size: int | None = None
    ) -> None:
        """Upload a blob without holding it in memory.

        With a known size: POST, then one streamed PUT. Without: PATCH chunk by chunk with
        ``Content-Range``, then an empty PUT with the digest (distribution's chunked upload).
        """
        location = self._start_upload(repository)
        sep = "&" if "?" in location else "?"
        if size is not None:
            response = self.transport.request(
                "PUT",
                f"{location}{sep}digest={digest}",
                repository=repository,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                content=iter(chunks),
            )
            if response.status_code not in (201, 204):
                raise self._fail(response, f"upload {digest} to {repository}")
            return
        offset = 0
        for chunk in _rechunk(chunks, CHUNK_SIZE):
            response = self.transport.request(
                "PATCH",
                location,
                repository=repository,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                },
                content=chunk,
                retry=False,
            )
            if response.status_code != 202:
                raise self._fail(response, f"upload {digest} to {repository}")
            offset += len(chunk)
            location = urljoin(location, response.headers.get("location", location))
        sep = "&" if "?" in location else "?"
        response = self.transport.request(
            "PUT", f"{location}{sep}digest={digest}", repository=repository, content=b""
        )
        if response.status_code not in (201, 204):
            raise self._fail(response, f"finish upload of {digest} to {repository}")

    def upload_bytes(self, repository: str, data: bytes) -> str:
        """Upload a small blob held in memory. Unlike a stream, the body can be sent again, so
        the PUT is retried like any idempotent request (a 503 or 429 on it is not fatal)."""
        digest = sha256_digest(data)
        location = self._start_upload(repository)
        sep = "&" if "?" in location else "?"
        response = self.transport.request(
            "PUT",
            f"{location}{sep}digest={digest}",
            repository=repository,
            headers={"Content-Type": "application/octet-stream"},
            content=data,
        )
        if response.status_code not in (201, 204):
            raise self._fail(response, f"upload {digest} to {repository}")
        return digest


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    buf = bytearray()
    for chunk in chunks:
        buf.extend(chunk)
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


__all__: Sequence[str] = ["RegistryClient", "next_link"]
