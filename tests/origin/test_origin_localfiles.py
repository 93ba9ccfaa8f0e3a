"""Local files around the Docker config (issue 12 §3): symlinks and credential helpers.

- The lock beside the config is opened with O_NOFOLLOW: a symlink planted as the lock never
  makes login create or open the file it points at.
- Login chmods the config directory it was given (0700), never the parent of the file a
  symlinked ``config.json`` points at (dotfile managers link it from elsewhere).
- A credential helper's failure message never includes the helper's output: a helper that
  echoes its input would print the password (JSON-escaped, past a plain redaction).
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from regkit.dockerconfig import (
    Credentials,
    DockerConfigError,
    credentials_for,
    remove_credentials,
    store_credentials,
)
from tests.clirun import regkit
from tests.leakscan import assert_no_secrets

HOST = "registry.example.test"
# A password whose JSON form differs from its raw form ('"' and '\' are escaped in JSON).
CREDS = Credentials("alice", 'se"cret\\pass-0042')


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_symlinked_config_json_is_written_through_and_its_targets_directory_keeps_its_mode(
    tmp_path: Path,
) -> None:
    dotfiles = tmp_path / "dotfiles"  # e.g. a dotfile repository, shared and 0755
    dotfiles.mkdir()
    dotfiles.chmod(0o755)
    real = dotfiles / "docker-config.json"
    real.write_text(json.dumps({"auths": {"other.example": {"auth": "eDp5"}}}))
    directory = tmp_path / "docker"
    directory.mkdir()
    directory.chmod(0o755)
    (directory / "config.json").symlink_to(real)

    result = store_credentials(HOST, CREDS, directory)

    assert _mode(dotfiles) == 0o755  # the unrelated directory is left alone
    assert _mode(directory) == 0o700  # the directory we were given is made private
    assert (directory / "config.json").is_symlink()  # the link stays a link
    assert result.config_path == real
    assert _mode(real) == 0o600
    auths = json.loads(real.read_text())["auths"]
    assert auths["other.example"] == {"auth": "eDp5"}
    assert base64.b64decode(auths[HOST]["auth"]).decode() == f"{CREDS.username}:{CREDS.password}"
    assert credentials_for(HOST, directory) == CREDS


def test_login_through_the_cli_with_a_symlinked_config_keeps_the_targets_directory_mode(
    tmp_path: Path,
) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    dotfiles.chmod(0o755)
    (dotfiles / "config.json").write_text("{}")
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").symlink_to(dotfiles / "config.json")
    # No registry to verify against: --no-verify writes only.
    result = regkit(
        "login",
        "--no-verify",
        "--username",
        CREDS.username,
        "--password-stdin",
        "--docker-config",
        str(directory),
        HOST,
        input=CREDS.password.encode() + b"\n",
    )
    assert result.returncode == 0, result.stderr.decode()
    assert _mode(dotfiles) == 0o755
    assert _mode(directory) == 0o700


def test_a_planted_lock_symlink_is_never_followed(tmp_path: Path) -> None:
    """The lock is a flock on the directory: a symlink named like a lock file is not opened,
    so its target is never created (and no lock file is left behind)."""
    directory = tmp_path / "docker"
    directory.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "created-by-the-lock"
    (directory / ".config.json.lock").symlink_to(victim)

    store_credentials(HOST, CREDS, directory)

    assert not victim.exists()
    assert (directory / ".config.json.lock").is_symlink()  # left as it was
    assert sorted(p.name for p in directory.iterdir()) == [".config.json.lock", "config.json"]


def test_symlinked_lock_to_an_existing_file_leaves_that_file_untouched(tmp_path: Path) -> None:
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"auths": {HOST: {"auth": "eDp5"}}}))
    victim = tmp_path / "important"
    victim.write_text("keep me")
    victim.chmod(0o644)
    (directory / ".config.json.lock").symlink_to(victim)

    remove_credentials(HOST, directory)

    assert victim.read_text() == "keep me"
    assert _mode(victim) == 0o644
    assert json.loads((directory / "config.json").read_text()) == {"auths": {}}


_ECHOING_HELPER = textwrap.dedent(
    """\
    #!{python}
    # A broken docker-credential-* helper that echoes what it was given, then fails.
    import sys
    sys.stdout.write(sys.stdin.read())
    sys.exit(3)
    """
)


@pytest.fixture
def echoing_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "docker-credential-echo"
    script.write_text(_ECHOING_HELPER.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"credsStore": "echo"}))
    return directory


def test_helper_failure_message_never_includes_the_helpers_output(echoing_helper: Path) -> None:
    with pytest.raises(DockerConfigError) as caught:
        store_credentials(HOST, CREDS, echoing_helper)
    message = str(caught.value)
    assert_no_secrets({"message": message}, [CREDS.password, CREDS.basic_token()])
    assert "ServerURL" not in message  # nothing of what the helper printed
    assert message == (
        f"credential helper docker-credential-echo (named in the Docker config) failed for "
        f"{HOST}: it exited with status 3 (its output is not shown: it may hold the secret); "
        "install or fix the helper, or remove 'credsStore'/'credHelpers' from the config"
    )


def test_helper_failure_on_read_never_includes_the_helpers_output(echoing_helper: Path) -> None:
    with pytest.raises(DockerConfigError) as caught:
        credentials_for(HOST, echoing_helper)
    message = str(caught.value)
    assert HOST in message and "status 3" in message
    assert f'"{HOST}' not in message and 'exited with "' not in message
