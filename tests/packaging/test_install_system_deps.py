"""scripts/install-system-deps: the Go tools (registry:3, crane, regctl) cached per version,
and the fallbacks (no Go, an old Go, a module proxy that does not answer) that leave nothing
half-installed and say so in one line.

Each test uses its own tools directory (REGKIT_TOOLS_DIR) holding a stand-in for Debian's crane,
so the script never fetches crane from Debian (no traffic off loopback); the apt packages must
already be installed (the test skips otherwise, for the same reason).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.rig import tools_dir

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-system-deps"
APT = ("docker-registry", "nginx", "apache2-utils", "skopeo", "age", "ca-certificates")
APT += ("debian-archive-keyring", "jq", "time")
TOOLS = {"registry": "v3.1.2", "crane": "v0.22.1", "regctl": "v0.11.7"}
DEBIAN_CRANE = b"#!/bin/sh\necho debian crane 0.20.7\n"


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    for package in APT:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
        ).stdout
        if "install ok installed" not in status:
            pytest.skip(f"{package} not installed: the script would run apt-get")
    d = tmp_path / "tools"
    (d / "bin").mkdir(parents=True)
    crane = d / "bin" / "crane"
    crane.write_bytes(DEBIAN_CRANE)
    crane.chmod(0o755)
    return d


def run(tools: Path, go: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        "PATH": os.environ["PATH"],
        "HOME": str(tools.parent),
        "REGKIT_TOOLS_DIR": str(tools),
        "REGKIT_GO": go,
        **env,
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=full, capture_output=True, text=True, timeout=300
    )


def nothing_half_installed(tools: Path) -> None:
    go = tools / "go"
    assert not go.exists() or not any(go.iterdir()), sorted(os.listdir(go))
    assert sorted(os.listdir(tools / "bin")) == ["crane"]
    assert (tools / "bin" / "crane").read_bytes() == DEBIAN_CRANE  # Debian's crane stays


def test_without_go_one_line_and_nothing_installed(tools: Path) -> None:
    out = run(tools, str(tools / "no-such-go"))
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        "install-system-deps: no Go >= 1.26 found, so registry crane regctl not built (install "
        "Go: README, 'The two commands'); the tests run on docker-registry 2.8 and Debian's "
        "crane, the registry:3 and regctl tests skip"
    ]
    assert out.stdout == ""
    nothing_half_installed(tools)


def test_an_old_go_counts_as_none(tools: Path) -> None:
    old = tools.parent / "go"
    old.write_text('#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.22.5 && exit 0\nexit 3\n')
    old.chmod(0o755)
    out = run(tools, str(old))
    assert out.returncode == 0, out.stderr
    assert len(out.stderr.splitlines()) == 1
    assert out.stderr.startswith("install-system-deps: no Go >= 1.26 found")
    nothing_half_installed(tools)


def test_module_proxy_failure_names_the_tools_and_leaves_no_build(tools: Path) -> None:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(go, os.X_OK):
        pytest.skip("no Go toolchain on this machine")
    work = tools.parent
    out = run(
        tools,
        go,
        GOPROXY="off",  # the injected fault: no module can be fetched
        GOMODCACHE=str(work / "modcache"),
        GOCACHE=str(work / "gocache"),
        GOPATH=str(work / "gopath"),
    )
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    for name, version in TOOLS.items():
        failed = [line for line in lines if f"could not build {name} {version}" in line]
        assert len(failed) == 1 and "GOPROXY=off" in failed[0], lines
    assert lines[-1] == (
        "install-system-deps: not built: registry crane regctl; the suite uses docker-registry "
        "2.8 / Debian's crane where these are missing"
    )
    nothing_half_installed(tools)


def test_built_versions_are_only_linked_and_replace_debians_crane(tools: Path) -> None:
    """A second setup: the version directories exist, so nothing is built (no Go needed at
    all) and bin/ gets the links; Debian's crane is replaced by the built one."""
    for name, version in TOOLS.items():
        real = tools_dir() / "go" / f"{name}-{version}" / name
        if not real.is_file():
            pytest.skip(f"{real} not built (scripts/install-system-deps)")
        dest = tools / "go" / f"{name}-{version}"
        dest.mkdir(parents=True)
        os.symlink(real, dest / name)
    out = run(tools, str(tools / "no-such-go"))
    assert (out.returncode, out.stderr, out.stdout) == (0, "", "")
    for name, version in TOOLS.items():
        link = tools / "bin" / name
        assert os.readlink(link) == f"../go/{name}-{version}/{name}"
    crane = subprocess.run([tools / "bin" / "crane", "version"], capture_output=True, text=True)
    assert crane.stdout.strip() == TOOLS["crane"]
    again = run(tools, str(tools / "no-such-go"))
    assert (again.returncode, again.stderr) == (0, "")
