"""The overview's pure part: facts from manifests and configs, sorting, rendering."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from regkit.ops.overview import (
    ImageFacts,
    Overview,
    RepositoryOverview,
    build_rows,
    image_facts,
    render_json,
    render_markdown,
    render_table,
)
from regkit.registry.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    sha256_digest,
)


def _manifest(media_type: str, body: dict[str, object]) -> Manifest:
    raw = json.dumps(body).encode()
    return Manifest(raw, media_type, sha256_digest(raw))


def _image(media_type: str, config_digest: str, layers: list[tuple[int, int]]) -> Manifest:
    """An image manifest; ``layers`` are (layer id, size): equal ids are the same blob."""
    return _manifest(
        media_type,
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": "x", "digest": config_digest, "size": 100},
            "layers": [
                {"mediaType": "l", "digest": f"sha256:{i:064x}", "size": size} for i, size in layers
            ],
        },
    )


CFG = "sha256:" + "c" * 64
CFG_ARM = "sha256:" + "d" * 64


def test_single_image_facts_from_labels() -> None:
    m = _image(OCI_MANIFEST, CFG, [(1, 1000), (2, 2000)])
    configs = {
        CFG: {
            "os": "linux",
            "architecture": "amd64",
            "created": "2020-01-01T00:00:00Z",
            "config": {
                "Labels": {
                    "org.opencontainers.image.created": "2026-02-23 22:38:17",
                    "org.opencontainers.image.description": "Fix login redirect",
                }
            },
        }
    }
    facts = image_facts(m, {}, configs)
    assert facts.created == datetime(2026, 2, 23, 22, 38, 17, tzinfo=UTC)  # label wins, as UTC
    assert facts.platforms == ("linux/amd64",)
    assert facts.size == 3100
    assert facts.description == "Fix login redirect"


def test_config_created_when_no_label() -> None:
    m = _image(DOCKER_MANIFEST, CFG, [(1, 10)])
    facts = image_facts(m, {}, {CFG: {"created": "2025-05-01T10:00:00.123456789Z"}})
    assert facts.created == datetime(2025, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert facts.description is None


def test_index_shows_one_platform_amd64_by_default() -> None:
    amd = _image(OCI_MANIFEST, CFG, [(1, 1000), (2, 500)])
    arm = _image(OCI_MANIFEST, CFG_ARM, [(1, 1000), (3, 700)])  # first layer shared with amd64
    for media_type in (OCI_INDEX, DOCKER_LIST):
        index = _manifest(
            media_type,
            {
                "schemaVersion": 2,
                "mediaType": media_type,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": arm.digest,
                        "size": len(arm.raw),
                        "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                    },
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": amd.digest,
                        "size": len(amd.raw),
                        "platform": {"os": "linux", "architecture": "amd64"},
                    },
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": "sha256:" + "e" * 64,
                        "size": 10,
                        "platform": {"os": "unknown", "architecture": "unknown"},
                    },
                ],
            },
        )
        configs = {
            CFG: {"config": {"Labels": {"org.opencontainers.image.description": "amd"}}},
            CFG_ARM: {"config": {"Labels": {"org.opencontainers.image.description": "arm"}}},
        }
        children = {amd.digest: amd, arm.digest: arm}
        facts = image_facts(index, children, configs)
        assert facts.platforms == ("linux/arm64/v8", "linux/amd64")
        assert facts.description == "amd"
        # SIZE is what an amd64 client pulls: its config and layers, nothing of arm64's
        assert facts.size == 100 + 1000 + 500
        facts = image_facts(index, children, configs, "linux/arm64")
        assert (facts.description, facts.size) == ("arm", 100 + 1000 + 700)
        # the platform's manifest could not be read: size and description unknown, not wrong
        facts = image_facts(index, {arm.digest: arm}, configs)
        assert (facts.size, facts.description) == (None, None)
        assert facts.platforms == ("linux/arm64/v8", "linux/amd64")
        # a platform the index does not have
        facts = image_facts(index, children, configs, "linux/s390x")
        assert (facts.size, facts.description) == (None, None)


def test_rows_newest_first_unknown_last() -> None:
    old = ImageFacts(datetime(2024, 1, 1, tzinfo=UTC), ("linux/amd64",), 1, "old")
    new = ImageFacts(datetime(2026, 1, 1, tzinfo=UTC), ("linux/amd64",), 1, "new")
    unknown = ImageFacts(None, (), None, None)
    rows = build_rows(
        {"b": "sha256:1", "a": "sha256:2", "latest": "sha256:2", "z": "sha256:3"},
        {"sha256:1": old, "sha256:2": new, "sha256:3": unknown},
    )
    assert [r.tag for r in rows] == ["a", "latest", "b", "z"]


def test_renderings() -> None:
    facts = ImageFacts(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), ("linux/amd64",), 2048, "a|b")
    ov = Overview(
        "r.io",
        (
            RepositoryOverview(
                "team/app",
                build_rows({"1a2b3c4": "sha256:" + "f" * 64}, {"sha256:" + "f" * 64: facts}),
            ),
            RepositoryOverview("empty", ()),
        ),
    )
    data = json.loads(render_json(ov))
    assert data == {
        "registry": "r.io",
        "repositories": [
            {
                "name": "team/app",
                "tags": [
                    {
                        "tag": "1a2b3c4",
                        "digest": "sha256:" + "f" * 64,
                        "created": "2026-01-02T03:04:05Z",
                        "platforms": ["linux/amd64"],
                        "size": 2048,
                        "description": "a|b",
                    }
                ],
            },
            {"name": "empty", "tags": []},
        ],
    }
    table = render_table(ov)
    assert "1a2b3c4  sha256:ffffffffffff  2026-01-02 03:04:05  linux/amd64  2.0 KiB  a|b" in table
    assert "(no tags)" in table
    md = render_markdown(ov)
    assert (
        "| 1a2b3c4 | sha256:ffffffffffff | 2026-01-02 03:04:05 | linux/amd64 | 2.0 KiB | a\\|b |"
        in md
    )
