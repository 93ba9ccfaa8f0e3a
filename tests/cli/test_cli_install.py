"""The CLI installed alone, as README says: `uv tool install` from the repository, behind the
loopback package mirror of tests/packaging/test_install_runner.py (no request leaves the
machine), then run from the tool's own bin directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.test_install_runner import _behind_a_mirror, mirror, wheelhouse  # noqa: F401
from tests.runner import ROOT


def _uv() -> str:
    uv = Path(sys.executable).parent / "uv"
    found = str(uv) if uv.exists() else shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (it comes with requirements-dev.lock)")
    return found


def _install(argv: list[str], home: Path, index: str, **tool_env: str) -> dict[str, str]:
    """Run an installer behind the loopback index; its environment, for what runs after."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        **tool_env,
        **_behind_a_mirror(index),
    }
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return env


def _runs_from(bins: Path, env: dict[str, str]) -> Path:
    """The installed ``regkit`` answers ``version`` from its bin directory alone."""
    regkit = bins / "regkit"
    version = subprocess.run(
        [str(regkit), "version"], env={**env, "PATH": str(bins)}, capture_output=True, check=False
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(b"regkit ")
    return regkit


def test_uv_tool_install_from_the_repository(
    tmp_path: Path,
    mirror: tuple[str, list[str]],  # noqa: F811
) -> None:
    index, seen = mirror
    tools, bins = tmp_path / "tools", tmp_path / "bin"
    argv = [_uv(), "tool", "install", "--index-url", index, "--python", sys.executable, str(ROOT)]
    env = _install(
        argv,
        tmp_path,
        index,
        UV_TOOL_DIR=str(tools),
        UV_TOOL_BIN_DIR=str(bins),
        UV_PYTHON_DOWNLOADS="never",
    )
    assert any(p.startswith("/simple/argcomplete") for p in seen)  # dependencies from the index
    regkit = _runs_from(bins, env)
    script = subprocess.run(
        [str(regkit), "completion", "bash"], env=env, capture_output=True, check=False
    )
    assert b"_python_argcomplete" in script.stdout
    # the JSON Schemas are package data: shipped with the tool
    found = list(tools.rglob("regkit/schemas/inspect.schema.json"))
    assert found, "schemas missing from the installed package"
    assert os.access(regkit, os.X_OK)


def test_pipx_install_from_the_repository(
    tmp_path: Path,
    mirror: tuple[str, list[str]],  # noqa: F811
) -> None:
    """README's other install line: ``pipx install`` from a checkout, with pipx's own venvs."""
    pipx = Path(sys.executable).parent / "pipx"
    if not pipx.exists():
        pytest.skip("pipx is not installed (it comes with requirements-dev.lock)")
    index, seen = mirror
    home, bins = tmp_path / "pipx", tmp_path / "bin"
    argv = [str(pipx), "install", "--python", sys.executable, "--index-url", index, str(ROOT)]
    env = _install(
        argv,
        tmp_path,
        index,
        PIPX_HOME=str(home),
        PIPX_BIN_DIR=str(bins),
        PIPX_MAN_DIR=str(tmp_path / "man"),
    )
    assert any(p.startswith("/simple/httpx") for p in seen)  # dependencies from the index
    _runs_from(bins, env)
    assert list(home.rglob("regkit/schemas/prune.schema.json")), "schemas missing"
