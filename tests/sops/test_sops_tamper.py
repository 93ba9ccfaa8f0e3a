"""Tampered and undecryptable files are refused with a message that says why (and leaks nothing)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from regkit.sops import (
    MacMismatchError,
    MalformedValueError,
    NoIdentityError,
    NoMatchingIdentityError,
    SopsError,
    UnsupportedKeyTypeError,
    decrypt_file,
    load_identities,
)
from tests.sops_helpers import encrypt, make_team_secrets, new_age_key, sops_decrypt

PASSWORD = "Tr0ub4dor&3-horse"


@pytest.fixture
def team(tmp_path: Path) -> tuple[Path, str, list[str]]:
    return make_team_secrets(tmp_path, "ci-bot", PASSWORD, "example.test")


def _ids(identity: str):  # type: ignore[no-untyped-def]
    return load_identities({"SOPS_AGE_KEY": identity, "HOME": "/nonexistent"})


def _enc_line(text: str, key: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"{key}: ENC["))


def _assert_clean(message: str, identity: str) -> None:
    assert PASSWORD not in message
    assert identity not in message
    assert "AGE-SECRET-KEY" not in message


def _sops_refuses(tmp_path: Path, path: Path, identity: str) -> None:
    proc = sops_decrypt(tmp_path, path, [identity])
    assert proc.returncode != 0, "the tampering must be one sops refuses too"


def test_one_ciphertext_byte_changed(tmp_path: Path, team: tuple[Path, str, list[str]]) -> None:
    path, identity, _ = team
    text = path.read_text()
    line = _enc_line(text, "registry_password")
    data = re.search(r"data:([^,]+)", line)
    assert data is not None
    b64 = data.group(1)
    flipped = ("B" if b64[0] != "B" else "C") + b64[1:]
    path.write_text(text.replace(line, line.replace(b64, flipped)))
    _sops_refuses(tmp_path, path, identity)
    with pytest.raises(MalformedValueError) as err:
        decrypt_file(path, _ids(identity))
    assert "registry_password" in str(err.value)
    assert "does not authenticate" in str(err.value)
    _assert_clean(str(err.value), identity)


def test_two_values_swapped(tmp_path: Path, team: tuple[Path, str, list[str]]) -> None:
    path, identity, _ = team
    text = path.read_text()
    user, pw = _enc_line(text, "registry_username"), _enc_line(text, "registry_password")
    swapped = text.replace(user, "@@U@@").replace(
        pw, user.replace("registry_username", "registry_password")
    )
    swapped = swapped.replace("@@U@@", pw.replace("registry_password", "registry_username"))
    path.write_text(swapped)
    _sops_refuses(tmp_path, path, identity)
    with pytest.raises(MalformedValueError) as err:
        decrypt_file(path, _ids(identity))
    assert "registry_username" in str(err.value)  # the first value whose AAD does not match
    _assert_clean(str(err.value), identity)


def test_two_list_items_swapped_breaks_the_mac(
    tmp_path: Path, team: tuple[Path, str, list[str]]
) -> None:
    path, identity, _ = team
    lines = path.read_text().splitlines(keepends=True)
    start = lines.index("allowed_ssh_ips:\n")
    items = [i for i in range(start + 1, start + 4) if "type:str]" in lines[i]]
    assert len(items) == 2
    lines[items[0]], lines[items[1]] = lines[items[1]], lines[items[0]]
    path.write_text("".join(lines))
    _sops_refuses(tmp_path, path, identity)
    with pytest.raises(MacMismatchError) as err:
        decrypt_file(path, _ids(identity))
    assert "MAC mismatch" in str(err.value) and str(path) in str(err.value)
    _assert_clean(str(err.value), identity)
    # explicitly ignoring the MAC gives the (reordered) values
    doc = decrypt_file(path, _ids(identity), ignore_mac=True)
    assert doc.data["allowed_ssh_ips"] == ["198.51.100.0/24", "203.0.113.7"]


def test_clear_value_edited(tmp_path: Path) -> None:
    key = new_age_key()
    path = encrypt(
        tmp_path, "host_unencrypted: a.example\npassword: x\n", recipients=[key.recipient]
    )
    path.write_text(
        path.read_text().replace("host_unencrypted: a.example", "host_unencrypted: evil.example")
    )
    _sops_refuses(tmp_path, path, key.identity)
    with pytest.raises(MacMismatchError):
        decrypt_file(path, _ids(key.identity))


def test_clear_value_edited_with_mac_only_encrypted_is_accepted(tmp_path: Path) -> None:
    """As with sops itself: mac_only_encrypted does not protect clear values."""
    key = new_age_key()
    config = f"creation_rules:\n    - age: {key.recipient}\n      mac_only_encrypted: true\n"
    path = encrypt(tmp_path, "host_unencrypted: a.example\npassword: x\n", config=config)
    path.write_text(path.read_text().replace("a.example", "evil.example"))
    assert sops_decrypt(tmp_path, path, [key.identity]).returncode == 0
    assert decrypt_file(path, _ids(key.identity)).data["host_unencrypted"] == "evil.example"


def test_mac_edited(tmp_path: Path, team: tuple[Path, str, list[str]]) -> None:
    path, identity, _ = team
    text = path.read_text()
    mac = re.search(r"    mac: ENC\[AES256_GCM,data:(.)", text)
    assert mac is not None
    replacement = "A" if mac.group(1) != "A" else "B"
    path.write_text(text[: mac.start(1)] + replacement + text[mac.end(1) :])
    _sops_refuses(tmp_path, path, identity)
    with pytest.raises(MacMismatchError) as err:
        decrypt_file(path, _ids(identity))
    assert "MAC" in str(err.value)
    assert (
        decrypt_file(path, _ids(identity), ignore_mac=True).get(["registry_password"]) == PASSWORD
    )


def test_lastmodified_edited(tmp_path: Path, team: tuple[Path, str, list[str]]) -> None:
    path, identity, _ = team
    text = re.sub(
        r'lastmodified: "(\d{4})',
        lambda m: f'lastmodified: "{int(m.group(1)) - 1}',
        path.read_text(),
    )
    path.write_text(text)
    _sops_refuses(tmp_path, path, identity)
    with pytest.raises(MacMismatchError):
        decrypt_file(path, _ids(identity))


def test_clear_string_where_a_secret_belongs(
    tmp_path: Path, team: tuple[Path, str, list[str]]
) -> None:
    path, identity, _ = team
    text = path.read_text()
    path.write_text(text.replace(_enc_line(text, "registry_password"), "registry_password: plain"))
    _sops_refuses(tmp_path, path, identity)
    with pytest.raises(MalformedValueError) as err:
        decrypt_file(path, _ids(identity))
    assert "registry_password" in str(err.value) and "ENC[" in str(err.value)
    assert "plain" not in str(err.value)


def test_wrong_key(tmp_path: Path, team: tuple[Path, str, list[str]]) -> None:
    path, _, recipients = team
    stranger = new_age_key()
    other = new_age_key()
    with pytest.raises(NoMatchingIdentityError) as err:
        decrypt_file(path, _ids(f"{stranger.identity}\n{other.identity}"))
    message = str(err.value)
    assert "none of the 2 age identities" in message
    assert all(r in message for r in recipients)
    assert "SOPS_AGE_KEY" in message
    _assert_clean(message, stranger.identity)


def test_no_key(tmp_path: Path, team: tuple[Path, str, list[str]]) -> None:
    path, _, _ = team
    env = {"HOME": str(tmp_path / "empty-home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    with pytest.raises(NoIdentityError) as err:
        decrypt_file(path, load_identities(env))
    message = str(err.value)
    for source in (
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY_CMD",
        "id_ed25519",
        "keys.txt",
    ):
        assert source in message


def test_shamir_below_threshold(tmp_path: Path) -> None:
    keys = [new_age_key() for _ in range(3)]
    config = "creation_rules:\n    - shamir_threshold: 2\n      key_groups:\n" + "".join(
        f"          - age: [{k.recipient}]\n" for k in keys
    )
    path = encrypt(tmp_path, "a: b\n", config=config)
    with pytest.raises(NoMatchingIdentityError) as err:
        decrypt_file(path, _ids(keys[0].identity))
    assert "need 2 of 3 key groups, decrypted 1" in str(err.value)
    assert "group 3: " + keys[2].recipient in str(err.value)


def _pgp_only(path: Path) -> None:
    """Rewrite the key list as if the file were encrypted for a PGP key only."""
    text = path.read_text()
    start = text.index("    age:\n")
    end = text.index("    lastmodified:")
    pgp = (
        "    pgp:\n"
        '        - created_at: "2024-01-01T00:00:00Z"\n'
        "          enc: |\n"
        "            -----BEGIN PGP MESSAGE-----\n"
        "            AAAA\n"
        "            -----END PGP MESSAGE-----\n"
        "          fp: 0123456789ABCDEF0123456789ABCDEF01234567\n"
    )
    path.write_text(text[:start] + pgp + text[end:])


def test_pgp_only_without_sops_binary(
    tmp_path: Path, team: tuple[Path, str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, identity, _ = team
    _pgp_only(path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(UnsupportedKeyTypeError) as err:
        decrypt_file(path, _ids(identity))
    message = str(err.value)
    assert "no age recipients" in message and "pgp" in message
    assert "regkit decrypts age keys" in message and "sops binary on PATH" in message


def test_pgp_only_uses_sops_binary_on_path(
    tmp_path: Path, team: tuple[Path, str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, identity, _ = team
    _pgp_only(path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    args_log = tmp_path / "args"
    shim = bin_dir / "sops"  # stands in for sops with a PGP key: prints a plain document
    shim.write_text(
        f"#!/bin/sh\necho \"$@\" > {args_log}\nprintf '# c\\nregistry_password: from-sops\\n'\n"
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    doc = decrypt_file(path, _ids(identity))
    assert doc.get(["registry_password"]) == "from-sops"
    assert doc.secrets() == ["from-sops"]
    assert args_log.read_text().split() == [
        "decrypt",
        "--input-type",
        "yaml",
        "--output-type",
        "yaml",
        str(path),
    ]
    # the real sops binary, without the PGP key, fails: regkit reports it as a SopsError
    real = tmp_path / "realbin"
    real.mkdir()
    from tests.sops_helpers import SOPS

    (real / "sops").symlink_to(SOPS)
    monkeypatch.setenv("PATH", str(real))
    with pytest.raises(SopsError, match="sops could not decrypt"):
        decrypt_file(path, _ids(identity))
