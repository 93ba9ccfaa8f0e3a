"""Writing the Docker client config: merge, atomic 0600 writes, concurrency, credential helpers."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from regkit.dockerconfig import (
    Credentials,
    DockerConfigError,
    credentials_for,
    remove_credentials,
    store_credentials,
)

HOST = "registry.example.test"
CREDS = Credentials("ci-bot", "pa55:word/with+odd=chars")
AUTH = base64.b64encode(b"ci-bot:pa55:word/with+odd=chars").decode()


def _read(directory: Path) -> dict[str, object]:
    data = json.loads((directory / "config.json").read_text())
    assert isinstance(data, dict)
    return data


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_config_has_docker_login_format_and_private_modes(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "docker"
    result = store_credentials(HOST, CREDS, directory)
    assert result.config_path == directory / "config.json"
    assert result.helper is None
    assert _read(directory) == {"auths": {HOST: {"auth": AUTH}}}
    assert _mode(directory / "config.json") == 0o600
    assert _mode(directory) == 0o700
    assert credentials_for(HOST, directory) == CREDS
    # no temporary file and no lock file left behind (the lock is a flock on the directory)
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["config.json"]


def test_default_directory_is_docker_config_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "env-dir"))
    store_credentials(HOST, CREDS)
    assert _read(tmp_path / "env-dir")["auths"] == {HOST: {"auth": AUTH}}


def test_default_directory_without_env_is_home_docker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    store_credentials(HOST, CREDS)
    assert _read(tmp_path / ".docker")["auths"] == {HOST: {"auth": AUTH}}


def test_merge_keeps_every_other_entry_and_setting(tmp_path: Path) -> None:
    existing = {
        "auths": {
            "ghcr.io": {"auth": "Z2g6dG9rZW4="},
            f"https://{HOST}/v1/": {"auth": "b2xkOm9sZA=="},  # an old-style key for our host
        },
        "credHelpers": {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"},
        "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
        "psFormat": "table {{.ID}}",
        "HttpHeaders": {"X-Team": "iac"},
    }
    (tmp_path / "config.json").write_text(json.dumps(existing))
    store_credentials(HOST, CREDS, tmp_path)
    data = _read(tmp_path)
    assert data["auths"] == {"ghcr.io": {"auth": "Z2g6dG9rZW4="}, HOST: {"auth": AUTH}}
    for key in ("credHelpers", "proxies", "psFormat", "HttpHeaders"):
        assert data[key] == existing[key]
    assert _mode(tmp_path / "config.json") == 0o600


def test_second_login_replaces_the_entry(tmp_path: Path) -> None:
    store_credentials(HOST, Credentials("old", "old-password"), tmp_path)
    store_credentials(HOST, CREDS, tmp_path)
    assert _read(tmp_path)["auths"] == {HOST: {"auth": AUTH}}


def test_symlinked_config_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "docker-config.json"
    real.parent.mkdir()
    real.write_text('{"auths": {"ghcr.io": {"auth": "eDp5"}}}')
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").symlink_to(real)
    store_credentials(HOST, CREDS, directory)
    assert (directory / "config.json").is_symlink()
    assert json.loads(real.read_text())["auths"][HOST] == {"auth": AUTH}


def test_invalid_existing_config_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(DockerConfigError, match="not valid JSON"):
        store_credentials(HOST, CREDS, tmp_path)
    assert (tmp_path / "config.json").read_text() == "{not json"


def test_unusable_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(DockerConfigError, match=r"cannot write .*a-file/docker.*--docker-config"):
        store_credentials(HOST, CREDS, tmp_path / "a-file" / "docker")


def test_username_with_colon_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DockerConfigError, match="':'"):
        store_credentials(HOST, Credentials("a:b", "pw"), tmp_path)
    assert not (tmp_path / "config.json").exists()


def test_two_concurrent_logins_in_threads_keep_both(tmp_path: Path) -> None:
    hosts = [f"r{i}.example.test" for i in range(40)]
    barrier = threading.Barrier(2)

    def work(mine: list[str]) -> None:
        barrier.wait()
        for host in mine:
            store_credentials(host, Credentials("u", f"pw-{host}"), tmp_path)

    threads = [threading.Thread(target=work, args=(hosts[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    auths = _read(tmp_path)["auths"]
    assert isinstance(auths, dict)
    assert sorted(auths) == sorted(hosts)
    for host in hosts:
        assert credentials_for(host, tmp_path) == Credentials("u", f"pw-{host}")


_LOGIN_LOOP = textwrap.dedent(
    """
    import sys
    from regkit.dockerconfig import Credentials, store_credentials
    directory, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.stdin.readline()  # start together
    for i in range(count):
        store_credentials(f"{prefix}{i}.example.test", Credentials("u", "p"), directory)
    """
)


def test_two_concurrent_login_processes_keep_every_entry(tmp_path: Path) -> None:
    count = 30
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _LOGIN_LOOP, str(tmp_path), prefix, str(count)],
            stdin=subprocess.PIPE,
            text=True,
        )
        for prefix in ("a", "b")
    ]
    try:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.wait(timeout=60) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    auths = _read(tmp_path)["auths"]
    assert isinstance(auths, dict)
    expected = {f"{p}{i}.example.test" for p in "ab" for i in range(count)}
    assert set(auths) == expected
    assert _mode(tmp_path / "config.json") == 0o600


# -- logout ----------------------------------------------------------------------------------


def test_logout_removes_every_form_of_the_host_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    HOST: {"auth": AUTH},
                    f"https://{HOST}": {"auth": AUTH},
                    "ghcr.io": {"auth": "eDp5"},
                },
                "psFormat": "x",
            }
        )
    )
    result = remove_credentials(HOST, tmp_path)
    assert result.removed and result.from_config and result.helper is None
    assert _read(tmp_path) == {"auths": {"ghcr.io": {"auth": "eDp5"}}, "psFormat": "x"}
    assert credentials_for(HOST, tmp_path) is None


def test_logout_when_not_logged_in_changes_nothing(tmp_path: Path) -> None:
    assert not remove_credentials(HOST, tmp_path).removed
    assert not (tmp_path / "config.json").exists()
    (tmp_path / "config.json").write_text('{"auths": {"ghcr.io": {"auth": "eDp5"}}}')
    before = (tmp_path / "config.json").stat().st_mtime_ns
    assert not remove_credentials(HOST, tmp_path).removed
    assert (tmp_path / "config.json").stat().st_mtime_ns == before


# -- credential helpers ----------------------------------------------------------------------

_HELPER = textwrap.dedent(
    """\
    #!{python}
    # A docker-credential-* helper (the protocol of docker-credential-helpers) keeping its
    # entries in the JSON file named by FAKE_CRED_STORE.
    import json, os, sys
    path = os.environ["FAKE_CRED_STORE"]
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        data = {{}}
    action = sys.argv[1]
    if os.environ.get("FAKE_CRED_FAIL"):
        print("the keychain is locked")
        sys.exit(1)
    if action == "store":
        item = json.load(sys.stdin)
        data[item["ServerURL"]] = {{"Username": item["Username"], "Secret": item["Secret"]}}
    elif action == "get":
        server = sys.stdin.read().strip()
        if server not in data:
            print("credentials not found in native keychain")
            sys.exit(1)
        print(json.dumps(dict(data[server], ServerURL=server)))
    elif action == "erase":
        server = sys.stdin.read().strip()
        if server not in data:
            print("credentials not found in native keychain")
            sys.exit(1)
        del data[server]
    elif action == "list":
        print(json.dumps({{k: v["Username"] for k, v in data.items()}}))
    with open(path, "w") as f:
        json.dump(data, f)
    """
)


@pytest.fixture
def cred_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``docker-credential-test`` on PATH; returns the JSON file it stores into."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "docker-credential-test"
    script.write_text(_HELPER.format(python=sys.executable))
    script.chmod(0o755)
    store = tmp_path / "helper-store.json"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CRED_STORE", str(store))
    return store


def _helper_data(store: Path) -> dict[str, object]:
    data = json.loads(store.read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("kind", ["credsStore", "credHelpers"])
def test_helper_gets_the_secret_and_config_gets_an_empty_entry(
    tmp_path: Path, cred_helper: Path, kind: str
) -> None:
    directory = tmp_path / "docker"
    directory.mkdir()
    setting: object = "test" if kind == "credsStore" else {HOST: "test"}
    (directory / "config.json").write_text(
        json.dumps({kind: setting, "auths": {HOST: {"auth": "b2xkOm9sZA=="}}})
    )
    result = store_credentials(HOST, CREDS, directory)
    assert result.helper == "test"
    assert "docker-credential-test" in result.describe()
    assert _helper_data(cred_helper) == {
        HOST: {"Username": CREDS.username, "Secret": CREDS.password}
    }
    config_text = (directory / "config.json").read_text()
    assert CREDS.password not in config_text and AUTH not in config_text
    assert json.loads(config_text) == {kind: setting, "auths": {HOST: {}}}  # as docker login
    assert credentials_for(HOST, directory) == CREDS  # read back through the helper

    result_out = remove_credentials(HOST, directory)
    assert result_out.helper == "test" and result_out.from_config
    assert _helper_data(cred_helper) == {}
    assert _read(directory) == {kind: setting, "auths": {}}


def test_helper_for_another_host_does_not_capture_ours(tmp_path: Path, cred_helper: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {"ghcr.io": "test"}}))
    assert store_credentials(HOST, CREDS, tmp_path).helper is None
    assert not cred_helper.exists()
    assert _read(tmp_path)["auths"] == {HOST: {"auth": AUTH}}


def test_failing_helper_is_an_error_and_nothing_is_written(
    tmp_path: Path, cred_helper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CRED_FAIL", "1")
    original = json.dumps({"credsStore": "test"})
    (tmp_path / "config.json").write_text(original)
    with pytest.raises(DockerConfigError) as info:
        store_credentials(HOST, CREDS, tmp_path)
    message = str(info.value)
    assert "docker-credential-test" in message and "exited with status 1" in message
    assert "keychain is locked" not in message  # the helper's output is never shown
    assert CREDS.password not in message
    assert (tmp_path / "config.json").read_text() == original


def test_missing_helper_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "nonexistent-xyz"}))
    with pytest.raises(DockerConfigError, match=r"docker-credential-nonexistent-xyz .*not"):
        store_credentials(HOST, CREDS, tmp_path)


def test_logout_from_helper_only(tmp_path: Path, cred_helper: Path) -> None:
    """An entry only in the helper (the config's auths entry was removed by hand) is erased."""
    cred_helper.write_text(json.dumps({HOST: {"Username": "u", "Secret": "s"}}))
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "test"}))
    result = remove_credentials(HOST, tmp_path)
    assert result.helper == "test" and not result.from_config and result.removed
    assert _helper_data(cred_helper) == {}
