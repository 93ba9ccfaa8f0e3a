"""Client behaviour no real registry here can be made to show, on a scripted registry answered
through the mock transport (tests.mockserver: no socket, no server thread): quirks of
other registry:3 releases (a ``null`` page after the last, 3.1.0's 400 for a large ``n``),
retries, digest checks and redirects. Real registry:3 pagination and tag deletes are tested on
the real thing (test_client_rig.py: test_tag_pagination, test_deletes_by_tag_and_digest)."""

from __future__ import annotations

import json
import time

import pytest

from regkit.dockerconfig import Credentials
from regkit.errors import (
    AuthenticationError,
    DigestMismatchError,
    RegistryError,
)
from regkit.registry import RegistryClient, RetryPolicy
from regkit.registry.manifest import OCI_MANIFEST, sha256_digest
from tests.mockserver import Seen, json_answer, mock

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=2.0, total=10.0)
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()


def _v2(seen: Seen) -> tuple[int, dict[str, str], bytes] | None:
    if seen.path == "/v2/":
        return json_answer(200, b"{}")
    return None


def test_v3_tag_pagination_follows_relative_links_until_null_page() -> None:
    tags = [f"t{i:04d}" for i in range(2500)]

    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        n = int(seen.query.get("n", ["100"])[0])
        n = min(n, 1000)  # registry:3.1.1 clamps n to its maximum
        last = seen.query.get("last", [""])[0]
        start = tags.index(last) + 1 if last else 0
        page = tags[start : start + n]
        if not page:
            return json_answer(200, b'{"name":"app","tags":null}')
        headers = {}
        headers["Link"] = f'</v2/app/tags/list?last={page[-1]}&n={n}>; rel="next"'
        return json_answer(200, json.dumps({"name": "app", "tags": page}).encode(), **headers)

    with mock(route) as fake, RegistryClient(fake.host, transport=fake.transport) as client:
        assert client.tags("app") == tags
        pages = [s for s in fake.seen if s.path.endswith("/tags/list")]
        assert len(pages) == 4  # 1000 + 1000 + 500 + the null page
        assert pages[0].query["n"] == ["1000"]


def test_v310_refuses_large_n_and_we_retry_without_it() -> None:
    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        if "n" in seen.query:
            return json_answer(
                400, b'{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"n too large"}]}'
            )
        return json_answer(200, b'{"name":"app","tags":["a","b"]}')

    with mock(route) as fake, RegistryClient(fake.host, transport=fake.transport) as client:
        assert client.tags("app") == ["a", "b"]


def test_pagination_never_follows_another_host() -> None:
    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        return json_answer(
            200,
            b'{"repositories":["a"]}',
            Link='<http://evil.example:1/v2/_catalog?last=a>; rel="next"',
        )

    with (
        mock(route) as fake,
        RegistryClient(fake.host, transport=fake.transport) as client,
        pytest.raises(RegistryError, match=r"links the next page to evil\.example:1"),
    ):
        client.catalog()  # never followed, and never taken as the end of the list


def test_retry_after_is_honoured_and_503_bursts_are_retried() -> None:
    calls: list[float] = []

    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        calls.append(time.monotonic())
        if len(calls) == 1:
            return json_answer(429, b"{}", Retry_After="1")
        if len(calls) == 2:
            return json_answer(503, b"{}")
        return json_answer(200, b'{"repositories":["x"]}')

    with (
        mock(route) as fake,
        RegistryClient(fake.host, transport=fake.transport, retry=FAST) as client,
    ):
        assert client.catalog() == ["x"]
    assert calls[1] - calls[0] >= 0.95  # waited for Retry-After


def test_retries_are_bounded() -> None:
    def route(seen: Seen):  # type: ignore[no-untyped-def]
        return _v2(seen) or json_answer(502, b"bad gateway")

    with (
        mock(route) as fake,
        RegistryClient(fake.host, transport=fake.transport, retry=FAST) as client,
    ):
        with pytest.raises(RegistryError, match="502"):
            client.catalog()
        assert len([s for s in fake.seen if s.path == "/v2/_catalog"]) == FAST.attempts


def test_post_is_not_retried() -> None:
    def route(seen: Seen):  # type: ignore[no-untyped-def]
        return _v2(seen) or json_answer(503, b"{}")

    with (
        mock(route) as fake,
        RegistryClient(fake.host, transport=fake.transport, retry=FAST) as client,
    ):
        with pytest.raises(RegistryError):
            client.upload_blob("app", sha256_digest(b"x"), iter([b"x"]), 1)
        # POST to start an upload is retried (it is safe), the streamed PUT never is
        assert not [s for s in fake.seen if s.method == "PUT"]


def test_head_without_digest_falls_back_to_get_and_hashes() -> None:
    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        return 200, {"Content-Type": OCI_MANIFEST}, MANIFEST

    with mock(route) as fake, RegistryClient(fake.host, transport=fake.transport) as client:
        desc = client.resolve("app", "v1")
        assert desc is not None
        assert desc.digest == sha256_digest(MANIFEST)
        assert [s.method for s in fake.seen if "manifests" in s.path] == ["HEAD", "GET"]


def test_manifest_whose_body_does_not_match_the_claimed_digest_is_refused() -> None:
    def route(seen: Seen):  # type: ignore[no-untyped-def]
        if (hit := _v2(seen)) is not None:
            return hit
        return (
            200,
            {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": "sha256:" + "0" * 64},
            MANIFEST,
        )

    with mock(route) as fake, RegistryClient(fake.host, transport=fake.transport) as client:
        with pytest.raises(DigestMismatchError, match="refusing to trust"):
            client.get_manifest("app", "v1")
        with pytest.raises(DigestMismatchError, match="corrupt"):
            client.get_manifest("app", "sha256:" + "1" * 64)


def test_manifest_requests_send_the_full_accept_list() -> None:
    def route(seen: Seen):  # type: ignore[no-untyped-def]
        return _v2(seen) or (200, {"Content-Type": OCI_MANIFEST}, MANIFEST)

    with mock(route) as fake, RegistryClient(fake.host, transport=fake.transport) as client:
        client.get_manifest("app", "v1")
        accept = fake.seen[-1].headers["accept"]
        for media_type in (
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ):
            assert media_type in accept


def test_authorization_is_not_sent_to_another_host_on_redirect() -> None:
    with mock(lambda seen: json_answer(200, b'{"repositories":["other"]}')) as other:

        def route(seen: Seen):  # type: ignore[no-untyped-def]
            if seen.path == "/v2/" and "authorization" not in seen.headers:
                return json_answer(401, b"{}", WWW_Authenticate='Basic realm="r"')
            if seen.path == "/v2/":
                return json_answer(200, b"{}")
            return 307, {"Location": f"http://{other.host}/v2/_catalog"}, b""

        with (
            mock(route) as fake,
            RegistryClient(
                fake.host, transport=fake.transport, credentials=Credentials("u", "p4ss")
            ) as client,
        ):
            assert client.catalog() == ["other"]
        assert "authorization" in fake.seen[-1].headers
        assert all("authorization" not in s.headers for s in other.seen)


def test_bearer_token_flow_with_scope_and_cache() -> None:
    tokens: list[Seen] = []
    with mock(
        lambda seen: (
            tokens.append(seen),
            json_answer(200, b'{"token":"tok-123","expires_in":300}'),
        )[1]
    ) as auth:

        def route(seen: Seen):  # type: ignore[no-untyped-def]
            if seen.headers.get("authorization") == "Bearer tok-123":
                if seen.path == "/v2/":
                    return json_answer(200, b"{}")
                return json_answer(200, b'{"name":"app","tags":["a"]}')
            scope = "" if seen.path == "/v2/" else ',scope="repository:app:pull"'
            return json_answer(
                401, b"{}", WWW_Authenticate=f'Bearer realm="{auth.url}/token",service="reg"{scope}'
            )

        with (
            mock(route) as fake,
            RegistryClient(
                fake.host, transport=fake.transport, credentials=Credentials("u", "p4ss")
            ) as client,
        ):
            assert client.tags("app") == ["a"]
            assert client.tags("app") == ["a"]  # cached token: no new token request
    assert len(tokens) == 1
    assert tokens[0].query["scope"] == ["repository:app:pull"]
    assert tokens[0].query["service"] == ["reg"]
    assert tokens[0].headers["authorization"].startswith("Basic ")


def test_token_service_refusal_is_an_auth_error() -> None:
    with mock(lambda seen: json_answer(401, b"{}")) as auth:

        def route(seen: Seen):  # type: ignore[no-untyped-def]
            return json_answer(401, b"{}", WWW_Authenticate=f'Bearer realm="{auth.url}/token"')

        with (
            mock(route) as fake,
            RegistryClient(
                fake.host, transport=fake.transport, credentials=Credentials("u", "bad")
            ) as client,
            pytest.raises(AuthenticationError, match="refused the credentials"),
        ):
            client.tags("app")


def test_mount_token_covers_the_source_repository() -> None:
    tokens: list[Seen] = []
    with mock(
        lambda seen: (tokens.append(seen), json_answer(200, b'{"token":"t-mount"}'))[1]
    ) as auth:

        def route(seen: Seen):  # type: ignore[no-untyped-def]
            if seen.headers.get("authorization") == "Bearer t-mount":
                if seen.path == "/v2/":
                    return json_answer(200, b"{}")
                return 201, {"Location": "/v2/to/blobs/x"}, b""
            return json_answer(
                401, b"{}", WWW_Authenticate=f'Bearer realm="{auth.url}/token",service="reg"'
            )

        with (
            mock(route) as fake,
            RegistryClient(
                fake.host, transport=fake.transport, credentials=Credentials("u", "p4ss")
            ) as client,
        ):
            assert client.mount_blob("to", "sha256:" + "a" * 64, "from") is True
    scopes = tokens[-1].query["scope"]
    assert scopes == ["repository:to:pull,push", "repository:from:pull"]
