"""regkit inspect against the real rig, for the four image kinds and an index with an
attestation; every fact crane can tell (digest, manifest, config, tags by digest) compared."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.actions.test_gha import unescape_markdown
from tests.clirun import regkit
from tests.rig import PRODUCTION, Rig, rig_shapes
from tests.rig.crane import crane
from tests.rig.images import make_layer, sha256_digest
from tests.schemas import check_schema

KINDS = ("oci", "docker", "oci-index", "docker-list")
CREATED = datetime(2026, 2, 23, 22, 38, 17, tzinfo=UTC)
LABELS = {
    "org.opencontainers.image.source": "https://example.com/team/api",
    "org.opencontainers.image.version": "1.2.3",
}


def _crane_json(rig: Rig, *args: str) -> dict:
    return json.loads(crane(rig, *args).stdout)


@pytest.mark.parametrize("kind", KINDS)
@rig_shapes(PRODUCTION)
def test_inspect_tells_what_crane_tells(rig: Rig, repo_prefix: str, kind: str) -> None:
    repo = f"{repo_prefix}/{kind}"
    pusher = rig.pusher()
    image = pusher.push_image(
        repo, ["1a2b3c4", "latest"], kind, created=CREATED, description="API", labels=LABELS
    )  # type: ignore[arg-type]
    pusher.push_image(repo, ["other"], "oci")  # another digest: not among the tags shown
    out = regkit("inspect", "-o", "json", rig.ref(repo, "latest"), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    check_schema("inspect", doc)

    assert doc["digest"] == crane(rig, "digest", rig.ref(repo, "latest")).stdout.decode().strip()
    tags_at_digest = sorted(
        t
        for t in crane(rig, "ls", f"{rig.host}/{repo}").stdout.decode().split()
        if crane(rig, "digest", rig.ref(repo, t)).stdout.decode().strip() == doc["digest"]
    )
    assert doc["tags"] == tags_at_digest == ["1a2b3c4", "latest"]
    assert doc["created"] == "2026-02-23T22:38:17Z"
    assert doc["revision"] == image.revision
    assert doc["source"] == LABELS["org.opencontainers.image.source"]
    assert doc["version"] == "1.2.3"
    assert doc["description"] == "API"
    assert doc["attestations"] == []

    top = _crane_json(rig, "manifest", rig.ref(repo, "latest"))
    assert doc["media_type"] == top["mediaType"]
    if image.is_index:
        expected = [(m["platform"], m["digest"]) for m in top["manifests"]]
        expected = [(f"{p['os']}/{p['architecture']}", d) for p, d in expected]
        assert [(p["platform"], p["digest"]) for p in doc["platforms"]] == expected
    else:
        assert [p["digest"] for p in doc["platforms"]] == [doc["digest"]]
        assert doc["platforms"][0]["platform"] == "linux/amd64"
    for p in doc["platforms"]:
        ref = f"{rig.host}/{repo}@{p['digest']}"
        manifest = _crane_json(rig, "manifest", ref)
        assert p["config_digest"] == manifest["config"]["digest"]
        assert p["layer_count"] == len(manifest["layers"])
        assert [x["size"] for x in p["layers"]] == [x["size"] for x in manifest["layers"]]
        assert [x["digest"] for x in p["layers"]] == [x["digest"] for x in manifest["layers"]]
        assert p["size"] == manifest["config"]["size"] + sum(x["size"] for x in manifest["layers"])
        config = crane(rig, "config", ref).stdout
        assert sha256_digest(config) == p["config_digest"]
        cfg = json.loads(config)
        assert p["platform"] == f"{cfg['os']}/{cfg['architecture']}"


@rig_shapes(PRODUCTION)
def test_inspect_shows_attestations_apart(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/att"
    pusher = rig.pusher()
    image = pusher.push_image(repo, ["base"], "oci-index", created=CREATED)
    layer = make_layer(512)
    attestation = pusher.push_platform_manifest(
        repo,
        "unknown/unknown",
        docker=False,
        config_created="2026-02-23T22:38:17Z",
        labels={},
        layers=[layer],
    )
    amd64 = image.manifest_for("linux/amd64")
    index = json.loads(image.raw)
    index["manifests"].append(
        {
            "mediaType": attestation.media_type,
            "digest": attestation.digest,
            "size": attestation.size,
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": amd64.digest,
            },
        }
    )
    raw = json.dumps(index).encode()
    digest = pusher.put_manifest(repo, "v1", raw, image.media_type)

    out = regkit("inspect", "--json", rig.ref(repo, "v1"), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    check_schema("inspect", doc)
    assert doc["digest"] == digest
    assert [p["platform"] for p in doc["platforms"]] == ["linux/amd64", "linux/arm64"]
    assert doc["attestations"] == [
        {
            "digest": attestation.digest,
            "size": attestation.size,
            "media_type": attestation.media_type,
            "subject": amd64.digest,
        }
    ]
    table = regkit("inspect", "--no-trunc", rig.ref(repo, "v1"), env=rig.env())
    assert table.returncode == 0
    text = table.stdout.decode()
    assert f"{attestation.digest}" in text.split("ATTESTATION", 1)[1]
    assert "unknown/unknown" not in text


@rig_shapes(PRODUCTION)
def test_inspect_table_and_platform_choice(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/multi"
    rig.pusher().push_image(repo, ["v1"], "oci-index", created=CREATED, description="multi")
    out = regkit("--platform", "linux/arm64", "inspect", rig.ref(repo, "v1"), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    lines = out.stdout.decode().splitlines()
    assert "LABELS OF    linux/arm64" in lines
    assert "CREATED      2026-02-23 22:38:17 UTC" in lines
    assert "DESCRIPTION  multi" in lines
    assert out.stderr == b""


@rig_shapes(PRODUCTION)
def test_inspect_missing_tag_is_one_line(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/gone"
    rig.pusher().push_image(repo, ["v1"])
    out = regkit("inspect", rig.ref(repo, "nope"), env=rig.env())
    assert out.returncode == 1
    assert out.stderr.decode() == (
        f"regkit: error: {rig.host}/{repo}:nope not found on {rig.host}; "
        f"list the tags with 'regkit ls {rig.host}/{repo}'\n"
    )
    assert out.stdout == b""


@rig_shapes(PRODUCTION)
def test_inspect_escapes_registry_text(rig: Rig, repo_prefix: str) -> None:
    """A label is registry data: control characters reach no terminal (JSON keeps them exact)."""
    repo = f"{repo_prefix}/evil"
    hostile = "line one\r::error::x\x1b[31mred\nline two"
    rig.pusher().push_image(repo, ["v1"], description=hostile)
    for fmt in ("table", "markdown"):
        out = regkit("inspect", "-o", fmt, rig.ref(repo, "v1"), env=rig.env())
        assert out.returncode == 0, out.stderr
        text = out.stdout.decode()
        assert "\x1b" not in text and "\r" not in text
        # markdown: as a reader sees it (issue 21: every cell is inert Markdown, \\[ shows [)
        shown = text if fmt == "table" else unescape_markdown(text)
        assert "line one\\r::error::x\\x1b[31mred\\nline two" in shown
    doc = json.loads(regkit("inspect", "--json", rig.ref(repo, "v1"), env=rig.env()).stdout)
    assert doc["description"] == hostile
