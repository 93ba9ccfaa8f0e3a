"""Registry authentication: ``WWW-Authenticate`` challenges, HTTP Basic and Bearer tokens.

The flow follows the distribution token spec: a request answered 401 carries a challenge;
``Basic`` means send the credentials with every request; ``Bearer realm=...,service=...,
scope=...`` means fetch a token from ``realm`` (with Basic credentials when we have them) for
that scope, cache it per scope, and send it. A 401 with a cached token drops the token and
fetches a new one once.

The origin rule (who gets credentials) lives here too, as pure functions of URLs:

- Credentials (Basic or Bearer) go only to the registry's exact origin: scheme, host and port
  (``same_origin``). A 401 from any other origin is not a challenge to answer.
- An ``http://`` URL (Location, Link, redirect) for the registry's own host, from a registry
  reached over HTTPS, is upgraded to HTTPS (``upgrade``), as go-containerregistry does: nginx
  without ``X-Forwarded-Proto`` makes distribution write ``http://`` Locations.
- Plain HTTP to a host that is not loopback needs ``insecure`` (``plain_http_allowed``).
- A Bearer realm may be another HTTPS host (the standard token flow); over plain HTTP only on
  loopback or with ``insecure``.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from regkit.dockerconfig import Credentials
from regkit.errors import AuthenticationError, Hint, TLSError
from regkit.reference import host_is_loopback

if TYPE_CHECKING:
    import httpx

# What may follow "Bearer ": visible ASCII, no space (RFC 6750's b64token and every JWT fit).
# Anything else (a control character, a non-ASCII letter) cannot go into a header at all.
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
DEFAULT_EXPIRES_IN = 60.0  # the token spec's default when ``expires_in`` is missing
MAX_EXPIRES_IN = 86400.0  # a day: a longer lifetime from a token service is cut to it

_PARAM_RE = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower case: "basic" or "bearer"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


def parse_challenge(header: str | None) -> Challenge | None:
    """Parse the first challenge of a ``WWW-Authenticate`` header."""
    if not header:
        return None
    header = header.strip()
    scheme, _, rest = header.partition(" ")
    if not scheme:
        return None
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM_RE.match(rest, pos)
        if not match or match.end() == pos:
            break
        value = match.group(2) if match.group(2) is not None else match.group(3) or ""
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
        pos = match.end()
    return Challenge(scheme.lower(), params)


def scope_for(repository: str | None, method: str) -> str:
    """The token scope a request needs (distribution: pull; push for writes; delete)."""
    if repository is None:
        return "registry:catalog:*"
    if method in ("GET", "HEAD"):
        return f"repository:{repository}:pull"
    if method == "DELETE":
        return f"repository:{repository}:delete"
    return f"repository:{repository}:pull,push"


def auth_header(
    challenge: Challenge | None, credentials: Credentials | None, tokens: TokenCache, scope: str
) -> str | None:
    """The ``Authorization`` value for a request of ``scope`` under ``challenge``, if any."""
    if challenge is None:
        return None
    if challenge.scheme == "basic":
        return f"Basic {credentials.basic_token()}" if credentials else None
    if challenge.scheme == "bearer":
        token = tokens.get(scope)
        return f"Bearer {token}" if token else None
    return None


def fetch_token(
    send: Callable[[str, dict[str, str]], httpx.Response],
    *,
    registry: str,
    challenge: Challenge,
    wanted: str,
    credentials: Credentials | None,
    insecure: bool,
) -> tuple[str, float]:
    """A Bearer token for ``wanted`` (scopes, space separated) from the challenge's realm:
    ``(token, expires_in)``. ``send(url, headers)`` GETs ``url``; transport errors propagate.

    The realm may be another HTTPS host; plain HTTP only on loopback or with ``insecure``.
    The credentials go to the realm as Basic auth: the challenge came from the registry's own
    origin (the caller checks), so the registry named the realm.
    """
    import httpx

    realm = challenge.realm
    if not realm:
        raise AuthenticationError(f"{registry} sent a Bearer challenge without a realm")
    try:  # text from the registry: "https://[abc/" or a control character is not a URL
        parts = urlsplit(realm)
        realm_url = httpx.URL(realm)
    except (ValueError, httpx.InvalidURL):
        raise AuthenticationError(
            f"{registry} sent a Bearer realm that is not a valid URL"
        ) from None
    realm_host = parts.netloc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AuthenticationError(f"{registry} sent a Bearer realm that is not an HTTP(S) URL")
    if not plain_http_allowed(realm, insecure):
        raise TLSError(
            f"{registry} asks for a token from a plain-HTTP realm ({realm_host}); "
            "refusing to send credentials without TLS",
            hint=Hint.INSECURE,
        )
    # Several scopes ("repository:a:pull,push repository:b:pull") are several parameters.
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("scope", part) for part in wanted.split() if part
    ]
    if "service" in challenge.params:
        params.append(("service", challenge.params["service"]))
    headers = {}
    if credentials:
        headers["Authorization"] = f"Basic {credentials.basic_token()}"
    response = send(str(realm_url.copy_merge_params(params)), headers)
    if response.status_code in (401, 403):
        raise AuthenticationError(
            f"the token service {realm_host} refused the credentials for {registry}; "
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
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise AuthenticationError(f"the token service {realm_host} sent no JSON") from None
    token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise AuthenticationError(f"the token service {realm_host} sent no token")
    if not _TOKEN_RE.fullmatch(token):
        raise AuthenticationError(
            f"the token service {realm_host} sent a token that cannot be sent in a header "
            "(spaces, control or non-ASCII characters)"
        )
    return token, _expires_in(data.get("expires_in"))


def _expires_in(value: object) -> float:
    """``expires_in`` as seconds the cache can use: missing, not a number, not finite or not
    positive is the default (60); more than a day is a day. (NaN made a token that was never
    returned from the cache; 1e999 is infinity; a 400-digit integer overflows a float.)"""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DEFAULT_EXPIRES_IN
    try:
        seconds = float(value)
    except OverflowError:
        return MAX_EXPIRES_IN
    if not math.isfinite(seconds):
        return MAX_EXPIRES_IN if seconds > 0 else DEFAULT_EXPIRES_IN
    if seconds <= 0:
        return DEFAULT_EXPIRES_IN
    return min(seconds, MAX_EXPIRES_IN)


TokenSender = Callable[[str, dict[str, str]], "httpx.Response"]


class Authenticator:
    """The Basic/Bearer flow for one registry: the challenge it sent, tokens per scope.

    The transport asks ``header(scope)`` before each request to the registry's own origin and
    tells it what came back: ``after_probe``/``after_first`` for the first answer (which carried
    ``preemptive()`` Basic credentials), ``answer`` for a later 401. A 401 from another origin
    never reaches it (the transport refuses it: not a challenge to answer). Thread-safe.
    """

    def __init__(
        self,
        registry: str,
        credentials: Credentials | None,
        *,
        insecure: bool,
        send_token: TokenSender,
    ) -> None:
        self.registry = registry
        self.credentials = credentials
        self.insecure = insecure
        self.challenge: Challenge | None = None
        self.verified = False  # the registry answered 200 to our credentials
        self.tokens = TokenCache()
        self._send_token = send_token
        self._lock = threading.Lock()

    @property
    def required(self) -> bool:
        return self.challenge is not None

    def preemptive(self) -> dict[str, str]:
        """Basic credentials for the first request (over HTTPS, to the registry's origin): a
        registry behind a Basic-auth proxy answers 200 at once, saving a round trip."""
        if not self.credentials:
            return {}
        return {"Authorization": f"Basic {self.credentials.basic_token()}"}

    def header(self, scope: str) -> str | None:
        return auth_header(self.challenge, self.credentials, self.tokens, scope)

    def after_probe(self, status: int, www_authenticate: str | None) -> None:
        """``GET /v2/`` (with ``preemptive()``) answered ``status``."""
        with self._lock:
            if status == 401:
                self.challenge = parse_challenge(www_authenticate)
            elif status == 200 and self.credentials:
                # Accepted (or not needed): keep sending them; a later 401 with a Bearer
                # challenge still switches to tokens.
                self.challenge = Challenge("basic")
                self.verified = True

    def after_first(self, status: int, www_authenticate: str | None) -> None:
        """The first request (with ``preemptive()``, doubling as the probe) answered."""
        with self._lock:
            if status == 401:
                self.challenge = parse_challenge(www_authenticate)
            elif self.credentials and self.challenge is None:
                self.challenge = Challenge("basic")
                self.verified = True

    def bearer_after_first(self, status: int, scope: str) -> bool:
        """After the first request: True (a token fetched) when it met a Bearer challenge and
        is worth sending again with the token."""
        challenge = self.challenge
        if status != 401 or challenge is None or challenge.scheme != "bearer":
            return False  # a 401 to Basic credentials (or to none): nothing new to try
        self.fetch(challenge, scope)
        return True

    def answer(self, www_authenticate: str | None, scope: str, sent: str | None) -> bool:
        """A 401 from the registry's own origin: learn its challenge; True when another round
        is worth it (a fresh token, or credentials we had not sent yet)."""
        challenge = parse_challenge(www_authenticate)
        if challenge is None:
            return False
        with self._lock:
            self.challenge = challenge
        if challenge.scheme == "bearer":
            current = self.header(scope)
            if current is not None and current != sent:
                return True  # another thread renewed the token since this request was sent
            # The refused token stays in the cache until the new one replaces it: a thread
            # reading it meanwhile sends something rather than nothing (and a 401 to it finds
            # the new one above), never a request without credentials.
            self.fetch(challenge, scope)
            return True
        if challenge.scheme == "basic":
            return bool(self.credentials) and not sent  # else credentials missing or refused
        return False

    def fetch(self, challenge: Challenge, scope: str) -> None:
        token, expires = fetch_token(
            self._send_token,
            registry=self.registry,
            challenge=challenge,
            wanted=challenge.params.get("scope") or scope,
            credentials=self.credentials,
            insecure=self.insecure,
        )
        self.tokens.put(scope, token, expires)

    def secrets(self) -> list[str]:
        found = self.tokens.values()
        if self.credentials:
            found += [self.credentials.password, self.credentials.basic_token()]
        return [s for s in found if s]


# -- the origin rule ---------------------------------------------------------------------------

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    """scheme, host (lower case, IPv6 without brackets) and port (the default made explicit)."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


#: The port of a URL whose port is not one (``:99999``, ``:4x3``): equal to no real port.
NO_PORT = -1


def origin_of(url: str, default_scheme: str | None = None) -> Origin:
    """The origin of ``url``; a missing port is the default of ``default_scheme`` (else of the
    URL's own scheme): go-containerregistry's canonical address."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # out of range or not a number: an origin no registry has
        return Origin(scheme, (parts.hostname or "").lower(), NO_PORT)
    if port is None:
        port = DEFAULT_PORTS.get(default_scheme or scheme, 0)
    return Origin(scheme, (parts.hostname or "").lower(), port)


def registry_origin(host: str, scheme: str) -> Origin:
    """The origin of a registry named ``host`` (``name[:port]``) reached over ``scheme``."""
    return origin_of(f"{scheme}://{host}/")


def same_host(url: str, host: str, scheme: str) -> bool:
    """``url`` names the registry's host and port, whatever its scheme (a missing port counts
    as the default port of the registry's ``scheme``)."""
    mine = registry_origin(host, scheme)
    theirs = origin_of(url, default_scheme=scheme)
    return (theirs.host, theirs.port) == (mine.host, mine.port)


def same_origin(url: str, host: str, scheme: str) -> bool:
    """``url`` is on the registry's exact origin: the only place credentials may go."""
    return origin_of(url) == registry_origin(host, scheme)


def upgrade(url: str, host: str, scheme: str) -> str:
    """An ``http://`` URL for the registry's own host, from an HTTPS registry, as HTTPS."""
    parts = urlsplit(url)
    if scheme != "https" or parts.scheme.lower() != "http" or not same_host(url, host, scheme):
        return url
    return urlunsplit(("https", parts.netloc, parts.path, parts.query, parts.fragment))


def plain_http_allowed(url: str, insecure: bool) -> bool:
    """HTTPS always; plain HTTP only to a loopback host, or with ``insecure``."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return True
    return insecure or host_is_loopback(parts.netloc.rpartition("@")[2])


def shown(url: str, host: str) -> str:
    """``url`` for a log line: the path and query on the registry's host; on another host the
    scheme, host and path only (a presigned storage URL's query is a credential)."""
    parts = urlsplit(url)
    if parts.netloc.lower() == host.lower():
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


@dataclass
class _Token:
    value: str
    expires: float


class TokenCache:
    """Bearer tokens per scope, thread-safe; expired tokens are never returned."""

    def __init__(self) -> None:
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()

    def get(self, scope: str) -> str | None:
        with self._lock:
            token = self._tokens.get(scope)
            if token and token.expires > time.monotonic():
                return token.value
            return None

    def put(self, scope: str, value: str, expires_in: float) -> None:
        # Renew 10% early so a token does not expire in flight.
        with self._lock:
            self._tokens[scope] = _Token(value, time.monotonic() + max(expires_in * 0.9, 1.0))

    def drop(self, scope: str) -> None:
        with self._lock:
            self._tokens.pop(scope, None)

    def values(self) -> list[str]:
        with self._lock:
            return [t.value for t in self._tokens.values()]


__all__ = [
    "Authenticator",
    "Challenge",
    "Credentials",
    "Origin",
    "TokenCache",
    "auth_header",
    "fetch_token",
    "origin_of",
    "parse_challenge",
    "plain_http_allowed",
    "registry_origin",
    "same_host",
    "same_origin",
    "scope_for",
    "shown",
    "upgrade",
]
