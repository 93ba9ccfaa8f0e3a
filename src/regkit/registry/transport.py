"""HTTP transport to one registry: TLS, HTTP/2, timeouts, retries, scheme rules, auth.

- HTTPS by default, verified against the system CAs; ``ca_file`` (or ``SSL_CERT_FILE``) adds a
  private CA. Plain HTTP only for loopback hosts (after HTTPS was refused at the protocol level)
  or with ``insecure``, which also disables verification.
- HTTP/1.1 keep-alive connections in one pool shared by the worker threads; ``warm`` opens
  some ahead of a fan-out. HTTP/2 only when asked for with REGKIT_HTTP2=1 (and the optional
  ``h2`` package installed), then one connection per thread.
- Retries with exponential backoff on connection errors and 408/429/500/502/503/504, honouring
  ``Retry-After``, bounded in attempts and total time, only for requests safe to repeat.
- Redirects are followed by hand so that ``Authorization`` never reaches another host.
"""

from __future__ import annotations

import contextlib
import email.utils
import importlib.util
import logging
import os
import random
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from regkit.dockerconfig import Credentials
from regkit.errors import (
    AuthenticationError,
    ConnectionFailedError,
    RegistryError,
    TLSError,
    UsageError,
)
from regkit.reference import host_is_loopback
from regkit.registry.auth import Challenge, TokenCache, parse_challenge, scope_for

log = logging.getLogger("regkit.http")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5  # total tries of one request
    base_delay: float = 0.2  # first backoff, doubled each time
    max_delay: float = 10.0  # one wait at most (also caps Retry-After)
    total: float = 120.0  # give up after this many seconds for one request

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        backoff = self.base_delay * float(2 ** (attempt - 1))
        return min(backoff * (0.5 + random.random() / 2), self.max_delay)  # noqa: S311


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _ssl_context(ca_file: str | None, insecure: bool) -> ssl.SSLContext | bool:
    if insecure:
        return False
    # The system store (OpenSSL honours SSL_CERT_FILE / SSL_CERT_DIR), not certifi's bundle.
    ctx = ssl.create_default_context()
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as err:
            raise TLSError(f"cannot load CA file {ca_file}: {err}; pass a PEM file") from None
    return ctx


def _is_cert_error(err: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return True
        text = str(cur)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _is_plain_http_answer(err: BaseException) -> bool:
    """The server answered a TLS ClientHello with plain HTTP (it does not speak TLS)."""
    text = repr(err) + repr(err.__cause__) + repr(err.__context__)
    return any(
        marker in text
        for marker in (
            "WRONG_VERSION_NUMBER",
            "wrong version number",
            "record layer failure",
            "packet length too long",
            "RECORD_LAYER_FAILURE",
            "http request",
        )
    )


class Transport:
    """Requests to one registry host, authenticated, retried and counted."""

    def __init__(
        self,
        host: str,
        *,
        credentials: Credentials | None = None,
        ca_file: str | None = None,
        insecure: bool = False,
        jobs: int = 16,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        verbose: int = 0,
    ) -> None:
        self.host = host
        self.jobs = jobs
        self.credentials = credentials
        self.insecure = insecure
        self.retry = retry or RetryPolicy()
        self.verbose = verbose
        self._ca_file = ca_file
        # HTTP/1.1 (the default): one connection pool shared by all threads. HTTP/2: one client
        # (and so one connection) per thread: httpcore's sync HTTP/2 connection is not safe for
        # concurrent requests from several threads (nginx answers 400 "client sent HEADERS
        # frame with incorrect identifier", h2 raises KeyError on a stream id).
        self._verify = _ssl_context(ca_file, insecure)
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._local = threading.local()
        # HTTP/1.1 by default, HTTP/2 with REGKIT_HTTP2=1. With one connection per thread,
        # HTTP/2 brings no multiplexing, and its pure-Python framing (h2) costs CPU: measured at
        # 40 ms round trip, overview of 100 multi-arch tags took 2.79 s (HTTP/2) against 2.37 s
        # (HTTP/1.1), medians of 4 (benchmarks/README.md).
        # h2 is not a dependency of regkit (its import alone costs ~20 ms of start-up).
        self.http2 = os.environ.get("REGKIT_HTTP2", "0").strip().lower() in ("1", "true", "yes")
        if self.http2 and importlib.util.find_spec("h2") is None:
            raise UsageError(
                "REGKIT_HTTP2=1 needs the h2 package (pip install h2) in regkit's environment"
            )
        self._clients: list[httpx.Client] = []
        self._shared: httpx.Client | None = None
        self._warmers: list[threading.Thread] = []
        self._scheme: str | None = None
        self._challenge: Challenge | None = None
        self.credentials_verified = False  # the registry answered 200 to our credentials
        self._tokens = TokenCache()
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
        with self._lock:
            clients, self._clients = self._clients, []
            self._shared = None
        for client in clients:
            client.close()

    def _drop_client(self) -> None:
        """Forget this thread's client (its connection is broken); the next request makes one.

        The shared HTTP/1.1 pool is kept: httpcore drops a broken connection from it itself.
        """
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is not None:
            self._local.client = None
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)
            with contextlib.suppress(Exception):
                client.close()

    @property
    def _client(self) -> httpx.Client:
        if not self.http2:
            # HTTP/1.1: one pool shared by every thread (a connection serves one request at a
            # time; httpcore's pool hands idle ones out under its lock), so a connection opened
            # by one thread, or by warm(), serves any other. Unbounded: the threads bound the
            # requests in flight, and a streamed copy holds two connections per thread.
            shared = self._shared
            if shared is None:
                with self._lock:
                    if self._shared is None:
                        self._shared = self._new_client(
                            httpx.Limits(
                                max_connections=None, max_keepalive_connections=2 * self.jobs + 2
                            )
                        )
                        self._clients.append(self._shared)
                    shared = self._shared
            return shared
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client(httpx.Limits(max_connections=4, max_keepalive_connections=2))
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _new_client(self, limits: httpx.Limits) -> httpx.Client:
        return httpx.Client(
            http2=self.http2,
            verify=self._verify,
            timeout=self._timeout,
            limits=limits,
            follow_redirects=False,
            headers={"User-Agent": "regkit/0.1"},
        )

    def warm(self, connections: int) -> None:
        """Open up to ``connections`` more keep-alive connections in the background.

        Each is one anonymous ``GET /v2/``, started now and never waited for: by the time an
        operation fans out, its requests find open connections instead of paying the TCP and
        TLS handshakes (two round trips) each. Anonymous, so no credentials travel and the
        server answers at once (a 401 from a Basic-auth proxy costs it no password check; the
        connection stays open). Failures are ignored; the operation's own requests report them.
        Before the scheme is known, HTTPS is tried. HTTP/1.1 only: with HTTP/2 each thread has
        its own connection.
        """
        if self.http2 or connections <= 0:
            return
        url = f"{self._scheme or 'https'}://{self.host}/v2/"

        def one() -> None:
            with contextlib.suppress(Exception):
                self._send_raw("GET", url, {}, None).close()

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

    def _ensure_scheme(self) -> None:
        """Ping unless the scheme is known (a concurrent ping may have just found it)."""
        with self._ping_lock:
            if self._scheme is None:
                self._ping()

    def _ping(self) -> None:
        preemptive = (
            {"Authorization": f"Basic {self.credentials.basic_token()}"} if self.credentials else {}
        )
        found: list[str] = []

        def probe() -> httpx.Response:
            scheme, answer = self._probe_schemes(preemptive)
            found[:] = [scheme]
            return answer

        # Retried like any idempotent request (a registry restarting, a busy proxy), except when
        # there is no connection at all (refused, unknown name, timeout: a wrong host or port
        # says so at once) or the certificate is refused.
        response = self._retrying(
            probe,
            "GET /v2/",
            self.retry.attempts,
            lambda err: (
                not (
                    _is_cert_error(err)
                    or isinstance(err, httpx.ConnectError | httpx.ConnectTimeout)
                )
            ),
        )
        scheme = found[0]
        response.close()
        with self._lock:
            if response.status_code == 401:
                self._challenge = parse_challenge(response.headers.get("www-authenticate"))
            elif response.status_code == 200 and preemptive:
                # Accepted (or not needed): keep sending them; a later 401 with a Bearer
                # challenge still switches to tokens.
                self._challenge = Challenge("basic")
                self.credentials_verified = True
            elif response.status_code != 200:
                raise RegistryError(
                    f"{self.host} answered {response.status_code} to GET /v2/; "
                    "is this a Docker registry (distribution API v2)?",
                    status=response.status_code,
                )
            self._scheme = scheme

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
                    and (_is_plain_http_answer(err) or (self.insecure and not _is_cert_error(err)))
                ):
                    continue
                if scheme == "https" and len(schemes) == 1 and _is_plain_http_answer(err):
                    raise TLSError(
                        f"{self.host} answered in plain HTTP, not HTTPS; regkit uses plain HTTP "
                        "only for loopback hosts: pass --insecure to allow it for this host "
                        "(credentials then travel unencrypted)"
                    ) from None
                raise
        assert last is not None
        raise last

    @property
    def auth_required(self) -> bool:
        if self._scheme is None:
            self._ensure_scheme()
        return self._challenge is not None

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
    ) -> httpx.Response:
        """Send a request; ``repository`` names the token scope (None = catalog).

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
        attempts = self.retry.attempts if can_retry else 1
        return self._retrying(
            lambda: self._send_authed(
                method,
                url,
                scope or scope_for(repository, method),
                dict(headers or {}),
                content,
                stream,
            ),
            f"{method} {_path(url)}",
            attempts,
        )

    def _retrying(
        self,
        send: Callable[[], httpx.Response],
        what: str,
        attempts: int,
        retry_error: Callable[[httpx.TransportError], bool] = lambda _err: True,
    ) -> httpx.Response:
        """``send()``, again after a transport error that ``retry_error`` allows or a
        408/429/5xx answer, with backoff (honouring ``Retry-After``), at most ``attempts``
        times and ``retry.total`` seconds; a transport error that ends it is translated."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = send()
            except httpx.TransportError as err:
                more = attempt < attempts and time.monotonic() - started <= self.retry.total
                if not more or not retry_error(err):
                    raise self.translate(err) from None
                wait = self.retry.delay(attempt, None)
                log.info("%s failed (%s); retrying in %.1fs", what, type(err).__name__, wait)
                time.sleep(wait)
                continue
            more = attempt < attempts and time.monotonic() - started < self.retry.total
            if response.status_code in RETRY_STATUSES and more:
                wait = self.retry.delay(
                    attempt, parse_retry_after(response.headers.get("retry-after"))
                )
                response.close()
                self._log(f"retry {what} after {response.status_code} in {wait:.1f}s")
                time.sleep(wait)
                continue
            return response

    @contextmanager
    def stream(self, method: str, path_or_url: str, **kwargs: Any) -> Iterator[httpx.Response]:
        response = self.request(method, path_or_url, stream=True, **kwargs)
        try:
            yield response
        finally:
            response.close()

    def _auth_header(self, scope: str) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return f"Basic {self.credentials.basic_token()}" if self.credentials else None
        if challenge.scheme == "bearer":
            token = self._tokens.get(scope)
            return f"Bearer {token}" if token else None
        return None

    def _send_authed(
        self,
        method: str,
        url: str,
        scope: str,
        headers: dict[str, str],
        content: bytes | Iterable[bytes] | None,
        stream: bool,
    ) -> httpx.Response:
        if self._scheme is None:
            first = self._first_request(method, url, headers, content, stream)
            if first is not None:
                challenge = self._challenge
                if (
                    first.status_code != 401
                    or _is_one_shot(content)
                    or challenge is None
                    or challenge.scheme != "bearer"
                ):
                    return first  # a 401 to Basic credentials (or to none): nothing new to try
                first.close()
                self._fetch_token(challenge, challenge.params.get("scope") or scope, scope)
        url = self._rebase(url)  # guessed as HTTPS before the ping found plain HTTP
        for round_ in range(2):
            auth = self._auth_header(scope)
            if auth:
                headers["Authorization"] = auth
            response = self._follow(method, url, headers, content, stream)
            if response.status_code != 401 or round_ == 1 or _is_one_shot(content):
                return response
            challenge = parse_challenge(response.headers.get("www-authenticate"))
            if challenge is None:
                return response
            with self._lock:
                self._challenge = challenge
            if challenge.scheme == "bearer":
                self._tokens.drop(scope)
                self._fetch_token(challenge, challenge.params.get("scope") or scope, scope)
            elif challenge.scheme == "basic" and (not self.credentials or auth):
                return response  # nothing new to try: credentials missing or refused
            response.close()
        return response

    def _first_request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | Iterable[bytes] | None,
        stream: bool,
    ) -> httpx.Response | None:
        """Send the first request to a host whose scheme is not known yet as its own ping.

        Like ``ping``, it goes over HTTPS with Basic credentials (to this host only): a 401
        names the auth scheme; any other answer means HTTPS works and the credentials were
        accepted or are not needed. That saves the round trip of a separate ``GET /v2/``.
        When HTTPS fails at the transport level (a plain-HTTP loopback registry, a TLS error),
        the full ``ping`` runs instead, with its clear errors, and None is returned: the caller
        then sends the request on the scheme the ping found. One-shot bodies are never used
        as a probe.
        """
        if not url.startswith(f"https://{self.host}/") or _is_one_shot(content):
            self._ensure_scheme()
            return None
        sent = dict(headers)
        if self.credentials:
            sent["Authorization"] = f"Basic {self.credentials.basic_token()}"
        try:
            response = self._follow(method, url, sent, content, stream)
        except httpx.TransportError:
            self._ensure_scheme()
            return None
        with self._lock:
            if self._scheme is None:
                self._scheme = "https"
            if response.status_code == 401:
                self._challenge = parse_challenge(response.headers.get("www-authenticate"))
            elif self.credentials and self._challenge is None:
                self._challenge = Challenge("basic")
                self.credentials_verified = True
        return response

    def _rebase(self, url: str) -> str:
        """``url`` guessed as HTTPS before the ping, on the scheme the ping found."""
        guessed = f"https://{self.host}/"
        if self._scheme and self._scheme != "https" and url.startswith(guessed):
            return f"{self._scheme}://{self.host}/{url[len(guessed) :]}"
        return url

    def _fetch_token(self, challenge: Challenge, wanted: str, cache_key: str) -> None:
        realm = challenge.realm
        if not realm:
            raise AuthenticationError(f"{self.host} sent a Bearer challenge without a realm")
        realm_host = urlsplit(realm).netloc
        if (
            urlsplit(realm).scheme != "https"
            and not host_is_loopback(realm_host)
            and not self.insecure
        ):
            raise TLSError(
                f"{self.host} asks for a token from a plain-HTTP realm ({realm_host}); "
                "refusing to send credentials without TLS (use --insecure to allow)"
            )
        # Several scopes ("repository:a:pull,push repository:b:pull") are several parameters.
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("scope", part) for part in wanted.split() if part
        ]
        if "service" in challenge.params:
            params.append(("service", challenge.params["service"]))
        headers = {}
        if self.credentials:
            headers["Authorization"] = f"Basic {self.credentials.basic_token()}"
        try:
            response = self._send_raw(
                "GET",
                str(httpx.URL(realm).copy_merge_params(params)),
                headers,
                None,
            )
        except httpx.TransportError as err:
            raise self.translate(err, host=realm_host) from None
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"the token service {realm_host} refused the credentials for {self.host}; "
                "check the username and password (regkit login)",
                status=response.status_code,
            )
        if response.status_code != 200:
            raise AuthenticationError(
                f"the token service {realm_host} answered {response.status_code}",
                status=response.status_code,
            )
        try:
            data = response.json()
        except ValueError:
            raise AuthenticationError(f"the token service {realm_host} sent no JSON") from None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(f"the token service {realm_host} sent no token")
        expires = data.get("expires_in", 60)
        self._tokens.put(
            cache_key, token, float(expires) if isinstance(expires, int | float) else 60.0
        )

    def secrets(self) -> list[str]:
        """Every secret this transport holds (for leak scans and masking)."""
        found = self._tokens.values()
        if self.credentials:
            found += [self.credentials.password, self.credentials.basic_token()]
        return [s for s in found if s]

    def _follow(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | Iterable[bytes] | None,
        stream: bool,
    ) -> httpx.Response:
        origin = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send_raw(method, url, headers, content, stream=stream)
            if (
                response.status_code not in (301, 302, 303, 307, 308)
                or "location" not in response.headers
            ):
                return response
            target = urljoin(url, response.headers["location"])
            response.close()
            if urlsplit(target).netloc != origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method not in ("GET", "HEAD")
            ):
                method, content = "GET", None
            url = target
        raise RegistryError(f"too many redirects from {self.host}")

    def _send_raw(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | Iterable[bytes] | None,
        *,
        stream: bool = False,
    ) -> httpx.Response:
        request = self._client.build_request(method, url, headers=headers, content=content)
        started = time.monotonic()
        try:
            response = self._client.send(request, stream=stream)
        except httpx.HTTPError:
            raise
        except Exception as err:
            # httpcore's HTTP/2 code can leak h2's own errors (KeyError on a stream id, h2
            # ProtocolError) when a server closes a connection under it: a transport failure,
            # retried like any other for requests that are safe to repeat.
            if isinstance(err, KeyError) or type(err).__module__.startswith(("h2", "httpcore")):
                self._drop_client()
                raise httpx.RemoteProtocolError(f"HTTP/2 connection failed ({err!r})") from err
            raise
        if self.verbose:
            ms = (time.monotonic() - started) * 1000
            status = response.status_code
            self._log(f"{method} {_path(url)} -> {status} ({ms:.0f} ms, {response.http_version})")
        return response

    def _log(self, line: str) -> None:
        if self.verbose:
            print(f"regkit: {line}", file=sys.stderr)

    def translate(self, err: BaseException, host: str | None = None) -> RegistryError:
        """A transport exception as the RegistryError a user can act on."""
        host = host or self.host
        text = str(err) or type(err).__name__
        if _is_cert_error(err):
            return TLSError(
                f"TLS verification failed for {host}: the certificate is not trusted "
                f"({_short(text)}); pass --ca-file PATH (or set SSL_CERT_FILE) for a private CA"
            )
        if isinstance(err, httpx.ConnectError) and ("SSL" in text or "TLS" in text):
            return TLSError(f"TLS handshake with {host} failed ({_short(text)})")
        if isinstance(err, httpx.TimeoutException):
            return ConnectionFailedError(
                f"{host} did not answer in time ({type(err).__name__}); check the host, the port "
                "and the network, or retry later"
            )
        if isinstance(err, httpx.ConnectError):
            if (
                "Name or service not known" in text
                or "nodename nor servname" in text
                or "getaddrinfo" in text
            ):
                return ConnectionFailedError(f"cannot resolve {host}: check the registry host name")
            return ConnectionFailedError(
                f"cannot connect to {host} ({_short(text)}); check the host and port and that the "
                "registry is running"
            )
        return ConnectionFailedError(
            f"connection to {host} failed ({type(err).__name__}: {_short(text)})"
        )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) < 160 else text[:157] + "..."


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _is_one_shot(content: object) -> bool:
    return content is not None and not isinstance(content, bytes | bytearray | str)
