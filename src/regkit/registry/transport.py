"""HTTP transport to one registry: the scheme probe, send and follow.

- HTTPS by default, verified against the system CAs; ``ca_file`` (or ``SSL_CERT_FILE``) adds a
  private CA. Plain HTTP only for loopback hosts (after HTTPS was refused at the protocol level)
  or with ``insecure``, which also disables verification.
- Connections come from ``regkit.registry.pool`` (HTTP/1.1 keep-alive shared by the worker
  threads; HTTP/2 with REGKIT_HTTP2=1, one per thread); ``warm`` opens some ahead of a fan-out.
- Retries (``regkit.registry.retry``) on connection errors and 408/429/500/502/503/504, only
  for requests safe to repeat; each retry shows on stderr under ``-v`` or on a terminal.
- Every URL sent to passes the origin rule (``regkit.registry.auth``): an ``http://`` URL for
  the registry's own host is upgraded to HTTPS, plain HTTP to another non-loopback host is
  refused without ``insecure``, ``Authorization`` goes to the registry's exact origin only, and
  a 401 from another origin is not a challenge. Redirects are followed by hand for that.
- Transport failures become ``RegistryError``s in ``regkit.registry.translate``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Unpack
from urllib.parse import urljoin, urlsplit

import httpx

from regkit import defaults
from regkit.errors import (
    AuthenticationError,
    ConnectionFailedError,
    Hint,
    LimitExceededError,
    RegistryError,
    TLSError,
)
from regkit.log import sending
from regkit.reference import host_is_loopback
from regkit.registry import deadline
from regkit.registry.auth import (
    Authenticator,
    plain_http_allowed,
    same_origin,
    scope_for,
    shown,
    upgrade,
)
from regkit.registry.options import Options, OptionsArgs, options_of
from regkit.registry.pool import ClientPool
from regkit.registry.retry import (
    RETRY_STATUSES,
    Again,
    RetryPolicy,
    Tries,
    mark,
    parse_retry_after,
    retrying,
    tries_of,
    with_tries,
)
from regkit.registry.translate import (
    is_cert_error,
    is_plain_http_answer,
    plain_http_refused,
    translate,
)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_DEADLINE = "_regkit_deadline"  # on a response: the deadline of its request (read_body)
_reading = threading.local()  # .limit: the body bound of the request this thread is sending
MAX_REDIRECTS = 5


@dataclasses.dataclass(slots=True)
class _Outgoing:
    """A request on its way down: ``_send_authed`` (credentials) -> ``_first_request`` (the
    probe) -> ``_follow`` (redirects, the origin rule) -> ``_send_raw``."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | Iterable[bytes] | None
    stream: bool


class Transport:
    """Requests to one registry host, authenticated, retried and counted."""

    def __init__(
        self, host: str, options: Options | None = None, **changes: Unpack[OptionsArgs]
    ) -> None:
        """``options`` (``regkit.registry.options``), or some of them as keyword arguments
        (over ``options`` when both are given)."""
        self.options = options = options_of(options, changes)
        self.host = host
        self.jobs = options.jobs
        self.credentials = credentials = options.credentials
        self.insecure = options.insecure
        self.retry = options.retry or RetryPolicy()
        self.timeout = options.timeout  # the deadline of one request (deadline.py), the idle limit
        self.verbose = options.verbose
        self.quiet = options.quiet  # no retry notices on a terminal (REGKIT_QUIET counts too)
        self._ca_file = options.ca_file  # named by a failed verification (translate.cert_refused)
        self._pool = ClientPool(options)
        self.http2 = self._pool.http2
        self._warmers: list[threading.Thread] = []
        self._warm_wanted = 0  # warm-ups asked for before the first answer (see warm)
        self._settled = False  # the first answer came: scheme and credentials known
        self._scheme: str | None = None
        self._auth = Authenticator(
            host, credentials, insecure=options.insecure, send_token=self._send_token
        )
        self._warned: set[str] = set()  # hosts warned about plain HTTP
        self._lock = threading.Lock()
        self._ping_lock = threading.RLock()

    # -- set-up -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            warmers, self._warmers = self._warmers, []
        # Warm-ups normally ended long ago; one still connecting (an unreachable host) is not
        # waited for beyond a moment: it fails quietly once its client is closed.
        deadline = time.monotonic() + 0.5
        for thread in warmers:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._pool.close()

    def warm(self, connections: int) -> None:
        """Open up to ``connections`` more keep-alive connections in the background.

        Each is one ``GET /v2/`` never waited for: by the time an operation fans out, its
        requests find open connections instead of paying the TCP and TLS handshakes (two round
        trips) each. Never a request that can only be answered 401: behind a Basic-auth proxy
        every 401 is a failed login in its log, which fail2ban or CrowdSec count against the
        runner's address (anonymous warm-ups made 15 per overview). So a warm-up carries the
        credentials the registry accepted (or none, to a registry that asks for none), and waits
        for the first answer to know that: asked for earlier, it starts right after it. With a
        challenge not met (wrong password, none given) or a Bearer registry, there is none.
        Failures are ignored; the operation's own requests report them. HTTP/1.1 only: with
        HTTP/2 each thread has its own connection.
        """
        if self.http2 or connections <= 0:
            return
        with self._lock:
            if not self._settled:
                self._warm_wanted = max(self._warm_wanted, connections)
                return
        self._start_warm(connections)

    def _settle(self) -> None:
        """The first answer came (scheme and credentials known): start the warm-ups asked for
        before it."""
        with self._lock:
            self._settled = True
            wanted, self._warm_wanted = self._warm_wanted, 0
        if wanted:
            self._start_warm(wanted)

    def _warm_headers(self) -> dict[str, str] | None:
        """What a warm-up sends: the accepted Basic credentials, nothing to a registry that
        wants none, or None (no warm-up) while a challenge is not met."""
        if self._auth.verified:
            return self._auth.preemptive()
        if not self._auth.required and not self.credentials:
            return {}
        return None

    def _start_warm(self, connections: int) -> None:
        headers = self._warm_headers()
        if headers is None:
            return
        url = f"{self._scheme or 'https'}://{self.host}/v2/"

        def one() -> None:
            with contextlib.suppress(Exception):
                self._send_raw("GET", url, headers, None).close()

        threads = [
            threading.Thread(target=one, name="regkit-warm", daemon=True)
            for _ in range(connections)
        ]
        with self._lock:
            self._warmers.extend(threads)
        for thread in threads:
            thread.start()

    @property
    def scheme(self) -> str:
        if self._scheme is None:
            self._ensure_scheme()
        assert self._scheme is not None
        return self._scheme

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def ping(self) -> None:
        """GET /v2/ and learn the scheme and the auth challenge.

        With credentials, the first request already carries them as Basic auth (to this host
        only, on the scheme being tried): a registry behind a Basic-auth proxy then answers 200
        at once, saving the round trip of an anonymous probe. A token registry answers 401 with
        its Bearer challenge as it would anyway.
        """
        with self._ping_lock:  # one probe at a time; threads that wait reuse its answer
            self._ping()

    def _ensure_scheme(self, already: Tries | None = None) -> None:
        """Ping unless the scheme is known (a concurrent ping may have just found it).
        ``already``: the first request timed out, a try that counts against the policy."""
        with self._ping_lock:
            if self._scheme is None:
                self._ping(already)

    def _ping(self, already: Tries | None = None) -> None:
        preemptive = self._auth.preemptive()
        found: list[str] = []

        def probe() -> httpx.Response:
            scheme, answer = self._probe_schemes(preemptive)
            found[:] = [scheme]
            return answer

        # Retried like any idempotent request (a registry restarting, a busy proxy), except when
        # there is no connection at all (refused, unknown name, timeout: a wrong host or port
        # says so at once) or the certificate is refused.
        response = self._retried(
            probe,
            "GET /v2/",
            self.retry,
            lambda err: (
                isinstance(err, httpx.TransportError)
                and not (
                    is_cert_error(err) or isinstance(err, httpx.ConnectError | httpx.ConnectTimeout)
                )
            ),
            already,
        )
        scheme = found[0]
        response.close()
        if scheme == "http":
            self._warn_plain_http(self.host)
        if response.status_code not in (200, 401):
            tries = tries_of(response)
            raise RegistryError(
                f"{self.host} answered {response.status_code} to GET /v2/"
                f"{f' {tries}' if tries else ''}; "
                "is this a Docker registry (distribution API v2)?",
                status=response.status_code,
            )
        self._auth.after_probe(response.status_code, response.headers.get("www-authenticate"))
        with self._lock:
            self._scheme = scheme
        self._settle()

    def _probe_schemes(self, headers: dict[str, str]) -> tuple[str, httpx.Response]:
        """GET /v2/ over HTTPS, then (loopback or --insecure) plain HTTP when HTTPS is refused
        at the protocol level. Transport errors worth a retry propagate as they are."""
        schemes = ["https"]
        if host_is_loopback(self.host) or self.insecure:
            schemes.append("http")
        last: httpx.TransportError | None = None
        for scheme in schemes:
            try:
                return scheme, self._send_raw("GET", f"{scheme}://{self.host}/v2/", headers, None)
            except httpx.TransportError as err:
                last = err
                if (
                    scheme == "https"
                    and len(schemes) > 1
                    and (is_plain_http_answer(err) or (self.insecure and not is_cert_error(err)))
                ):
                    continue
                if scheme == "https" and len(schemes) == 1 and is_plain_http_answer(err):
                    raise plain_http_refused(self.host) from None
                raise
        assert last is not None
        raise last

    @property
    def auth_required(self) -> bool:
        if self._scheme is None:
            self._ensure_scheme()
        return self._auth.required

    @property
    def credentials_verified(self) -> bool:
        """The registry answered 200 to our credentials."""
        return self._auth.verified

    # -- requests -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        repository: str | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        params: dict[str, str] | None = None,
        retry: bool | None = None,
        stream: bool = False,
        scope: str | None = None,
        limit: tuple[int, str] | None = None,
    ) -> httpx.Response:
        """Send a request; ``repository`` names the token scope (None = catalog).

        Bounded (``regkit.defaults``): the request, its answer's head and (without ``stream``)
        its body read into memory end by the deadline (``timeout`` seconds); that body is read
        counted, at most ``limit`` = (bytes, what the bound is called) or ``MAX_BODY_BYTES``
        (``LimitExceededError`` past it); an error answer's body is cut at
        ``MAX_ERROR_BYTES``. With ``stream``, the caller reads the body (``read_body``).

        ``scope`` overrides the token scope, e.g. a mount needs pull on the source repository
        too: ``"repository:to:pull,push repository:from:pull"``.

        Requests with a one-shot body (an iterator) are never retried. With ``stream`` the
        caller must close the response.
        """
        # Before the scheme is known, HTTPS is assumed: the first request doubles as the ping
        # (see _first_request) and is moved to plain HTTP if the probe ends there.
        url = (
            path_or_url
            if "://" in path_or_url
            else f"{self._scheme or 'https'}://{self.host}{path_or_url}"
        )
        if params:
            url = str(httpx.URL(url).copy_merge_params(params))
        can_retry = (retry if retry is not None else method in IDEMPOTENT) and not _is_one_shot(
            content
        )
        _reading.limit = limit  # for _send_raw: the bound of this request's body
        try:
            return self._retried(
                lambda: self._send_authed(
                    scope or scope_for(repository, method),
                    _Outgoing(method, url, dict(headers or {}), content, stream),
                ),
                f"{method} {self._shown(url)}",
                self.retry if can_retry else dataclasses.replace(self.retry, attempts=1),
                lambda err: isinstance(err, httpx.TransportError),
            )
        finally:
            _reading.limit = None

    def _retried(
        self,
        send: Callable[[], httpx.Response],
        what: str,
        policy: RetryPolicy,
        transient: Callable[[BaseException], bool],
        already: Tries | None = None,
    ) -> httpx.Response:
        """``send()`` under ``policy`` (``regkit.registry.retry``): again after a transport
        error ``transient`` accepts or a 408/429/5xx answer (honouring ``Retry-After``). The
        last such answer is returned (carrying its ``Tries``); a transport error that ends it
        is translated, saying how many tries it took."""

        def attempt(_n: int) -> httpx.Response:
            response = send()
            if response.status_code in RETRY_STATUSES:
                self.read_body(response)  # kept, cut short, for the error message
                response.close()
                raise Again(
                    f"answered {response.status_code}",
                    retry_after=parse_retry_after(response.headers.get("retry-after")),
                    value=response,
                )
            return response

        try:
            return retrying(
                attempt, policy, what, transient=transient, notify=self.notice, already=already
            )
        except Again as again:
            assert isinstance(again.value, httpx.Response)
            mark(again.value, tries_of(again))
            return again.value
        except httpx.TransportError as err:
            raise self.translate(err, tries=tries_of(err)) from None

    @contextmanager
    def stream(self, method: str, path_or_url: str, **kwargs: Any) -> Iterator[httpx.Response]:
        response = self.request(method, path_or_url, stream=True, **kwargs)
        try:
            yield response
        finally:
            response.close()

    def _send_authed(self, scope: str, out: _Outgoing) -> httpx.Response:
        if self._scheme is None:
            first = self._first_request(out)
            if first is not None:
                if _is_one_shot(out.content) or not self._auth.bearer_after_first(
                    first.status_code, scope
                ):
                    return first
                first.close()
        out.url = self._rebase(out.url)  # guessed as HTTPS before the ping found plain HTTP
        for round_ in range(2):
            auth = self._auth.header(scope)
            if auth:
                out.headers["Authorization"] = auth
            response = self._follow(out)
            if response.status_code != 401 or round_ == 1 or _is_one_shot(out.content):
                return response
            # A 401 here came from the registry's own origin (_follow refuses any other).
            if not self._auth.answer(response.headers.get("www-authenticate"), scope, auth):
                return response
            response.close()
        return response

    def _first_request(self, out: _Outgoing) -> httpx.Response | None:
        """Send the first request to a host whose scheme is not known yet as its own ping.

        Like ``ping``, it goes over HTTPS with Basic credentials (to this host only): a 401
        names the auth scheme; any other answer means HTTPS works and the credentials were
        accepted or are not needed. That saves the round trip of a separate ``GET /v2/``.
        When HTTPS fails at the transport level (a plain-HTTP loopback registry, a TLS error),
        the full ``ping`` runs instead, with its clear errors, and None is returned: the caller
        then sends the request on the scheme the ping found. One-shot bodies are never used
        as a probe.
        """
        if not out.url.startswith(f"https://{self.host}/") or _is_one_shot(out.content):
            self._ensure_scheme()
            return None
        sent = {**out.headers, **self._auth.preemptive()}
        started = time.monotonic()
        try:
            response = self._follow(dataclasses.replace(out, headers=sent))
        except httpx.TransportError as err:
            if not isinstance(err, httpx.TimeoutException):
                self._ensure_scheme()  # e.g. a plain-HTTP loopback registry: the probe finds it
                return None
            # A hung registry: say so at once; this try counts against the probe's policy.
            self.notice(
                f"{out.method} {shown(out.url, self.host)} failed ({type(err).__name__}); probing "
                f"GET /v2/ (try 2 of {self.retry.attempts})"
            )
            self._ensure_scheme(Tries(1, time.monotonic() - started))
            return None
        with self._lock:
            if self._scheme is None:
                self._scheme = "https"
        self._auth.after_first(response.status_code, response.headers.get("www-authenticate"))
        self._settle()
        return response

    def _rebase(self, url: str) -> str:
        """``url`` guessed as HTTPS before the ping, on the scheme the ping found."""
        guessed = f"https://{self.host}/"
        if self._scheme and self._scheme != "https" and url.startswith(guessed):
            return f"{self._scheme}://{self.host}/{url[len(guessed) :]}"
        return url

    def _send_token(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """GET a token from a realm (checked by ``auth.fetch_token``): no redirects, no retry."""
        try:
            return self._send_raw("GET", url, headers, None)
        except httpx.TransportError as err:
            raise translate(err, urlsplit(url).netloc, ca_file=self._ca_file) from None

    def secrets(self) -> list[str]:
        """Every secret this transport holds (for leak scans and masking)."""
        return self._auth.secrets()

    def _follow(self, out: _Outgoing) -> httpx.Response:
        """Send, following redirects by hand, every URL through the origin rule (``_admit``):
        ``Authorization`` only to the registry's exact origin, and a 401 from another origin
        is an error, never a challenge to answer."""
        method, url, headers, content = out.method, out.url, out.headers, out.content
        for _ in range(MAX_REDIRECTS + 1):
            if url.startswith(self._own_prefix()):
                own = True  # the hot path: the registry's own origin, as the probe found it
            else:
                url = self._admit(url)
                own = self._is_own_origin(url)
            sent = (
                headers
                if own
                else {k: v for k, v in headers.items() if k.lower() != "authorization"}
            )
            response = self._send_raw(method, url, sent, content, stream=out.stream)
            if response.status_code == 401 and not own:
                response.close()
                raise AuthenticationError(
                    f"{self.host} redirected {method} {shown(url, self.host)} to "
                    f"{urlsplit(url).netloc}, which asks for credentials; regkit sends the "
                    f"registry's credentials to {self.host} only",
                    status=401,
                )
            if (
                response.status_code not in (301, 302, 303, 307, 308)
                or "location" not in response.headers
            ):
                return response
            target = urljoin(url, response.headers["location"])
            response.close()
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method not in ("GET", "HEAD")
            ):
                method, content = "GET", None
            url = target
        raise RegistryError(f"too many redirects from {self.host}")

    def _registry_scheme(self) -> str:
        return self._scheme or "https"  # before the probe, the first request tries HTTPS

    def _own_prefix(self) -> str:
        """``scheme://host/``: a URL starting with it is on the registry's exact origin."""
        return f"{self._registry_scheme()}://{self.host}/"

    def _shown(self, url: str) -> str:
        """``url`` for a log line (``auth.shown``), fast for the registry's own URLs."""
        prefix = self._own_prefix()
        return url[len(prefix) - 1 :] if url.startswith(prefix) else shown(url, self.host)

    def _is_own_origin(self, url: str) -> bool:
        return same_origin(url, self.host, self._registry_scheme())

    def _admit(self, url: str) -> str:
        """``url`` as it may be sent: an ``http://`` URL for the registry's own host upgraded
        to HTTPS (when the registry speaks HTTPS); plain HTTP to another host refused unless
        it is loopback or ``insecure`` (then with a warning)."""
        url = upgrade(url, self.host, self._registry_scheme())
        if urlsplit(url).scheme.lower() == "http":
            netloc = urlsplit(url).netloc
            if not plain_http_allowed(url, self.insecure):
                raise TLSError(
                    f"refusing plain HTTP to {netloc} (where {self.host} sent a request); "
                    "regkit sends requests without TLS only to loopback hosts",
                    hint=Hint.INSECURE,
                )
            if not host_is_loopback(netloc):
                self._warn_plain_http(netloc)
        return url

    def _warn_plain_http(self, netloc: str) -> None:
        if host_is_loopback(netloc):
            return
        with self._lock:
            if netloc in self._warned:
                return
            self._warned.add(netloc)
        _say(
            f"regkit: warning: plain HTTP to {netloc}: requests and credentials travel unencrypted"
        )

    def _send_raw(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | Iterable[bytes] | None,
        *,
        stream: bool = False,
    ) -> httpx.Response:
        client = self._pool.client
        one_shot = _is_one_shot(content)
        # The deadline covers the head and (without ``stream``) the body. A streamed upload (a
        # one-shot body) is bound by each write's timeout instead; its answer gets the deadline
        # once the body is sent (httpcore's trace event for the answer's head).
        extensions = {"trace": self._answer_deadline} if one_shot else None
        request = client.build_request(
            method, url, headers=headers, content=content, extensions=extensions
        )
        started = time.monotonic()
        at = None if one_shot else started + self.timeout
        try:
            with sending(), deadline.until(at):  # httpx's line: DEBUG (regkit.log)
                response = client.send(request, stream=True)
                setattr(response, _DEADLINE, at)
                if not stream:
                    self.read_body(response, getattr(_reading, "limit", None))
        except httpx.HTTPError:
            raise
        except Exception as err:
            # httpcore's HTTP/2 code can leak h2's own errors (KeyError on a stream id, h2
            # ProtocolError) when a server closes a connection under it: a transport failure,
            # retried like any other for requests that are safe to repeat.
            if isinstance(err, KeyError) or type(err).__module__.startswith(("h2", "httpcore")):
                self._pool.drop()
                raise httpx.RemoteProtocolError(f"HTTP/2 connection failed ({err!r})") from err
            raise
        if self.verbose:
            ms = (time.monotonic() - started) * 1000
            status = response.status_code
            self._log(
                f"{method} {self._shown(url)} -> {status} ({ms:.0f} ms, {response.http_version})"
            )
        return response

    def _answer_deadline(self, event: str, _info: dict[str, Any]) -> None:
        if event.endswith(".receive_response_headers.started"):
            deadline.start(self.timeout)

    def read_body(self, response: httpx.Response, limit: tuple[int, str] | None = None) -> bytes:
        """The body of ``response`` read into memory (``response.content``), counted as it
        comes, within the deadline of its request: at most ``limit`` = (bytes, what the bound
        is called), else ``MAX_BODY_BYTES`` (``LimitExceededError`` past it, the rest unread);
        an error answer's (3xx and up) is cut at ``MAX_ERROR_BYTES``. Already read: as it is."""
        if response.request.method == "HEAD" and not response.is_stream_consumed:
            # No body, but the answer must still be read to its end: an unread answer keeps
            # its connection checked out, so each HEAD cost a new connection (two handshakes)
            with deadline.until(getattr(response, _DEADLINE, None)):
                response.read()
        if response.is_stream_consumed:  # a HEAD answer too, read just above
            try:
                return response.content
            except httpx.ResponseNotRead:
                return b""
        truncate = response.status_code >= 300
        cap, name = (
            (defaults.MAX_ERROR_BYTES, "an error answer")
            if truncate
            else (limit or (defaults.MAX_BODY_BYTES, "an answer"))
        )
        declared = response.headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > cap:
            response.close()
            raise self._too_large(response, cap, name, announced=int(declared))
        chunks: list[bytes] = []
        total = 0
        done = False
        try:
            with deadline.until(getattr(response, _DEADLINE, None)):
                for chunk in response.iter_bytes():
                    if total + len(chunk) > cap:
                        if not truncate:
                            raise self._too_large(response, cap, name)
                        chunks.append(chunk[: cap - total])
                        break
                    total += len(chunk)
                    chunks.append(chunk)
                else:
                    done = True
        finally:
            if not done:
                response.close()  # the rest stays unread; the connection is dropped
        data = b"".join(chunks)
        response._content = data
        return data

    def _too_large(
        self, response: httpx.Response, cap: int, name: str, announced: int | None = None
    ) -> LimitExceededError:
        request = response.request
        said = f"announced {announced} bytes, more than" if announced else "sent more than"
        return LimitExceededError(
            f"{request.method} {self._shown(str(request.url))}: {self.host} {said} "
            f"{defaults.size_text(cap)}, regkit's limit on {name}; refusing to read further "
            "(a broken or hostile registry?)",
            limit=name,
            value=cap,
        )

    def _log(self, line: str) -> None:
        if self.verbose:
            _say(f"regkit: {line}")

    def notice(self, line: str) -> None:
        """A line worth seeing while it happens (a retry): under ``-v``, or on a terminal.
        CI logs stay quiet; the final error still says how many tries were made."""
        if self.verbose:
            _say(f"regkit: {line}")
        elif _stderr_is_terminal() and not self.quiet and not os.environ.get("REGKIT_QUIET"):
            # Erase a progress line being redrawn in place (regkit.progress), then the notice.
            _say(f"\r\x1b[2Kregkit: {line}")

    def translate(
        self, err: BaseException, host: str | None = None, tries: Tries | None = None
    ) -> RegistryError:
        """A transport exception as the RegistryError a user can act on."""
        if deadline.is_deadline(err):
            return with_tries(
                ConnectionFailedError(
                    f"{host or self.host} did not finish its answer within the {self.timeout:g} s "
                    "deadline of one request (the timeout); the registry or the network is too "
                    "slow, or the server trickles its answer; allow a longer timeout or check "
                    "the registry"
                ),
                tries,
            )
        return translate(err, host or self.host, tries, ca_file=self._ca_file)


_STDERR = threading.Lock()


def _say(line: str) -> None:
    """``line`` on stderr whole: one write under a lock. ``print`` writes the text and the
    newline separately, so lines from parallel requests ran into each other under ``-v``
    ("...(33 ms)regkit: GET ...")."""
    with _STDERR:
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # stderr closed (a pipe gone): a log line is not worth failing a request


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _is_one_shot(content: object) -> bool:
    return content is not None and not isinstance(content, bytes | bytearray | str)
