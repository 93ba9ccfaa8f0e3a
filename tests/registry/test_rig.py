"""The test rig itself: both shapes answer, enforce auth, keep data across restarts, log
requests; crane and skopeo agree with the pusher's digests for every image kind."""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.rig import (
    INDEX_KINDS,
    KINDS,
    Kind,
    Rig,
    crane,
    rfc3339,
    sha256_digest,
    short_sha_tags,
    skopeo,
    tag_on_disk,
    team_time,
)
from tests.rig.images import LABEL_CREATED, LABEL_DESCRIPTION, LABEL_REVISION, Blob
from tests.rig.ports import port_open
from tests.rig.shapes import write_docker_config


def test_v2_answers_with_credentials_and_refuses_without(rig: Rig) -> None:
    with rig.http_client(auth=False) as anon:
        r = anon.get("/v2/")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Basic realm=")
        assert r.headers["docker-distribution-api-version"] == "registry/2.0"
        assert anon.get("/v2/_catalog").status_code == 401
        assert anon.get("/v2/", auth=(rig.username, rig.password + "x")).status_code == 401
    with rig.http_client() as client:
        r = client.get("/v2/")
        assert r.status_code == 200
        assert r.headers["docker-distribution-api-version"] == "registry/2.0"
    assert rig.url == f"{rig.scheme}://{rig.host}"
    assert rig.host.startswith("127.0.0.1:")


def test_tls_shape_is_https_http2_behind_nginx(rig_tls: Rig) -> None:
    assert rig_tls.scheme == "https"
    assert rig_tls.ca_file is not None
    assert rig_tls.nginx is not None
    assert rig_tls.nginx.host == rig_tls.host != rig_tls.registry.host
    # the certificate is not trusted without the rig's CA
    with (
        httpx.Client(verify=ssl.create_default_context()) as untrusting,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        untrusting.get(f"{rig_tls.url}/v2/")
    # trusted with it, for 127.0.0.1 and localhost, over HTTP/2
    with rig_tls.http_client() as client:
        r = client.get("/v2/")
        assert (r.status_code, r.http_version) == (200, "HTTP/2")
        # Location headers point back through nginx (Host and X-Forwarded-Proto forwarded)
        repo = "rigcheck/location"
        loc = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
        assert loc.startswith(f"{rig_tls.url}/v2/{repo}/blobs/uploads/")
        client.delete(loc)
    localhost_url = rig_tls.url.replace("127.0.0.1", "localhost")
    with httpx.Client(verify=rig_tls.ssl_context(), auth=rig_tls.credentials) as client:
        assert client.get(f"{localhost_url}/v2/").status_code == 200
    # the backend itself has no auth: nginx is what enforces it
    assert httpx.get(f"{rig_tls.registry.url}/v2/").status_code == 200
    assert rig_tls.cert_dir is not None
    assert (rig_tls.cert_dir / "ca.crt").read_bytes() == rig_tls.ca_file.read_bytes()


def test_basic_shape_is_plain_http_with_registry_auth(rig_basic: Rig) -> None:
    assert (rig_basic.scheme, rig_basic.ca_file, rig_basic.nginx) == ("http", None, None)
    assert rig_basic.registry.host == rig_basic.host
    assert "SSL_CERT_FILE" not in rig_basic.env(base={})


def test_docker_config_and_env(rig: Rig) -> None:
    config = json.loads((rig.docker_config / "config.json").read_text())
    assert list(config["auths"]) == [rig.host]
    env = rig.env(base={"REGISTRY_PASSWORD": "leak", "KEEP": "1"}, EXTRA="2")
    assert env["DOCKER_CONFIG"] == str(rig.docker_config)
    assert (env["KEEP"], env["EXTRA"]) == ("1", "2")
    assert "REGISTRY_PASSWORD" not in env
    if rig.ca_file is not None:
        assert env["SSL_CERT_FILE"] == str(rig.ca_file)


@pytest.mark.parametrize("kind", KINDS)
def test_crane_agrees_with_pusher(rig: Rig, repo_prefix: str, kind: Kind) -> None:
    repo = f"{repo_prefix}/{kind}"
    img = rig.pusher().push_image(repo, ["v1", "latest"], kind, description=f"the {kind} one")
    assert img.digest == sha256_digest(img.raw)
    for tag in ("v1", "latest"):
        assert crane(rig, "digest", rig.ref(repo, tag)).stdout == img.digest.encode() + b"\n"
    assert crane(rig, "manifest", rig.ref(repo, "v1")).stdout == img.raw
    assert crane(rig, "ls", rig.ref(repo)).stdout == b"latest\nv1\n"
    amd64 = img.manifest_for("linux/amd64")
    assert crane(rig, "config", rig.ref(repo, "v1")).stdout == amd64.config.data
    labels = amd64.config_json["config"]["Labels"]
    assert labels[LABEL_DESCRIPTION] == f"the {kind} one"
    assert labels[LABEL_CREATED] == img.label_created == "2024-01-02T03:04:05Z"
    assert len(labels[LABEL_REVISION]) == 40
    if kind in INDEX_KINDS:
        assert img.platforms == ["linux/amd64", "linux/arm64"]
        assert len(set(img.children)) == 2
        for child in img.manifests:
            out = crane(rig, "digest", "--platform", child.platform, rig.ref(repo, "v1")).stdout
            assert out.decode().strip() == child.digest
            assert crane(rig, "manifest", rig.ref(repo, child.digest)).stdout == child.raw
    else:
        assert img.children == []
        assert img.config is not None
        for layer in img.layers:
            assert crane(rig, "blob", rig.ref(repo, layer.digest)).stdout == layer.data


def test_crane_catalog_lists_pushed_repositories(rig: Rig, repo_prefix: str) -> None:
    p = rig.pusher()
    p.push_image(f"{repo_prefix}/one", "a")
    p.push_image(f"{repo_prefix}/two", "b", "docker")
    listed = crane(rig, "catalog", rig.host).stdout.decode().splitlines()
    assert {f"{repo_prefix}/one", f"{repo_prefix}/two"} <= set(listed)
    assert set(listed) == set(p.catalog())


def test_crane_fails_with_wrong_credentials(rig: Rig, repo_prefix: str, tmp_path: Path) -> None:
    repo = f"{repo_prefix}/app"
    rig.pusher().push_image(repo, "v1")
    write_docker_config(tmp_path, rig.host, rig.username, "wrong")
    cp = crane(
        rig, "digest", rig.ref(repo, "v1"), check=False, env={"DOCKER_CONFIG": str(tmp_path)}
    )
    assert cp.returncode != 0
    assert b"UNAUTHORIZED" in cp.stderr or b"401" in cp.stderr


def test_skopeo_inspect(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    when = datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)
    img = rig.pusher().push_image(repo, "v1", "docker", created=when, label_created=team_time(when))
    raw = skopeo(rig, "inspect", "--raw", f"docker://{rig.ref(repo, 'v1')}").stdout
    assert raw == img.raw
    info = json.loads(skopeo(rig, "inspect", f"docker://{rig.ref(repo, 'v1')}").stdout)
    assert info["Digest"] == img.digest
    assert info["Labels"][LABEL_CREATED] == "2023-05-06 07:08:09"
    assert info["Created"] == "2023-05-06T07:08:09Z"
    tags = json.loads(skopeo(rig, "list-tags", f"docker://{rig.ref(repo)}").stdout)
    assert tags["Tags"] == ["v1"]


def test_skopeo_copy_within_rig(rig: Rig, repo_prefix: str) -> None:
    img = rig.pusher().push_image(f"{repo_prefix}/src", "v1", "oci-index")
    skopeo(
        rig,
        "copy",
        "--all",
        "--preserve-digests",
        f"docker://{rig.ref(img.repo, 'v1')}",
        f"docker://{rig.ref(f'{repo_prefix}/dst', 'v1')}",
    )
    assert crane(rig, "digest", rig.ref(f"{repo_prefix}/dst", "v1")).stdout.strip() == (
        img.digest.encode()
    )


def test_stop_start_restart_keep_data_and_port(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    p = rig.pusher()
    img = p.push_image(repo, "v1")
    host, backend = rig.host, rig.registry.host
    rig.registry.stop()
    try:
        assert not rig.registry.running
        assert not port_open(rig.registry.port)  # type: ignore[arg-type]
        with rig.http_client() as client:
            if rig.nginx is not None:
                assert client.get(f"/v2/{repo}/tags/list").status_code == 502
            else:
                with pytest.raises(httpx.ConnectError):
                    client.get("/v2/")
    finally:
        rig.registry.start()
    assert (rig.host, rig.registry.host) == (host, backend)
    assert p.get_manifest(repo, "v1")[2] == img.digest
    rig.registry.restart()
    assert p.tags(repo) == ["v1"]
    assert crane(rig, "digest", rig.ref(repo, "v1")).stdout.strip() == img.digest.encode()


def test_kill_and_start_keeps_upload_sessions(rig: Rig, repo_prefix: str) -> None:
    """A fixed http.secret lets an upload started before a restart finish after it."""
    repo = f"{repo_prefix}/app"
    data = b"resume me" * 100
    digest = sha256_digest(data)
    with rig.http_client() as client:
        loc = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
        rig.registry.stop(kill=True)
        rig.registry.start()
        r = client.put(f"{loc}&digest={digest}", content=data)
        assert r.status_code == 201, r.text
        assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_wipe_removes_every_repository(rig: Rig, repo_prefix: str) -> None:
    p = rig.pusher()
    p.push_image(f"{repo_prefix}/app", "v1")
    assert f"{repo_prefix}/app" in p.catalog()
    host = rig.host
    rig.wipe()
    assert p.catalog() == []
    assert rig.host == host
    assert p.manifest_status(f"{repo_prefix}/app", "v1") == 404


def test_request_log_counts_requests_and_bytes(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    p = rig.pusher()
    img = p.push_image(repo, "v1")
    rig.mark()
    assert rig.requests() == []
    blob = Blob.of(b"x" * 50_000, "application/octet-stream")
    p.upload_blob(repo, blob)
    p.get_manifest(repo, "v1")
    p.tag(img, ["v2", "v3"])
    reqs = rig.requests()
    assert [(m, path.split("?")[0], s) for m, path, s, _ in reqs] == [
        ("POST", f"/v2/{repo}/blobs/uploads/", 202),
        ("PUT", reqs[1].path.split("?")[0], 201),
        ("GET", f"/v2/{repo}/manifests/v1", 200),
        ("PUT", f"/v2/{repo}/manifests/v2", 201),
        ("PUT", f"/v2/{repo}/manifests/v3", 201),
    ]
    assert reqs[1].path.startswith(f"/v2/{repo}/blobs/uploads/")
    assert "digest=sha256%3A" in reqs[1].path
    if rig.nginx is not None:
        assert reqs[1].request_length is not None
        assert 50_000 <= reqs[1].request_length < 52_000
        assert all(rec.protocol == "HTTP/1.1" for rec in rig.access_records())  # Pusher: 1.1
    else:
        assert all(r.request_length is None for r in reqs)
    assert len(rig.requests(since_mark=False)) > len(reqs)
    rig.mark()
    assert rig.requests() == []


def test_unauthenticated_requests_are_logged_as_401(rig: Rig) -> None:
    with rig.http_client(auth=False) as anon:
        anon.get("/v2/")
    reqs = rig.requests()
    assert [(m, p, s) for m, p, s, _ in reqs] == [("GET", "/v2/", 401)]
    assert (reqs[0].request_length is None) == (rig.nginx is None)


def test_many_tags_one_manifest(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/many"
    p = rig.pusher()
    img = p.push_image(repo, "t0")
    t0 = time.monotonic()
    p.tag(img, [f"t{i}" for i in range(1, 50)])
    api_seconds = time.monotonic() - t0
    tag_on_disk(rig.storage_dir, repo, img.digest, [f"d{i}" for i in range(300)])
    tags = p.tags(repo)
    assert len(tags) == 350
    assert img.tags == [f"t{i}" for i in range(50)]
    assert p.get_manifest(repo, "d299")[2] == img.digest
    assert crane(rig, "digest", rig.ref(repo, "d0")).stdout.strip() == img.digest.encode()
    assert api_seconds < 20, f"49 tag PUTs took {api_seconds:.1f}s"


def test_push_images_gives_distinct_images_with_ordered_created(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/uniq"
    tags = short_sha_tags(40, seed=7)
    assert len(set(tags)) == 40
    start = datetime(2024, 3, 1, tzinfo=UTC)
    images = rig.pusher().push_images(repo, tags, start=start, step=timedelta(minutes=5))
    assert [i.tags for i in images] == [[t] for t in tags]
    assert len({i.digest for i in images}) == 40
    assert sorted(rig.pusher().tags(repo)) == sorted(tags)
    last = images[-1]
    assert last.label_created == rfc3339(start + 39 * timedelta(minutes=5))
    config = json.loads(crane(rig, "config", rig.ref(repo, tags[-1])).stdout)
    assert config["config"]["Labels"][LABEL_CREATED] == "2024-03-01T03:15:00Z"
    assert config["config"]["Labels"][LABEL_REVISION].startswith(tags[-1])
    assert crane(rig, "digest", rig.ref(repo, tags[0])).stdout.strip() == images[0].digest.encode()


def test_label_can_be_omitted(rig: Rig, repo_prefix: str) -> None:
    img = rig.pusher().push_image(
        f"{repo_prefix}/app", "v1", label_created=None, description=None, revision=None
    )
    config = json.loads(crane(rig, "config", rig.ref(img.repo, "v1")).stdout)
    assert config["config"]["Labels"] == {}
    assert config["created"] == "2024-01-02T03:04:05Z"


def test_rig_factory_options_and_teardown(rig_factory: Callable[..., Rig]) -> None:
    r: Rig = rig_factory("tls", delete_enabled=False, http2=False)
    with r.http_client() as client:
        assert client.get("/v2/").http_version == "HTTP/1.1"
    img = r.pusher().push_image("app", "v1")
    with r.http_client() as client:
        assert client.delete(f"/v2/app/manifests/{img.digest}").status_code == 405
    pids = [r.registry.pid, r.nginx.pid if r.nginx else None]
    ports = [r.registry.port, r.nginx.port if r.nginx else None]
    r.close()
    for port in ports:
        assert port is not None and not port_open(port)
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_delete_enabled_on_session_rigs(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/app"
    p = rig.pusher()
    img = p.push_image(repo, ["a", "b"])
    with rig.http_client() as client:
        r = client.delete(f"/v2/{repo}/manifests/a")
        if rig.version == "2.8":
            assert r.status_code == 400  # 2.8: no tag delete
            assert r.json()["errors"][0]["code"] == "DIGEST_INVALID"
            assert sorted(p.tags(repo)) == ["a", "b"]
        else:
            assert r.status_code == 202  # registry:3 removes only that tag
            assert p.tags(repo) == ["b"]
            missing = client.delete(f"/v2/{repo}/manifests/a")
            assert missing.status_code == 404
            assert missing.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    p.delete_manifest(repo, img.digest)
    assert p.tags(repo) == []


def test_a_killed_test_process_leaves_no_server_behind(tmp_path: Path) -> None:
    """A process that started a rig and is killed outright (no teardown) takes every server
    process with it, nginx's workers included, and frees the ports."""
    import signal
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from tests.rig import start_rig\n"
        f"r = start_rig('tls', Path({str(tmp_path / 'rig')!r}))\n"
        "print(r.registry.port, r.nginx.port, flush=True)\n"
        "time.sleep(60)\n"
    )
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=root, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    ports = [int(p) for p in child.stdout.readline().split()]
    assert len(ports) == 2 and all(port_open(p) for p in ports)
    workdir = str(tmp_path / "rig")

    def servers() -> list[str]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                    cwd = os.readlink(f"/proc/{entry}/cwd")
                except OSError:
                    continue
                if cwd.startswith(workdir) or workdir.encode() in cmd:
                    found.append(cmd.decode(errors="replace"))
        return found

    # nginx opens its port before its master forks the worker: on a loaded machine the worker
    # shows up a moment after the port answers
    deadline = time.monotonic() + 10
    while not any("nginx: worker" in s for s in servers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("nginx: worker" in s for s in servers())
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    deadline = time.monotonic() + 10
    while (servers() or any(port_open(p) for p in ports)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert servers() == []
    assert not any(port_open(p) for p in ports)
