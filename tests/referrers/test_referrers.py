"""regkit.registry.referrers: what is attached to a digest, found the way real clients attach it.

On the real registries (distribution 2.8, registry:3, go-containerregistry's registry): an image
signed with the real cosign (``cosign sign --key``, cosign's ``sha256-<hex>.sig`` tag) and an SBOM
attached with the real oras (``oras attach``: a manifest with ``subject``, listed by the referrers
tag schema's ``sha256-<hex>`` index since none of them serves the referrers API); ``referrers()``
must find both, agree with ``oras discover``, filter by artifact type, and find nothing for an
image without any. The referrers API itself (which no registry here serves) is tested on a
scripted server; the tag classification is pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from regkit import defaults
from regkit.errors import InvalidReferenceError, LimitExceededError, RegistryError
from regkit.registry import RegistryClient, RetryPolicy
from regkit.registry.manifest import OCI_INDEX, OCI_MANIFEST, Manifest, sha256_digest
from regkit.registry.referrers import (
    FOUND_API,
    FOUND_COSIGN,
    FOUND_TAG_INDEX,
    OCI_EMPTY,
    ReferrerTag,
    artifact_type_of,
    classify_tag,
    from_api,
    kind_of,
    parse_referrers_index,
    referrer_from_manifest,
    referrer_subject,
    referrer_tags,
    referrers,
)
from tests.clirun import regkit
from tests.fakeserver import Seen, json_answer, serve
from tests.rig import Rig, client_for
from tests.rig.cosign import KeyPair, attest, generate_key_pair, require_cosign, sign, verify
from tests.rig.cranereg import CraneRig
from tests.rig.oras import SPDX, attach, discover, require_oras
from tests.rig.referrersreg import start_referrers_rig
from tests.schemas import check_schema

HEX = "ab" * 32
SUBJECT = f"sha256:{HEX}"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"

# -- pure: the tag schemes ------------------------------------------------------------------


def test_referrer_tags_are_classified_and_mapped_to_their_subject() -> None:
    other = "cd" * 32
    tags = [
        "latest",
        f"sha256-{HEX}.sig",
        f"sha256-{HEX}",
        f"sha256-{HEX}.att",
        f"sha256-{other}.sbom",
        f"sha256-{HEX[:-1]}",  # 63 hex: an ordinary tag
        f"sha256-{HEX}x",  # not a suffix
        f"sha256-{HEX.upper()}.sig",  # digests are lower-case hex
        f"sha512-{HEX}",
        "v1.0.0",
        f"sha256-{HEX}.",  # an empty suffix is no suffix
    ]
    found = referrer_tags(tags)
    assert sorted(found) == [SUBJECT, f"sha256:{other}"]
    assert found[SUBJECT] == [
        ReferrerTag(f"sha256-{HEX}", SUBJECT, None),
        ReferrerTag(f"sha256-{HEX}.att", SUBJECT, "att"),
        ReferrerTag(f"sha256-{HEX}.sig", SUBJECT, "sig"),
    ]
    assert [t.scheme for t in found[SUBJECT]] == [FOUND_TAG_INDEX, FOUND_COSIGN, FOUND_COSIGN]
    assert found[f"sha256:{other}"] == [
        ReferrerTag(f"sha256-{other}.sbom", f"sha256:{other}", "sbom")
    ]
    assert classify_tag("latest") is None
    assert referrer_subject(f"sha256-{HEX}.sig") == SUBJECT
    assert referrer_subject(f"sha256-{HEX}") == SUBJECT
    assert referrer_subject("sha256-abc.sig") is None


def test_ghcr_prune_uses_the_same_referrer_tag_rule() -> None:
    from regkit.registry import referrers as module

    ghcr = pytest.importorskip("regkit.ghcr.prune")
    assert ghcr.REFERRER_TAG is module.REFERRER_TAG


def test_kinds_from_artifact_type_and_cosign_suffix() -> None:
    assert kind_of(SIMPLESIGNING) == "signature"
    assert kind_of("application/vnd.cncf.notary.signature") == "signature"
    assert kind_of("application/vnd.dsse.envelope.v1+json") == "attestation"
    assert kind_of("application/vnd.in-toto+json") == "attestation"
    assert kind_of(SPDX) == "sbom"
    assert kind_of("application/vnd.cyclonedx+json") == "sbom"
    assert kind_of("text/spdx") == "sbom"
    assert kind_of("application/vnd.example+json") == "other"
    assert kind_of("", "sig") == "signature"
    assert kind_of("", "att") == "attestation"
    assert kind_of("", "sbom") == "sbom"
    assert kind_of("", "zzz") == "other"


def test_artifact_type_rules() -> None:
    assert artifact_type_of({"artifactType": SPDX, "config": {"mediaType": "x/y"}}) == SPDX
    # cosign's signature: an image config and a simplesigning layer
    cosign_sig = {
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json"},
        "layers": [{"mediaType": SIMPLESIGNING}],
    }
    assert artifact_type_of(cosign_sig) == SIMPLESIGNING
    # cosign's attestation: an image config and a DSSE envelope layer
    cosign_att = {**cosign_sig, "layers": [{"mediaType": DSSE}]}
    assert artifact_type_of(cosign_att) == DSSE
    # an image (a filesystem layer): its config's type
    image = {
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json"},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}],
    }
    assert artifact_type_of(image) == "application/vnd.oci.image.config.v1+json"
    docker = {
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"}],
    }
    assert artifact_type_of(docker) == "application/vnd.docker.container.image.v1+json"
    assert artifact_type_of({"config": {"mediaType": "application/vnd.example.cfg"}}) == (
        "application/vnd.example.cfg"
    )
    empty = {
        "config": {"mediaType": "application/vnd.oci.empty.v1+json"},
        "layers": [{"mediaType": "text/plain"}],
    }
    assert artifact_type_of(empty) == "text/plain"
    assert artifact_type_of({}) == ""


def _index(*entries: dict[str, Any]) -> bytes:
    return json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(entries)}
    ).encode()


def _entry(digest: str, artifact_type: str = SPDX, **annotations: str) -> dict[str, Any]:
    return {
        "mediaType": OCI_MANIFEST,
        "digest": digest,
        "size": 321,
        "artifactType": artifact_type,
        "annotations": annotations,
    }


def test_parse_referrers_index_reads_descriptors_and_refuses_bad_digests() -> None:
    d1 = sha256_digest(b"one")
    got = parse_referrers_index(_index(_entry(d1, k="v")), SUBJECT, FOUND_API, "page")
    assert got is not None and len(got) == 1
    r = got[0]
    assert (r.subject, r.digest, r.artifact_type, r.size, r.found, r.kind) == (
        SUBJECT,
        d1,
        SPDX,
        321,
        FOUND_API,
        "sbom",
    )
    assert dict(r.annotations) == {"k": "v"}
    # not an index: not the referrers API / tag schema (a manifest under the tag, an error page)
    assert parse_referrers_index(b'{"layers": []}', SUBJECT, FOUND_API, "page") is None
    assert parse_referrers_index(b"[]", SUBJECT, FOUND_API, "page") is None
    with pytest.raises(RegistryError, match="not sha256:<64 hex>"):
        parse_referrers_index(_index(_entry("sha256:../../x")), SUBJECT, FOUND_API, "page")
    with pytest.raises(RegistryError, match="size"):
        parse_referrers_index(_index({**_entry(d1), "size": "big"}), SUBJECT, FOUND_API, "page")
    with pytest.raises(LimitExceededError):
        parse_referrers_index(b"[" * 100 + b"]" * 100, SUBJECT, FOUND_API, "page")


def test_referrer_from_a_cosign_tag() -> None:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json"},
            "layers": [{"mediaType": SIMPLESIGNING, "digest": SUBJECT, "size": 1}],
            "annotations": {"dev.cosignproject.cosign/signature": "MEUC"},
        }
    ).encode()
    rt = ReferrerTag(f"sha256-{HEX}.sig", SUBJECT, "sig")
    r = referrer_from_manifest(Manifest(raw, OCI_MANIFEST, sha256_digest(raw)), rt)
    assert (r.subject, r.digest, r.kind, r.found, r.tag, r.size) == (
        SUBJECT,
        sha256_digest(raw),
        "signature",
        FOUND_COSIGN,
        rt.tag,
        len(raw),
    )
    assert r.to_json()["artifact_type"] == SIMPLESIGNING


# -- the referrers API, on a scripted server (no registry here serves it) ------------------


def _manifest(artifact_type: str, subject: str = SUBJECT) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {
                "mediaType": OCI_EMPTY,
                "digest": SUBJECT,
                "size": 2,
            },
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1},
        }
    ).encode()


SIG = _manifest(SIMPLESIGNING)


def _registry(
    *,
    api: list[bytes] | None,
    tags: list[str],
    manifests: dict[str, bytes],
    ignore_filter: bool = False,
    not_served: int = 404,
) -> Any:
    """A route: ``api`` = the pages of the referrers API (None: not served, ``not_served``)."""

    def route(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path == "/v2/":
            return json_answer(200, b"{}")
        if seen.path == f"/v2/app/referrers/{SUBJECT}":
            if api is None:
                return json_answer(not_served, b'{"errors":[{"code":"UNKNOWN"}]}')
            page = int(seen.query.get("page", ["0"])[0])
            body = api[page]
            wanted = seen.query.get("artifactType", [None])[0]
            if wanted and not ignore_filter:
                data = json.loads(body)
                data["manifests"] = [m for m in data["manifests"] if m["artifactType"] == wanted]
                body = json.dumps(data).encode()
            headers = {"Content-Type": OCI_INDEX}
            if page + 1 < len(api):
                headers["Link"] = f'</v2/app/referrers/{SUBJECT}?page={page + 1}>; rel="next"'
            return 200, headers, body
        if seen.path == "/v2/app/tags/list":
            return json_answer(200, json.dumps({"name": "app", "tags": tags}).encode())
        if seen.path.startswith("/v2/app/manifests/"):
            ref = seen.path.rsplit("/", 1)[1]
            raw = manifests.get(ref)
            if raw is None:
                return json_answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            mt = json.loads(raw).get("mediaType", OCI_MANIFEST)
            return 200, {"Content-Type": mt, "Docker-Content-Digest": sha256_digest(raw)}, raw
        return json_answer(404, b"{}")

    return route


def test_the_referrers_api_is_read_page_by_page_and_merged_with_cosign_tags() -> None:
    d1, d2 = sha256_digest(b"sbom"), sha256_digest(b"att")
    pages = [
        _index(_entry(d1, SPDX)),
        _index(_entry(d2, "application/vnd.in-toto+json")),
    ]
    route = _registry(
        api=pages, tags=["latest", f"sha256-{HEX}.sig"], manifests={f"sha256-{HEX}.sig": SIG}
    )
    with serve(route) as fake, RegistryClient(fake.host) as client:
        found = referrers(client, "app", SUBJECT)
        assert [(r.digest, r.found, r.kind) for r in found] == [
            (d1, FOUND_API, "sbom"),
            (d2, FOUND_API, "attestation"),
            (sha256_digest(SIG), FOUND_COSIGN, "signature"),
        ]
        calls = [s for s in fake.seen if "/referrers/" in s.path]
        assert len(calls) == 2 and calls[0].headers["accept"] == OCI_INDEX

        fake.seen.clear()
        only = referrers(client, "app", SUBJECT, artifact_type=SPDX)
        assert [r.digest for r in only] == [d1]
        first = next(s for s in fake.seen if "/referrers/" in s.path)
        assert first.query["artifactType"] == [SPDX]


def test_an_artifact_type_filter_the_registry_ignores_is_applied_here() -> None:
    d1, d2 = sha256_digest(b"sbom"), sha256_digest(b"att")
    pages = [_index(_entry(d1, SPDX), _entry(d2, "application/vnd.in-toto+json"))]
    route = _registry(api=pages, tags=[], manifests={}, ignore_filter=True)
    with serve(route) as fake, RegistryClient(fake.host) as client:
        assert [r.digest for r in referrers(client, "app", SUBJECT, SPDX)] == [d1]


@pytest.mark.parametrize("status", [400, 404, 405, 501])
def test_without_the_api_the_tag_schema_index_is_read(status: int) -> None:
    """Not served: 404 (distribution, crane's registry), 405/501, or 400 (a registry that does
    not know the route; one that serves it answers 400 only to a malformed digest)."""
    d1 = sha256_digest(b"sbom")
    index = _index(_entry(d1, SPDX, **{"org.opencontainers.image.created": "2026-01-01"}))
    route = _registry(
        not_served=status,
        api=None,
        tags=["v1", f"sha256-{HEX}", f"sha256-{HEX}.sig"],
        manifests={f"sha256-{HEX}": index, f"sha256-{HEX}.sig": SIG},
    )
    with serve(route) as fake, RegistryClient(fake.host) as client:
        found = referrers(client, "app", SUBJECT)
        assert [(r.digest, r.found, r.tag) for r in found] == [
            (d1, FOUND_TAG_INDEX, f"sha256-{HEX}"),
            (sha256_digest(SIG), FOUND_COSIGN, f"sha256-{HEX}.sig"),
        ]
        # a caller with the tag list already: no listing
        fake.seen.clear()
        assert len(referrers(client, "app", SUBJECT, tags=["v1"])) == 0
        assert not [s for s in fake.seen if s.path.endswith("/tags/list")]


def test_a_referrer_in_the_api_and_a_tag_index_is_reported_once() -> None:
    d1 = sha256_digest(b"sbom")
    route = _registry(
        api=[_index(_entry(d1))],
        tags=[f"sha256-{HEX}"],
        manifests={f"sha256-{HEX}": _index(_entry(d1))},
    )
    with serve(route) as fake, RegistryClient(fake.host) as client:
        found = referrers(client, "app", SUBJECT)
    assert [(r.digest, r.found) for r in found] == [(d1, FOUND_API)]


def test_api_answers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    many = [_entry(sha256_digest(str(i).encode())) for i in range(50)]
    route = _registry(api=[_index(*many)], tags=[], manifests={})
    monkeypatch.setattr(defaults, "MAX_MANIFEST_BYTES", 1024)
    with (
        serve(route) as fake,
        RegistryClient(fake.host) as client,
        pytest.raises(LimitExceededError, match="referrers"),
    ):
        referrers(client, "app", SUBJECT)
    monkeypatch.undo()
    monkeypatch.setattr(defaults, "MAX_ITEMS", 10)
    with (
        serve(route) as fake,
        RegistryClient(fake.host) as client,
        pytest.raises(LimitExceededError, match="more than 10 referrers"),
    ):
        referrers(client, "app", SUBJECT)


def test_an_endless_chain_of_pages_stops_at_the_page_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(defaults, "MAX_PAGES", 3)

    def route(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path == "/v2/":
            return json_answer(200, b"{}")
        n = int(seen.query.get("page", ["0"])[0])
        link = f'</v2/app/referrers/{SUBJECT}?page={n + 1}>; rel="next"'
        return 200, {"Content-Type": OCI_INDEX, "Link": link}, _index()

    with (
        serve(route) as fake,
        RegistryClient(fake.host) as client,
        pytest.raises(LimitExceededError, match="more than 3 pages"),
    ):
        referrers(client, "app", SUBJECT)


def test_other_errors_of_the_api_are_errors() -> None:
    route = _registry(api=None, tags=[], manifests={}, not_served=500)
    with (
        serve(route) as fake,
        RegistryClient(fake.host, retry=RetryPolicy(attempts=1)) as client,
        pytest.raises(RegistryError, match=r"referrers of app@sha256:[0-9a-f]{64}: .* 500 UNKNOWN"),
    ):
        referrers(client, "app", SUBJECT)


#: ``defaults.MAX_REFERRERS``, the number the docs name
REFERRERS_LIMIT = 1000


def test_a_hostile_registry_listing_thousands_of_referrer_tags_is_stopped_unread() -> None:
    """One digest named by more cosign-style tags than ``MAX_REFERRERS`` (a hostile registry:
    ``sha256-<hex>.sig``, ``.x1`` ... each one a manifest to read): the limit's error line,
    before a single manifest is read; ``regkit inspect`` exits 1 with that one line."""
    n = REFERRERS_LIMIT + 1
    tags = ["v1", *(f"sha256-{HEX}.x{i}" for i in range(n))]
    route = _registry(api=None, tags=tags, manifests={})
    with serve(route) as fake, RegistryClient(fake.host) as client:
        with pytest.raises(LimitExceededError, match="more than 1000 referrers") as err:
            referrers(client, "app", SUBJECT)
        assert err.value.limit == "referrers of one digest"
        assert err.value.value == 1000 == defaults.MAX_REFERRERS
        assert not [s for s in fake.seen if "/manifests/" in s.path]
        # at the limit: every tag is read
        fake.seen.clear()
        found = referrers(client, "app", SUBJECT, tags=tags[:1001])
        assert len(fake.seen) == 1001 and found == []  # no such manifests: nothing attached


def test_a_hostile_referrers_api_or_tag_index_is_bounded_per_digest() -> None:
    many = [_entry(sha256_digest(str(i).encode())) for i in range(REFERRERS_LIMIT + 1)]
    for route in (
        _registry(api=[_index(*many)], tags=[], manifests={}),
        _registry(api=None, tags=[f"sha256-{HEX}"], manifests={f"sha256-{HEX}": _index(*many)}),
    ):
        with (
            serve(route) as fake,
            RegistryClient(fake.host) as client,
            pytest.raises(LimitExceededError, match="more than 1000 referrers"),
        ):
            referrers(client, "app", SUBJECT)


def test_the_referrer_limit_reaches_the_cli_as_one_line() -> None:
    config = b"{}"
    image = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    digest = sha256_digest(image)
    hexpart = digest.removeprefix("sha256:")
    tags = ["v1", *(f"sha256-{hexpart}.x{i}" for i in range(REFERRERS_LIMIT + 1))]
    inner = _registry(api=None, tags=tags, manifests={})

    def route(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path in ("/v2/app/manifests/v1", f"/v2/app/manifests/{digest}"):
            return 200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}, image
        if seen.path == f"/v2/app/blobs/{sha256_digest(config)}":
            return 200, {"Content-Type": "application/octet-stream"}, config
        answer: tuple[int, dict[str, str], bytes] = inner(seen)
        return answer

    with serve(route) as fake:
        out = regkit("inspect", f"{fake.host}/app:v1", env={"DOCKER_CONFIG": "/nonexistent"})
    err = out.stderr.decode()
    assert out.returncode == 1, (out.stdout.decode(), err)
    assert err.count("\n") == 1 and "more than 1000 referrers" in err, err
    # inspect HEADs every tag (which tags share the digest); no referrer manifest is read
    assert not [s for s in fake.seen if s.method == "GET" and "/manifests/sha256-" in s.path]


def test_a_tag_is_not_a_subject() -> None:
    with (
        RegistryClient("127.0.0.1:9") as client,
        pytest.raises(InvalidReferenceError, match="not a digest"),
    ):
        referrers(client, "app", "latest")


# -- real registries, real cosign and oras --------------------------------------------------

AnyRig = Rig | CraneRig


@pytest.fixture(scope="module")
def rig_referrers_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CraneRig]:
    """go-containerregistry's registry with the referrers API on (tests/rig/referrersreg.py)."""
    rig = start_referrers_rig(tmp_path_factory.mktemp("rig-referrers-api"))
    try:
        yield rig
    finally:
        rig.close()


RIGS = {
    "2.8": "rig_basic",
    "3": "rig_basic_v3",
    "tls-3": "rig_tls_v3",
    "crane": "rig_crane",
    "referrers-api": "rig_referrers_api",
}


@pytest.fixture(params=list(RIGS), ids=["v2.8", "v3", "tls-v3", "crane", "referrers-api"])
def any_rig(request: pytest.FixtureRequest) -> AnyRig:
    """Every registry kind: distribution 2.8 and registry:3 (basic auth; registry:3 also behind
    nginx with TLS, the production shape), crane's registry (none of these serves the referrers
    API), and go-containerregistry's with the API on."""
    rig: AnyRig = request.getfixturevalue(RIGS[request.param])
    rig.ensure_running()
    return rig


@pytest.fixture(params=["3", "referrers-api"], ids=["v3", "referrers-api"])
def inspect_rig(request: pytest.FixtureRequest) -> AnyRig:
    """Where ``regkit inspect`` is shown a signed image: registry:3 (production; the tag
    schemes) and the registry with the referrers API (the discovery itself runs on all four)."""
    rig: AnyRig = request.getfixturevalue(RIGS[request.param])
    rig.ensure_running()
    return rig


def _serves_api(rig: AnyRig) -> bool:
    return rig.param == "referrers-api"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyPair]:
    require_cosign()
    require_oras()
    yield generate_key_pair(tmp_path_factory.mktemp("cosign-keys"))


def _sbom(tmp_path: Path) -> Path:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "regkit-test"}))
    return path


def test_cosign_signature_and_oras_sbom_are_found_on_every_registry(
    any_rig: AnyRig, repo_prefix: str, keys: KeyPair, tmp_path: Path
) -> None:
    repo = f"{repo_prefix}/app"
    pusher = any_rig.pusher()
    signed = pusher.push_image(repo, ["v1"], layer_size=64)
    plain = pusher.push_image(repo, ["v2"], layer_size=64)
    sign(any_rig, keys, any_rig.ref(repo, signed.digest))
    attest(any_rig, keys, any_rig.ref(repo, signed.digest), _sbom(tmp_path))
    sbom = attach(any_rig, any_rig.ref(repo, signed.digest), _sbom(tmp_path))
    hexpart = signed.digest.removeprefix("sha256:")

    with client_for(any_rig) as client:
        found = referrers(client, repo, signed.digest)
        by_kind = {r.kind: r for r in found}
        assert sorted(by_kind) == ["attestation", "sbom", "signature"], found
        assert len(found) == 3
        att = by_kind["attestation"]
        assert (att.found, att.tag, att.artifact_type) == (
            FOUND_COSIGN,
            f"sha256-{hexpart}.att",
            DSSE,
        )
        assert {r.subject for r in found} == {signed.digest}
        sig = by_kind["signature"]
        assert sig.found == FOUND_COSIGN
        assert sig.tag == f"sha256-{signed.digest.removeprefix('sha256:')}.sig"
        assert sig.artifact_type == SIMPLESIGNING
        got = by_kind["sbom"]
        assert (got.digest, got.artifact_type) == (sbom, SPDX)
        api = from_api(client, repo, signed.digest)
        if _serves_api(any_rig):
            # the API lists the SBOM (with the config's type: read from its manifest instead)
            assert [r.digest for r in api or []] == [sbom]
            assert got.found == FOUND_API
        else:
            # 2.8, registry:3, crane's registry: no referrers API (404): the tag schema's index
            assert api is None
            assert got.found == FOUND_TAG_INDEX
            assert got.tag == f"sha256-{signed.digest.removeprefix('sha256:')}"

        # the same as oras sees (oras knows the referrers API and tag schema, not cosign's tags)
        oracle = discover(any_rig, any_rig.ref(repo, signed.digest))
        ours = [r for r in found if r.found != FOUND_COSIGN]
        assert sorted((d["digest"], d["size"]) for d in oracle) == sorted(
            (r.digest, r.size) for r in ours
        )
        for d in oracle:  # go-containerregistry's API says the empty config's type (see above)
            assert d["artifactType"] in (SPDX, OCI_EMPTY if _serves_api(any_rig) else SPDX)

        # the artifact-type filter
        assert [r.digest for r in referrers(client, repo, signed.digest, SPDX)] == [sbom]
        assert [r.digest for r in referrers(client, repo, signed.digest, SIMPLESIGNING)] == [
            sig.digest
        ]
        assert referrers(client, repo, signed.digest, "application/vnd.example+json") == []

        # an image with nothing attached
        assert referrers(client, repo, plain.digest) == []

        # the tag list, classified: the referrer tags belong to the signed image
        mapped = referrer_tags(client.tags(repo))
        assert list(mapped) == [signed.digest]
        assert sorted(t.suffix or "" for t in mapped[signed.digest]) == ["", "att", "sig"]

    # the signature regkit found is the one cosign verifies
    verify(any_rig, keys, any_rig.ref(repo, "v1"))
    assert verify(any_rig, keys, any_rig.ref(repo, "v2"), check=False).returncode != 0


# -- regkit inspect shows what is attached -------------------------------------------------


def test_inspect_shows_what_is_attached(
    inspect_rig: AnyRig, repo_prefix: str, keys: KeyPair, tmp_path: Path
) -> None:
    repo = f"{repo_prefix}/shown"
    pusher = inspect_rig.pusher()
    signed = pusher.push_image(repo, ["v1"], layer_size=64)
    pusher.push_image(repo, ["v2"], layer_size=64)
    sign(inspect_rig, keys, inspect_rig.ref(repo, signed.digest))
    sbom = attach(inspect_rig, inspect_rig.ref(repo, signed.digest), _sbom(tmp_path))
    hexpart = signed.digest.removeprefix("sha256:")

    out = regkit("inspect", "-o", "json", inspect_rig.ref(repo, "v1"), env=inspect_rig.env())
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    check_schema("inspect", doc)
    # the referrer tags are not tags of the image
    assert doc["tags"] == ["v1"]
    assert doc["attached"] == {"signature": 1, "attestation": 0, "sbom": 1, "other": 0}
    kinds = {r["kind"]: r for r in doc["referrers"]}
    assert sorted(kinds) == ["sbom", "signature"]
    assert kinds["sbom"]["digest"] == sbom
    assert kinds["sbom"]["artifact_type"] == SPDX
    assert kinds["sbom"]["found"] == (FOUND_API if _serves_api(inspect_rig) else FOUND_TAG_INDEX)
    assert kinds["signature"]["tag"] == f"sha256-{hexpart}.sig"
    assert kinds["signature"]["artifact_type"] == SIMPLESIGNING

    table = regkit("inspect", "--no-trunc", inspect_rig.ref(repo, "v1"), env=inspect_rig.env())
    assert table.returncode == 0, table.stderr.decode()
    text = table.stdout.decode()
    attached = next(line for line in text.splitlines() if line.startswith("ATTACHED"))
    assert "signed" in attached and "1 SBOM" in attached, attached
    assert sbom in text.split("REFERRER", 1)[1]
    md = regkit("inspect", "-o", "markdown", inspect_rig.ref(repo, "v1"), env=inspect_rig.env())
    assert md.returncode == 0, md.stderr.decode()
    rows = [line for line in md.stdout.decode().splitlines() if sbom in line]
    assert len(rows) == 1 and "sbom" in rows[0], rows

    bare = regkit("inspect", "-o", "json", inspect_rig.ref(repo, "v2"), env=inspect_rig.env())
    assert bare.returncode == 0, bare.stderr.decode()
    plain = json.loads(bare.stdout)
    check_schema("inspect", plain)
    assert plain["referrers"] == []
    assert plain["attached"] == {"signature": 0, "attestation": 0, "sbom": 0, "other": 0}
    text = regkit("inspect", inspect_rig.ref(repo, "v2"), env=inspect_rig.env()).stdout.decode()
    assert "REFERRER" not in text
    assert next(line for line in text.splitlines() if line.startswith("ATTACHED")).split()[1:] == [
        "-"
    ]
