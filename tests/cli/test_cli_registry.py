"""The crane-compatible verbs and the overview against both real rig shapes.

crane is the independent client: for the same registry content, regkit's stdout must equal
crane's byte for byte for catalog, ls, digest, manifest and config, for all four image kinds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.clirun import regkit
from tests.rig import PRODUCTION, Rig, rig_shapes
from tests.rig.crane import crane
from tests.rig.images import team_time
from tests.rig.ports import free_port

KINDS = ("oci", "docker", "oci-index", "docker-list")


def _same_as_crane(rig: Rig, *args: str) -> bytes:
    ours = regkit(*args, env=rig.env())
    theirs = crane(rig, *args)
    assert ours.returncode == 0, ours.stderr.decode()
    assert ours.stdout == theirs.stdout, f"regkit {' '.join(args)} differs from crane"
    assert ours.stderr == b""
    return ours.stdout


@pytest.mark.parametrize("kind", KINDS)
@rig_shapes(PRODUCTION)
def test_verbs_match_crane_byte_for_byte(rig: Rig, repo_prefix: str, kind: str) -> None:
    repo = f"{repo_prefix}/{kind}"
    image = rig.pusher().push_image(repo, ["1a2b3c4", "latest"], kind)  # type: ignore[arg-type]
    ref = rig.ref(repo, "1a2b3c4")

    listed = _same_as_crane(rig, "ls", f"{rig.host}/{repo}")
    assert sorted(listed.decode().splitlines()) == ["1a2b3c4", "latest"]  # 2.8: storage order
    assert _same_as_crane(rig, "digest", ref) == image.digest.encode() + b"\n"
    assert _same_as_crane(rig, "manifest", ref) == image.raw
    assert _same_as_crane(rig, "digest", f"{rig.host}/{repo}") == image.digest.encode() + b"\n"
    assert _same_as_crane(rig, "manifest", f"{rig.host}/{repo}@{image.digest}") == image.raw
    config = _same_as_crane(rig, "config", ref)
    if image.is_index:
        amd64 = image.manifest_for("linux/amd64")
        assert config == amd64.config.data
        arm64 = image.manifest_for("linux/arm64")
        for verb in ("config", "manifest", "digest"):
            _same_as_crane(rig, verb, "--platform", "linux/arm64", ref)
        out = regkit("config", "--platform", "linux/arm64", ref, env=rig.env())
        assert out.stdout == arm64.config.data
    else:
        assert image.config is not None
        assert config == image.config.data


@rig_shapes(PRODUCTION)
def test_catalog_matches_crane(rig: Rig, repo_prefix: str) -> None:
    pusher = rig.pusher()
    for name in ("b", "a", "c/d"):
        pusher.push_image(f"{repo_prefix}/{name}", ["v1"])
    out = _same_as_crane(rig, "catalog", rig.host)
    names = out.decode().splitlines()
    assert {f"{repo_prefix}/a", f"{repo_prefix}/b", f"{repo_prefix}/c/d"} <= set(names)
    full = regkit("catalog", "--full-ref", rig.host, env=rig.env())
    assert full.stdout.decode().splitlines() == [f"{rig.host}/{n}" for n in names]


@rig_shapes(PRODUCTION)
def test_overview_json(rig: Rig, repo_prefix: str) -> None:
    pusher = rig.pusher()
    old = datetime(2026, 2, 20, 10, 0, 0, tzinfo=UTC)
    new = datetime(2026, 2, 23, 22, 38, 17, tzinfo=UTC)
    single = pusher.push_image(
        f"{repo_prefix}/app",
        ["aaaaaaa"],
        "oci",
        created=old,
        description="First",
    )
    multi = pusher.push_image(
        f"{repo_prefix}/app",
        ["bbbbbbb", "latest"],
        "oci-index",
        created=new,
        label_created=team_time(new),  # the team's zone-less form
        description="Fix login redirect",
    )
    nolabel = pusher.push_image(
        f"{repo_prefix}/app", ["ccccccc"], "docker", created=old, label_created=None
    )
    out = regkit(
        "overview", rig.host, "--repo", f"{repo_prefix}/app", "--format", "json", env=rig.env()
    )
    assert out.returncode == 0, out.stderr.decode()
    data = json.loads(out.stdout)
    assert data["registry"] == rig.host
    [repo] = data["repositories"]
    assert repo["name"] == f"{repo_prefix}/app"
    rows = {t["tag"]: t for t in repo["tags"]}
    assert [t["tag"] for t in repo["tags"]] == ["bbbbbbb", "latest", "aaaaaaa", "ccccccc"]
    assert rows["bbbbbbb"] == {
        "tag": "bbbbbbb",
        "digest": multi.digest,
        "created": "2026-02-23T22:38:17Z",
        "platforms": ["linux/amd64", "linux/arm64"],
        "size": multi.manifest_for("linux/amd64").content_size,
        "description": "Fix login redirect",
    }
    assert rows["latest"]["digest"] == multi.digest
    assert rows["aaaaaaa"]["digest"] == single.digest
    assert rows["aaaaaaa"]["size"] == single.content_size
    assert rows["aaaaaaa"]["platforms"] == ["linux/amd64"]
    assert rows["aaaaaaa"]["created"] == "2026-02-20T10:00:00Z"
    assert rows["ccccccc"]["digest"] == nolabel.digest
    assert rows["ccccccc"]["created"] == "2026-02-20T10:00:00Z"  # the config's created

    table = regkit("overview", rig.host, "--repo", f"{repo_prefix}/app", env=rig.env())
    lines = table.stdout.decode().splitlines()
    assert lines[0] == f"{rig.host}/{repo_prefix}/app"
    assert lines[1].split() == [
        "TAG",
        "DIGEST",
        "CREATED",
        "(UTC)",
        "PLATFORMS",
        "SIZE",
        "DESCRIPTION",
    ]
    assert lines[2].split()[:4] == ["bbbbbbb", multi.digest[:19], "2026-02-23", "22:38:17"]
    assert table.stderr == b""  # no progress display without a terminal


@rig_shapes(PRODUCTION)
def test_overview_shares_fetches_between_tags(rig: Rig, repo_prefix: str) -> None:
    image = rig.pusher().push_image(f"{repo_prefix}/app", ["v1"], "oci-index")
    rig.pusher().tag(image, [f"t{i}" for i in range(20)])
    rig.mark()
    out = regkit("overview", rig.host, "--repo", f"{repo_prefix}/app", env=rig.env())
    assert out.returncode == 0
    gets = [r for r in rig.requests() if r.method == "GET"]
    manifest_gets = [r for r in gets if "/manifests/" in r.path]
    blob_gets = [r for r in gets if "/blobs/" in r.path]
    assert len(manifest_gets) == 21 + 1  # one per tag, then the amd64 child once
    assert len(blob_gets) == 1  # the amd64 config, once for all 21 tags
    amd64 = image.manifest_for("linux/amd64").digest
    assert sum(r.path.endswith(f"/manifests/{amd64}") for r in manifest_gets) == 1


@rig_shapes(PRODUCTION)
def test_overview_platform_picks_what_is_shown(rig: Rig, repo_prefix: str) -> None:
    pusher = rig.pusher()
    image = pusher.push_image(f"{repo_prefix}/app", ["multi"], "oci-index", layers=2)
    amd, arm = image.manifest_for("linux/amd64"), image.manifest_for("linux/arm64")
    assert amd.content_size != arm.content_size or amd.digest != arm.digest

    def size(*extra: str) -> object:
        out = regkit(
            "overview",
            rig.host,
            "--repo",
            f"{repo_prefix}/app",
            "--format",
            "json",
            *extra,
            env=rig.env(),
        )
        assert out.returncode == 0, out.stderr.decode()
        [row] = json.loads(out.stdout)["repositories"][0]["tags"]
        assert row["platforms"] == ["linux/amd64", "linux/arm64"]
        return row["size"]

    assert size() == amd.content_size
    rig.mark()
    assert size("--platform", "linux/arm64") == arm.content_size
    paths = [r.path for r in rig.requests() if "/manifests/sha256:" in r.path]
    assert paths == [f"/v2/{repo_prefix}/app/manifests/{arm.digest}"]
    assert size("--platform", "linux/s390x") is None  # not in the index: unknown, not wrong
    bad = regkit("overview", rig.host, "--platform", "Linux", env=rig.env())
    assert bad.returncode == 2
    assert b"expected OS/ARCH[/VARIANT]" in bad.stderr


def test_empty_registry_is_the_same_everywhere(rig_factory) -> None:  # type: ignore[no-untyped-def]
    """Exit 0, an empty list (nothing in a table, [] in JSON), one note on stderr."""
    empty = rig_factory("basic")
    note = (
        f"regkit: no repositories on {empty.host} (an empty registry, or a user who may not list it"
    )
    for verb in ("overview", "catalog"):
        out = regkit(verb, empty.host, env=empty.env())
        assert (out.returncode, out.stdout) == (0, b""), out.stderr
        assert out.stderr.decode().startswith(note)
        assert out.stderr.decode().count("\n") == 1
        js = regkit(verb, empty.host, "-o", "json", env=empty.env())
        assert js.returncode == 0
        assert json.loads(js.stdout) == {"registry": empty.host, "repositories": []}
        assert js.stderr.decode().startswith(note)


# -- errors: one line, the right exit code, what to check ----------------------------------


def _error(out: object) -> str:
    assert out.returncode == 1, out.stderr  # type: ignore[attr-defined]
    err = out.stderr.decode()  # type: ignore[attr-defined]
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert out.stdout == b""  # type: ignore[attr-defined]
    return err


def test_wrong_password(rig: Rig, tmp_path: Path) -> None:
    out = regkit(
        "ls",
        "--username",
        rig.username,
        "--password-stdin",
        f"{rig.host}/x/y",
        env={**rig.env(), "DOCKER_CONFIG": str(tmp_path)},
        input=b"wrong-password\n",
    )
    err = _error(out)
    assert f"refused the credentials of user '{rig.username}'" in err
    assert "wrong-password" not in err


def test_no_credentials(rig: Rig, tmp_path: Path) -> None:
    err = _error(regkit("catalog", rig.host, env={**rig.env(), "DOCKER_CONFIG": str(tmp_path)}))
    assert "requires authentication" in err
    assert "regkit login" in err


def test_unknown_ca_names_ca_file(rig_tls: Rig) -> None:
    env = {k: v for k, v in rig_tls.env().items() if k != "SSL_CERT_FILE"}
    err = _error(regkit("catalog", rig_tls.host, env=env))
    assert "TLS verification failed" in err
    assert "--ca-file" in err
    ok = regkit("catalog", "--ca-file", str(rig_tls.ca_file), rig_tls.host, env=env)
    assert ok.returncode == 0, ok.stderr.decode()


def test_unreachable_host() -> None:
    err = _error(regkit("catalog", f"127.0.0.1:{free_port()}"))
    assert "cannot connect to 127.0.0.1:" in err
    assert "registry is running" in err


@rig_shapes(PRODUCTION)
def test_unknown_repository_and_tag(rig: Rig, repo_prefix: str) -> None:
    err = _error(regkit("ls", f"{rig.host}/{repo_prefix}/nothing", env=rig.env()))
    assert "repository not found" in err
    rig.pusher().push_image(f"{repo_prefix}/app", ["v1"])
    err = _error(regkit("digest", f"{rig.host}/{repo_prefix}/app:v2", env=rig.env()))
    assert "manifest not found" in err
    err = _error(regkit("overview", rig.host, "--repo", f"{repo_prefix}/nothing", env=rig.env()))
    assert f"repository {repo_prefix}/nothing not found" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["digest", "127.0.0.1:1/Team/app:1"], "upper case is not allowed"),
        (["digest", "127.0.0.1:1/app:" + "a" * 129], "at most 128"),
        (["digest", "127.0.0.1:1/app:latest; rm -rf /"], "white space"),
        (["manifest", "127.0.0.1:1/app@sha256:1234"], "invalid digest"),
        (["ls", ""], "empty"),
        (["catalog", "bad host"], "invalid registry host"),
    ],
)
def test_bad_references_are_usage_errors_before_any_request(args: list[str], needle: str) -> None:
    out = regkit(*args)  # port 1: any request would fail differently
    assert out.returncode == 2
    assert needle in out.stderr.decode()
    assert out.stderr.decode().count("\n") == 1


def test_usage_errors_exit_2() -> None:
    assert regkit("ls").returncode == 2
    assert regkit("frobnicate").returncode == 2
    assert regkit().returncode == 2
    out = regkit("--version")
    assert out.returncode == 0
    assert out.stdout.startswith(b"regkit ")


def test_http2_on_request_gives_the_same_overview(tls_rig: Rig, repo_prefix: str) -> None:
    """HTTP/2 is opt-in (REGKIT_HTTP2=1); with 16 threads it must be as correct as HTTP/1.1."""
    pusher = tls_rig.pusher()
    pusher.push_images(f"{repo_prefix}/app", [f"{i:07x}" for i in range(40)], "oci-index")
    args = ("overview", tls_rig.host, "--repo", f"{repo_prefix}/app", "--format", "json")
    h1 = regkit("-v", *args, env=tls_rig.env())
    h2 = regkit("-v", *args, env={**tls_rig.env(), "REGKIT_HTTP2": "1"})
    assert h1.returncode == 0, h1.stderr.decode()
    assert h2.returncode == 0, h2.stderr.decode()
    assert h1.stdout == h2.stdout
    assert len(json.loads(h2.stdout)["repositories"][0]["tags"]) == 40
    assert "HTTP/2" in h2.stderr.decode()
    assert "HTTP/2" not in h1.stderr.decode()
