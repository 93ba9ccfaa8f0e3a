"""``regkit decrypt``: output bytes, --extract, exit codes, against ``sops decrypt``."""

from __future__ import annotations

from pathlib import Path

import pytest

from regkit.cli import main
from tests.clirun import regkit
from tests.sops_helpers import AgeKey, encrypt, make_team_secrets, new_age_key, sops_decrypt

DOC = """\
# top
user: alice
password: "p4ss: word"
port: 5000
nested:
    list:
        - a
        # between
        - b
    map:
        k: v
"""


@pytest.fixture
def key() -> AgeKey:
    return new_age_key()


@pytest.fixture
def secret_file(tmp_path: Path, key: AgeKey) -> Path:
    return encrypt(tmp_path, DOC, recipients=[key.recipient])


def _env(tmp_path: Path, key: AgeKey) -> dict[str, str]:
    return {"SOPS_AGE_KEY": key.identity, "HOME": str(tmp_path / "home")}


@pytest.mark.parametrize("output", [None, "yaml", "json", "dotenv"])
def test_whole_document(tmp_path: Path, key: AgeKey, secret_file: Path, output: str | None) -> None:
    if output == "dotenv":  # dotenv cannot hold nested values: use a flat file
        secret_file = encrypt(
            tmp_path, "# c\nuser: alice\nport: 5000\n", "flat.yaml", recipients=[key.recipient]
        )
    args = ["--output-type", output] if output else []
    ours = regkit("decrypt", *args, str(secret_file), env=_env(tmp_path, key))
    theirs = sops_decrypt(tmp_path, secret_file, [key.identity], args)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stderr == b""


EXTRACTS = [
    '["password"]',
    '["port"]',
    '["nested"]',
    '["nested"]["list"]',
    '["nested"]["list"][0]',
    "['user']",
]


@pytest.mark.parametrize("output", [None, "json"])
def test_extract(
    tmp_path: Path,
    key: AgeKey,
    secret_file: Path,
    output: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY", key.identity)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for path in EXTRACTS:  # in-process: one sops run per path is the slow part
        args = ["--extract", path, *(["--output-type", output] if output else [])]
        assert main(["decrypt", *args, str(secret_file)]) == 0
        theirs = sops_decrypt(tmp_path, secret_file, [key.identity], args)
        assert theirs.returncode == 0
        assert capsysbinary.readouterr().out == theirs.stdout, path


def test_extract_string_is_raw_without_newline(
    tmp_path: Path, key: AgeKey, secret_file: Path
) -> None:
    out = regkit("decrypt", "--extract", '["password"]', str(secret_file), env=_env(tmp_path, key))
    assert out.stdout == b"p4ss: word"


@pytest.mark.parametrize("path", ['["missing"]', '["nested"]["list"][9]'])
def test_extract_missing(tmp_path: Path, key: AgeKey, secret_file: Path, path: str) -> None:
    out = regkit("decrypt", "--extract", path, str(secret_file), env=_env(tmp_path, key))
    assert out.returncode == 1
    assert out.stdout == b""
    assert out.stderr.startswith(b"regkit: error: component [")


def test_failures_exit_1_with_one_line(tmp_path: Path, key: AgeKey, secret_file: Path) -> None:
    wrong = new_age_key()
    out = regkit("decrypt", str(secret_file), env=_env(tmp_path, wrong))
    assert out.returncode == 1 and out.stdout == b""
    assert out.stderr.count(b"\n") == 1 and b"can decrypt this file" in out.stderr
    assert wrong.identity.encode() not in out.stderr
    out = regkit("decrypt", str(tmp_path / "absent.yaml"), env=_env(tmp_path, key))
    assert out.returncode == 1 and b"cannot read" in out.stderr
    plain = tmp_path / "plain.yaml"
    plain.write_text("a: 1\n")
    out = regkit("decrypt", str(plain), env=_env(tmp_path, key))
    assert out.returncode == 1 and b"sops metadata not found" in out.stderr


def test_mac_mismatch_and_ignore_mac(tmp_path: Path) -> None:
    path, identity, _ = make_team_secrets(tmp_path, "u", "pw", "example.test")
    lines = path.read_text().splitlines(keepends=True)
    i = lines.index("ssh_keys:\n")
    lines[i + 2], lines[i + 4] = lines[i + 4], lines[i + 2]  # swap the two encrypted keys
    path.write_text("".join(lines))
    env = {"SOPS_AGE_KEY": identity, "HOME": str(tmp_path)}
    out = regkit("decrypt", str(path), env=env)
    assert out.returncode == 1 and b"MAC mismatch" in out.stderr and out.stdout == b""
    out = regkit("decrypt", "--ignore-mac", str(path), env=env)
    theirs = sops_decrypt(tmp_path, path, [identity], ["--ignore-mac"])
    assert out.returncode == 0 and out.stdout == theirs.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert regkit("decrypt").returncode == 2
    assert regkit("decrypt", "--output-type", "toml", "x.yaml").returncode == 2


def test_input_type_override(tmp_path: Path, key: AgeKey) -> None:
    path = encrypt(tmp_path, "A=1\n", "vars.env", recipients=[key.recipient])
    renamed = path.rename(tmp_path / "vars.txt")
    out = regkit("decrypt", "--input-type", "dotenv", str(renamed), env=_env(tmp_path, key))
    assert (out.returncode, out.stdout) == (0, b"A=1\n")


def test_version_does_not_import_sops_machinery() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from regkit import cli; "
        "assert 'ruamel' not in sys.modules and 'pyrage' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
