"""regkit promote / tag / copy against real registries (both rig shapes), checked with crane."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from regkit.cli import main
from regkit.dockerconfig import Credentials
from regkit.ops import ConnectOptions, connect
from regkit.ops.promote import parse_source, parse_targets, promote
from regkit.registry import RegistryClient
from regkit.registry.client import CHUNK_SIZE
from tests.rig import KINDS, PRODUCTION, Kind, PushedImage, Rig, crane, rig_shapes
from tests.rig.shapes import write_docker_config

UPLOAD_METHODS = {"PUT", "PATCH", "POST", "DELETE"}


class CLI:
    """``regkit ...`` in-process against one or two rigs, with their credentials."""

    def __init__(self, capsys: pytest.CaptureFixture[str], ca_file: Path | None) -> None:
        self.capsys = capsys
        self.ca_file = ca_file

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        extra = ["--ca-file", str(self.ca_file)] if self.ca_file else []
        rc = main([args[0], *extra, *args[1:]])
        out, err = self.capsys.readouterr()
        return rc, out, err


@pytest.fixture
def cli(rig: Rig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CLI:
    monkeypatch.setenv("DOCKER_CONFIG", str(rig.docker_config))
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    return CLI(capsys, rig.ca_file)


@pytest.fixture
def two_rigs(
    rig_basic: Rig,
    rig_tls: Rig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Rig, Rig, CLI]]:
    """The basic rig as source, the tls rig as target; one Docker config for both."""
    for r in (rig_basic, rig_tls):
        r.ensure_running()
    config_dir = tmp_path / "docker"
    write_docker_config(config_dir, rig_basic.host, *rig_basic.credentials)
    data = json.loads((config_dir / "config.json").read_text())
    write_docker_config(config_dir, rig_tls.host, *rig_tls.credentials)
    data["auths"].update(json.loads((config_dir / "config.json").read_text())["auths"])
    (config_dir / "config.json").write_text(json.dumps(data))
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    rig_basic.mark()
    rig_tls.mark()
    yield rig_basic, rig_tls, CLI(capsys, rig_tls.ca_file)


def digest_of(rig: Rig, ref: str) -> str:
    return crane(rig, "digest", ref).stdout.decode().strip()


def manifest_of(rig: Rig, ref: str) -> bytes:
    return crane(rig, "manifest", ref).stdout


def writes(rig: Rig) -> list[tuple[str, str, int]]:
    return [(r.method, r.path, r.status) for r in rig.requests() if r.method in UPLOAD_METHODS]


def push(rig: Rig, repo: str, kind: Kind = "oci", **kw: object) -> PushedImage:
    return rig.pusher().push_image(repo, "1a2b3c4", kind, **kw)  # type: ignore[arg-type]


def assert_same_image(rig: Rig, image: PushedImage, repo: str, tag: str) -> None:
    """crane: the target has the source digest and bytes; every child of an index is there."""
    ref = rig.ref(repo, tag)
    assert digest_of(rig, ref) == image.digest
    assert manifest_of(rig, ref) == image.raw
    for child in image.children:
        assert digest_of(rig, rig.ref(repo, child)) == child


# -- every image kind, same repository, another repository ----------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@rig_shapes(PRODUCTION)
def test_promote_every_kind(rig: Rig, repo_prefix: str, cli: CLI, kind: Kind) -> None:
    image = push(rig, f"{repo_prefix}/app", kind)
    src = rig.ref(image.repo, "1a2b3c4")
    rc, out, err = cli("promote", src, "v1.2.3", "latest", f"{repo_prefix}/prod:v1.2.3")
    assert (rc, err) == (0, "")
    host = rig.host
    assert out.splitlines() == [
        image.digest,
        f"{host}/{repo_prefix}/app:v1.2.3   created",
        f"{host}/{repo_prefix}/app:latest   created",
        f"{host}/{repo_prefix}/prod:v1.2.3  created",
    ]
    for repo, tag in (
        (image.repo, "v1.2.3"),
        (image.repo, "latest"),
        (f"{repo_prefix}/prod", "v1.2.3"),
    ):
        assert_same_image(rig, image, repo, tag)
    for child in image.children:  # the source's children are untouched too
        assert digest_of(rig, rig.ref(image.repo, child)) == child


@rig_shapes(PRODUCTION)
def test_move_then_rerun_writes_nothing(rig: Rig, repo_prefix: str, cli: CLI) -> None:
    repo = f"{repo_prefix}/app"
    old = rig.pusher().push_image(repo, "0000001", "oci-index")
    rig.pusher().tag(old, ["latest"])
    new = push(rig, repo, "oci-index")
    rc, out, _ = cli("promote", rig.ref(repo, "1a2b3c4"), "latest", "--json")
    assert rc == 0
    data = json.loads(out)
    assert data["promoted"] is True
    assert data["targets"][0]["action"] == "move"
    assert data["targets"][0]["old_digest"] == old.digest
    assert digest_of(rig, rig.ref(repo, "latest")) == new.digest

    rig.mark()
    rc, out, _ = cli("promote", rig.ref(repo, "1a2b3c4"), "latest", "--json")
    assert rc == 0
    data = json.loads(out)
    assert (data["promoted"], data["targets"][0]["action"]) == (False, "unchanged")
    assert writes(rig) == []
    methods = {r.method for r in rig.requests()}
    assert methods <= {"GET", "HEAD"}


@rig_shapes(PRODUCTION)
def test_dry_run_prints_the_plan_and_writes_nothing(rig: Rig, repo_prefix: str, cli: CLI) -> None:
    repo = f"{repo_prefix}/app"
    old = rig.pusher().push_image(repo, "latest", "oci")
    image = push(rig, repo, "docker")
    rig.mark()
    rc, out, err = cli("promote", rig.ref(repo, "1a2b3c4"), "latest", "v1", "--dry-run")
    assert rc == 0
    assert out.splitlines() == [
        image.digest,
        f"{rig.ref(repo, 'latest')}  move from {old.digest}",
        f"{rig.ref(repo, 'v1')}      create",
    ]
    assert "nothing was written" in err
    assert writes(rig) == []
    assert digest_of(rig, rig.ref(repo, "latest")) == old.digest
    assert crane(rig, "digest", rig.ref(repo, "v1"), check=False).returncode != 0


@rig_shapes(PRODUCTION)
def test_wrong_expect_digest_writes_nothing(rig: Rig, repo_prefix: str, cli: CLI) -> None:
    image = push(rig, f"{repo_prefix}/app", "oci-index")
    wrong = "sha256:" + "0" * 64
    rig.mark()
    rc, out, err = cli(
        "promote", rig.ref(image.repo, "1a2b3c4"), "v1", "other:v1", "--expect-digest", wrong
    )
    assert (rc, out) == (1, "")
    assert err == (
        f"regkit: error: source {rig.ref(image.repo, '1a2b3c4')} is {image.digest}, not the "
        f"expected {wrong}; it changed since it was tested, nothing was promoted\n"
    )
    assert writes(rig) == []
    rc, out, _ = cli(
        "promote", rig.ref(image.repo, "1a2b3c4"), "v1", "--expect-digest", image.digest
    )
    assert rc == 0 and out.splitlines()[1].endswith("created")


@pytest.mark.parametrize(
    "bad",
    [
        ["v1", ".bad"],
        ["v1", "Upper/Case:v1"],
        ["v1", "repo@sha256:" + "a" * 64],
        ["v1", "--expect-digest", "sha256:xyz"],
    ],
)
@rig_shapes(PRODUCTION)
def test_invalid_input_refused_before_any_request(
    rig: Rig, repo_prefix: str, cli: CLI, bad: list[str]
) -> None:
    rig.mark()
    rc, out, err = cli("promote", rig.ref(f"{repo_prefix}/app", "1a2b3c4"), *bad)
    assert (rc, out) == (2, "")
    assert err.startswith("regkit: error: invalid ") and err.count("\n") == 1
    assert rig.requests() == []


@rig_shapes(PRODUCTION)
def test_missing_source_is_one_line_error(rig: Rig, repo_prefix: str, cli: CLI) -> None:
    rig.pusher().push_image(f"{repo_prefix}/app", "other", "oci")
    rig.mark()
    rc, out, err = cli("promote", rig.ref(f"{repo_prefix}/app", "nosuch"), "v1")
    assert (rc, out) == (1, "")
    assert err.startswith(f"regkit: error: source {rig.ref(f'{repo_prefix}/app', 'nosuch')} does")
    assert writes(rig) == []


# -- cross-repository: mounts, and the fallback when a mount is refused ---------------------------


@rig_shapes("basic", PRODUCTION)
def test_cross_repository_mounts_and_uploads_no_blob_bytes(
    rig: Rig, repo_prefix: str, cli: CLI
) -> None:
    image = push(rig, f"{repo_prefix}/src", "docker-list", layers=2, layer_size=512 * 1024)
    rig.mark()
    rc, _, _ = cli("promote", rig.ref(image.repo, "1a2b3c4"), f"{repo_prefix}/dst:v1")
    assert rc == 0
    assert_same_image(rig, image, f"{repo_prefix}/dst", "v1")
    blobs = {b.digest for m in image.manifests for b in (m.config, *m.layers)}
    requests = rig.requests()
    mounts = [r for r in requests if r.method == "POST" and "mount=" in r.path]
    assert len(mounts) == len(blobs) and {r.status for r in mounts} == {201}
    assert [
        r for r in requests if "/blobs/uploads/" in r.path and r.method in ("PUT", "PATCH")
    ] == []
    if rig.shape == "tls":  # nginx logs request bytes: all requests together are tiny
        sent = sum(r.request_length or 0 for r in requests)
        assert sent < image.content_size / 10, (sent, image.content_size)


class RefusingClient(RegistryClient):
    """A real client whose mounts of some blobs name a repository that does not hold them, so
    the real registry refuses the mount (202, an upload session) exactly as it would for a
    blob the user may not read."""

    refuse: frozenset[str] = frozenset()

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        if digest in self.refuse:
            from_repository = "t/empty-nothing-here"
        return super().mount_blob(repository, digest, from_repository)


@rig_shapes("basic", PRODUCTION)
def test_refused_mount_falls_back_to_streaming(rig: Rig, repo_prefix: str) -> None:
    image = push(rig, f"{repo_prefix}/src", "oci-index", layers=2, layer_size=64 * 1024)
    refused = {image.manifests[0].layers[0].digest, image.manifests[1].config.digest}
    ca_file = str(rig.ca_file) if rig.ca_file else None

    def connector(host: str) -> RegistryClient:
        client = RefusingClient(
            host, credentials=Credentials(*rig.credentials), ca_file=ca_file, jobs=4
        )
        client.refuse = frozenset(refused)
        return client

    source = parse_source(rig.ref(image.repo, "1a2b3c4"))
    rig.mark()
    result = promote(source, parse_targets([f"{repo_prefix}/dst:v1"], source), connector)
    assert result.stats.mount_refused == 2
    assert result.stats.uploaded == 2
    assert result.stats.mounted == len(image.manifests) * 3 - 2
    assert_same_image(rig, image, f"{repo_prefix}/dst", "v1")
    requests = rig.requests()
    refused_mounts = [r for r in requests if "mount=" in r.path and r.status == 202]
    assert len(refused_mounts) == 2
    uploads = [r for r in requests if r.method == "PUT" and "/blobs/uploads/" in r.path]
    assert len(uploads) == 2 and {r.status for r in uploads} == {201}


# -- cross-registry --------------------------------------------------------------------------------


def test_cross_registry_preserves_digests(two_rigs: tuple[Rig, Rig, CLI], repo_prefix: str) -> None:
    src_rig, dst_rig, cli = two_rigs
    image = push(src_rig, f"{repo_prefix}/app", "oci-index", layers=2, layer_size=256 * 1024)
    src_rig.mark()
    target = dst_rig.ref(f"{repo_prefix}/mirror", "v1")
    rc, out, err = cli("promote", src_rig.ref(image.repo, "1a2b3c4"), target, "--json")
    assert (rc, err) == (0, "")
    data = json.loads(out)
    assert data["blobs"]["uploaded"] == len(image.manifests) * 3
    assert data["blobs"]["uploaded_bytes"] == image.content_size
    assert_same_image(dst_rig, image, f"{repo_prefix}/mirror", "v1")

    # another tag there: every blob is already present, nothing is uploaded again
    rc, out, _ = cli(
        "promote",
        src_rig.ref(image.repo, "1a2b3c4"),
        dst_rig.ref(f"{repo_prefix}/mirror", "v2"),
        "--json",
    )
    blobs = json.loads(out)["blobs"]
    assert (blobs["uploaded"], blobs["skipped"]) == (0, len(image.manifests) * 3)
    assert digest_of(dst_rig, dst_rig.ref(f"{repo_prefix}/mirror", "v2")) == image.digest
    assert writes(src_rig) == []  # the source registry is only read


def test_cross_registry_streams_without_holding_a_layer_in_memory(
    two_rigs: tuple[Rig, Rig, CLI], repo_prefix: str
) -> None:
    src_rig, dst_rig, _ = two_rigs
    size = 24 * 1024 * 1024  # several of the client's 4 MiB chunks
    image = push(src_rig, f"{repo_prefix}/big", "oci", layer_size=size)
    layer = image.layers[0]
    assert layer.size > size  # random data does not compress
    source = parse_source(src_rig.ref(image.repo, "1a2b3c4"))
    targets = parse_targets([dst_rig.ref(f"{repo_prefix}/big", "v1")], source)
    options = ConnectOptions(ca_file=str(dst_rig.ca_file), jobs=4)
    tracemalloc.start()
    try:
        result = promote(source, targets, lambda host: connect(host, options))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.stats.uploaded_bytes == image.content_size
    assert digest_of(dst_rig, dst_rig.ref(f"{repo_prefix}/big", "v1")) == image.digest
    # Bounded by the client's chunk size (httpx's chunker holds about 3 chunks, plus the one
    # being sent), not by the layer: a layer read whole would need more than its own size.
    bound = min(5 * CHUNK_SIZE, layer.size)
    assert peak < bound, f"peak {peak} bytes while copying a {layer.size} byte layer"


def test_target_registry_without_credentials_writes_nothing(
    two_rigs: tuple[Rig, Rig, CLI], repo_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src_rig, dst_rig, cli = two_rigs
    image = push(src_rig, f"{repo_prefix}/app", "oci")
    monkeypatch.setenv("DOCKER_CONFIG", str(src_rig.docker_config))  # no entry for dst_rig
    src_rig.mark()
    dst_rig.mark()
    rc, out, err = cli(
        "promote", src_rig.ref(image.repo, "1a2b3c4"), "v1", dst_rig.ref(f"{repo_prefix}/x", "v1")
    )
    assert (rc, out) == (1, "")
    assert err.count("\n") == 1 and f"{dst_rig.host} requires authentication" in err
    assert writes(src_rig) == [] and writes(dst_rig) == []


# -- crane-compatible tag and copy ---------------------------------------------------------------


@rig_shapes(PRODUCTION)
def test_tag_like_crane(rig: Rig, repo_prefix: str, cli: CLI) -> None:
    image = push(rig, f"{repo_prefix}/app", "docker-list")
    rc, out, err = cli("tag", rig.ref(image.repo, "1a2b3c4"), "stable")
    assert (rc, out, err) == (0, "", "")
    assert_same_image(rig, image, image.repo, "stable")
    crane(rig, "tag", rig.ref(image.repo, "1a2b3c4"), "by-crane")
    assert digest_of(rig, rig.ref(image.repo, "by-crane")) == digest_of(
        rig, rig.ref(image.repo, "stable")
    )


def test_copy_like_crane_between_registries(
    two_rigs: tuple[Rig, Rig, CLI], repo_prefix: str
) -> None:
    src_rig, dst_rig, cli = two_rigs
    image = push(src_rig, f"{repo_prefix}/app", "docker")
    rc, out, err = cli(
        "copy", src_rig.ref(image.repo, "1a2b3c4"), dst_rig.ref(f"{repo_prefix}/copy", None)
    )
    # the destination as resolved: without a tag it is latest, as in crane
    assert (rc, out, err) == (
        0,
        f"{dst_rig.ref(f'{repo_prefix}/copy', 'latest')}  {image.digest}\n",
        "",
    )
    assert_same_image(dst_rig, image, f"{repo_prefix}/copy", "latest")
    rc, _, _ = cli(
        "copy",
        src_rig.ref(image.repo, image.digest),
        dst_rig.ref(f"{repo_prefix}/bydigest", image.digest),
    )
    assert rc == 0
    assert manifest_of(dst_rig, dst_rig.ref(f"{repo_prefix}/bydigest", image.digest)) == image.raw
