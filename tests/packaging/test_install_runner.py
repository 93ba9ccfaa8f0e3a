"""actions/install.sh and install.py on an emulated runner (issue 14, item 6).

A self-hosted runner behind a package mirror: pip's index is a loopback "simple" index served
from a directory of the locked wheels (downloaded once per machine with pip, into a cache), and
every other address goes to a dead proxy on loopback, so nothing can reach PyPI. uv on its own
would ignore pip's settings and fail; the installer must pass them on, or fall back to pip.
"""

from __future__ import annotations

import hashlib
import html
import http.server
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.runner import ROOT, Job

pytest_plugins = ("tests.runner",)  # the fixtures installed and job

MakeJob = Callable[..., Job]
INSTALL_STEP = 'bash "$GITHUB_ACTION_PATH/../install.sh"'


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The locked wheels (runtime lock and build requirements) for this Python, downloaded once
    with pip into ~/.cache/regkit-test-wheels/<hash of the locks>."""
    install = _load_install()
    build = install.lock_entries(ROOT / "requirements-dev.lock", install.BUILD_REQUIREMENTS)
    key = hashlib.sha256((ROOT / "requirements.lock").read_bytes() + build.encode()).hexdigest()
    directory = Path.home() / ".cache" / "regkit-test-wheels" / key[:16]
    done = directory / ".complete"
    if not done.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        reqs = directory / "build.txt"
        reqs.write_text(build)
        python3 = shutil.which("python3") or sys.executable
        cp = subprocess.run(
            [python3, "-m", "pip", "download", "--quiet", "--require-hashes", "--no-deps",
             "--only-binary=:all:", "-d", str(directory), "-r", str(ROOT / "requirements.lock"),
             "-r", str(reqs)],
            capture_output=True, check=False, timeout=600,
        )  # fmt: skip
        if cp.returncode != 0:
            pytest.skip("cannot download the locked wheels: " + cp.stderr.decode()[-300:])
        done.write_text("")
    return directory


def _load_install() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("regkit_install", ROOT / "actions/install.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Index(http.server.BaseHTTPRequestHandler):
    """PEP 503 simple index of one directory of wheels: /simple/<name>/ and the files."""

    directory: Path
    seen: list[str]

    head = False

    def do_HEAD(self) -> None:
        self.head = True
        self.do_GET()

    def do_GET(self) -> None:
        self.seen.append(self.path)
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        wheels = sorted(self.directory.glob("*.whl"))
        if len(parts) == 2 and parts[0] == "simple":
            links = [
                f'<a href="/files/{html.escape(w.name)}#sha256='
                f'{hashlib.sha256(w.read_bytes()).hexdigest()}">{html.escape(w.name)}</a>'
                for w in wheels
                if _normalise(w.name.split("-")[0]) == _normalise(parts[1])
            ]
            if not links:
                self.send_error(404)
                return
            body = ("<!DOCTYPE html><html><body>" + "<br>".join(links) + "</body></html>").encode()
            self._send(body, "text/html")
        elif len(parts) == 2 and parts[0] == "files" and (self.directory / parts[1]).is_file():
            self._send((self.directory / parts[1]).read_bytes(), "application/octet-stream")
        else:
            self.send_error(404)

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not self.head:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mirror(wheelhouse: Path) -> Iterator[tuple[str, list[str]]]:
    """The loopback simple index (its URL and the paths asked for); stopped after the test."""
    seen: list[str] = []
    handler = type("Index", (_Index,), {"directory": wheelhouse, "seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _behind_a_mirror(index: str, **more: str) -> dict[str, str]:
    """A runner whose only way to packages is pip's index: every other address goes to a dead
    proxy on loopback (port 9, discard), so no request leaves the machine."""
    return {
        "PIP_INDEX_URL": index,
        "PIP_FIND_LINKS": "",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "UV_NO_CACHE": "1",
        "PIP_NO_CACHE_DIR": "1",
        **more,
    }


def _install(j: Job, action: str = "actions/registry-login") -> object:
    return j.run_script(INSTALL_STEP, action_path=j.workspace / action)


def test_uv_installs_through_pips_mirror(job: MakeJob, mirror: tuple[str, list[str]]) -> None:
    index, seen = mirror
    j = Job(job().base.parent / "fresh", env=_behind_a_mirror(index))  # no seeded install
    from tests.runner import workspace_with_actions

    workspace_with_actions(j.workspace)
    step = _install(j)
    assert step.conclusion == "success", step.text  # type: ignore[attr-defined]
    assert "(uv," in step.text  # type: ignore[attr-defined]
    assert any(p.startswith("/simple/pyrage") for p in seen)
    regkit = step.outputs["regkit"]  # type: ignore[attr-defined]
    assert subprocess.run([regkit, "--version"], capture_output=True, check=False).returncode == 0


def test_a_failing_uv_falls_back_to_pip(
    job: MakeJob, mirror: tuple[str, list[str]], tmp_path: Path
) -> None:
    index, seen = mirror
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")  # uv cannot make its cache under a file: a real uv failure
    env = _behind_a_mirror(index, UV_CACHE_DIR=str(blocked / "uv"))
    env.pop("UV_NO_CACHE")
    j = Job(tmp_path / "fresh", env=env)
    from tests.runner import workspace_with_actions

    workspace_with_actions(j.workspace)
    step = _install(j)
    assert step.conclusion == "success", step.text  # type: ignore[attr-defined]
    warnings = [a.message for a in step.annotations if a.kind == "warning"]  # type: ignore[attr-defined]
    assert len(warnings) == 1 and "installing with pip" in warnings[0]
    assert "(pip," in step.text  # type: ignore[attr-defined]
    assert any(p.startswith("/files/") for p in seen)


def _path_without_python(tmp_path: Path) -> str:
    """A PATH with the tools the launcher uses, and no Python at all."""
    bindir = tmp_path / "bin-no-python"
    bindir.mkdir()
    for tool in ("bash", "uname", "dirname", "find", "sort", "cat", "env"):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    return str(bindir)


def test_no_python_names_setup_python(tmp_path: Path) -> None:
    j = Job(tmp_path, env={"PATH": _path_without_python(tmp_path)})
    from tests.runner import workspace_with_actions

    workspace_with_actions(j.workspace)
    step = j.run_script(
        f'{shutil.which("bash")} "$GITHUB_ACTION_PATH/../install.sh"',
        action_path=j.workspace / "actions" / "registry-login",
    )
    assert step.conclusion == "failure"
    assert step.errors() == [
        "no Python 3.11 or newer found (python3, python3.13, python3.12, python3.11, "
        "$RUNNER_TOOL_CACHE/Python): add actions/setup-python with python-version: '3.12' "
        "before this action"
    ]


def test_python_from_the_hosted_tool_cache(tmp_path: Path, mirror: tuple[str, list[str]]) -> None:
    """No python3 on PATH, but one in the tool cache (where actions/setup-python installs)."""
    index, _ = mirror
    j = Job(tmp_path, env=_behind_a_mirror(index, PATH=_path_without_python(tmp_path)))
    from tests.runner import workspace_with_actions

    workspace_with_actions(j.workspace)
    python = Path(shutil.which("python3") or sys.executable)
    cached = j.tool_cache / "Python" / "3.12.7" / "x64" / "bin"
    cached.mkdir(parents=True)
    (cached / "python3").symlink_to(python)
    step = j.run_script(
        f'{shutil.which("bash")} "$GITHUB_ACTION_PATH/../install.sh" --installer pip',
        action_path=j.workspace / "actions" / "registry-login",
    )
    assert step.conclusion == "success", step.text
    assert "(pip," in step.text
    regkit = step.outputs["regkit"]
    assert subprocess.run([regkit, "--version"], capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize(
    ("runner_os", "arch", "message"),
    [
        ("Windows", "X64", "(requirements.lock has no Windows wheels)"),
        ("macOS", "X64", "not macOS Intel"),
        ("macOS", "ARM64", "not macOS Apple silicon (untested)"),
    ],
)
def test_windows_and_macos_are_refused_in_one_line(
    tmp_path: Path, runner_os: str, arch: str, message: str
) -> None:
    j = Job(tmp_path, env={"RUNNER_OS": runner_os, "RUNNER_ARCH": arch})
    from tests.runner import workspace_with_actions

    workspace_with_actions(j.workspace)
    step = _install(j)
    assert step.conclusion == "failure"  # type: ignore[attr-defined]
    errors = step.errors()  # type: ignore[attr-defined]
    assert len(errors) == 1 and message in errors[0] and "ubuntu-latest" in errors[0]


def test_pip_settings_become_uv_options() -> None:
    install = _load_install()
    options, extra = install.uv_options(  # type: ignore[attr-defined]
        {
            "index-url": ["https://mirror.example/simple"],
            "extra-index-url": ["https://a.example/simple", "https://b.example/simple"],
            "trusted-host": ["mirror.example"],
            "cert": ["/etc/ssl/proxy-ca.pem"],
        },
        {},
    )
    assert options == [
        "--index-url", "https://mirror.example/simple",
        "--extra-index-url", "https://a.example/simple",
        "--extra-index-url", "https://b.example/simple",
        "--allow-insecure-host", "mirror.example",
    ]  # fmt: skip
    assert extra == {"UV_SYSTEM_CERTS": "1", "SSL_CERT_FILE": "/etc/ssl/proxy-ca.pem"}


def test_python_without_venv_names_the_packages(tmp_path: Path) -> None:
    """Debian's python3 without python3-venv: ``import ensurepip`` fails (injected here by a
    module that shadows it, as Debian's stub does); pip's path says what to install."""
    shadow = tmp_path / "no-ensurepip" / "ensurepip"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('ensurepip is disabled in Debian')\n")
    j = Job(
        tmp_path / "runner",
        env=_behind_a_mirror("http://127.0.0.1:9/simple/", PYTHONPATH=str(shadow.parent)),
    )
    from tests.runner import workspace_with_actions

    workspace_with_actions(j.workspace)
    step = j.run_script(
        'bash "$GITHUB_ACTION_PATH/../install.sh" --installer pip',
        action_path=j.workspace / "actions" / "registry-login",
    )
    assert step.conclusion == "failure"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    errors = step.errors()
    assert len(errors) == 1
    assert f"install the packages python{version}-venv and python3-pip" in errors[0]
    assert "actions/setup-python" in errors[0]


# -- uv from the runner's tool cache is checked against the lock (issue 21, item 5) ----------


def _uv_wheel(path: Path, says: str) -> str:
    """A wheel laid out like uv's (the executable in ``uv-V.data/scripts/uv``); its sha256."""
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("uv-0.13.9.data/scripts/uv", f"#!/bin/sh\necho {says}\n")
        zf.writestr("uv-0.13.9.dist-info/METADATA", "Name: uv\nVersion: 0.13.9\n")
        zf.writestr("uv-0.13.9.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        zf.writestr("uv-0.13.9.dist-info/RECORD", "")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_uv_in_the_tool_cache_is_verified_against_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A persistent self-hosted tool cache: one job plants a uv there for the next. The next
    job runs only a uv whose wheel matches a hash of the lock (here a lock made for the test,
    and a local "index" holding the genuine wheel)."""
    install = _load_install()
    links = tmp_path / "links"
    links.mkdir()
    digest = _uv_wheel(links / "uv-0.13.9-py3-none-any.whl", "genuine")
    lock = tmp_path / "dev.lock"
    lock.write_text(f"uv==0.13.9 \\\n    --hash=sha256:{digest}\n")
    monkeypatch.setattr(install, "DEV_LOCK", lock)
    tool_cache = tmp_path / "toolcache"
    tool_cache.mkdir()
    monkeypatch.setenv("RUNNER_TOOL_CACHE", str(tool_cache))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no uv on PATH
    env = {
        **install.cache_env(),  # type: ignore[attr-defined]
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(links),
        "PIP_NO_CACHE_DIR": "1",
    }

    def says(uv: str | None) -> str | None:
        if uv is None:
            return None
        out = subprocess.run([uv], capture_output=True, text=True, check=False)
        return out.stdout.strip()

    # The old layout's uv, planted by an earlier job.
    planted = tool_cache / "regkit" / "regkit-uv-0.13.9" / "bin" / "uv"
    planted.parent.mkdir(parents=True)
    planted.write_text("#!/bin/sh\necho planted\n")
    planted.chmod(0o755)
    job_temp = tmp_path / "job1"
    job_temp.mkdir()
    assert says(install.find_uv(job_temp, env)) == "genuine"  # type: ignore[attr-defined]

    # Everything in the tool cache replaced: every wheel and every 'uv' file.
    for path in tool_cache.rglob("*"):
        if path.is_file() and path.name.endswith(".whl"):
            _uv_wheel(path, "planted")
        elif path.is_file() and path.name == "uv":
            path.write_text("#!/bin/sh\necho planted\n")
    job_temp = tmp_path / "job2"
    job_temp.mkdir()
    assert says(install.find_uv(job_temp, env)) in ("genuine", None)  # type: ignore[attr-defined]

    # Without any way to the genuine wheel: no uv (install with pip), never the planted one.
    env["PIP_FIND_LINKS"] = str(tmp_path / "nowhere")
    job_temp = tmp_path / "job3"
    job_temp.mkdir()
    for path in tool_cache.rglob("*.whl"):
        _uv_wheel(path, "planted")
    assert says(install.find_uv(job_temp, env)) is None  # type: ignore[attr-defined]
