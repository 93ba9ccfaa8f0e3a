"""The origin rule on scripted servers (issue 12 §1): what a real registry here cannot show.

Credentials (Basic or Bearer) go only to the registry's exact origin (scheme, host, port). An
``http://`` Location, Link or redirect for the registry's own host from an HTTPS registry is
upgraded to HTTPS; plain HTTP to another non-loopback host is refused without ``insecure``; a
401 from another origin is not a challenge to answer; ``-v`` never prints the query of another
host's URL. Non-loopback-looking names are mapped to 127.0.0.x in /etc/hosts.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from regkit.dockerconfig import Credentials
from regkit.errors import AuthenticationError, RegistryError, TLSError
from regkit.registry import RegistryClient, RetryPolicy
from regkit.registry.manifest import sha256_digest
from tests.fakeserver import Answer, Seen, json_answer, serve
from tests.leakscan import assert_no_secrets
from tests.mockserver import mock
from tests.rig.relay import ensure_hosts_entry

NAME = "registry.regkit.test"
NAME_ADDRESS = "127.0.0.2"
OTHER = "elsewhere.regkit.test"
OTHER_ADDRESS = "127.0.0.3"
CREDS = Credentials("origin-user", "origin-pass-1234")
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.1, total=5.0)
BLOB = b"the blob's bytes"
BLOB_DIGEST = sha256_digest(BLOB)


@pytest.fixture(scope="module")
def names() -> None:
    for name, address in ((NAME, NAME_ADDRESS), (OTHER, OTHER_ADDRESS)):
        if not ensure_hosts_entry(name, address):
            pytest.skip(f"cannot map {name} to {address} in /etc/hosts (needs root)")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path]]:
    authority = trustme.CA(organization_name="regkit origin fake CA")
    path = tmp_path_factory.mktemp("origin-ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    yield authority, path


def _server_context(authority: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(NAME, OTHER, "127.0.0.1").configure_cert(ctx)
    return ctx


def _basic(seen: Seen, answer: Answer) -> Answer:
    """A Basic-auth registry: 401 without the right credentials."""
    if seen.headers.get("authorization") != f"Basic {CREDS.basic_token()}":
        return json_answer(401, b"{}", WWW_Authenticate='Basic realm="fake"')
    return answer


def _client(host: str, ca_file: Path, **kwargs: object) -> RegistryClient:
    return RegistryClient(
        host,
        credentials=CREDS,
        ca_file=str(ca_file),
        retry=FAST,
        jobs=1,
        **kwargs,  # type: ignore[arg-type]
    )


def test_http_upload_location_for_the_registrys_own_host_is_upgraded_to_https(
    names: None, ca: tuple[trustme.CA, Path]
) -> None:
    authority, ca_file = ca
    ports: list[str] = []

    def route(seen: Seen) -> Answer:
        if seen.method == "POST" and seen.path == "/v2/app/blobs/uploads/":
            location = f"http://{NAME}:{ports[0]}/v2/app/blobs/uploads/u1?_state=s1"
            return _basic(seen, (202, {"Location": location}, b""))
        if seen.method == "PUT" and seen.path == "/v2/app/blobs/uploads/u1":
            return _basic(seen, (201, {"Location": f"/v2/app/blobs/{BLOB_DIGEST}"}, b""))
        return _basic(seen, json_answer(200, b"{}"))

    with serve(route, bind=NAME_ADDRESS, tls=_server_context(authority), name=NAME) as fake:
        ports.append(fake.host.rsplit(":", 1)[1])
        with _client(fake.host, ca_file) as client:
            assert client.upload_bytes("app", BLOB) == BLOB_DIGEST
    puts = [s for s in fake.seen if s.method == "PUT"]
    assert len(puts) == 1
    assert puts[0].query["digest"] == [BLOB_DIGEST]  # it reached the HTTPS server


def test_http_link_for_the_registrys_own_host_is_upgraded_to_https(
    names: None, ca: tuple[trustme.CA, Path]
) -> None:
    authority, ca_file = ca
    ports: list[str] = []

    def route(seen: Seen) -> Answer:
        if seen.path == "/v2/app/tags/list":
            if seen.query.get("last") == ["b"]:
                return _basic(seen, json_answer(200, b'{"name":"app","tags":["c","d"]}'))
            link = f'<http://{NAME}:{ports[0]}/v2/app/tags/list?last=b&n=2>; rel="next"'
            return _basic(seen, json_answer(200, b'{"name":"app","tags":["a","b"]}', Link=link))
        return _basic(seen, json_answer(200, b"{}"))

    with serve(route, bind=NAME_ADDRESS, tls=_server_context(authority), name=NAME) as fake:
        ports.append(fake.host.rsplit(":", 1)[1])
        with _client(fake.host, ca_file) as client:
            assert client.tags("app") == ["a", "b", "c", "d"]


def test_http_redirect_for_the_registrys_own_host_is_upgraded_to_https(
    names: None, ca: tuple[trustme.CA, Path]
) -> None:
    authority, ca_file = ca
    ports: list[str] = []

    def route(seen: Seen) -> Answer:
        if seen.path == f"/v2/app/blobs/{BLOB_DIGEST}":
            target = f"http://{NAME}:{ports[0]}/storage/blob"
            return _basic(seen, (307, {"Location": target}, b""))
        if seen.path == "/storage/blob":
            return 200, {"Content-Type": "application/octet-stream"}, BLOB
        return _basic(seen, json_answer(200, b"{}"))

    with serve(route, bind=NAME_ADDRESS, tls=_server_context(authority), name=NAME) as fake:
        ports.append(fake.host.rsplit(":", 1)[1])
        with _client(fake.host, ca_file) as client:
            assert client.get_blob("app", BLOB_DIGEST) == BLOB


def test_redirect_to_plain_http_on_another_host_is_refused_without_insecure(
    names: None, ca: tuple[trustme.CA, Path]
) -> None:
    authority, ca_file = ca
    with serve(
        lambda seen: (200, {"Content-Type": "application/octet-stream"}, BLOB),
        bind=OTHER_ADDRESS,
        name=OTHER,
    ) as storage:

        def route(seen: Seen) -> Answer:
            if seen.path == f"/v2/app/blobs/{BLOB_DIGEST}":
                return _basic(seen, (307, {"Location": f"{storage.url}/blob?sig=x"}, b""))
            return _basic(seen, json_answer(200, b"{}"))

        with (
            serve(route, bind=NAME_ADDRESS, tls=_server_context(authority), name=NAME) as fake,
            _client(fake.host, ca_file) as client,
            pytest.raises(TLSError) as caught,
        ):
            client.get_blob("app", BLOB_DIGEST)
    assert storage.seen == []  # nothing sent in clear, not even without credentials
    message = str(caught.value)
    assert_no_secrets({"message": message}, [CREDS.password, CREDS.basic_token()])
    assert f"plain HTTP to {OTHER}:" in message
    assert "sig=x" not in message
    assert "--insecure" not in message  # the registry layer names no CLI flag
    assert caught.value.hint == "insecure"


def test_redirect_to_plain_http_on_another_host_with_insecure_drops_credentials(
    names: None, ca: tuple[trustme.CA, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(
        lambda seen: (200, {"Content-Type": "application/octet-stream"}, BLOB),
        bind=OTHER_ADDRESS,
        name=OTHER,
    ) as storage:

        def route(seen: Seen) -> Answer:
            if seen.path == f"/v2/app/blobs/{BLOB_DIGEST}":
                return _basic(seen, (307, {"Location": f"{storage.url}/blob"}, b""))
            return _basic(seen, json_answer(200, b"{}"))

        with (
            serve(route, bind=NAME_ADDRESS, tls=_server_context(ca[0]), name=NAME) as fake,
            _client(fake.host, ca[1], insecure=True) as client,
        ):
            assert client.get_blob("app", BLOB_DIGEST) == BLOB
    assert [s.path for s in storage.seen] == ["/blob"]
    assert "authorization" not in storage.seen[0].headers
    err = capsys.readouterr().err
    assert f"regkit: warning: plain HTTP to {OTHER}:" in err
    assert_no_secrets({"stderr": err}, [CREDS.password, CREDS.basic_token()])


def test_a_401_from_another_origin_is_not_a_challenge_to_answer() -> None:
    tokens: list[Seen] = []
    with mock(lambda seen: (tokens.append(seen), json_answer(200, b'{"token":"x"}'))[1]) as auth:

        def foreign(seen: Seen) -> Answer:
            return json_answer(
                401, b"{}", WWW_Authenticate=f'Bearer realm="{auth.url}/token",service="evil"'
            )

        with mock(foreign) as elsewhere:

            def route(seen: Seen) -> Answer:
                if seen.path == f"/v2/app/blobs/{BLOB_DIGEST}":
                    return _basic(seen, (307, {"Location": f"{elsewhere.url}/blob"}, b""))
                return _basic(seen, json_answer(200, b"{}"))

            with (
                mock(route) as fake,
                RegistryClient(
                    fake.host, credentials=CREDS, retry=FAST, jobs=1, transport=fake.transport
                ) as client,
                pytest.raises(AuthenticationError) as caught,
            ):
                client.get_blob("app", BLOB_DIGEST)
    assert tokens == []  # no credentials to the foreign realm, no token fetched
    assert all("authorization" not in s.headers for s in elsewhere.seen)
    assert f"{elsewhere.host}" in str(caught.value)
    assert "redirected" in str(caught.value)


def test_verbose_log_never_prints_the_query_of_another_hosts_url(
    ca: tuple[trustme.CA, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    authority, ca_file = ca
    signature = "X-Amz-Signature=presigned0123456789"
    with serve(
        lambda seen: (200, {"Content-Type": "application/octet-stream"}, BLOB),
        tls=_server_context(authority),
    ) as storage:

        def route(seen: Seen) -> Answer:
            if seen.path == f"/v2/app/blobs/{BLOB_DIGEST}":
                location = f"{storage.url}/blob?{signature}&X-Amz-Credential=AKIAX"
                return _basic(seen, (307, {"Location": location}, b""))
            if seen.path == "/v2/app/tags/list":
                return _basic(seen, json_answer(200, b'{"name":"app","tags":["a"]}'))
            return _basic(seen, json_answer(200, b"{}"))

        with (
            serve(route, tls=_server_context(authority)) as fake,
            _client(fake.host, ca_file, verbose=1) as client,
        ):
            assert client.get_blob("app", BLOB_DIGEST) == BLOB
            client.tags("app")
    err = capsys.readouterr().err
    assert_no_secrets({"stderr": err}, [CREDS.password, CREDS.basic_token()])
    assert "presigned0123456789" not in err
    assert "AKIAX" not in err
    assert f"GET https://{storage.host}/blob?… -> 200" in err  # the host, never the query
    assert "GET /v2/app/tags/list?n=1000 -> 200" in err  # the registry's own URLs in full
    assert "authorization" not in storage.seen[0].headers


def test_registry_layer_tls_error_names_no_cli_flag_and_carries_a_hint(
    ca: tuple[trustme.CA, Path],
) -> None:
    with (
        serve(lambda seen: json_answer(200, b"{}"), tls=_server_context(ca[0])) as fake,
        RegistryClient(fake.host, retry=FAST, jobs=1) as client,  # the CA is not trusted
        pytest.raises(TLSError) as caught,
    ):
        client.ping()
    assert str(caught.value).startswith(f"TLS verification failed for {fake.host}: ")
    assert "--ca-file" not in str(caught.value)
    assert caught.value.hint == "ca-file"


def test_pagination_link_to_another_host_is_an_error_not_a_silent_end() -> None:
    """A list cut short would let prune plan on part of the tags (a staying tag on the
    missing page would not protect its digest): a next page elsewhere is an error."""

    def route(seen: Seen) -> Answer:
        if seen.path == "/v2/app/tags/list":
            link = '<https://elsewhere.example:1/v2/app/tags/list?last=b>; rel="next"'
            return json_answer(200, b'{"name":"app","tags":["a","b"]}', Link=link)
        return json_answer(200, b"{}")

    with (
        mock(route) as fake,
        RegistryClient(fake.host, retry=FAST, jobs=1, transport=fake.transport) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.tags("app")
    assert str(caught.value) == (
        f"list tags of app: {fake.host} links the next page to elsewhere.example:1; regkit "
        f"follows pagination on {fake.host} only, and a partial list is not safe to act on"
    )


def test_plain_http_registry_on_a_non_loopback_name(
    names: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused without insecure (a hint, no flag named); with it, used and warned about."""
    seen_auth: list[str] = []

    def route(seen: Seen) -> Answer:
        seen_auth.append(seen.headers.get("authorization", ""))
        if seen.path == "/v2/app/tags/list":
            return _basic(seen, json_answer(200, b'{"name":"app","tags":["a"]}'))
        return _basic(seen, json_answer(200, b"{}"))

    with serve(route, bind=NAME_ADDRESS, name=NAME) as fake:
        with (
            RegistryClient(fake.host, credentials=CREDS, retry=FAST, jobs=1) as client,
            pytest.raises(TLSError) as caught,
        ):
            client.tags("app")
        assert seen_auth == []  # nothing sent in clear (the TLS hello is not HTTP)
        assert str(caught.value) == (
            f"{fake.host} answered in plain HTTP, not HTTPS; regkit uses plain HTTP only for "
            "loopback hosts"
        )
        assert caught.value.hint == "insecure"
        assert capsys.readouterr().err == ""
        with RegistryClient(
            fake.host, credentials=CREDS, retry=FAST, jobs=1, insecure=True
        ) as client:
            assert client.tags("app") == ["a"]
    err = capsys.readouterr().err
    assert err.count(f"regkit: warning: plain HTTP to {fake.host}: ") == 1
