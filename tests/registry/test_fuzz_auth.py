"""Property tests (issue 21) for what a registry, its proxy or its token service sends and
regkit parses: ``WWW-Authenticate`` challenges, ``Link`` headers and Bearer token answers.
Any input ends in a result or in one ``RegkitError``, never another exception (a traceback
reaching a user is a bug), and quickly."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from regkit.dockerconfig import Credentials
from regkit.errors import RegkitError
from regkit.registry.auth import (
    Authenticator,
    Challenge,
    TokenCache,
    fetch_token,
    parse_challenge,
)
from regkit.registry.client import next_link

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What a header can carry: h11 refuses CR, LF and NUL in values; the rest arrives decoded as
# latin-1. Pieces of the grammars make the interesting shapes likely.
_header_chars = st.characters(min_codepoint=0x20, max_codepoint=0xFF) | st.sampled_from("\t")
_pieces = st.sampled_from(
    [
        "Basic",
        "Bearer",
        "bearer ",
        "realm=",
        'realm="',
        "service=",
        "scope=",
        '"',
        "\\",
        '\\"',
        ",",
        "=",
        " ",
        "<",
        ">",
        ";",
        'rel="next"',
        "rel=next",
        "http://",
        "https://",
        "//",
        "[",
        "]",
        "[::1]",
        ":",
        ":99999",
        ":-1",
        "@",
        "%",
        "%zz",
        "?",
        "#",
        "127.0.0.1",
        "localhost",
        "registry.example.test",
        "/v2/app/tags/list?n=1000&last=a",
        "\x7f",
        "\xff",
    ]
)
header_text = st.lists(_pieces | st.text(_header_chars, max_size=8), max_size=24).map("".join)


@FUZZ
@given(header_text)
@example('Bearer realm="https://auth.example.test/token",service="registry",scope="x"')
@example('Basic realm="a\\"b", x=')
@example("Bearer realm=")
@example("   ")
def test_any_challenge_parses_or_is_none(header: str) -> None:
    challenge = parse_challenge(header)
    assert challenge is None or isinstance(challenge, Challenge)
    if challenge is not None:
        assert challenge.scheme == challenge.scheme.lower()
        assert all(isinstance(v, str) for v in challenge.params.values())


def _answer(link: str | bytes, url: str) -> httpx.Response:
    raw = link.encode("latin-1") if isinstance(link, str) else link
    return httpx.Response(200, headers=[(b"Link", raw)], request=httpx.Request("GET", url))


CURRENT = "https://registry.example.test/v2/app/tags/list?n=1000"


@FUZZ
@given(header_text)
@example("<http://[abc/v2/next>; rel=next")
@example("<//[::1/x>; rel=next")
@example("<https://registry.example.test:99999/v2/x>; rel=next")
@example("<http://registry.example.test:-1/x>; rel=next")
@example('</v2/app/tags/list?last=b>; rel="next"')
def test_any_link_header_is_a_url_none_or_one_registry_error(link: str) -> None:
    try:
        target = next_link(_answer(link, CURRENT), CURRENT)
    except RegkitError as err:
        assert "\n" not in str(err)
        return
    assert target is None or isinstance(target, str)


@settings(max_examples=10, deadline=None)
@given(
    st.integers(min_value=8000, max_value=16000),
    st.sampled_from(["<x>;", "<", "<x>; rel=prev;", "<x>;rel", ";rel="]),
)
def test_a_long_link_header_is_parsed_quickly(n: int, piece: str) -> None:
    # up to 64 KB (HTTP/2's usual header list limit) of pieces and no comma: a backtracking
    # pattern is quadratic in it (the former one took seconds)
    link = piece * (n * 4 // len(piece))
    started = time.monotonic()
    with contextlib.suppress(RegkitError):
        assert next_link(_answer(link, CURRENT), CURRENT) is None
    assert time.monotonic() - started < 0.25


def test_link_headers_registries_send() -> None:
    base = "https://registry.example.test/v2/app/tags/list?n=2"
    for header, expected in [
        ('</v2/app/tags/list?last=b&n=2>; rel="next"', "/v2/app/tags/list?last=b&n=2"),
        ("</v2/app/tags/list?last=b>; rel=next", "/v2/app/tags/list?last=b"),
        ('</v2/x?last=a>; rel="prev", </v2/y?last=c>; rel="next"', "/v2/y?last=c"),
        ('</v2/y?last=c>; rel="next prev"', "/v2/y?last=c"),
        ('</v2/y?last=c>; REL="Next"', "/v2/y?last=c"),
        ('</v2/x?last=a>; rel="prev"', None),
        ("</v2/x?last=a>", None),
    ]:
        got = next_link(_answer(header, base), base)
        want = None if expected is None else "https://registry.example.test" + expected
        assert got == want, header


# -- token answers -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
token_fields = st.fixed_dictionaries(
    {},
    optional={
        "token": json_values | st.text(max_size=40),
        "access_token": json_values | st.text(max_size=40),
        "expires_in": json_values
        | st.sampled_from([0, -1, 10**400, float("inf"), float("nan"), 1e308, True, "60"]),
        "issued_at": json_values,
    },
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


token_bodies = (
    token_fields.map(_dumps)
    | json_values.map(_dumps)
    | st.binary(max_size=64)
    | st.sampled_from(
        [
            b"",
            b"{",
            b'{"token": "\xff\xfe"}',
            b"[" * 100_000 + b"]" * 100_000,
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            b'{"token": "t", "expires_in": 1e999}',
            b'{"token": "t", "expires_in": NaN}',
            b'{"token": "t", "expires_in": -Infinity}',
            b'{"token": "t", "expires_in": 100000000000000000000000000000000000000000000}',
        ]
    )
)
statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 503])
realms = (
    st.sampled_from(
        [
            "https://auth.example.test/token",
            "https://auth.example.test/token?x=1",
            "http://127.0.0.1:5000/token",
            "http://auth.example.test/token",
            "https://[abc/token",
            "https://auth.example.test:99999/token",
            "https://auth example.test/token",
            "ftp://auth.example.test/",
            "https://",
            "//auth.example.test/token",
            "token",
            "",
            "https://auth.example.test/\x7f",
        ]
    )
    | header_text
)


def _fetch(challenge: Challenge, status: int, body: bytes, wanted: str) -> tuple[str, float]:
    def send(url: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.Response(
            status,
            content=body,
            headers={"Content-Type": "application/json"},
            request=httpx.Request("GET", "https://auth.example.test/token"),
        )

    return fetch_token(
        send,
        registry="registry.example.test",
        challenge=challenge,
        wanted=wanted,
        credentials=Credentials("u", "pw"),
        insecure=False,
    )


@FUZZ
@given(statuses, token_bodies)
@example(200, '{"token": "t\u00e9"}'.encode())
@example(200, b'{"token": "a\\nb"}')
@example(200, b'{"token": "t", "expires_in": NaN}')
@example(200, b"[" * 100_000 + b"]" * 100_000)
def test_any_token_answer_is_a_token_or_one_registry_error(status: int, body: bytes) -> None:
    challenge = Challenge("bearer", {"realm": "https://auth.example.test/token", "service": "r"})
    try:
        token, expires = _fetch(challenge, status, body, "repository:app:pull")
    except RegkitError as err:
        assert "pw" not in str(err)
        return
    assert isinstance(token, str) and token
    assert isinstance(expires, float)
    # the token goes into a header: it must be one (httpx refuses non-ASCII and control text)
    request = httpx.Request(
        "GET", "https://r.test/v2/", headers={"Authorization": f"Bearer {token}"}
    )
    assert request.headers["authorization"] == f"Bearer {token}"
    # what the cache does with it: the token is usable now, whatever expires_in said
    cache = TokenCache()
    cache.put("s", token, expires)
    assert cache.get("s") == token


@FUZZ
@given(
    realms,
    st.dictionaries(st.sampled_from(["service", "scope", "x"]), header_text, max_size=3),
    header_text,
)
def test_any_bearer_challenge_is_a_token_or_one_registry_error(
    realm: str, params: dict[str, str], wanted: str
) -> None:
    challenge = Challenge("bearer", {"realm": realm, **params})
    body = b'{"token": "t0k", "expires_in": 300}'
    try:
        token, _ = _fetch(challenge, 200, body, wanted)
    except RegkitError:
        return
    assert token == "t0k"


@FUZZ
@given(header_text, st.sampled_from([None, "Basic x", "Bearer y"]))
def test_any_401_challenge_is_answered_or_refused_with_one_registry_error(
    header: str, sent: str | None
) -> None:
    """The Authenticator's path: a 401 from the registry's own origin with any challenge."""

    def send(url: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.Response(
            200,
            content=b'{"token": "t0k"}',
            request=httpx.Request("GET", "https://auth.example.test/token"),
        )

    auth = Authenticator(
        "registry.example.test", Credentials("u", "pw"), insecure=False, send_token=send
    )
    try:
        again = auth.answer(header, "repository:app:pull", sent)
    except RegkitError:
        return
    assert isinstance(again, bool)
    assert auth.header("repository:app:pull") is None or isinstance(
        auth.header("repository:app:pull"), str
    )
