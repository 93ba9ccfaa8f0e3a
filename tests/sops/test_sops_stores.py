"""The sops store table (``regkit.sops.stores``): every format sops has is one store, registered
by name and extension; decryption and output go through the table; an unknown format is one
error line. The files are made by the real ``sops`` binary."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from regkit.sops import SopsFormatError, decrypt_file, decrypt_text, load_identities
from regkit.sops.render import render
from regkit.sops.stores import STORES, JsonStore, format_for_path, store_for
from regkit.sops.tree import Branch
from tests.sops_helpers import AgeKey, encrypt, new_age_key, sops_decrypt

#: A small document in every format, and the file name sops is told (it picks the store too).
PLAIN = {
    "yaml": ("secrets.yaml", "user: alice\npassword: s3cret\nport: 5000\n"),
    "json": ("secrets.json", '{\n\t"user": "alice",\n\t"password": "s3cret"\n}\n'),
    "dotenv": ("secrets.env", "USER=alice\nPASSWORD=s3cret\n"),
    "ini": ("secrets.ini", "[registry]\nuser     = alice\npassword = s3cret\n"),
    "binary": ("secrets.bin", "any bytes: s3cret\n"),
}


@pytest.fixture(scope="module")
def key() -> AgeKey:
    return new_age_key()


def test_every_sops_format_is_a_registered_store() -> None:
    assert list(STORES) == ["yaml", "json", "dotenv", "ini", "binary"]
    for name, store in STORES.items():
        assert store.name == name
        assert store_for(name) is store


def test_the_decrypt_verb_offers_exactly_the_registered_stores() -> None:
    from regkit.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    decrypt = sub.choices["decrypt"]
    for flag in ("--input-type", "--output-type"):
        action = next(a for a in decrypt._actions if flag in a.option_strings)
        assert list(action.choices or ()) == list(STORES), flag


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("secrets.yaml", "yaml"),
        ("secrets.yml", "yaml"),
        ("a/b/secrets.enc.json", "json"),
        ("prod.env", "dotenv"),
        ("settings.ini", "ini"),
        ("key.pem", "binary"),
        ("noextension", "binary"),
    ],
)
def test_the_extension_chooses_the_store(name: str, expected: str) -> None:
    assert format_for_path(name) == expected


def test_an_unknown_input_type_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    wording = "unknown input type 'toml'; use one of yaml, json, dotenv, ini, binary"
    with pytest.raises(SopsFormatError) as raised:
        decrypt_text("a = 1\n", "toml")
    assert str(raised.value) == wording
    path = tmp_path / "secrets.yaml"
    path.write_text("a: 1\n")
    with pytest.raises(SopsFormatError) as raised:
        decrypt_file(path, input_type="toml")
    assert str(raised.value) == wording
    with pytest.raises(SopsFormatError) as raised:
        store_for("toml")
    assert str(raised.value) == wording


def test_an_unknown_output_type_is_refused(tmp_path: Path, key: AgeKey) -> None:
    name, text = PLAIN["yaml"]
    doc = decrypt_file(encrypt(tmp_path, text, name, recipients=[key.recipient]), _ids(key))
    with pytest.raises(SopsFormatError) as raised:
        render(doc, "toml")
    assert str(raised.value) == "unknown output type 'toml'"


def _ids(key: AgeKey) -> Any:
    return load_identities({"SOPS_AGE_KEY": key.identity, "HOME": "/nonexistent"})


@pytest.mark.parametrize("fmt", list(STORES))
def test_every_store_decrypts_what_sops_wrote_as_sops_prints_it(
    tmp_path: Path, key: AgeKey, fmt: str
) -> None:
    """Each registered store, on a file the real sops encrypted in that format: the same bytes
    as ``sops decrypt`` (a store added to the table without a fixture here fails: KeyError)."""
    name, text = PLAIN[fmt]
    path = encrypt(tmp_path, text, name, recipients=[key.recipient])
    assert "s3cret" not in path.read_text()
    theirs = sops_decrypt(tmp_path, path, [key.identity])
    assert theirs.returncode == 0, theirs.stderr.decode()
    doc = decrypt_file(path, _ids(key))
    assert doc.format == fmt
    assert render(doc) == theirs.stdout
    assert "s3cret" in doc.secrets() or "any bytes: s3cret\n" in doc.secrets()


class _Recording(JsonStore):
    """A store under a new name: JSON, remembering that the table led to it."""

    name = "recorded"
    extensions: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.calls: list[str] = []

    def load_encrypted(self, text: str) -> tuple[list[Branch], Any]:
        self.calls.append("load_encrypted")
        return super().load_encrypted(text)

    def emit(self, branches: list[Branch], name: str) -> bytes:
        self.calls.append("emit")
        return super().emit(branches, name)


def test_decryption_and_output_go_through_the_table(
    tmp_path: Path, key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A format added to STORES (one class, one line) is read and written by decrypt_text and
    render with no other change."""
    store = _Recording()
    monkeypatch.setitem(STORES, store.name, store)
    name, text = PLAIN["json"]
    path = encrypt(tmp_path, text, name, recipients=[key.recipient])
    doc = decrypt_text(path.read_text(), "recorded", identities=_ids(key), name=str(path))
    assert doc.format == "recorded"
    assert doc.data == {"user": "alice", "password": "s3cret"}
    assert render(doc) == render(decrypt_file(path, _ids(key)))
    assert store.calls == ["load_encrypted", "emit"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [(".env", "dotenv"), ("dir/.env", "dotenv"), ("SECRETS.YAML", "binary"), ("a.JSON", "binary")],
)
def test_the_store_is_chosen_by_suffix_as_sops_does(
    tmp_path: Path, key: AgeKey, name: str, expected: str
) -> None:
    """sops matches the end of the file name, case-sensitively (``strings.HasSuffix``): a
    file named ``.env`` is dotenv, ``SECRETS.YAML`` is binary. The real sops encrypts them
    that way, so regkit must read them that way to decrypt them."""
    assert format_for_path(name) == expected
    text = "A=s3cret\n" if expected == "dotenv" else "a: s3cret\n"
    path = encrypt(tmp_path, text, Path(name).name, recipients=[key.recipient])
    theirs = sops_decrypt(tmp_path, path, [key.identity])
    assert theirs.returncode == 0, theirs.stderr.decode()
    assert render(decrypt_file(path, _ids(key))) == theirs.stdout
