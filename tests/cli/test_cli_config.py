"""REGKIT_REGISTRY for every verb, overview's HOST/REPO and --repo HOST/REPO, and the CA given to
`login --ca-file` remembered in $XDG_CONFIG_HOME/regkit (0600) for later commands."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.clirun import regkit
from tests.rig import PRODUCTION, Rig, rig_shapes


@rig_shapes(PRODUCTION)
def test_regkit_registry_serves_every_verb(rig: Rig, repo_prefix: str) -> None:
    repo = f"{repo_prefix}/api"
    image = rig.pusher().push_image(repo, ["latest", "1a2b3c4"], "oci-index")
    env = rig.env(REGKIT_REGISTRY=rig.host)
    assert regkit("digest", f"{repo}:latest", env=env).stdout == image.digest.encode() + b"\n"
    assert regkit("manifest", repo, env=env).stdout == image.raw
    assert sorted(regkit("ls", repo, env=env).stdout.decode().split()) == ["1a2b3c4", "latest"]
    assert repo in regkit("catalog", env=env).stdout.decode().split()
    assert json.loads(regkit("inspect", "--json", repo, env=env).stdout)["digest"] == image.digest
    overview = json.loads(regkit("overview", "--repo", repo, "-o", "json", env=env).stdout)
    assert overview["registry"] == rig.host
    assert regkit("promote", f"{repo}:1a2b3c4", "v1", env=env).returncode == 0
    assert regkit("copy", f"{repo}:v1", f"{repo_prefix}/copy", env=env).stdout == (
        f"{rig.host}/{repo_prefix}/copy:latest  {image.digest}\n".encode()
    )
    sync = regkit("sync", repo, f"{repo_prefix}/mirror", "-o", "json", env=env)
    assert json.loads(sync.stdout)["destination"] == f"{rig.host}/{repo_prefix}/mirror"
    tagged = regkit("tag", f"{repo}:v1", "v2", env=env)
    assert tagged.returncode == 0
    assert (
        regkit("digest", f"{rig.host}/{repo}:v2", env=env).stdout.decode().strip() == image.digest
    )
    # a host in the reference still wins
    other = {**env, "REGKIT_REGISTRY": "x.invalid"}
    assert regkit("digest", rig.ref(repo, "latest"), env=other).stdout.decode().strip() == (
        image.digest
    )


@rig_shapes(PRODUCTION)
def test_overview_takes_host_slash_repo(rig: Rig, repo_prefix: str) -> None:
    pusher = rig.pusher()
    pusher.push_image(f"{repo_prefix}/a", ["v1"])
    pusher.push_image(f"{repo_prefix}/b", ["v2"])
    one = regkit("overview", "-o", "json", rig.ref(f"{repo_prefix}/a"), env=rig.env())
    assert one.returncode == 0, one.stderr
    assert [r["name"] for r in json.loads(one.stdout)["repositories"]] == [f"{repo_prefix}/a"]
    two = regkit(
        "overview",
        "-o",
        "json",
        "--repo",
        rig.ref(f"{repo_prefix}/a"),
        "--repo",
        rig.ref(f"{repo_prefix}/b"),
        env=rig.env(),
    )
    assert two.returncode == 0, two.stderr
    names = [r["name"] for r in json.loads(two.stdout)["repositories"]]
    assert names == [f"{repo_prefix}/a", f"{repo_prefix}/b"]
    mixed = regkit("overview", rig.host, "--repo", f"other.example.com/{repo_prefix}/a")
    assert mixed.returncode == 2
    assert mixed.stderr.decode() == (
        f"regkit: error: overview reads one registry at a time; got {rig.host}, other.example.com\n"
    )


def test_login_remembers_the_ca(rig_tls: Rig, tmp_path: Path) -> None:
    rig_tls.ensure_running()
    assert rig_tls.ca_file is not None
    base = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    repo = rig_tls.ref("t/remembered")
    before = regkit("ls", repo, env=base)
    assert before.returncode == 1
    assert b"--ca-file" in before.stderr  # the TLS error says what to pass

    login = regkit(
        "login",
        rig_tls.host,
        "-u",
        rig_tls.username,
        "--password-stdin",
        "--ca-file",
        str(rig_tls.ca_file),
        env=base,
        input=rig_tls.password.encode() + b"\n",
    )
    assert login.returncode == 0, login.stderr
    kept = tmp_path / "xdg" / "regkit" / "ca" / f"{rig_tls.host}.pem"
    assert kept.read_bytes() == rig_tls.ca_file.read_bytes()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert f"CA for {rig_tls.host} remembered in {kept}" in login.stdout.decode()

    rig_tls.pusher().push_image("t/remembered", ["v1"])
    after = regkit("ls", repo, env=base)
    assert (after.returncode, after.stdout, after.stderr) == (0, b"v1\n", b"")
