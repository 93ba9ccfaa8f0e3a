"""An image's referrers travel with it (issue 23): promote, copy --referrers, sync --referrers.

The oracle is the real signing tools: ``cosign verify --key`` passes in the NEW repository after
the image was promoted, copied or synced there, and ``oras discover`` lists the SBOM attached
to it there. On distribution 2.8 and registry:3 (the tag schemes: cosign's ``.sig`` tag and the
referrers tag schema's ``sha256-<hex>`` index), crane's registry (the same, not distribution)
and go-containerregistry's registry with the referrers API (the ``subject`` is enough).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clirun import regkit
from tests.rig import Rig
from tests.rig.cosign import KeyPair, generate_key_pair, require_cosign, sign, verify
from tests.rig.cranereg import CraneRig
from tests.rig.oras import attach, discover, require_oras
from tests.rig.referrersreg import start_referrers_rig

AnyRig = Rig | CraneRig

RIGS = {
    "2.8": "rig_basic",
    "3": "rig_basic_v3",
    "crane": "rig_crane",
    "referrers-api": "rig_referrers_api",
}


@pytest.fixture(scope="module")
def rig_referrers_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CraneRig]:
    rig = start_referrers_rig(tmp_path_factory.mktemp("rig-referrers-api"))
    try:
        yield rig
    finally:
        rig.close()


@pytest.fixture(params=list(RIGS), ids=["v2.8", "v3", "crane", "referrers-api"])
def signed_rig(request: pytest.FixtureRequest) -> AnyRig:
    rig: AnyRig = request.getfixturevalue(RIGS[request.param])
    rig.ensure_running()
    return rig


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyPair]:
    require_cosign()
    require_oras()
    yield generate_key_pair(tmp_path_factory.mktemp("cosign-keys"))


def _signed_image(rig: AnyRig, repo: str, keys: KeyPair, tmp_path: Path) -> tuple[str, str]:
    """An image tagged v1 in ``repo``, signed with cosign and with an oras SBOM: (digest,
    the SBOM's digest)."""
    pushed = rig.pusher().push_image(repo, ["v1"], layer_size=64)
    sign(rig, keys, rig.ref(repo, pushed.digest))
    sbom = tmp_path / "sbom.spdx.json"
    sbom.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "regkit-test"}))
    return pushed.digest, attach(rig, rig.ref(repo, pushed.digest), sbom)


def _sboms(rig: AnyRig, ref: str) -> list[str]:
    return sorted(d["digest"] for d in discover(rig, ref))


def test_promote_to_another_repository_brings_the_signature_and_sbom(
    signed_rig: AnyRig, repo_prefix: str, keys: KeyPair, tmp_path: Path
) -> None:
    rig = signed_rig
    src, dst, bare = f"{repo_prefix}/src", f"{repo_prefix}/released", f"{repo_prefix}/bare"
    digest, sbom = _signed_image(rig, src, keys, tmp_path)

    out = regkit("promote", "-o", "json", rig.ref(src, "v1"), f"{dst}:v1", env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    assert doc["digest"] == digest
    assert doc["referrers"]["copied"] == {"signature": 1, "attestation": 0, "sbom": 1, "other": 0}
    verify(rig, keys, rig.ref(dst, "v1"))
    assert _sboms(rig, rig.ref(dst, digest)) == [sbom]
    # a rerun writes nothing new and still verifies
    again = regkit("promote", rig.ref(src, "v1"), f"{dst}:v1", env=rig.env())
    assert again.returncode == 0, again.stderr.decode()
    verify(rig, keys, rig.ref(dst, "v1"))

    # --no-referrers: the image alone, which then does not verify there
    out = regkit("promote", "--no-referrers", rig.ref(src, "v1"), f"{bare}:v1", env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    assert verify(rig, keys, rig.ref(bare, "v1"), check=False).returncode != 0
    assert discover(rig, rig.ref(bare, digest)) == []

    # the table says what came along
    text = regkit("promote", rig.ref(src, "v1"), f"{dst}:v2", env=rig.env())
    assert text.returncode == 0, text.stderr.decode()
    assert "1 signature" in text.stdout.decode() and "1 SBOM" in text.stdout.decode()


def test_copy_and_sync_with_referrers_verify_in_the_new_repository(
    signed_rig: AnyRig, repo_prefix: str, keys: KeyPair, tmp_path: Path
) -> None:
    rig = signed_rig
    src = f"{repo_prefix}/src"
    digest, sbom = _signed_image(rig, src, keys, tmp_path)
    rig.pusher().push_image(src, ["plain"], layer_size=64)

    copied = f"{repo_prefix}/copied"
    out = regkit("copy", "--referrers", rig.ref(src, "v1"), rig.ref(copied, "v1"), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    verify(rig, keys, rig.ref(copied, "v1"))
    assert _sboms(rig, rig.ref(copied, digest)) == [sbom]

    synced = f"{repo_prefix}/synced"
    out = regkit("sync", "--referrers", "-o", "json", rig.ref(src), rig.ref(synced), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    # the referrer tags are not synced as images: they come with theirs
    assert sorted(i["tag"] for i in doc["tags"]) == ["plain", "v1"]
    assert doc["referrers"]["copied"]["signature"] == 1
    assert doc["referrers"]["copied"]["sbom"] == 1
    verify(rig, keys, rig.ref(synced, "v1"))
    assert _sboms(rig, rig.ref(synced, digest)) == [sbom]
    assert verify(rig, keys, rig.ref(synced, "plain"), check=False).returncode != 0
    # a second sync copies nothing again
    out = regkit("sync", "--referrers", "-o", "json", rig.ref(src), rig.ref(synced), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    assert doc["created"] == 0 and doc["updated"] == 0
    assert sum(doc["referrers"]["copied"].values()) == 0
    verify(rig, keys, rig.ref(synced, "v1"))


def test_the_api_promotes_and_syncs_with_referrers(
    rig_basic_v3: Rig, repo_prefix: str, keys: KeyPair, tmp_path: Path
) -> None:
    from regkit import api

    rig = rig_basic_v3
    src = f"{repo_prefix}/src"
    digest, sbom = _signed_image(rig, src, keys, tmp_path)
    with api.connect(rig.host, username=rig.username, password=rig.password) as reg:
        done = api.promote(reg, f"{src}:v1", [f"{repo_prefix}/api-promoted:v1"])
        assert dict(done.referrers_copied) == {
            "signature": 1,
            "attestation": 0,
            "sbom": 1,
            "other": 0,
        }
        report = api.sync(reg, src, f"{repo_prefix}/api-synced", referrers=True)
        assert [i.tag for i in report.items] == ["v1"]
        assert dict(report.referrers_copied)["signature"] == 1
    for repo in ("api-promoted", "api-synced"):
        verify(rig, keys, rig.ref(f"{repo_prefix}/{repo}", "v1"))
        assert _sboms(rig, rig.ref(f"{repo_prefix}/{repo}", digest)) == [sbom]


def test_the_promote_action_summary_says_what_came_with_the_image(
    basic_rig: Rig, repo_prefix: str, keys: KeyPair, tmp_path: Path
) -> None:
    import os

    rig = basic_rig
    src, dst = f"{repo_prefix}/app", f"{repo_prefix}/released"
    digest, sbom = _signed_image(rig, src, keys, tmp_path)
    summary, outputs = tmp_path / "summary.md", tmp_path / "output"
    summary.write_text("")
    outputs.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update(
        {
            "DOCKER_CONFIG": str(tmp_path / "empty-docker-config"),
            "REGISTRY_USERNAME": rig.username or "",
            "REGISTRY_PASSWORD": rig.password or "",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "workflow_dispatch",
            "GITHUB_REPOSITORY": "octo/app",
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(summary),
            "INPUT_IMAGE": src,
            "INPUT_REGISTRY": rig.host,
            "INPUT_SOURCE": "v1",
            "INPUT_TARGETS": f"{dst}:v1",
        }
    )
    run = regkit("action", "promote", env=env)
    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()
    text = summary.read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| Attached")]
    assert "1 signature" in row and "1 SBOM" in row and "2 copied" in row, row
    verify(rig, keys, rig.ref(dst, "v1"))
    assert _sboms(rig, rig.ref(dst, digest)) == [sbom]


@pytest.mark.parametrize(
    ("source_rig", "target_rig"),
    [("rig_referrers_api", "rig_basic_v3"), ("rig_basic_v3", "rig_crane")],
    ids=["api-to-v3", "v3-to-crane"],
)
def test_promote_to_another_registry_keeps_what_is_attached(
    request: pytest.FixtureRequest,
    source_rig: str,
    target_rig: str,
    repo_prefix: str,
    keys: KeyPair,
    tmp_path: Path,
) -> None:
    """Across registries the blobs are streamed; from a registry with the referrers API to one
    without it, the SBOM (listed by the API only) gets the referrers tag schema's index in the
    target, so oras still finds it there."""
    src_rig: AnyRig = request.getfixturevalue(source_rig)
    dst_rig: AnyRig = request.getfixturevalue(target_rig)
    src_rig.ensure_running()
    dst_rig.ensure_running()
    repo = f"{repo_prefix}/app"
    digest, sbom = _signed_image(src_rig, repo, keys, tmp_path)
    # the credentials of whichever rig has them (the other answers anonymously)
    env = dst_rig.env() if dst_rig.username else src_rig.env()
    out = regkit("promote", src_rig.ref(repo, "v1"), dst_rig.ref(repo, "v1"), env=env)
    assert out.returncode == 0, out.stderr.decode()
    assert "1 signature, 1 SBOM: 2 copied" in out.stdout.decode(), out.stdout.decode()
    verify(dst_rig, keys, dst_rig.ref(repo, "v1"))
    assert _sboms(dst_rig, dst_rig.ref(repo, digest)) == [sbom]


@pytest.mark.parametrize("kind", ["3", "referrers-api"], ids=["v3", "referrers-api"])
def test_a_referrer_of_a_referrer_comes_along(
    kind: str,
    request: pytest.FixtureRequest,
    repo_prefix: str,
    keys: KeyPair,
    tmp_path: Path,
) -> None:
    """A signed SBOM (cosign's ``.sig`` on the SBOM's digest) and an attestation attached to
    the SBOM (oras, with ``subject``: the SBOM) travel with the image: ``cosign verify`` of the
    SBOM passes in the new repository and ``oras discover`` lists the SBOM's attestation
    there, after promote, copy --referrers and sync --referrers."""
    rig: AnyRig = request.getfixturevalue(RIGS[kind])
    rig.ensure_running()
    src = f"{repo_prefix}/src"
    digest, sbom = _signed_image(rig, src, keys, tmp_path)
    sign(rig, keys, rig.ref(src, sbom))
    statement = tmp_path / "statement.json"
    statement.write_text(json.dumps({"_type": "https://in-toto.io/Statement/v1"}))
    att = attach(rig, rig.ref(src, sbom), statement, artifact_type="application/vnd.in-toto+json")

    for verb, dst in (
        ("promote", f"{repo_prefix}/promoted"),
        ("copy", f"{repo_prefix}/copied"),
        ("sync", f"{repo_prefix}/synced"),
    ):
        if verb == "promote":
            args = ["promote", rig.ref(src, "v1"), f"{dst}:v1"]
        elif verb == "copy":
            args = ["copy", "--referrers", rig.ref(src, "v1"), rig.ref(dst, "v1")]
        else:
            args = ["sync", "--referrers", rig.ref(src), rig.ref(dst)]
        out = regkit(*args, env=rig.env())
        assert out.returncode == 0, (verb, out.stderr.decode())
        verify(rig, keys, rig.ref(dst, "v1"))
        assert _sboms(rig, rig.ref(dst, digest)) == [sbom], verb
        cp = verify(rig, keys, rig.ref(dst, sbom), check=False)
        assert cp.returncode == 0, (verb, cp.stderr.decode())
        assert _sboms(rig, rig.ref(dst, sbom)) == [att], verb


def _chain(rig: Rig, repo: str, subject: str, levels: int, seed: int = 100) -> list[str]:
    """``levels`` referrers, each (cosign's tag scheme) the signature of the one above it."""
    out: list[str] = []
    for n in range(levels):
        tag = f"sha256-{subject.removeprefix('sha256:')}.sig"
        subject = rig.pusher().push_image(repo, [tag], layer_size=16, seed=seed + n).digest
        out.append(subject)
    return out


def test_referrer_chains_are_followed_to_their_limit_and_a_listed_loop_ends(
    rig_basic_v3: Rig, repo_prefix: str
) -> None:
    """``MAX_REFERRER_DEPTH`` (4) levels of referrers below an image come with it; a fifth ends
    the copy with the limit's one error line; a registry that names the image again as a
    referrer of its referrer (a loop, which content addressing cannot make but a tag can
    claim) is not followed twice."""
    from regkit import defaults
    from tests.rig import crane

    rig = rig_basic_v3
    rig.ensure_running()
    assert defaults.MAX_REFERRER_DEPTH == 4
    src = f"{repo_prefix}/deep"
    img = rig.pusher().push_image(src, ["v1"], layer_size=32)
    chain = _chain(rig, src, img.digest, 4)
    dst = f"{repo_prefix}/deep-copy"
    out = regkit("copy", "--referrers", rig.ref(src, "v1"), rig.ref(dst, "v1"), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    for digest in chain:
        assert crane(rig, "manifest", rig.ref(dst, digest), check=False).returncode == 0

    chain += _chain(rig, src, chain[-1], 1, seed=200)  # the fifth level
    dst = f"{repo_prefix}/too-deep"
    out = regkit("copy", "--referrers", rig.ref(src, "v1"), rig.ref(dst, "v1"), env=rig.env())
    err = out.stderr.decode()
    assert out.returncode == 1, err
    assert err.count("\n") == 1 and "more than 4 levels below the image" in err, err
    assert "Traceback" not in err

    loop = f"{repo_prefix}/loop"
    img = rig.pusher().push_image(loop, ["v1"], layer_size=32, seed=7)
    (first,) = _chain(rig, loop, img.digest, 1, seed=300)
    crane(rig, "tag", rig.ref(loop, img.digest), f"sha256-{first.removeprefix('sha256:')}.sig")
    dst = f"{repo_prefix}/loop-copy"
    out = regkit("copy", "--referrers", rig.ref(loop, "v1"), rig.ref(dst, "v1"), env=rig.env())
    assert out.returncode == 0, out.stderr.decode()
    assert crane(rig, "manifest", rig.ref(dst, first), check=False).returncode == 0


def test_a_promote_dry_run_counts_the_referrers_of_referrers_it_would_copy(
    rig_basic_v3: Rig, repo_prefix: str, keys: KeyPair, tmp_path: Path
) -> None:
    """The dry run says what the promote then copies: the image's signature and SBOM, and the
    SBOM's own signature."""
    rig = rig_basic_v3
    rig.ensure_running()
    src, dst = f"{repo_prefix}/src", f"{repo_prefix}/released"
    _digest, sbom = _signed_image(rig, src, keys, tmp_path)
    sign(rig, keys, rig.ref(src, sbom))
    args = ("promote", "-o", "json", rig.ref(src, "v1"), f"{dst}:v1")
    dry = regkit(*args, "--dry-run", env=rig.env())
    assert dry.returncode == 0, dry.stderr.decode()
    found = json.loads(dry.stdout)["referrers"]["found"]
    assert (found["signature"], found["sbom"]) == (2, 1), found
    real = regkit(*args, env=rig.env())
    assert real.returncode == 0, real.stderr.decode()
    copied = json.loads(real.stdout)["referrers"]["copied"]
    assert (copied["signature"], copied["sbom"]) == (2, 1), copied
