"""actions/install.py: what every composite action runs to install regkit on the runner.

The end-to-end test installs a copy of this checkout the way a composite step does (RUNNER_TEMP,
GITHUB_OUTPUT, uv on PATH), then runs the installed `regkit action` like the next step, and
checks that the second action of a job reuses the virtualenv.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from tests.actions.test_gha import parse_file_commands, raw

ROOT = Path(__file__).resolve().parents[2]


def _checkout(tmp_path: Path) -> Path:
    """A copy of what an action checkout holds and install.py reads."""
    dest = tmp_path / "checkout"
    shutil.copytree(
        ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    (dest / "actions").mkdir()
    shutil.copy2(ROOT / "actions" / "install.py", dest / "actions" / "install.py")
    for name in ("pyproject.toml", "requirements.lock", "requirements-dev.lock", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    return dest


def _load(checkout: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "regkit_install", checkout / "actions" / "install.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lock_names(path: Path) -> set[str]:
    return {
        m.group(1).lower().replace("_", "-")
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", path.read_text(), re.MULTILINE)
    }


def test_pins_come_from_the_dev_lock(tmp_path: Path) -> None:
    install = _load(_checkout(tmp_path))
    text = install.lock_entries(ROOT / "requirements-dev.lock", ("uv", *install.BUILD_REQUIREMENTS))
    for name in ("uv", "setuptools", "wheel", "packaging"):
        assert re.search(rf"^{name}==\S+ \\$", text, re.MULTILINE), name
    assert text.count("--hash=sha256:") >= 4
    assert all(
        line.startswith(
            (
                "uv==",
                "setuptools==",
                "wheel==",
                "packaging==",
                "setuptools-scm==",  # issue 25: the version comes from the release tag
                "vcs-versioning==",
                "    --hash=",
            )
        )
        for line in text.splitlines()
    )
    with pytest.raises(install.InstallError, match="no pinned entry for no-such-package"):
        install.lock_entries(ROOT / "requirements-dev.lock", ("no-such-package",))


def test_install_key_follows_the_source_not_build_litter(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    install = _load(checkout)
    key = install.install_key()
    (checkout / "src" / "regkit.egg-info").mkdir()
    (checkout / "src" / "regkit.egg-info" / "PKG-INFO").write_text("x")
    (checkout / "src" / "regkit" / "__pycache__").mkdir(exist_ok=True)
    (checkout / "src" / "regkit" / "__pycache__" / "x.pyc").write_bytes(b"x")
    assert install.install_key() == key
    with (checkout / "src" / "regkit" / "cli" / "common.py").open("a") as handle:
        handle.write("\n# changed\n")
    assert install.install_key() != key
    lock = checkout / "requirements.lock"
    lock.write_text(lock.read_text() + "\n")
    assert install.install_key() != key


def _uv_dir(tmp_path: Path) -> Path:
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        found = shutil.which("uv")
        if found is None:
            pytest.skip("uv is not installed (it comes with requirements-dev.lock)")
        uv = Path(found)
    d = tmp_path / "uvbin"
    d.mkdir()
    (d / "uv").symlink_to(uv)
    return d


def test_install_then_run_like_a_composite_action(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    runner_temp = tmp_path / "runner_temp"
    runner_temp.mkdir()
    output = tmp_path / "github_output"
    output.write_text("")
    env = {
        "PATH": os.pathsep.join([str(_uv_dir(tmp_path)), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": os.environ.get("HOME", "/root"),
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(output),
    }
    for name in ("UV_CACHE_DIR", "XDG_CACHE_HOME", "SSL_CERT_FILE", "PIP_CERT"):
        if name in os.environ:
            env[name] = os.environ[name]
    cmd = [sys.executable, str(checkout / "actions" / "install.py")]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    outputs = dict(parse_file_commands(raw(output)))
    regkit, venv = Path(outputs["regkit"]), Path(outputs["venv"])
    assert venv.parent == runner_temp and regkit == venv / "bin" / "regkit"
    assert "(uv," in first.stdout

    # the venv holds exactly the locked packages, the build backend, and regkit
    freeze = subprocess.run(
        [
            str(Path(env["PATH"].split(os.pathsep)[0]) / "uv"),
            "pip",
            "freeze",
            "--python",
            outputs["python"],
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    installed = {
        line.split("==")[0].lower().replace("_", "-")
        for line in freeze.splitlines()
        if "==" in line
    }
    installed |= {line.split(" @ ")[0].lower() for line in freeze.splitlines() if " @ " in line}
    assert installed == _lock_names(ROOT / "requirements.lock") | {
        "regkit",
        "setuptools",
        "wheel",
        "packaging",
        "setuptools-scm",  # issue 25: the version comes from the release tag
        "vcs-versioning",
    }

    # the next step: `"$REGKIT" action <name>`
    step = subprocess.run(
        [str(regkit), "action", "no-such-action"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert step.returncode == 2
    assert step.stdout.startswith("::error::unknown action 'no-such-action'")

    # a second action in the same job reuses the virtualenv
    started = time.monotonic()
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "(reused," in second.stdout
    assert time.monotonic() - started < 5
    assert [p.name for p in runner_temp.iterdir() if p.name.startswith("regkit-")] == [venv.name]
