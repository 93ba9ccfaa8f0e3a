"""Fast start (issue 25, section 3): ``regkit VERB`` builds only VERB's parser and imports only
what VERB needs, and what a user sees is what the full parser says.

- Every ``--help`` (each verb's, the top level's, bare ``regkit``) is byte for byte the full
  parser's (the one the reference pages, ``regkit help`` and completion use).
- A read verb (digest, ls, config, manifest, inspect, overview) run against a registry, and
  ``version``, import none of PyGithub, ruamel, cryptography, pyrage, argcomplete, GHCR, SOPS
  or prune code, nor the modules of other verbs (``PYTHONPROFILEIMPORTTIME``: the imports of
  the real ``python -m regkit`` process).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from regkit.cli import build_parser, main
from tests.clirun import regkit
from tests.fakeserver import Answer, FakeServer, Seen, json_answer, serve

WIDTH = "100"


def _full_verbs() -> dict[str, argparse.ArgumentParser]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no sub-commands")


VERBS = list(_full_verbs())


@pytest.fixture
def columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", WIDTH)  # argparse's width, the same for both sides


@pytest.mark.usefixtures("columns")
@pytest.mark.parametrize("verb", VERBS)
def test_each_verbs_help_is_the_full_parsers(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([verb, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr()
    assert out.out == _full_verbs()[verb].format_help()
    assert out.err == ""


@pytest.mark.usefixtures("columns")
@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "--timeout", "5", "ls", "--help"],  # flags with values before the verb
        ["--username", "ls", "digest", "--help"],  # a flag's value that is also a verb name
        ["-u", "prune", "--jobs=2", "--platform", "linux/arm64", "digest", "--help"],
    ],
)
def test_the_verb_after_global_flags_is_the_one_built(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert capsys.readouterr().out == _full_verbs()[argv[-2]].format_help()


@pytest.mark.usefixtures("columns")
def test_the_top_level_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    full = build_parser().format_help()
    for verb in ("login", "digest", "completion"):  # a summary of the first, a middle, the last
        assert f"\n    {verb} " in full
    for argv in (["--help"], ["-h"], ["-q", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
        assert capsys.readouterr().out == full, argv
    assert main([]) == 2  # bare regkit: the help on stderr, exit 2
    assert capsys.readouterr().err == full
    assert main(["help"]) == 0
    assert capsys.readouterr().out == full


@pytest.mark.usefixtures("columns")
@pytest.mark.parametrize("verb", ["prune", "digest"])
def test_help_verb_is_the_full_parsers(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help", verb]) == 0
    assert capsys.readouterr().out == _full_verbs()[verb].format_help()


@pytest.mark.usefixtures("columns")
def test_subprocess_help_bytes_are_the_full_parsers() -> None:
    """The real process (``python -m regkit``), not only ``main`` in this one."""
    verbs = _full_verbs()
    for argv, expected in (
        (["ls", "--help"], verbs["ls"].format_help()),
        (["version", "--help"], verbs["version"].format_help()),
    ):
        out = regkit(*argv, env={"COLUMNS": WIDTH})
        assert out.returncode == 0
        assert out.stdout.decode() == expected, argv


# -- imports ---------------------------------------------------------------------------------

#: What no read verb (nor ``version``) may import: top-level packages and regkit's modules.
FORBIDDEN_PACKAGES = ("github", "ruamel", "cryptography", "pyrage", "argcomplete")
FORBIDDEN_MODULES = ("regkit.ghcr", "regkit.sops", "regkit.ops.prune", "regkit.github")
#: The verb modules; a verb imports its own and ``regkit.cli.meta`` (``--version``) only.
VERB_MODULES = (
    "action",
    "check",
    "inspect",
    "login",
    "meta",
    "overview",
    "promote",
    "prune",
    "read",
    "sync",
)

CONFIG = json.dumps(
    {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Labels": {"org.opencontainers.image.description": "fast"}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
).encode()
LAYER = b"layer"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _digest(CONFIG),
            "size": len(CONFIG),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _digest(LAYER),
                "size": len(LAYER),
            }
        ],
    }
).encode()


def _route(seen: Seen) -> Answer:
    """One repository ``app`` with one image ``v1``, anonymous."""
    path = seen.path
    if path == "/v2/":
        return json_answer(200, b"{}")
    if path == "/v2/_catalog":
        return json_answer(200, b'{"repositories": ["app"]}')
    if path == "/v2/app/tags/list":
        return json_answer(200, b'{"name": "app", "tags": ["v1"]}')
    if path in ("/v2/app/manifests/v1", f"/v2/app/manifests/{_digest(MANIFEST)}"):
        kind = "application/vnd.oci.image.manifest.v1+json"
        return 200, {"Content-Type": kind, "Docker-Content-Digest": _digest(MANIFEST)}, MANIFEST
    for blob in (CONFIG, LAYER):
        if path == f"/v2/app/blobs/{_digest(blob)}":
            kind = "application/octet-stream"
            return 200, {"Content-Type": kind, "Docker-Content-Digest": _digest(blob)}, blob
    return json_answer(404, b'{"errors": [{"code": "NOT_FOUND", "message": "unknown"}]}')


@pytest.fixture(scope="module")
def registry() -> Iterator[FakeServer]:
    with serve(_route) as fake:
        yield fake


#: ``python -m regkit ARGS`` that writes the modules it has loaded at exit to ``$MODULES``
#: (an import through ``importlib`` is not in ``-X importtime``'s list; it is in sys.modules;
#: a name mapped to None there is an import refused, not a module loaded).
RUN_AND_LIST = (
    "import atexit, os, runpy, sys\n"
    "def dump():\n"
    "    with open(os.environ['MODULES'], 'w') as f:\n"
    "        f.write('\\n'.join(sorted(k for k, v in sys.modules.items() if v is not None)))\n"
    "atexit.register(dump)\n"
    "runpy.run_module('regkit', run_name='__main__', alter_sys=True)\n"
)


def _imports(*args: str, tmp: Path) -> tuple[set[str], bytes]:
    """The modules ``python -m regkit ARGS`` has imported when it exits, and its stdout."""
    listing = tmp / "modules.txt"
    env = {**_ENV, "MODULES": str(listing)}
    out = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *args], env=env, capture_output=True, timeout=60
    )
    assert out.returncode == 0, out.stderr.decode()
    return set(listing.read_text().split()), out.stdout


_ENV = {
    "PATH": os.environ.get("PATH", ""),
    "HOME": "/nonexistent",
    "DOCKER_CONFIG": "/nonexistent",
    "REGKIT_CACHE": os.environ.get("REGKIT_CACHE", "off"),
    **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
}


def _forbidden(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if m.split(".")[0] in FORBIDDEN_PACKAGES
        or any(m == f or m.startswith(f + ".") for f in FORBIDDEN_MODULES)
    )


READS = {
    "digest": ("digest", "{host}/app:v1"),
    "ls": ("ls", "{host}/app"),
    "config": ("config", "{host}/app:v1"),
    "manifest": ("manifest", "{host}/app:v1"),
    "inspect": ("inspect", "{host}/app:v1"),
    "overview": ("overview", "{host}"),
    "version": ("version",),
}


@pytest.mark.parametrize("verb", list(READS))
def test_a_read_verb_imports_no_write_side_code(
    verb: str, registry: FakeServer, tmp_path: Path
) -> None:
    modules, stdout = _imports(*(a.format(host=registry.host) for a in READS[verb]), tmp=tmp_path)
    assert stdout, "the command printed its result"
    if verb == "digest":
        assert stdout.decode() == _digest(MANIFEST) + "\n"
    assert "regkit.cli" in modules and "argparse" in modules, "the import list was read"
    assert _forbidden(modules) == []


@pytest.mark.parametrize("verb", list(READS))
def test_a_verb_imports_only_its_own_cli_module(
    verb: str, registry: FakeServer, tmp_path: Path
) -> None:
    modules, _ = _imports(*(a.format(host=registry.host) for a in READS[verb]), tmp=tmp_path)
    own = {"digest": "read", "ls": "read", "config": "read", "manifest": "read"}.get(verb, verb)
    if verb == "version":
        own = "meta"
    loaded = sorted(m for m in VERB_MODULES if f"regkit.cli.{m}" in modules)
    assert loaded == sorted({own, "meta"})


def test_version_reaches_no_network_code(tmp_path: Path) -> None:
    modules, stdout = _imports("version", tmp=tmp_path)
    assert stdout.startswith(b"regkit ")
    assert not {m for m in modules if m.split(".")[0] in ("httpx", "httpcore", "h2", "ssl")}
    assert not {m for m in modules if m.startswith(("regkit.registry", "regkit.ops"))}
    # argparse imports shutil (and bz2, lzma, zlib) for a help width it does not need here
    assert "shutil" not in modules


@pytest.mark.parametrize("argv", [["version"], ["--version"], ["completion", "bash"]])
def test_a_verb_about_regkit_itself_loads_no_logging(argv: list[str], tmp_path: Path) -> None:
    """No registry, so no operation's warning to print: the warnings handler (and logging, a
    tenth of ``regkit version``) is left out."""
    modules, stdout = _imports(*argv, tmp=tmp_path)
    assert stdout
    assert "logging" not in modules


def test_the_command_process_leaves_out_httpx_cli_and_h2(
    registry: FakeServer, tmp_path: Path
) -> None:
    """httpx imports its own command-line client when click and pygments are installed, and
    httpcore imports h2 when it is installed (an extra: REGKIT_HTTP2=1); regkit's process
    loads neither unless HTTP/2 is asked for. Both are installed here, so this can fail."""
    import importlib.util

    if not all(importlib.util.find_spec(m) for m in ("click", "pygments", "h2")):
        pytest.skip("click, pygments or h2 not installed: nothing to leave out")
    modules, stdout = _imports("digest", f"{registry.host}/app:v1", tmp=tmp_path)
    assert stdout.decode() == _digest(MANIFEST) + "\n"
    assert "httpx" in modules
    assert {m.split(".")[0] for m in modules} & {"click", "pygments", "h2"} == set()


def test_http2_still_loads_h2(registry: FakeServer, tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("h2") is None:
        pytest.skip("h2 not installed")
    listing = tmp_path / "modules.txt"
    env = {**_ENV, "MODULES": str(listing), "REGKIT_HTTP2": "1"}
    out = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, "digest", f"{registry.host}/app:v1"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode() == _digest(MANIFEST) + "\n"
    assert "h2" in listing.read_text().split()


def test_main_called_by_a_program_keeps_its_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the command's own process is trimmed: ``main(argv)`` from a program (a test, a
    job) leaves sys.modules alone, so its HTTP/2 keeps working."""
    monkeypatch.delitem(sys.modules, "h2", raising=False)
    monkeypatch.delenv("REGKIT_HTTP2", raising=False)
    with pytest.raises(SystemExit):
        main(["version", "--help"])
    assert "h2" not in sys.modules or sys.modules["h2"] is not None
