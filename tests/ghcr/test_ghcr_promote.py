"""Promote on the local GHCR: by digest, every platform and attestation kept (what
``docker pull/tag/push`` loses), through Bearer tokens from the GHCR token endpoint; blobs
mounted between packages of one owner, streamed from another owner's package."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest

from regkit.cli import main
from tests.ghcr_fixtures import SECRETS, crane_pull, docker_config, ghcr, pusher
from tests.ghcr_images import push_build, push_history
from tests.ghcrfake import FakeGHCR
from tests.leakscan import assert_no_secrets
from tests.rig.images import Pusher

__all__ = ["ghcr", "pusher"]

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_promote_within_a_package_keeps_every_platform_and_attestation(
    ghcr: FakeGHCR, pusher: Pusher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = push_build(pusher, "acme/iac-dev", SHA, _when(), seed=5)
    assert main(["promote", f"{ghcr.host}/acme/iac-dev:{SHA}", "latest", "--json"]) == 0
    out, err = capsys.readouterr()
    assert_no_secrets({"stdout": out, "stderr": err}, list(SECRETS))
    assert json.loads(out)["digest"] == build.index
    assert ghcr.tags_by_digest("acme/iac-dev")[build.index] == [SHA, "latest"]
    # No new version: latest is a tag on the same index version, its 4 children untouched.
    assert len(ghcr.versions("acme/iac-dev")) == 5
    pulled = crane_pull(
        ghcr, "acme/iac-dev:latest", docker_config(tmp_path / "d", ghcr.host), tmp_path / "o"
    )
    assert pulled.returncode == 0, pulled.stderr
    index = json.loads((tmp_path / "o" / "index.json").read_text())
    (entry,) = index["manifests"]
    assert entry["digest"] == build.index


def test_promote_to_another_package_of_the_owner_mounts_blobs(
    ghcr: FakeGHCR, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    build = push_build(pusher, "acme/iac-dev", SHA, _when(), seed=6)
    mark = len(ghcr.registry_requests)
    assert main(["promote", f"{ghcr.host}/acme/iac-dev:{SHA}", "acme/release:v1.0.0"]) == 0
    capsys.readouterr()
    versions = {v["name"] for v in ghcr.versions("acme/release")}
    assert versions == set(build.manifests)
    # (a 401 is the challenge before the token: answered by the front, not the registry)
    uploads = [r for r in ghcr.registry_requests[mark:] if r.method == "POST" and r.status != 401]
    assert uploads and all("mount=" in r.path and r.status == 201 for r in uploads)
    assert not [r for r in ghcr.registry_requests[mark:] if r.method == "PATCH"]


def test_promote_from_a_package_the_token_cannot_mount_from_streams(
    ghcr: FakeGHCR, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    """A public package of another owner: readable, not mountable into ours (mounts work
    between packages of one owner); the blobs are streamed through regkit."""
    ghcr.public.add("other/base")
    build = push_build(pusher, "other/base", "v1", _when(), seed=7)
    assert main(["promote", f"{ghcr.host}/other/base:v1", f"{ghcr.host}/acme/base:v1"]) == 0
    capsys.readouterr()
    assert {v["name"] for v in ghcr.versions("acme/base")} == set(build.manifests)
    posts = [r for r in ghcr.registry_requests if r.method == "POST" and r.status != 401]
    assert posts and all(r.status == 202 for r in posts)  # mounts refused: uploads opened
    # every blob streamed: a completed upload (PUT ...&digest=, 201) per blob
    streamed = {
        unquote(r.path.split("digest=")[1].split("&")[0])
        for r in ghcr.registry_requests
        if r.method == "PUT" and "/blobs/uploads/" in r.path and r.status == 201
    }
    assert streamed == _blobs(pusher, "other/base", build.children)


def test_promote_without_write_permission_fails_in_one_line(
    ghcr: FakeGHCR,
    pusher: Pusher,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.ghcrfake import Token

    ghcr.tokens["ghp_readonly0000000000000000000000000000"] = Token(
        "reader", frozenset({"acme"}), write=False, admin=False
    )
    monkeypatch.setenv("REGISTRY_PASSWORD", "ghp_readonly0000000000000000000000000000")
    push_history(pusher, "acme/iac-dev", [SHA])
    code = main(["promote", f"{ghcr.host}/acme/iac-dev:{SHA}", "latest"])
    out, err = capsys.readouterr()
    assert code == 1
    (line,) = [line for line in err.splitlines() if line.startswith("regkit: error:")]
    assert "denied access" in line and "'permissions: packages: write'" in line
    assert "latest" not in {t for ts in ghcr.tags_by_digest("acme/iac-dev").values() for t in ts}
    assert_no_secrets({"stdout": out, "stderr": err}, ["ghp_readonly0000000000000000000000000000"])


def _blobs(pusher: Pusher, repo: str, manifests: tuple[str, ...]) -> set[str]:
    out = set()
    for digest in manifests:
        m = json.loads(pusher.get_manifest(repo, digest)[0])
        out |= {m["config"]["digest"], *(layer["digest"] for layer in m["layers"])}
    return out


def _when() -> datetime:
    return datetime(2026, 2, 1, tzinfo=UTC)
