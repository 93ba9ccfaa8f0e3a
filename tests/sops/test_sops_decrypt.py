"""regkit.sops against the real sops binary: every fixture decrypts to what ``sops -d`` prints."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from regkit.sops import decrypt_file, load_identities
from regkit.sops.keys import Identities
from regkit.sops.render import render
from tests.sops_helpers import AgeKey, encrypt, make_team_secrets, new_age_key, sops_decrypt

KITCHEN = """\
# head comment of the document
# second line of it
name: kitchen sink   # a line comment
nested:
    # first comment in a nested map
    level2:
        level3:
            deep: value
        # trailing comment in level2
    # between keys
    sibling: 2
lists:
    - plain
    # comment inside a list
    - [1, 2, [3, 4]]
    - - nested a
      # comment in a nested list
      - nested b
    - key: in map in list
      other: 1
      # trailing comment in a map in a list
    - {}
    - []
unicode: "héllo wörld ✓ 日本語"
emoji: "😀"
multi_line: |
    first line
    second line
no_newline: |-
    kept
    lines
folded: >
    folded text
    joins
empty: ""
int: 42
negative: -7
hex: 0x1F
octal: 0o17
big: 9007199254740993
float: 3.25
small_float: 1.5e-7
large_float: 1.0e+21
inf: .inf
bool_true: true
bool_false: false
yes_is_a_string: yes
quoted_number: "0123"
null_value: null
tilde: ~
timestamp: 2024-01-02T03:04:05Z
date_only: 2024-02-29
with_offset: 2001-12-14t21:59:43.10-05:00
spaces: " leading and trailing "
colon: "a: b"
hash: "x #y"
single: "it's"
backslash: 'C:\\path'
tab: "a\\tb"
long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
anchors:
    base: &base {p: 1, q: [x, y]}
    copy: *base
plain_unencrypted: stays clear
# last comment
"""

MULTI_DOC = """\
# first document
a: 1
b: [1, 2]
---
# second document
c: three
d:
    e: f
---
g: last
"""

SCALARS = """\
strings: ["yes", "no", "on", "off", "true", "1", "", " lead", "trail ", "a: b", "# c", "- d",
  "@at", "`bt", "null", "~", "1.5", "2024-01-02", "'q'", "\\"dq\\"", "ctrl\\u0001", "-", "?",
  ":", "%p", "!x", "*a", "&a", "|", ">", "{", "}", "[", "]", ",", "0x1F", "1e3", ".5", "+1",
  "1_000", "0b101", "a\\u00a0b", "line1\\nline2", "line1\\nline2\\n", "trailing\\n\\n",
  " lead\\nx", "\\u2028", "1:20", "08", "0777", "=", "<<"]
floats: [1.0, 1e20, 0.1, -0.0, -.inf, .nan, 1e-5, 123456789.123, 08, 0777, 12e3, 1_000]
"""

OPTION_DOC = """\
# sops:enc
password: hunter2
public_key: pk-123
token_secret: t0k3n
nested:
    # sops:clear
    user: alice
    pass_secret: nested-secret
    list_clear:
        - one
        - two
plain: visible
"""

OPTIONS = {
    "unencrypted_suffix": (["--unencrypted-suffix", "_clear"], "list_clear"),
    "encrypted_suffix": (["--encrypted-suffix", "_secret"], "token_secret"),
    "unencrypted_regex": (["--unencrypted-regex", "^(public|plain)"], "public_key"),
    "encrypted_regex": (["--encrypted-regex", "^(password|token)"], "password"),
    # sops 3.11 has no flags for these: they come from a creation rule
    "unencrypted_comment_regex": (["unencrypted_comment_regex: sops:clear"], "user"),
    "encrypted_comment_regex": (["encrypted_comment_regex: sops:enc"], "password"),
    "mac_only_encrypted": (["mac_only_encrypted: true"], None),
}


def encrypt_with_option(tmp_path: Path, text: str, name: str, key: AgeKey, option: str) -> Path:
    args = OPTIONS[option][0]
    if args[0].startswith("--"):
        return encrypt(tmp_path, text, name, recipients=[key.recipient], args=args)
    config = f"creation_rules:\n    - age: {key.recipient}\n      {args[0]}\n"
    return encrypt(tmp_path, text, name, config=config)


@pytest.fixture
def key() -> AgeKey:
    return new_age_key()


def _ids(*keys: AgeKey) -> Identities:
    return load_identities(
        {"SOPS_AGE_KEY": "\n".join(k.identity for k in keys), "HOME": "/nonexistent"}
    )


def _check_same_as_sops(
    tmp_path: Path, path: Path, keys: list[AgeKey], output_type: str | None = None
) -> bytes:
    args = ["--output-type", output_type] if output_type else []
    proc = sops_decrypt(tmp_path, path, [k.identity for k in keys], args)
    assert proc.returncode == 0, proc.stderr.decode()
    doc = decrypt_file(path, _ids(*keys))
    ours = render(doc, output_type)
    assert ours == proc.stdout
    return ours


def test_kitchen_sink_yaml_is_byte_identical(tmp_path: Path, key: AgeKey) -> None:
    path = encrypt(tmp_path, KITCHEN, recipients=[key.recipient])
    assert "stays clear" in path.read_text()  # the suffix rule left it in the clear
    assert "hello" not in path.read_text()
    _check_same_as_sops(tmp_path, path, [key])
    # JSON cannot hold infinity (sops refuses too): compare JSON on the rest
    path = encrypt(
        tmp_path, KITCHEN.replace("inf: .inf\n", ""), "noinf.yaml", recipients=[key.recipient]
    )
    _check_same_as_sops(tmp_path, path, [key], "json")


def test_kitchen_sink_values_and_types(tmp_path: Path, key: AgeKey) -> None:
    path = encrypt(tmp_path, KITCHEN, recipients=[key.recipient])
    data = decrypt_file(path, _ids(key)).data
    assert list(data)[:4] == ["name", "nested", "lists", "unicode"]
    assert data["nested"]["level2"]["level3"]["deep"] == "value"
    assert data["lists"] == [
        "plain",
        [1, 2, [3, 4]],
        ["nested a", "nested b"],
        {"key": "in map in list", "other": 1},
        {},
        [],
    ]
    assert data["unicode"] == "héllo wörld ✓ 日本語"
    assert data["multi_line"] == "first line\nsecond line\n"
    assert data["no_newline"] == "kept\nlines"
    assert data["folded"] == "folded text joins\n"
    assert data["empty"] == ""
    assert (data["int"], data["negative"], data["hex"], data["octal"]) == (42, -7, 31, 15)
    assert data["big"] == 9007199254740993 and isinstance(data["big"], int)
    assert data["float"] == 3.25 and data["small_float"] == 1.5e-7
    assert data["inf"] == float("inf")
    assert data["bool_true"] is True and data["bool_false"] is False
    assert data["yes_is_a_string"] == "yes"
    assert data["quoted_number"] == "0123"
    assert data["null_value"] is None and data["tilde"] is None
    assert data["timestamp"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert data["date_only"] == dt.datetime(2024, 2, 29, tzinfo=dt.UTC)
    assert data["with_offset"].utcoffset() == dt.timedelta(hours=-5)
    assert data["anchors"]["copy"] == {"p": 1, "q": ["x", "y"]}
    assert data["plain_unencrypted"] == "stays clear"


def test_comments_come_back_in_place(tmp_path: Path, key: AgeKey) -> None:
    path = encrypt(tmp_path, KITCHEN, recipients=[key.recipient])
    assert "# comment inside a list" not in path.read_text()  # sops encrypted every comment
    out = render(decrypt_file(path, _ids(key))).decode()
    assert out.startswith("# head comment of the document\n# second line of it\n# a line comment\n")
    assert "    - plain\n    # comment inside a list\n    - - 1\n" in out
    assert "      # comment in a nested list\n" in out
    assert out.endswith("# last comment\n")


def test_scalar_styles_match_sops(tmp_path: Path, key: AgeKey) -> None:
    path = encrypt(tmp_path, SCALARS, recipients=[key.recipient])
    _check_same_as_sops(tmp_path, path, [key])


def test_multi_document_yaml(tmp_path: Path, key: AgeKey) -> None:
    path = encrypt(tmp_path, MULTI_DOC, recipients=[key.recipient])
    assert path.read_text().count("sops:") == 3
    _check_same_as_sops(tmp_path, path, [key])
    doc = decrypt_file(path, _ids(key))
    assert doc.documents == [{"a": 1, "b": [1, 2]}, {"c": "three", "d": {"e": "f"}}, {"g": "last"}]
    assert doc.data == {"a": 1, "b": [1, 2]}


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_every_encryption_rule(tmp_path: Path, key: AgeKey, option: str) -> None:
    clear_key = OPTIONS[option][1]
    path = encrypt_with_option(tmp_path, OPTION_DOC, "secrets.yaml", key, option)
    text = path.read_text()
    if clear_key is not None:
        line = next(x for x in text.splitlines() if x.strip().startswith(clear_key + ":"))
        assert "ENC[" not in line or option.startswith("encrypted"), line
    _check_same_as_sops(tmp_path, path, [key])
    doc = decrypt_file(path, _ids(key))
    assert doc.data["nested"]["pass_secret"] == "nested-secret"
    # secrets() lists exactly the values that were stored encrypted
    encrypted_values = {
        v
        for v in ["hunter2", "pk-123", "t0k3n", "alice", "nested-secret", "one", "two", "visible"]
        # stored in clear: the whole scalar after "key: " or "- " on its line. A bare
        # substring test also finds "one" inside random base64 ciphertext now and then.
        if not re.search(rf"^\s*(?:- |[\w-]+: ){re.escape(v)}$", text, re.MULTILINE)
    }
    assert set(doc.secrets()) == encrypted_values
    assert encrypted_values  # every rule encrypts something here


def test_rules_leave_the_expected_values_clear(tmp_path: Path, key: AgeKey) -> None:
    expect_clear = {
        "encrypted_regex": {"pk-123", "alice", "nested-secret", "visible", "one", "two"},
        "encrypted_suffix": {"hunter2", "pk-123", "alice", "one", "two", "visible"},
        "unencrypted_regex": {"pk-123", "visible"},
        "unencrypted_comment_regex": {"alice"},
    }
    for option, clear in expect_clear.items():
        path = encrypt_with_option(tmp_path, OPTION_DOC, f"{option}.yaml", key, option)
        doc = decrypt_file(path, _ids(key))
        assert clear.isdisjoint(doc.secrets()), option
        assert all(v in path.read_text() for v in clear), option


def test_several_recipients_each_decrypts(tmp_path: Path) -> None:
    keys = [new_age_key() for _ in range(3)]
    path = encrypt(tmp_path, "a: 1\nb: two\n", recipients=[k.recipient for k in keys])
    for k in keys:
        assert decrypt_file(path, _ids(k)).data == {"a": 1, "b": "two"}


SHAMIR_CONFIG = """\
creation_rules:
    - path_regex: .*
      shamir_threshold: 2
      key_groups:
          - age: [{0}]
          - age: [{1}]
          - age: [{2}]
"""


def test_shamir_two_of_three_key_groups(tmp_path: Path) -> None:
    keys = [new_age_key() for _ in range(3)]
    path = encrypt(
        tmp_path,
        "user: bob\npassword: s3cret\n",
        config=SHAMIR_CONFIG.format(*(k.recipient for k in keys)),
    )
    assert "key_groups" in path.read_text() and "shamir_threshold: 2" in path.read_text()
    for pair in ([0, 1], [1, 2], [0, 2]):
        chosen = [keys[i] for i in pair]
        doc = decrypt_file(path, _ids(*chosen))
        assert doc.data == {"user": "bob", "password": "s3cret"}
    _check_same_as_sops(tmp_path, path, keys[1:])


def test_json_file_is_byte_identical(tmp_path: Path, key: AgeKey) -> None:
    plain = {
        "a": 1,
        "b": 1.5,
        "html": 'x<y>&z \u2028 é \b\f\u0001 "q" \\',
        "d": [1, [2, []], {}, {"e": None}],
        "f": True,
        "g": 1e21,
        "h": 1e-7,
        "n_unencrypted": 5,
        "k": "",
        "unicode": "日本語",
    }
    path = encrypt(tmp_path, json.dumps(plain), "secrets.json", recipients=[key.recipient])
    for output in (None, "yaml"):
        _check_same_as_sops(tmp_path, path, [key], output)
    assert decrypt_file(path, _ids(key)).data == plain


def test_dotenv_file_is_byte_identical(tmp_path: Path, key: AgeKey) -> None:
    text = "# a comment\nA=1\nB=multi\\nline\nC=\nD_unencrypted=clear\nE=x=y\n#trailing\n"
    path = encrypt(tmp_path, text, "secrets.env", recipients=[key.recipient])
    assert "sops_lastmodified=" in path.read_text()
    for output in (None, "json", "yaml"):
        _check_same_as_sops(tmp_path, path, [key], output)
    data = decrypt_file(path, _ids(key)).data
    assert data == {"A": "1", "B": "multi\nline", "C": "", "D_unencrypted": "clear", "E": "x=y"}


def test_yaml_to_dotenv_matches_sops(tmp_path: Path, key: AgeKey) -> None:
    text = (
        '# c\na: 1\nb: 1.5\nc: 1e-7\nd: true\ne: 2024-01-02T03:04:05.5+01:00\nf: null\ng: "x\\ny"\n'
    )
    path = encrypt(tmp_path, text, recipients=[key.recipient])
    _check_same_as_sops(tmp_path, path, [key], "dotenv")


def test_ini_file(tmp_path: Path, key: AgeKey) -> None:
    text = "[db]\n; the user\nuser = admin\npassword = s3cr3t\n\n[app]\nname = demo\nport = 8080\n"
    path = encrypt(tmp_path, text, "secrets.ini", recipients=[key.recipient])
    _check_same_as_sops(tmp_path, path, [key])
    assert decrypt_file(path, _ids(key)).data == {
        "db": {"user": "admin", "password": "s3cr3t"},
        "app": {"name": "demo", "port": "8080"},
    }


def test_binary_file(tmp_path: Path, key: AgeKey) -> None:
    blob = "any text\nwith lines\n"
    path = encrypt(tmp_path, blob, "secret.bin", recipients=[key.recipient])
    _check_same_as_sops(tmp_path, path, [key])


def test_team_secrets_file(tmp_path: Path) -> None:
    path, identity, recipients = make_team_secrets(tmp_path, "ci-bot", "p@ss w0rd!", "example.test")
    assert len(recipients) == 3
    text = path.read_text()
    assert "p@ss w0rd!" not in text and all(r in text for r in recipients)
    ids = load_identities({"SOPS_AGE_KEY": identity, "HOME": "/nonexistent"})
    doc = decrypt_file(path, ids)
    assert doc.get(["registry_username"]) == "ci-bot"
    assert doc.get(["registry_password"]) == "p@ss w0rd!"
    assert doc.get(["registry_domain"]) == "registry.example.test"
    assert doc.get(["base_domain"]) == "example.test"
    assert "p@ss w0rd!" in doc.secrets() and "ci-bot" in doc.secrets()
    proc = sops_decrypt(tmp_path, path, [identity])
    assert render(doc) == proc.stdout
    assert b"    # office\n" in proc.stdout


def test_team_secrets_decrypts_fast(tmp_path: Path) -> None:
    import time

    path, identity, _ = make_team_secrets(tmp_path, "u", "p", "example.test")
    ids = load_identities({"SOPS_AGE_KEY": identity, "HOME": "/nonexistent"})
    decrypt_file(path, ids)  # warm the lazy imports
    start = time.perf_counter()
    for _ in range(5):
        decrypt_file(path, ids)
    assert (time.perf_counter() - start) / 5 < 0.1
