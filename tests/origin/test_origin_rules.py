"""The origin rule, retries and hints as pure functions (no server): regkit.registry.auth,
regkit.registry.retry, regkit.errors.with_hint."""

from __future__ import annotations

import pytest

from regkit.errors import ConnectionFailedError, Hint, RegistryError, TLSError, with_hint
from regkit.registry.auth import (
    origin_of,
    plain_http_allowed,
    same_host,
    same_origin,
    shown,
    upgrade,
)
from regkit.registry.retry import Again, RetryPolicy, Tries, retrying, tries_of, with_tries


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # The registry's own host over http, any spelling of its port: upgraded.
        (
            "http://reg.example:5000/v2/a/blobs/uploads/u?x=1",
            "https://reg.example:5000/v2/a/blobs/uploads/u?x=1",
        ),
        ("http://REG.example:5000/v2/", "https://REG.example:5000/v2/"),
        # Another port, another host, already https: unchanged.
        ("http://reg.example:5001/v2/", "http://reg.example:5001/v2/"),
        ("http://other.example:5000/v2/", "http://other.example:5000/v2/"),
        ("https://reg.example:5000/v2/", "https://reg.example:5000/v2/"),
    ],
)
def test_upgrade_for_a_registry_on_a_port(url: str, expected: str) -> None:
    assert upgrade(url, "reg.example:5000", "https") == expected


def test_upgrade_on_the_default_port_as_go_containerregistry() -> None:
    # No port on either side: the registry's scheme gives the default (443) for both.
    assert upgrade("http://reg.example/v2/x", "reg.example", "https") == "https://reg.example/v2/x"
    assert upgrade("http://reg.example:443/v2/x", "reg.example", "https").startswith("https://")
    # An explicit :80 is another port than the registry's 443: not the registry's host.
    assert upgrade("http://reg.example:80/v2/x", "reg.example", "https").startswith("http://")
    # A plain-HTTP registry (loopback) is never "upgraded".
    assert upgrade("http://127.0.0.1:5000/v2/", "127.0.0.1:5000", "http") == (
        "http://127.0.0.1:5000/v2/"
    )


def test_same_origin_is_scheme_host_and_port() -> None:
    assert same_origin("https://reg.example/v2/", "reg.example", "https")
    assert same_origin("https://reg.example:443/v2/", "reg.example", "https")
    assert not same_origin("http://reg.example/v2/", "reg.example", "https")
    assert not same_origin("https://reg.example:8443/v2/", "reg.example", "https")
    assert not same_origin("https://storage.example/v2/", "reg.example", "https")
    assert not same_origin("https://reg.example.evil/v2/", "reg.example", "https")
    assert same_host("http://reg.example/x", "reg.example", "https")
    assert origin_of("https://[::1]:5000/x").host == "::1"


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "4x3"])
def test_a_port_that_is_no_port_is_no_origin_of_the_registry(port: str) -> None:
    # A realm or redirect naming an impossible port is not the registry's default port: no
    # credential may be sent there (and nothing may count it as the registry's own host).
    url = f"https://reg.example:{port}/v2/"
    assert not same_origin(url, "reg.example", "https")
    assert not same_host(url, "reg.example", "https")
    assert not same_host(url.replace("https", "http"), "reg.example", "http")


def test_plain_http_only_to_loopback_or_insecure() -> None:
    assert plain_http_allowed("https://anything.example/", insecure=False)
    assert plain_http_allowed("http://127.0.0.1:5000/", insecure=False)
    assert plain_http_allowed("http://localhost/", insecure=False)
    assert not plain_http_allowed("http://reg.example/", insecure=False)
    assert plain_http_allowed("http://reg.example/", insecure=True)


def test_shown_keeps_the_query_only_on_the_registrys_host() -> None:
    assert shown("https://reg.example/v2/a/tags/list?n=1000", "reg.example") == (
        "/v2/a/tags/list?n=1000"
    )
    assert shown("https://s3.example/bucket/blob?X-Amz-Signature=abc", "reg.example") == (
        "https://s3.example/bucket/blob?…"
    )


def test_retrying_counts_tries_and_announces_each_retry() -> None:
    seen: list[str] = []
    calls: list[int] = []

    def attempt(n: int) -> str:
        calls.append(n)
        if n < 3:
            raise Again("answered 503")
        return "ok"

    policy = RetryPolicy(attempts=5, base_delay=0.0)
    assert retrying(attempt, policy, "GET /x", notify=seen.append) == "ok"
    assert calls == [1, 2, 3]
    assert seen == [
        "GET /x answered 503; try 2 of 5 in 0.0s",
        "GET /x answered 503; try 3 of 5 in 0.0s",
    ]


def test_retrying_gives_up_with_the_tries_on_the_exception() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.0)

    def attempt(n: int) -> None:
        raise ConnectionError("reset")

    with pytest.raises(ConnectionError) as caught:
        retrying(attempt, policy, "GET /x", transient=lambda e: isinstance(e, ConnectionError))
    tries = tries_of(caught.value)
    assert tries is not None and tries.count == 3


def test_retrying_does_not_retry_what_is_not_transient() -> None:
    calls: list[int] = []

    def attempt(n: int) -> None:
        calls.append(n)
        raise ValueError("no")

    with pytest.raises(ValueError):
        retrying(attempt, RetryPolicy(attempts=5, base_delay=0.0), "x")
    assert calls == [1]


def test_with_tries_puts_the_count_before_the_advice() -> None:
    err = ConnectionFailedError("h did not answer in time (ReadTimeout); check the host")
    out = with_tries(err, Tries(5, 12.34))
    assert (
        str(out) == "h did not answer in time (ReadTimeout) after 5 tries in 12.3s; check the host"
    )
    assert type(out) is ConnectionFailedError
    assert with_tries(err, Tries(1, 0.1)) is err
    assert with_tries(err, None) is err
    status = with_tries(RegistryError("x answered 503", status=503), Tries(2, 0.5))
    assert status.status == 503 and str(status) == "x answered 503 after 2 tries in 0.5s"


def test_hints_are_worded_by_the_adapter() -> None:
    err = TLSError(
        "TLS verification failed for h: the certificate is not trusted (x)", hint=Hint.CA_FILE
    )
    assert "--ca-file" not in str(err)
    assert with_hint(err, {Hint.CA_FILE: "pass --ca-file PATH"}) == (
        "TLS verification failed for h: the certificate is not trusted (x); pass --ca-file PATH"
    )
    assert with_hint(err, {}) == str(err)
    assert with_hint(TLSError("plain"), {Hint.CA_FILE: "y"}) == "plain"


def test_retrying_counts_tries_made_before_against_the_policy() -> None:
    calls: list[int] = []

    def attempt(n: int) -> None:
        calls.append(n)
        raise ConnectionError("reset")

    policy = RetryPolicy(attempts=3, base_delay=0.0)
    with pytest.raises(ConnectionError) as caught:
        retrying(
            attempt,
            policy,
            "GET /v2/",
            transient=lambda e: isinstance(e, ConnectionError),
            already=Tries(1, 0.5),
        )
    assert calls == [2, 3]
    tries = tries_of(caught.value)
    assert tries is not None and tries.count == 3 and tries.seconds >= 0.5
