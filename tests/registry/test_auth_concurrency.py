"""Bearer tokens under concurrent 401s (found by a flaky GHCR promote: eight uploads at once).

Each thread that met a 401 used to drop the scope's token and then fetch a new one; a thread
retrying between another's drop and put found no token, sent its request without credentials,
met a second 401 and failed the copy with "refused the credentials".
"""

from __future__ import annotations

import json

import httpx

from regkit.registry.auth import Authenticator, Credentials

SCOPE = "repository:acme/base:pull,push"
CHALLENGE = f'Bearer realm="http://127.0.0.1:1/token",service="ghcr.io",scope="{SCOPE}"'


def _authenticator(seen: list[str | None]) -> Authenticator:
    auth: Authenticator

    def send(url: str, headers: dict[str, str]) -> httpx.Response:
        # what another thread would send with while this token is being fetched
        seen.append(auth.header(SCOPE))
        body = json.dumps({"token": f"token-{len(seen)}", "expires_in": 300}).encode()
        return httpx.Response(200, content=body, request=httpx.Request("GET", url))

    auth = Authenticator(
        "127.0.0.1:5000", Credentials("bob", "secret"), insecure=False, send_token=send
    )
    return auth


def test_a_token_being_renewed_stays_usable_meanwhile() -> None:
    seen: list[str | None] = []
    auth = _authenticator(seen)
    assert auth.answer(CHALLENGE, SCOPE, None)  # the first 401: a token is fetched
    first = auth.header(SCOPE)
    assert first == "Bearer token-1"
    assert auth.answer(CHALLENGE, SCOPE, first)  # that token refused: a new one
    # while the second token was fetched, the first was still there for other threads
    assert seen == [None, "Bearer token-1"]
    assert auth.header(SCOPE) == "Bearer token-2"


def test_a_401_to_an_older_token_reuses_the_newer_one() -> None:
    seen: list[str | None] = []
    auth = _authenticator(seen)
    assert auth.answer(CHALLENGE, SCOPE, None)
    # a request sent before that token existed met its 401 late: no second fetch
    assert auth.answer(CHALLENGE, SCOPE, None)
    assert len(seen) == 1
    assert auth.header(SCOPE) == "Bearer token-1"
