"""The registry client on an injected transport (``Options.transport``, ``httpx.MockTransport``
through tests.mockserver): pure client logic without a loopback server. The rules above the
transport still hold: the scheme probe, the origin rule, retries, every limit."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import json
from collections.abc import Iterator

import httpx
import pytest

from regkit import defaults
from regkit.dockerconfig import Credentials
from regkit.errors import AuthenticationError, LimitExceededError, TLSError, UsageError
from regkit.ops import ConnectOptions, connect
from regkit.registry import RegistryClient, RetryPolicy
from regkit.registry.manifest import OCI_MANIFEST, sha256_digest
from regkit.registry.options import Options, OptionsArgs
from tests.leakscan import assert_no_secrets
from tests.mockserver import TRANSPORT, Answer, Seen, json_answer, mock

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.1, total=5.0)
CREDS = Credentials("mock-user", "mock-pass-5678")
MiB = 1024 * 1024
REGISTRY = "registry.example.test"  # not loopback: HTTPS only


def _v2(seen: Seen) -> Answer | None:
    return json_answer(200, b"{}") if seen.path == "/v2/" else None


# -- the options type ------------------------------------------------------------------------


def test_the_keyword_arguments_are_the_options_fields() -> None:
    """``RegistryClient(host, jobs=4)`` and ``Options(jobs=4)`` are one list of names."""
    fields = {f.name for f in dataclasses.fields(Options)}
    assert set(OptionsArgs.__optional_keys__) == fields
    assert not OptionsArgs.__required_keys__
    assert set(inspect.signature(Options).parameters) == fields


def test_connect_options_keep_their_fields_order_and_defaults() -> None:
    """``ConnectOptions`` is public API: its eight fields, positional in the old order, the
    defaults of ``regkit.defaults``; it is an ``Options`` and yields a plain one."""
    options = ConnectOptions(None, False, 4, 5.0, 1, "u", "p", "/cfg")
    assert (options.jobs, options.timeout, options.verbose) == (4, 5.0, 1)
    assert (options.username, options.password, options.docker_config) == ("u", "p", "/cfg")
    assert isinstance(options, Options)
    assert ConnectOptions().jobs == defaults.JOBS
    assert ConnectOptions().timeout == defaults.TIMEOUT
    plain = options.registry_options()
    assert type(plain) is Options
    assert (plain.jobs, plain.timeout, plain.verbose) == (4, 5.0, 1)
    assert "pw-secret-42" not in repr(ConnectOptions(username="u", password="pw-secret-42"))
    assert "pw-secret-42" not in repr(Options(credentials=Credentials("u", "pw-secret-42")))


def test_options_and_keywords_build_the_same_client() -> None:
    with (
        RegistryClient("r.example.test", Options(jobs=3, timeout=7.0)) as a,
        RegistryClient("r.example.test", jobs=3, timeout=7.0) as b,
        RegistryClient("r.example.test", Options(jobs=9), jobs=3, timeout=7.0) as c,
    ):
        assert a.options == b.options == c.options
        assert (a.jobs, a.transport.timeout) == (3, 7.0)


def test_the_http2_option_goes_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGKIT_HTTP2", "1")
    with RegistryClient("r.example.test", http2=False) as client:
        assert client.transport.http2 is False
    monkeypatch.setenv("REGKIT_HTTP2", "0")
    if importlib.util.find_spec("h2") is None:
        with pytest.raises(UsageError, match="HTTP/2 needs the h2 package"):
            RegistryClient("r.example.test", http2=True)
    else:
        with RegistryClient("r.example.test", http2=True) as client:
            assert client.transport.http2 is True


def test_connect_passes_an_injected_transport_through() -> None:
    def route(seen: Seen) -> Answer:
        return _v2(seen) or json_answer(200, b'{"name":"app","tags":["v1"]}')

    with mock(route) as fake:
        options = ConnectOptions(transport=fake.transport, docker_config="/nonexistent")
        with connect(fake.host, options) as client:
            assert client.tags("app") == ["v1"]
    assert [s.path for s in fake.seen] == ["/v2/", "/v2/app/tags/list"]


# -- pagination ------------------------------------------------------------------------------


def test_pagination_with_link_reads_every_page() -> None:
    tags = [f"t{i:04d}" for i in range(2300)]

    def route(seen: Seen) -> Answer:
        if (hit := _v2(seen)) is not None:
            return hit
        last = seen.query.get("last", [""])[0]
        start = tags.index(last) + 1 if last else 0
        page = tags[start : start + 1000]
        more = start + 1000 < len(tags)
        link = {"Link": f'</v2/app/tags/list?n=1000&last={page[-1]}>; rel="next"'} if more else {}
        return json_answer(200, json.dumps({"name": "app", "tags": page}).encode(), **link)

    with mock(route) as fake, RegistryClient(fake.host, transport=fake.transport) as client:
        assert client.tags("app") == tags
    pages = [s for s in fake.seen if s.path == "/v2/app/tags/list"]
    assert [p.query.get("last") for p in pages] == [None, ["t0999"], ["t1999"]]


def test_pagination_with_n_and_last_without_link_reads_every_page() -> None:
    """go-containerregistry's registry: full pages, no Link; the next is asked with last=."""
    tags = [f"t{i:04d}" for i in range(2000)]

    def route(seen: Seen) -> Answer:
        if (hit := _v2(seen)) is not None:
            return hit
        last = seen.query.get("last", [""])[0]
        after = [t for t in tags if t > last] if last else tags
        n = int(seen.query.get("n", ["100000"])[0])
        return json_answer(200, json.dumps({"name": "app", "tags": after[:n] or None}).encode())

    with mock(route) as fake, RegistryClient(fake.host, transport=fake.transport) as client:
        assert client.tags("app") == tags
    pages = [s for s in fake.seen if s.path == "/v2/app/tags/list"]
    assert [(p.query["n"], p.query.get("last")) for p in pages] == [
        (["1000"], None),
        (["1000"], ["t0999"]),
        (["1000"], ["t1999"]),  # an empty page ends the list
    ]


def test_endless_pagination_stops_at_the_page_cap_naming_it() -> None:
    count = {"k": 0}

    def route(seen: Seen) -> Answer:
        if (hit := _v2(seen)) is not None:
            return hit
        count["k"] += 1
        k = count["k"]
        link = f'</v2/app/tags/list?n=1000&last=p{k}>; rel="next"'
        return json_answer(200, json.dumps({"tags": [f"p{k}"]}).encode(), Link=link)

    with (
        mock(route) as fake,
        RegistryClient(fake.host, transport=fake.transport) as client,
        pytest.raises(LimitExceededError) as caught,
    ):
        client.tags("app")
    assert str(caught.value) == (
        f"list tags of app: {fake.host} sent more than {defaults.MAX_PAGES} pages, regkit's "
        "limit on one list; a partial list is not safe to act on"
    )
    assert count["k"] == defaults.MAX_PAGES


# -- authentication --------------------------------------------------------------------------


def _basic(seen: Seen, answer: Answer) -> Answer:
    """A Basic-auth registry: 401 without the right credentials."""
    if seen.headers.get("authorization") != f"Basic {CREDS.basic_token()}":
        return json_answer(401, b"{}", WWW_Authenticate='Basic realm="mock"')
    return answer


def _basic_registry(seen: Seen) -> Answer:
    return _basic(seen, _v2(seen) or json_answer(200, b'{"name":"app","tags":["a","b"]}'))


def test_a_basic_challenge_is_answered_with_the_credentials() -> None:
    with (
        mock(_basic_registry, host=REGISTRY, scheme="https") as fake,
        RegistryClient(fake.host, credentials=CREDS, transport=fake.transport) as client,
    ):
        assert client.tags("app") == ["a", "b"]
    assert all(s.headers["authorization"] == f"Basic {CREDS.basic_token()}" for s in fake.seen)


def test_a_basic_challenge_without_credentials_says_to_log_in() -> None:
    with (
        mock(_basic_registry, host=REGISTRY, scheme="https") as fake,
        RegistryClient(fake.host, transport=fake.transport, retry=FAST) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.tags("app")
    assert str(caught.value) == (
        f"{REGISTRY} requires authentication (list tags of app); run 'regkit login' or set "
        "REGISTRY_USERNAME and REGISTRY_PASSWORD"
    )
    assert all("authorization" not in s.headers for s in fake.seen)


def test_a_basic_challenge_refusing_the_password_names_the_user_not_the_password() -> None:
    wrong = Credentials(CREDS.username, "wrong-pass-0000")
    with (
        mock(_basic_registry, host=REGISTRY, scheme="https") as fake,
        RegistryClient(fake.host, credentials=wrong, transport=fake.transport) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.tags("app")
    message = str(caught.value)
    assert message.startswith(f"{REGISTRY} refused the credentials of user 'mock-user'")
    assert_no_secrets({"message": message}, [wrong.password, wrong.basic_token()])
    tries = [s for s in fake.seen if s.path == "/v2/app/tags/list"]
    assert len(tries) <= 2  # one challenge round, not a loop of failed logins


# -- the origin rule -------------------------------------------------------------------------


def test_an_http_location_to_another_host_from_an_https_registry_is_refused() -> None:
    with mock(lambda seen: (200, {}, b"blob"), host="storage.example.test") as storage:

        def route(seen: Seen) -> Answer:
            if seen.path.startswith("/v2/app/blobs/"):
                return _basic(seen, (307, {"Location": f"http://{storage.host}/blob?sig=s3"}, b""))
            return _basic_registry(seen)

        with (
            mock(route, host=REGISTRY, scheme="https") as fake,
            RegistryClient(fake.host, credentials=CREDS, transport=fake.transport) as client,
            pytest.raises(TLSError) as caught,
        ):
            client.get_blob("app", sha256_digest(b"blob"))
    assert storage.seen == []  # nothing sent in clear
    assert str(caught.value) == (
        f"refusing plain HTTP to {storage.host} (where {REGISTRY} sent a request); regkit "
        "sends requests without TLS only to loopback hosts"
    )
    assert caught.value.hint == "insecure"


def test_an_http_location_to_the_registrys_own_host_is_upgraded_to_https() -> None:
    blob = b"the blob"

    def route(seen: Seen) -> Answer:
        if seen.path.startswith("/v2/app/blobs/"):
            return _basic(seen, (307, {"Location": f"http://{REGISTRY}/storage/blob"}, b""))
        if seen.path == "/storage/blob":
            return 200, {}, blob
        return _basic_registry(seen)

    with (
        mock(route, host=REGISTRY, scheme="https") as fake,
        RegistryClient(fake.host, credentials=CREDS, transport=fake.transport) as client,
    ):
        assert client.get_blob("app", sha256_digest(blob)) == blob
    assert [s.path for s in fake.seen][-1] == "/storage/blob"  # reached over HTTPS


def test_an_https_registry_host_is_never_tried_in_plain_http() -> None:
    """A name that is not loopback gets HTTPS only: a dead HTTPS port is an error, not a
    fallback to plain HTTP."""
    with (
        mock(_basic_registry, host=REGISTRY, scheme="http") as fake,
        RegistryClient(fake.host, credentials=CREDS, transport=fake.transport) as client,
        pytest.raises(TLSError, match="answered in plain HTTP"),
    ):
        client.tags("app")
    assert fake.seen == []


# -- limits ----------------------------------------------------------------------------------


def _manifest_over_the_cap(seen: Seen) -> Answer:
    body = b'{"schemaVersion":2,"x":"' + b" " * defaults.MAX_MANIFEST_BYTES + b'"}'
    return _v2(seen) or (200, {"Content-Type": OCI_MANIFEST}, body)


def test_a_manifest_over_the_cap_is_one_error_naming_it() -> None:
    with (
        mock(_manifest_over_the_cap) as fake,
        RegistryClient(fake.host, transport=fake.transport, retry=FAST) as client,
        pytest.raises(LimitExceededError) as caught,
    ):
        client.get_manifest("app", "v1")
    message = str(caught.value)
    assert f"announced {defaults.MAX_MANIFEST_BYTES + 26} bytes, more than 4 MiB" in message
    assert "regkit's limit on a manifest" in message
    assert caught.value.value == defaults.MAX_MANIFEST_BYTES


def test_a_streamed_manifest_over_the_cap_is_not_read_whole() -> None:
    """Without Content-Length: read counted, stopped past the cap."""
    sent = {"bytes": 0}

    def body() -> Iterator[bytes]:
        yield b'{"a":"'
        for _ in range(300):  # 300 MiB if read whole
            sent["bytes"] += MiB
            yield b" " * MiB

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200, json={})
        return httpx.Response(200, headers={"Content-Type": OCI_MANIFEST}, content=body())

    with (
        RegistryClient(REGISTRY, transport=httpx.MockTransport(answer), retry=FAST) as client,
        pytest.raises(LimitExceededError, match=r"sent more than 4 MiB.*manifest"),
    ):
        client.get_manifest("app", "v1")
    assert sent["bytes"] <= defaults.MAX_MANIFEST_BYTES + MiB


def test_json_nested_too_deep_is_one_error_naming_the_depth() -> None:
    deep = b'{"name":"app","tags":' + b"[" * 10_000 + b"]" * 10_000 + b"}"

    def route(seen: Seen) -> Answer:
        return _v2(seen) or json_answer(200, deep)

    with (
        mock(route) as fake,
        RegistryClient(fake.host, transport=fake.transport) as client,
        pytest.raises(LimitExceededError) as caught,
    ):
        client.tags("app")
    assert f"JSON nested deeper than {defaults.MAX_JSON_DEPTH} levels" in str(caught.value)
    assert caught.value.limit == "JSON nesting depth"


def test_the_mock_transport_is_shared_by_every_mock() -> None:
    with mock(lambda seen: (200, {}, b"")) as a, mock(lambda seen: (200, {}, b"")) as b:
        assert a.transport is b.transport is TRANSPORT
        assert a.host != b.host
