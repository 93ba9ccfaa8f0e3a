"""Credential helpers: their output (stdout and stderr) never reaches regkit's output.

A ``docker-credential-*`` helper that echoes its input prints ``{"ServerURL":...,"Secret":...}``
(the secret JSON-escaped, which the Actions mask of the raw value does not cover) on stderr;
regkit captures every helper call (store, get, erase, list) and shows none of it.
"""

from __future__ import annotations

import json
import os
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
from tests.leakscan import assert_no_secrets, forms

HOST = "registry.example.test"
# A password whose JSON-escaped form differs from the raw one (quote, backslash, non-ASCII).
SECRET = 'pa"ss\\wörd-\u00e9-42'
CREDS = Credentials("robot", SECRET)

_ECHO = textwrap.dedent(
    """\
    #!{python}
    # docker-credential-echo: a working helper (entries in $ECHO_STORE) that echoes its input
    # and what it answers on stderr, as a debugging helper does.
    import json, os, sys
    path = os.environ["ECHO_STORE"]
    try:
        data = json.load(open(path))
    except FileNotFoundError:
        data = {{}}
    action = sys.argv[1]
    given = sys.stdin.read()
    sys.stderr.write(f"echo-helper {{action}}: {{given}}\\n")
    sys.stderr.write("echo-helper raw: " + json.dumps(data, ensure_ascii=False) + "\\n")
    fail = os.environ.get("ECHO_FAIL")
    if fail:
        print(given)
        sys.exit(int(fail))
    if action == "store":
        item = json.loads(given)
        data[item["ServerURL"]] = {{"Username": item["Username"], "Secret": item["Secret"]}}
    elif action == "get":
        server = given.strip()
        if server not in data:
            print("credentials not found in native keychain")
            sys.exit(1)
        answer = json.dumps(dict(data[server], ServerURL=server))
        print(answer)
        sys.stderr.write("echo-helper answered: " + answer + "\\n")
    elif action == "erase":
        server = given.strip()
        if server not in data:
            print("credentials not found in native keychain")
            sys.exit(1)
        del data[server]
    elif action == "list":
        print(json.dumps({{k: v["Username"] for k, v in data.items()}}))
    json.dump(data, open(path, "w"))
    """
)


@pytest.fixture
def echo_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "docker-credential-echo"
    script.write_text(_ECHO.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ECHO_STORE", str(tmp_path / "store.json"))
    monkeypatch.delenv("ECHO_FAIL", raising=False)
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"credsStore": "echo"}))
    return directory


def test_the_secret_has_a_json_escaped_form() -> None:
    assert "json-escaped" in forms(SECRET)  # the scan looks for it, not only the raw value


def test_store_get_erase_print_nothing_of_the_helper(
    echo_config: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    store_credentials(HOST, CREDS, echo_config)
    assert credentials_for(HOST, echo_config) == CREDS
    assert remove_credentials(HOST, echo_config).helper == "echo"
    out, err = capfd.readouterr()
    assert "echo-helper" not in out + err  # nothing of the helper's output passes through
    assert_no_secrets({"stdout": out, "stderr": err}, [SECRET, CREDS.basic_token()])


@pytest.mark.parametrize("action", ["store", "get", "erase"])
def test_a_failing_helper_names_itself_and_its_status_only(
    echo_config: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    if action != "store":
        store_credentials(HOST, CREDS, echo_config)
        (echo_config / "config.json").write_text(
            json.dumps({"credsStore": "echo", "auths": {HOST: {}}})
        )
    monkeypatch.setenv("ECHO_FAIL", "7")
    with pytest.raises(DockerConfigError) as caught:
        if action == "store":
            store_credentials(HOST, CREDS, echo_config)
        elif action == "get":
            credentials_for(HOST, echo_config)
        else:
            remove_credentials(HOST, echo_config)
    message = str(caught.value)
    assert "docker-credential-echo" in message and "status 7" in message
    assert "echo-helper" not in message and "ServerURL" not in message
    out, err = capfd.readouterr()
    assert "echo-helper" not in out + err
    assert_no_secrets(
        {"stdout": out, "stderr": err, "message": message}, [SECRET, CREDS.basic_token()]
    )


def test_a_whole_process_shows_nothing_of_the_helper(echo_config: Path) -> None:
    """Store, read and erase in a separate process whose two streams are read whole."""
    import subprocess

    code = textwrap.dedent(
        f"""
        from regkit.dockerconfig import Credentials, store_credentials, credentials_for
        from regkit.dockerconfig import remove_credentials
        c = Credentials("robot", {SECRET!r})
        store_credentials({HOST!r}, c, {str(echo_config)!r})
        assert credentials_for({HOST!r}, {str(echo_config)!r}) == c
        remove_credentials({HOST!r}, {str(echo_config)!r})
        print("done")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert run.returncode == 0, run.stderr[-300:].replace(SECRET, "<secret>")
    assert run.stdout.strip() == "done"
    assert "echo-helper" not in run.stderr
    assert_no_secrets({"stdout": run.stdout, "stderr": run.stderr}, [SECRET])
