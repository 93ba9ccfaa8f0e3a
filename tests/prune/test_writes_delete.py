"""``regkit delete`` (issue 12 §2) on the real registry (distribution 2.8, both shapes), checked
with crane: a digest delete previews the tags that go, asks on a terminal, needs --yes
otherwise, and has --dry-run; a tag delete on a manifest's only tag deletes the manifest."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator

import pytest

from regkit.cli import main
from tests.rig import Rig, crane


def state(rig: Rig, repo: str) -> dict[str, str]:
    tags = crane(rig, "ls", rig.ref(repo)).stdout.decode().split()
    return {t: crane(rig, "digest", rig.ref(repo, t)).stdout.decode().strip() for t in tags}


@pytest.fixture
def cli_env(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    monkeypatch.setenv("DOCKER_CONFIG", str(rig.docker_config))
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    yield ["--ca-file", str(rig.ca_file)] if rig.ca_file else []


def test_delete_by_digest_previews_and_needs_yes(
    rig: Rig, repo_prefix: str, cli_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    a = pusher.push_image(repo, ["aaaaaaa"], "oci")
    b = pusher.push_image(repo, ["bbbbbbb", "latest", "v1"], "docker")
    before = state(rig, repo)
    ref = rig.ref(repo, b.digest)

    # no terminal, no --yes: refused before anything changes, naming what would go
    assert main(["delete", ref, *cli_env]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"regkit: error: deleting {ref} would also remove its tags bbbbbbb, latest, v1 and "
        "there is no terminal to confirm: pass --yes to delete, or --dry-run to see what "
        "would go\n"
    )
    assert state(rig, repo) == before

    assert main(["delete", ref, "--dry-run", *cli_env]) == 0
    out, err = capsys.readouterr()
    assert out == f"would delete {ref} and its tags: bbbbbbb, latest, v1\n"
    assert err == "regkit: dry run: nothing deleted\n"
    assert state(rig, repo) == before

    assert main(["delete", ref, "--yes", *cli_env]) == 0
    out, _ = capsys.readouterr()
    assert out == f"deleted {ref} (tags removed with it: bbbbbbb, latest, v1)\n"
    assert state(rig, repo) == {"aaaaaaa": a.digest}


def test_delete_by_digest_asks_on_a_terminal(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    pusher.push_image(repo, ["aaaaaaa"], "oci")
    b = pusher.push_image(repo, ["bbbbbbb", "latest"], "oci")
    ref = rig.ref(repo, b.digest)
    args = [sys.executable, "-m", "regkit", "delete", ref]
    if rig.ca_file:
        args += ["--ca-file", str(rig.ca_file)]
    for answer, code in (("n\n", 1), ("y\n", 0)):
        master, slave = pty.openpty()
        try:
            os.write(master, answer.encode())
            cp = subprocess.run(
                args, stdin=slave, capture_output=True, env=rig.env(), timeout=60, check=False
            )
        finally:
            os.close(master)
            os.close(slave)
        assert cp.returncode == code, cp.stderr.decode()
        assert f"Delete {ref} and its tags bbbbbbb, latest? [y/N] " in cp.stderr.decode()
        tags = rig.pusher().tags(repo)
        assert ("latest" in tags) == (answer == "n\n")


def test_delete_of_a_manifests_only_tag_deletes_the_manifest(
    rig: Rig, repo_prefix: str, cli_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    a = pusher.push_image(repo, ["aaaaaaa", "latest"], "oci-index")
    b = pusher.push_image(repo, ["bbbbbbb"], "oci")

    assert main(["delete", rig.ref(repo, "bbbbbbb"), *cli_env]) == 0
    out, _ = capsys.readouterr()
    assert out == (
        f"deleted {rig.host}/{repo}:bbbbbbb and its manifest {b.digest} (no other tag "
        "pointed at it)\n"
    )
    assert pusher.manifest_status(repo, b.digest) == 404  # nothing left untagged behind
    assert state(rig, repo) == {"aaaaaaa": a.digest, "latest": a.digest}

    assert main(["delete", rig.ref(repo, "latest"), *cli_env]) == 0
    out, _ = capsys.readouterr()
    assert out == (
        f"removed tag {rig.host}/{repo}:latest; manifest {a.digest} stays with its other "
        "tags: aaaaaaa\n"
    )
    assert state(rig, repo) == {"aaaaaaa": a.digest}
    assert pusher.manifest_status(repo, a.digest) == 200
