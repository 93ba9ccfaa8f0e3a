"""``regkit check`` against the real registry: damage planted in the registry's own storage
(the way a crashed disk or an unsafe garbage collection leaves it) must be found, each kind
with its reason, and a healthy registry must pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clirun import regkit
from tests.rig import PushedImage, Rig
from tests.schemas import check_schema

V2 = Path("docker/registry/v2")


def blob_data(rig: Rig, digest: str) -> Path:
    hexd = digest.removeprefix("sha256:")
    return rig.storage_dir / V2 / "blobs/sha256" / hexd[:2] / hexd / "data"


def revision_link(rig: Rig, repo: str, digest: str) -> Path:
    hexd = digest.removeprefix("sha256:")
    return (
        rig.storage_dir / V2 / "repositories" / repo / "_manifests/revisions/sha256" / hexd / "link"
    )


def check(rig: Rig, *args: str) -> tuple[int, str, str]:
    done = regkit("check", *args, env=rig.env())
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def push_three(rig: Rig, prefix: str) -> dict[str, PushedImage]:
    pusher = rig.pusher()
    return {
        "single": pusher.push_image(f"{prefix}/single", ["v1", "latest"], "oci", layers=2),
        "multi": pusher.push_image(f"{prefix}/multi", ["1a2b3c4", "latest"], "oci-index"),
        "docker": pusher.push_image(f"{prefix}/docker", ["5d6e7f8"], "docker-list"),
    }


def test_check_healthy_registry_passes(rig: Rig, repo_prefix: str) -> None:
    push_three(rig, repo_prefix)
    repos = [rig.ref(f"{repo_prefix}/{n}") for n in ("single", "multi", "docker")]
    code, out, err = check(rig, *repos)
    assert (code, err) == (0, "")
    assert out == f"5 tags in 3 repositories of {rig.host}: every image is whole\n"

    code, out, _ = check(rig, *repos, "-o", "json")
    doc = json.loads(out)
    check_schema("check", doc)
    assert code == 0 and doc["ok"] is True and doc["broken"] == [] and doc["checked"] == 5
    assert doc["orphans"] is None  # not knowable without the storage
    assert sorted((i["repository"], i["tag"]) for i in doc["images"]) == sorted(
        [
            (f"{repo_prefix}/single", "v1"),
            (f"{repo_prefix}/single", "latest"),
            (f"{repo_prefix}/multi", "1a2b3c4"),
            (f"{repo_prefix}/multi", "latest"),
            (f"{repo_prefix}/docker", "5d6e7f8"),
        ]
    )


Plant = Callable[[Rig, str, dict[str, PushedImage]], tuple[str, str]]


def missing_layer(rig: Rig, prefix: str, images: dict[str, PushedImage]) -> tuple[str, str]:
    layer = images["single"].layers[1]
    blob_data(rig, layer.digest).unlink()
    return f"single:v1: layer {layer.digest}: missing", f"single:latest: layer {layer.digest}"


def missing_child(rig: Rig, prefix: str, images: dict[str, PushedImage]) -> tuple[str, str]:
    child = images["multi"].manifest_for("linux/arm64")
    revision_link(rig, f"{prefix}/multi", child.digest).unlink()
    line = f"multi:1a2b3c4: platform manifest (linux/arm64) {child.digest}: missing"
    return line, "multi:latest: platform manifest (linux/arm64)"


def missing_config(rig: Rig, prefix: str, images: dict[str, PushedImage]) -> tuple[str, str]:
    config = images["docker"].manifest_for("linux/amd64").config
    blob_data(rig, config.digest).unlink()
    return f"docker:5d6e7f8: config (linux/amd64) {config.digest}: missing", "docker:5d6e7f8"


def truncated_layer(rig: Rig, prefix: str, images: dict[str, PushedImage]) -> tuple[str, str]:
    layer = images["single"].layers[0]
    path = blob_data(rig, layer.digest)
    path.write_bytes(path.read_bytes()[:100])
    line = f"single:v1: layer {layer.digest}: size 100, the manifest says {layer.size}"
    return line, "single:latest: layer"


@pytest.mark.parametrize(
    "plant",
    [missing_layer, missing_child, missing_config, truncated_layer],
    ids=lambda f: f.__name__,
)
@pytest.mark.parametrize("version", ["3", "2.8"])
def test_check_finds_planted_damage(
    rig_factory: Callable[..., Rig], plant: Plant, version: str
) -> None:
    rig = rig_factory("basic", version=version)
    images = push_three(rig, "team")
    line, other = plant(rig, "team", images)

    code, out, err = check(rig, "--all-repos", rig.host)
    assert code == 1
    assert f"BROKEN {rig.host}/team/{line}\n" in out
    assert f"BROKEN {rig.host}/team/{other}" in out
    broken = [x for x in out.splitlines() if x.startswith("BROKEN")]
    assert len(broken) == (1 if plant is missing_config else 2)  # only the damaged image
    assert out.splitlines()[-1] == (
        f"5 tags in 3 repositories of {rig.host}: {1 if plant is missing_config else 2} broken"
    )
    assert err.startswith("regkit: error: ") and err.count("\n") == 1
    assert "Traceback" not in err

    doc = json.loads(check(rig, "--all-repos", rig.host, "-o", "json")[1])
    check_schema("check", doc)
    assert doc["ok"] is False
    assert {(b["repository"], b["tag"]) for b in doc["broken"]} == {
        ("team/" + x.split(":")[0], x.split(":")[1]) for x in broken_names(line, other)
    }


def broken_names(line: str, other: str) -> set[str]:
    return {":".join(s.split(":")[:2]) for s in (line, other)}


@pytest.mark.parametrize("version", ["3", "2.8"])
def test_check_reports_untagged_image_manifests_no_index_lists(
    rig_factory: Callable[..., Rig], version: str
) -> None:
    rig = rig_factory("basic", version=version)
    pusher = rig.pusher()
    tagged = pusher.push_image("team/app", ["v1"], "oci-index")
    # An untagged index: its children are referenced, so they are not orphans.
    pusher.push_image("team/app", [], "oci-index")
    # An untagged single-platform image no index lists: an orphan.
    orphan = pusher.push_image("team/app", [], "oci")
    # A platform manifest of the tagged index whose index went (an unsafe delete): an orphan.
    lost = pusher.push_image("team/app", ["old"], "oci-index")
    pusher.delete_manifest("team/app", lost.digest)

    code, out, _ = check(rig, rig.ref("team/app"), "--storage", str(rig.storage_dir))
    assert code == 0
    untagged = sorted(x for x in out.splitlines() if x.startswith("UNTAGGED"))
    expected = sorted([orphan.digest, *lost.children])
    assert untagged == [
        f"UNTAGGED {rig.host}/team/app@{d}: an image manifest no tag names and no index lists"
        for d in expected
    ]
    assert tagged.children[0] not in out
    doc = json.loads(
        check(rig, rig.ref("team/app"), "--storage", str(rig.storage_dir), "--json")[1]
    )
    check_schema("check", doc)
    assert sorted(o["digest"] for o in doc["orphans"]) == expected
    assert out.splitlines()[-1].endswith(
        "every image is whole; 3 untagged image manifest(s) no index lists"
    )


def test_check_refuses_a_directory_that_is_not_registry_storage(rig: Rig, tmp_path: Path) -> None:
    code, _out, err = check(rig, "--all-repos", rig.host, "--storage", str(tmp_path))
    assert code == 2
    assert err == (
        f"regkit: error: {tmp_path} is not a registry's storage directory (no docker/registry/v2 "
        "inside); pass the filesystem driver's rootdirectory, e.g. /var/lib/docker-registry\n"
    )


def test_check_unknown_repository_is_an_error(rig: Rig, repo_prefix: str) -> None:
    code, out, err = check(rig, rig.ref(f"{repo_prefix}/nothing"))
    assert (code, out) == (1, "")
    assert f"repository {repo_prefix}/nothing not found on {rig.host}" in err


def test_check_usage_errors() -> None:
    done = regkit("check")
    assert done.returncode == 2
    assert b"name at least one repository (HOST/REPO) or pass --all-repos HOST" in done.stderr
    done = regkit("check", "127.0.0.1:1/app:v1")
    assert done.returncode == 2
    assert b"check takes repositories: drop the tag or digest" in done.stderr
    assert (
        b"regkit check --all-repos registry.example.com -o json" in regkit("check", "--help").stdout
    )


def test_check_markdown_lists_the_damage(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory("basic")
    images = push_three(rig, "team")
    layer = images["single"].layers[1]
    blob_data(rig, layer.digest).unlink()
    code, out, _ = check(rig, rig.ref("team/single"), "-o", "markdown")
    assert code == 1
    assert out == (
        f"### check {rig.host}\n\n"
        "| REPOSITORY | TAG | PART | DIGEST | PROBLEM |\n|---|---|---|---|---|\n"
        f"| team/single | latest | layer | {layer.digest} | missing |\n"
        f"| team/single | v1 | layer | {layer.digest} | missing |\n\n"
        f"2 tags in 1 repository of {rig.host}: 2 broken\n"
    )
