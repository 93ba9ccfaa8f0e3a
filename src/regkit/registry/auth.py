"""Registry authentication: ``WWW-Authenticate`` challenges, HTTP Basic and Bearer tokens.

The flow follows the distribution token spec: a request answered 401 carries a challenge;
``Basic`` means send the credentials with every request; ``Bearer realm=...,service=...,
scope=...`` means fetch a token from ``realm`` (with Basic credentials when we have them) for
that scope, cache it per scope, and send it. A 401 with a cached token drops the token and
fetches a new one once.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from regkit.dockerconfig import Credentials

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


__all__ = ["Challenge", "Credentials", "TokenCache", "parse_challenge", "scope_for"]
