"""regkit.imagemeta, the one place for labels, created time, platform choice and attestations;
and overview, prune and promote agreeing through it (they had a copy each and disagreed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from regkit import imagemeta
from regkit.ops import ConnectOptions, connect
from regkit.ops.promote import image_facts
from regkit.ops.prune.fetch import created_of as prune_created_of
from regkit.registry.manifest import OCI_INDEX, OCI_MANIFEST, Manifest, sha256_digest
from tests.clirun import regkit
from tests.rig import PRODUCTION, Rig, rig_shapes
from tests.rig.images import build_index, make_layer


def _m(media_type: str, body: dict[str, object]) -> Manifest:
    raw = json.dumps(body).encode()
    return Manifest(raw, media_type, sha256_digest(raw))


def _annotated(media_type: str, created: str | None) -> Manifest:
    body: dict[str, object] = {"schemaVersion": 2, "mediaType": media_type, "manifests": []}
    if media_type == OCI_MANIFEST:
        body = {"schemaVersion": 2, "mediaType": media_type, "layers": []}
    if created:
        body["annotations"] = {imagemeta.CREATED_LABEL: created}
    return _m(media_type, body)


def test_created_order_is_label_config_image_index() -> None:
    label = {"config": {"Labels": {imagemeta.CREATED_LABEL: "2026-01-01T00:00:00Z"}}}
    config = {"created": "2026-02-01T00:00:00Z"}
    image = _annotated(OCI_MANIFEST, "2026-03-01T00:00:00Z")
    index = _annotated(OCI_INDEX, "2026-04-01T00:00:00Z")
    day = lambda m: datetime(2026, m, 1, tzinfo=UTC)  # noqa: E731
    assert imagemeta.created_of({**label, **config}, image, index) == day(1)
    assert imagemeta.created_of(config, image, index) == day(2)
    assert imagemeta.created_of({}, image, index) == day(3)
    assert imagemeta.created_of({}, _annotated(OCI_MANIFEST, None), index) == day(4)
    assert imagemeta.created_of({"created": "garbage"}, None, None) is None
    # prune reads the same order
    found = prune_created_of(index, image, {})
    assert found is not None and found.when == day(3)


def test_attestations_are_not_platforms() -> None:
    index = _m(
        OCI_INDEX,
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "digest": "sha256:" + "a" * 64,
                    "size": 1,
                    "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                },
                {
                    "digest": "sha256:" + "b" * 64,
                    "size": 1,
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
                {
                    "digest": "sha256:" + "c" * 64,
                    "size": 1,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
                },
            ],
        },
    )
    assert imagemeta.platforms_of(index) == ["linux/arm64/v8", "linux/amd64"]
    assert [c.digest[7] for c in imagemeta.attestations(index)] == ["c"]
    assert imagemeta.pick_platform(index).digest[7] == "b"  # type: ignore[union-attr]
    assert imagemeta.pick_platform(index, "linux/arm64").digest[7] == "a"  # type: ignore[union-attr]
    assert imagemeta.pick_platform(index, "linux/s390x") is None


@rig_shapes(PRODUCTION)
def test_promote_labels_are_those_overview_shows(rig: Rig, repo_prefix: str) -> None:
    """An index listing arm64 first: overview shows linux/amd64's created; promote's summary
    read the labels of the first child (arm64) and showed another time."""
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    children = [
        pusher.push_platform_manifest(
            repo,
            platform,
            docker=False,
            config_created=created,
            labels={imagemeta.CREATED_LABEL: created},
            layers=[make_layer(256)],
        )
        for platform, created in (
            ("linux/arm64", "2026-01-01T00:00:00Z"),
            ("linux/amd64", "2026-02-02T00:00:00Z"),
        )
    ]
    raw = build_index(False, children)
    pusher.put_manifest(repo, "v1", raw, OCI_INDEX)
    overview = json.loads(regkit("overview", rig.ref(repo), "-o", "json", env=rig.env()).stdout)
    assert overview["repositories"][0]["tags"][0]["created"] == "2026-02-02T00:00:00Z"
    options = ConnectOptions(
        username=rig.username, password=rig.password, ca_file=str(rig.ca_file or "") or None
    )
    with connect(rig.host, options) as client:
        top = client.get_manifest(repo, "v1")
        facts = image_facts(client, repo, top)
    assert facts.created is not None
    assert facts.created.strftime("%Y-%m-%dT%H:%M:%SZ") == "2026-02-02T00:00:00Z"
