"""promote, tag and copy never move an exact release tag (``v1.2.3``, ``1.2.3``) to another
digest without --force (issue 12 §2), on the real registry (both shapes), checked with crane.
``latest`` and aliases (``v1``, ``v1.2``) move as before; a rerun stays ``unchanged``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from regkit.cli import main
from tests.rig import PRODUCTION, Rig, crane, rig_shapes


def state(rig: Rig, repo: str) -> dict[str, str]:
    tags = crane(rig, "ls", rig.ref(repo)).stdout.decode().split()
    return {t: crane(rig, "digest", rig.ref(repo, t)).stdout.decode().strip() for t in tags}


@pytest.fixture
def cli_env(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    monkeypatch.setenv("DOCKER_CONFIG", str(rig.docker_config))
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    yield ["--ca-file", str(rig.ca_file)] if rig.ca_file else []


def test_release_tag_shapes() -> None:
    from regkit.ops.promote import is_release_tag

    for tag in ("v1.2.3", "1.2.3", "v0.0.0", "v10.20.30", "v1.2.3-rc.1", "1.0.0-beta"):
        assert is_release_tag(tag), tag
    for tag in ("latest", "v1", "v1.2", "1.2", "main", "v1.2.3.4", "abc1234", "v01.2.3", "V1.2.3"):
        assert not is_release_tag(tag), tag


@rig_shapes(PRODUCTION)
def test_release_tag_never_moves_without_force(
    rig: Rig, repo_prefix: str, cli_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = f"{repo_prefix}/app"
    pusher = rig.pusher()
    a = pusher.push_image(repo, ["aaaaaaa"], "oci")
    b = pusher.push_image(repo, ["bbbbbbb"], "oci-index")
    name = f"{rig.host}/{repo}"
    targets = ["v1.2.3", "1.2.3", "v1.2", "v1", "latest"]

    assert main(["promote", f"{name}:aaaaaaa", *targets, *cli_env]) == 0
    capsys.readouterr()
    released = state(rig, repo)
    assert {t: released[t] for t in targets} == dict.fromkeys(targets, a.digest)

    # another digest onto the release tags: refused, nothing written (not even the aliases)
    assert main(["promote", f"{name}:bbbbbbb", *targets, *cli_env]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"regkit: error: refusing to move the release tags {name}:v1.2.3, {name}:1.2.3 from "
        f"{a.digest} to {b.digest}: a published version must not change; nothing was written; "
        "pass --force to move them\n"
    )
    assert state(rig, repo) == released

    # tag and copy take the same rule
    assert main(["tag", f"{name}:bbbbbbb", "v1.2.3", *cli_env]) == 1
    assert "refusing to move the release tag" in capsys.readouterr().err
    assert main(["copy", f"{name}:bbbbbbb", f"{name}:1.2.3", *cli_env]) == 1
    assert "refusing to move the release tag" in capsys.readouterr().err
    assert state(rig, repo) == released

    # the aliases and latest alone move as before
    assert main(["promote", f"{name}:bbbbbbb", "v1.2", "v1", "latest", *cli_env]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[1:] == [
        f"{name}:v1.2    moved from {a.digest}",
        f"{name}:v1      moved from {a.digest}",
        f"{name}:latest  moved from {a.digest}",
    ]

    # --force moves them, naming the tags still on the old digest
    assert main(["promote", f"{name}:bbbbbbb", *targets, "--force", *cli_env]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        b.digest,
        f"{name}:v1.2.3  moved from {a.digest} (still on it: aaaaaaa)",
        f"{name}:1.2.3   moved from {a.digest} (still on it: aaaaaaa)",
        f"{name}:v1.2    unchanged",
        f"{name}:v1      unchanged",
        f"{name}:latest  unchanged",
    ]
    assert state(rig, repo) == {
        "aaaaaaa": a.digest,
        **dict.fromkeys(["bbbbbbb", *targets], b.digest),
    }

    # a rerun with the same digest writes nothing and needs no --force
    assert main(["promote", f"{name}:bbbbbbb", *targets, *cli_env]) == 0
    out, _ = capsys.readouterr()
    assert all(line.endswith("unchanged") for line in out.splitlines()[1:])
    assert main(["tag", f"{name}:aaaaaaa", "v1.2.3", "--force", *cli_env]) == 0
    assert state(rig, repo)["v1.2.3"] == a.digest
