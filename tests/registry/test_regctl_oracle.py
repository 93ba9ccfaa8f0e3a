"""regctl (regclient) as a second oracle beside crane, on 2.8 and registry:3, both shapes.

Where regctl's output is meant to be the registry's bytes (``manifest get --format raw-body``,
``image config --format raw-body``, ``image digest``), regkit's ``manifest``, ``config`` and
``digest`` print the same bytes; ``regctl tag ls`` lists the same tags (regctl sorts them;
2.8 answers in storage order, so they are compared sorted). Removing one tag: ``regkit delete
REPO:TAG`` and ``regctl tag rm`` leave the same tags on the same digests, each in its own
copy of one repository (tag DELETE on registry:3; a throw-away manifest on 2.8, for both).
"""

from __future__ import annotations

import pytest

from tests.clirun import regkit
from tests.rig import KINDS, PRODUCTION, Kind, PushedImage, Rig, regctl, rig_shapes


def _ours(rig: Rig, *args: str) -> bytes:
    out = regkit(*args, env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    assert out.stderr == b""
    return out.stdout


def _theirs(rig: Rig, *args: str) -> bytes:
    out = regctl(rig, *args)
    assert out.stderr == b"", out.stderr.decode()
    return out.stdout


@pytest.mark.parametrize("kind", KINDS)
@rig_shapes(PRODUCTION)
def test_verbs_match_regctl_byte_for_byte(rig: Rig, repo_prefix: str, kind: Kind) -> None:
    repo = f"{repo_prefix}/{kind}"
    image = rig.pusher().push_image(repo, ["1a2b3c4", "latest"], kind)
    ref = rig.ref(repo, "1a2b3c4")
    by_digest = rig.ref(repo, image.digest)

    manifest = _ours(rig, "manifest", ref)
    assert manifest == image.raw
    assert _theirs(rig, "manifest", "get", ref, "--format", "raw-body") == manifest
    assert _theirs(rig, "manifest", "get", by_digest, "--format", "raw-body") == manifest
    digest = _ours(rig, "digest", ref)
    assert digest == image.digest.encode() + b"\n"
    assert _theirs(rig, "image", "digest", ref) == digest
    config = _ours(rig, "config", ref)
    assert _theirs(rig, "image", "config", ref, "--format", "raw-body") == config
    listed = _ours(rig, "ls", rig.ref(repo))
    assert sorted(_theirs(rig, "tag", "ls", rig.ref(repo)).split()) == sorted(listed.split())
    assert sorted(listed.split()) == [b"1a2b3c4", b"latest"]
    if image.is_index:
        arm64 = image.manifest_for("linux/arm64")
        platform = ("--platform", "linux/arm64")
        ours = _ours(rig, "manifest", *platform, ref)
        assert ours == arm64.raw
        assert _theirs(rig, "manifest", "get", *platform, ref, "--format", "raw-body") == ours
        ours = _ours(rig, "config", *platform, ref)
        assert ours == arm64.config.data
        assert _theirs(rig, "image", "config", *platform, ref, "--format", "raw-body") == ours
    else:
        assert image.config is not None and config == image.config.data


def _state(rig: Rig, repo: str) -> dict[str, str]:
    """tag -> digest, read with regctl."""
    tags = _theirs(rig, "tag", "ls", rig.ref(repo)).decode().split()
    return {t: _theirs(rig, "image", "digest", rig.ref(repo, t)).decode().strip() for t in tags}


def _push_pair(rig: Rig, repo: str) -> tuple[PushedImage, PushedImage]:
    """The same content in a repository: an index tagged 1a2b3c4, latest and v1.0.0, and an
    image tagged 5d6e7f8 (identical digests in every copy)."""
    pusher = rig.pusher()
    shared = pusher.push_image(repo, ["1a2b3c4", "latest", "v1.0.0"], "oci-index", seed=1)
    other = pusher.push_image(repo, ["5d6e7f8"], "oci", seed=2)
    return shared, other


def test_tag_removal_agrees_with_regctl_tag_rm(rig: Rig, repo_prefix: str) -> None:
    ours_repo, theirs_repo = f"{repo_prefix}/ours", f"{repo_prefix}/theirs"
    shared, other = _push_pair(rig, ours_repo)
    again = _push_pair(rig, theirs_repo)
    assert (again[0].digest, again[1].digest) == (shared.digest, other.digest)
    rig.mark()

    out = regkit("delete", rig.ref(ours_repo, "1a2b3c4"), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode() == (
        f"removed tag {rig.host}/{ours_repo}:1a2b3c4; manifest {shared.digest} "
        "stays with its other tags: latest, v1.0.0\n"
    )
    _theirs(rig, "tag", "rm", rig.ref(theirs_repo, "1a2b3c4"))

    expected = {"latest": shared.digest, "v1.0.0": shared.digest, "5d6e7f8": other.digest}
    assert _state(rig, ours_repo) == _state(rig, theirs_repo) == expected
    # the shared index is whole in both: every platform manifest still answers
    for repo in (ours_repo, theirs_repo):
        for child in shared.children:
            assert rig.pusher().manifest_status(repo, child) == 200
    writes = {r.method for r in rig.requests() if r.method not in ("GET", "HEAD")}
    if rig.version == "3":
        assert writes == {"DELETE"}  # a tag DELETE each, nothing pushed
    else:
        assert {"PUT", "DELETE"} <= writes  # both push a throw-away manifest, then delete it
