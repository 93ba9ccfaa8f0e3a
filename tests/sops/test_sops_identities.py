"""Every place sops looks for age identities, combined; descriptions never hold key material."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from regkit.sops import SopsError, decrypt_file, load_identities
from regkit.sops.keys import default_keys_file
from tests.sops_helpers import AgeKey, encrypt, new_age_key

PLAIN = "registry_password: hunter2\n"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environment with no identity anywhere; returns the fake HOME."""
    home = tmp_path / "home"
    home.mkdir()
    for name in (
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY_CMD",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "XDG_CONFIG_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def key() -> AgeKey:
    return new_age_key()


def _no_secrets_in(sources: list[str], *keys: str) -> None:
    joined = "\n".join(sources)
    assert "AGE-SECRET-KEY" not in joined
    for k in keys:
        assert k not in joined


def test_env_var_with_comments_and_several_keys(
    tmp_path: Path, env: Path, key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = new_age_key()
    path = encrypt(tmp_path, PLAIN, recipients=[key.recipient])
    monkeypatch.setenv(
        "SOPS_AGE_KEY",
        f"# created: 2024-01-01\n# public key: {other.recipient}\n{other.identity}\n\n"
        f"# public key: {key.recipient}\n{key.identity}\n",
    )
    assert decrypt_file(path).get(["registry_password"]) == "hunter2"
    ids = load_identities()
    assert len(ids.identities) == 2
    assert ids.raw_secret_strings == [other.identity, key.identity]
    assert "SOPS_AGE_KEY: 2 identities" in ids.sources
    _no_secrets_in(ids.sources, key.identity, other.identity)


def test_key_file(tmp_path: Path, env: Path, key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> None:
    path = encrypt(tmp_path, PLAIN, recipients=[key.recipient])
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"# public key: {key.recipient}\n{key.identity}\n")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_file))
    assert decrypt_file(path).data == {"registry_password": "hunter2"}
    assert f"SOPS_AGE_KEY_FILE {key_file}: 1 identity" in load_identities().sources


def test_key_cmd(tmp_path: Path, env: Path, key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> None:
    path = encrypt(tmp_path, PLAIN, recipients=[key.recipient])
    seen = tmp_path / "recipient-seen"
    script = tmp_path / "print-key.py"
    script.write_text(
        "import os, sys\n"
        f"open({str(seen)!r}, 'w').write(os.environ.get('SOPS_AGE_RECIPIENT', ''))\n"
        f"print('# from a password manager')\nprint({key.identity!r})\n"
    )
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", f"{sys.executable} {script}")
    assert decrypt_file(path).get(["registry_password"]) == "hunter2"
    assert seen.read_text() == key.recipient


def test_key_cmd_failure_is_reported(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", "false")
    with pytest.raises(SopsError, match="SOPS_AGE_KEY_CMD exited with status 1"):
        load_identities()


@pytest.mark.parametrize("use_xdg", [True, False], ids=["xdg-config-home", "home-config"])
def test_default_keys_file(
    tmp_path: Path, env: Path, key: AgeKey, monkeypatch: pytest.MonkeyPatch, use_xdg: bool
) -> None:
    path = encrypt(tmp_path, PLAIN, recipients=[key.recipient])
    if use_xdg:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        expected = tmp_path / "xdg" / "sops" / "age" / "keys.txt"
    else:
        expected = env / ".config" / "sops" / "age" / "keys.txt"
    assert default_keys_file() == expected
    expected.parent.mkdir(parents=True)
    expected.write_text(key.identity + "\n")
    assert decrypt_file(path).get(["registry_password"]) == "hunter2"


def test_sources_are_combined(tmp_path: Path, env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [new_age_key() for _ in range(3)]
    monkeypatch.setenv("SOPS_AGE_KEY", keys[0].identity)
    key_file = tmp_path / "k.txt"
    key_file.write_text(keys[1].identity)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_file))
    default = env / ".config" / "sops" / "age" / "keys.txt"
    default.parent.mkdir(parents=True)
    default.write_text(keys[2].identity)
    ids = load_identities()
    assert ids.raw_secret_strings == [k.identity for k in keys]
    for k in keys:  # each source alone is enough for a file encrypted to its key
        path = encrypt(tmp_path, PLAIN, f"{k.recipient[-8:]}.yaml", recipients=[k.recipient])
        assert decrypt_file(path).data == {"registry_password": "hunter2"}


def _ssh_key(directory: Path) -> tuple[Path, str]:
    private = Ed25519PrivateKey.generate()
    path = directory / "id_ed25519"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return path, public.decode()


def test_ssh_key_from_env_var(tmp_path: Path, env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_path, public = _ssh_key(tmp_path)
    path = encrypt(tmp_path, PLAIN, recipients=[public])
    monkeypatch.setenv("SOPS_AGE_SSH_PRIVATE_KEY_FILE", str(key_path))
    assert decrypt_file(path).get(["registry_password"]) == "hunter2"


def test_ssh_key_default_location(tmp_path: Path, env: Path) -> None:
    (env / ".ssh").mkdir()
    _, public = _ssh_key(env / ".ssh")
    path = encrypt(tmp_path, PLAIN, recipients=[public])
    assert decrypt_file(path).get(["registry_password"]) == "hunter2"
    assert any("id_ed25519: 1 SSH identity" in s for s in load_identities().sources)


def test_garbage_in_key_source_is_refused_without_echo(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY", "# comment\nnot-a-key-but-secret-ish\n")
    with pytest.raises(SopsError) as err:
        load_identities()
    assert "SOPS_AGE_KEY line 2" in str(err.value)
    assert "secret-ish" not in str(err.value)


def test_plugin_identities_are_named_unsupported(
    tmp_path: Path, env: Path, key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encrypt(tmp_path, PLAIN, recipients=[key.recipient])
    monkeypatch.setenv("SOPS_AGE_KEY", "AGE-PLUGIN-YUBIKEY-1QQQQQQ")
    with pytest.raises(SopsError) as err:
        decrypt_file(path)
    assert "not supported by regkit" in str(err.value)
    assert "QQQQQQ" not in str(err.value)
