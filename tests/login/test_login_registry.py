"""``regkit login`` / ``regkit logout`` end to end: a real sops file, a real registry, crane.

Every test runs the CLI as a user does (``python -m regkit``, own environment) and scans its
stdout and stderr for the password, the base64 auth string and the age identity.
"""

from __future__ import annotations

import base64
import json
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clirun import regkit
from tests.leakscan import assert_no_secrets
from tests.rig import Rig, crane, require_skopeo
from tests.rig.ports import free_port
from tests.sops_helpers import encrypt, make_team_secrets, new_age_key


@dataclass
class Secrets:
    path: Path
    identity: str
    username: str
    password: str

    @property
    def auth(self) -> str:
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    @property
    def all(self) -> list[str]:
        return [self.password, self.auth, self.identity]


def _team_file(tmp_path: Path, rig: Rig, password: str | None = None) -> Secrets:
    pw = rig.password if password is None else password
    path, identity, _ = make_team_secrets(tmp_path, rig.username, pw, "team.example.test")
    return Secrets(path, identity, rig.username, pw)


def _env(tmp_path: Path, secrets: Secrets, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "SOPS_AGE_KEY": secrets.identity, **extra}


def _ca(rig: Rig) -> list[str]:
    return ["--ca-file", str(rig.ca_file)] if rig.ca_file else []


def _login(
    tmp_path: Path, rig: Rig, secrets: Secrets, *extra: str, ca: bool = True
) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    config = tmp_path / "docker-config"
    cp = regkit(
        "login",
        "--secrets-file",
        str(secrets.path),
        "--registry",
        rig.host,
        "--docker-config",
        str(config),
        *(_ca(rig) if ca else []),
        *extra,
        env=_env(tmp_path, secrets),
    )
    assert_no_secrets({"stdout": cp.stdout.decode(), "stderr": cp.stderr.decode()}, secrets.all)
    return cp, config


def _one_error_line(cp: subprocess.CompletedProcess[bytes]) -> str:
    lines = cp.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("regkit: error: ")
    return lines[0]


def test_login_writes_a_config_crane_and_skopeo_use(
    tmp_path: Path, rig: Rig, repo_prefix: str
) -> None:
    repo = f"{repo_prefix}/app"
    rig.pusher().push_image(repo, "1a2b3c4")
    secrets = _team_file(tmp_path, rig)
    cp, config = _login(tmp_path, rig, secrets)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.decode()
    assert f"Logged in to {rig.host} as {rig.username}" in out
    assert "keys 'registry_username', 'registry_password'" in out
    assert f"written to {config / 'config.json'}" in out

    assert json.loads((config / "config.json").read_text()) == {
        "auths": {rig.host: {"auth": secrets.auth}}
    }
    assert stat.S_IMODE((config / "config.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(config.stat().st_mode) == 0o700

    listed = crane(rig, "catalog", rig.host, env={"DOCKER_CONFIG": str(config)})
    assert repo in listed.stdout.decode().split()
    # ... and it is that config doing it: without it crane is refused
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = crane(rig, "catalog", rig.host, env={"DOCKER_CONFIG": str(empty)}, check=False)
    assert refused.returncode != 0

    skopeo = require_skopeo()
    tls = ["--cert-dir", str(rig.cert_dir)] if rig.cert_dir else ["--tls-verify=false"]
    ref = f"{rig.host}/{repo}"
    tags = subprocess.run(
        [skopeo, "list-tags", "--authfile", str(config / "config.json"), *tls, f"docker://{ref}"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert tags.returncode == 0, tags.stderr
    assert json.loads(tags.stdout)["Tags"] == ["1a2b3c4"]


def test_wrong_password_fails_in_one_line_and_writes_nothing(tmp_path: Path, rig: Rig) -> None:
    secrets = _team_file(tmp_path, rig, password="not-the-" + rig.password)
    cp, config = _login(tmp_path, rig, secrets)
    assert cp.returncode == 1
    line = _one_error_line(cp)
    assert f"{rig.host} refused the credentials from {secrets.path}" in line
    assert "401" in line
    assert "nothing was written" in line
    assert not (config / "config.json").exists()


def test_tls_registry_without_the_ca_names_ca_file(tmp_path: Path, rig_tls: Rig) -> None:
    secrets = _team_file(tmp_path, rig_tls)
    cp, config = _login(tmp_path, rig_tls, secrets, ca=False)
    assert cp.returncode == 1
    line = _one_error_line(cp)
    assert "TLS verification failed" in line
    assert "--ca-file" in line
    assert not (config / "config.json").exists()


def test_unreachable_host(tmp_path: Path, rig_basic: Rig) -> None:
    secrets = _team_file(tmp_path, rig_basic)
    host = f"127.0.0.1:{free_port()}"
    config = tmp_path / "docker-config"
    cp = regkit(
        "login",
        "--secrets-file",
        str(secrets.path),
        "--registry",
        host,
        "--docker-config",
        str(config),
        env=_env(tmp_path, secrets),
    )
    assert cp.returncode == 1
    line = _one_error_line(cp)
    assert f"cannot connect to {host}" in line
    assert not config.exists()
    assert_no_secrets({"stderr": cp.stderr.decode()}, secrets.all)


def test_no_verify_writes_without_asking_the_registry(tmp_path: Path, rig_basic: Rig) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens: proves no request is made
    secrets = _team_file(tmp_path, rig_basic)
    config = tmp_path / "docker-config"
    cp = regkit(
        "login",
        "--secrets-file",
        str(secrets.path),
        "--registry",
        host,
        "--docker-config",
        str(config),
        "--no-verify",
        env=_env(tmp_path, secrets),
    )
    assert cp.returncode == 0, cp.stderr
    assert "not verified (--no-verify)" in cp.stdout.decode()
    assert json.loads((config / "config.json").read_text())["auths"][host] == {"auth": secrets.auth}


def test_registry_host_from_the_file_and_custom_keys(tmp_path: Path, rig: Rig) -> None:
    key = new_age_key()
    text = f"ci:\n    user: {rig.username}\n    token: {rig.password}\nregistry_host: {rig.host}\n"
    path = encrypt(tmp_path, text, "custom.yaml", recipients=[key.recipient])
    secrets = Secrets(path, key.identity, rig.username, rig.password)
    config = tmp_path / "cfg"
    cp = regkit(
        "login",
        "--secrets-file",
        str(path),
        "--username-key",
        "ci.user",
        "--password-key",
        "ci.token",
        "--registry-key",
        "registry_host",
        "--docker-config",
        str(config),
        *_ca(rig),
        env=_env(tmp_path, secrets),
    )
    assert cp.returncode == 0, cp.stderr
    assert "registry from key 'registry_host'" in cp.stdout.decode()
    assert json.loads((config / "config.json").read_text())["auths"] == {
        rig.host: {"auth": secrets.auth}
    }
    assert_no_secrets({"stdout": cp.stdout.decode(), "stderr": cp.stderr.decode()}, secrets.all)


def test_missing_key_names_it(tmp_path: Path, rig_basic: Rig) -> None:
    secrets = _team_file(tmp_path, rig_basic)
    cp, config = _login(tmp_path, rig_basic, secrets, "--password-key", "registry_pasword")
    assert cp.returncode == 1
    line = _one_error_line(cp)
    assert "no key 'registry_pasword'" in line
    assert "registry_password" in line  # among the keys it has
    assert not config.exists()


def test_no_identity_is_a_sops_error(tmp_path: Path, rig_basic: Rig) -> None:
    secrets = _team_file(tmp_path, rig_basic)
    config = tmp_path / "docker-config"
    env = _env(tmp_path, secrets)
    del env["SOPS_AGE_KEY"]
    cp = regkit(
        "login", "--secrets-file", str(secrets.path), "--docker-config", str(config), env=env
    )
    assert cp.returncode == 1
    _one_error_line(cp)
    assert not config.exists()


def test_docker_style_login_and_logout(tmp_path: Path, rig: Rig) -> None:
    config = tmp_path / "cfg"
    cp = regkit(
        "login",
        rig.host,
        "--username",
        rig.username,
        "--password-stdin",
        "--docker-config",
        str(config),
        *_ca(rig),
        input=(rig.password + "\n").encode(),
        env={"HOME": str(tmp_path)},
    )
    assert cp.returncode == 0, cp.stderr
    auth = base64.b64encode(f"{rig.username}:{rig.password}".encode()).decode()
    assert json.loads((config / "config.json").read_text()) == {"auths": {rig.host: {"auth": auth}}}
    crane(rig, "catalog", rig.host, env={"DOCKER_CONFIG": str(config)})
    texts = {"stdout": cp.stdout.decode(), "stderr": cp.stderr.decode()}

    out = regkit("logout", rig.host, "--docker-config", str(config), env={"HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode() == (
        f"Removed the credentials of {rig.host} from {config / 'config.json'}\n"
    )
    assert json.loads((config / "config.json").read_text()) == {"auths": {}}
    refused = crane(rig, "catalog", rig.host, env={"DOCKER_CONFIG": str(config)}, check=False)
    assert refused.returncode != 0

    again = regkit("logout", rig.host, "--docker-config", str(config), env={"HOME": str(tmp_path)})
    assert again.returncode == 0
    assert again.stdout.decode().startswith(f"Not logged in to {rig.host}")
    texts.update(logout=out.stdout.decode() + out.stderr.decode())
    assert_no_secrets(texts, [rig.password, auth])


def test_docker_style_wrong_password(tmp_path: Path, basic_rig: Rig) -> None:
    config = tmp_path / "cfg"
    cp = regkit(
        "login",
        basic_rig.host,
        "-u",
        basic_rig.username,
        "--password-stdin",
        "--docker-config",
        str(config),
        input=b"wrong-password-123\n",
        env={"HOME": str(tmp_path)},
    )
    assert cp.returncode == 1
    line = _one_error_line(cp)
    assert f"refused the credentials of user {basic_rig.username!r}" in line
    assert not config.exists()
    assert_no_secrets({"stderr": cp.stderr.decode()}, ["wrong-password-123"])


@pytest.mark.parametrize(
    "args",
    [
        ["--username", "u", "--password-stdin", "--secrets-file", "x.yml", "h.test"],
        ["--username", "u", "--password-stdin"],
        ["a.test", "--registry", "b.test"],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    cp = regkit("login", *args, input=b"pw\n", env={"HOME": str(tmp_path)})
    assert cp.returncode == 2, cp.stderr
    assert not (tmp_path / ".docker").exists()
