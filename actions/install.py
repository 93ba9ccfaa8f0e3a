#!/usr/bin/env python3
"""Install regkit from this checkout into a virtualenv, quickly and reproducibly.

Used by every composite action in ``actions/`` (standard library only: it runs before anything
is installed). Steps:

1. The install key is a SHA-256 over the Python interpreter, ``requirements.lock``,
   ``pyproject.toml`` and every file under ``src/``. The virtualenv is
   ``$RUNNER_TEMP/regkit-<key>``: a second action of the same regkit in the same job finds it
   complete and reuses it (RUNNER_TEMP is emptied between jobs).
2. The installer is ``uv`` when it is on PATH, else ``uv`` from the pinned, hashed ``uv==``
   wheel of ``requirements-dev.lock``, else pip. The wheel is downloaded once with pip
   (``--require-hashes``) into ``$RUNNER_TOOL_CACHE/regkit/uv-wheels-<version>`` (kept between
   jobs on a self-hosted runner, where one job could plant a file for the next); every use
   reads the wheel once, checks its SHA-256 against the lock's hashes (not against a record in
   that same cache) and unpacks ``uv`` from those checked bytes into a fresh directory of this
   job (next to the virtualenv, removed after the install). A wheel that does not match is
   downloaded again; failing that, pip installs. uv gets pip's
   index and trust settings (``pip config list``: pip.conf and ``PIP_*``: index-url,
   extra-index-url, find-links, trusted-host, cert) and the system trust store; on any uv
   failure the install starts again with pip. Without ``venv``/``ensurepip`` the error names the
   packages to install.
3. Dependencies: ``--require-hashes -r requirements.lock`` (every file checked against the lock).
   Build backend: ``setuptools``, ``wheel`` and ``setuptools-scm`` (the version from the git
   tag) from the hashed entries of ``requirements-dev.lock`` (no unpinned download of a build
   backend). Then regkit itself with
   ``--no-deps --no-build-isolation``.
4. Package caches live in the runner's tool cache (``$RUNNER_TOOL_CACHE/regkit/cache``), which a
   self-hosted runner keeps between jobs, unless ``UV_CACHE_DIR``/``PIP_CACHE_DIR`` say
   otherwise. A poisoned cache cannot slip in a file: hashes are checked on every install.

Linux only (the lock has no Windows or macOS wheels): refused elsewhere in one line. The launcher
``install.sh`` finds a Python 3.11+ first.

Prints the path of the ``regkit`` executable; inside a step, also sets the outputs ``regkit``,
``python`` and ``venv``. Options: ``--venv DIR`` (install there, no reuse key),
``--installer auto|uv|pip``, ``--force`` (reinstall), ``--key`` (install nothing: the outputs
``venv``, ``cache-key`` and ``complete`` for the composite actions' cache step).

Across jobs: on GitHub-hosted runners each composite action restores the virtualenv from the
Actions cache (``actions/cache``, key ``cache_key()``: OS, architecture, Python version and the
install key, which covers the locks and the sources) before this script runs; a restored venv
carries its marker, so it is reused, and a job that installed saves it when it ends. Paths are
the same on every hosted job (``RUNNER_TEMP``, the Python of the tool cache), which a venv needs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
MARKER = ".regkit-install-key"
# The build backend (requirements-build.lock: these entries of the dev lock, in this order).
BUILD_REQUIREMENTS = ("setuptools", "wheel", "packaging", "setuptools-scm", "vcs-versioning")
MIN_PYTHON = (3, 11)
# What building writes into the checkout: not part of the source.
_BUILD_LITTER = ("__pycache__", ".egg-info", ".pyc")


class InstallError(Exception):
    pass


def lock_entries(lock: Path, names: tuple[str, ...]) -> str:
    """The requirement lines (with their ``--hash`` continuation lines) for ``names``."""
    wanted = {name.lower() for name in names}
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if line and not line[0].isspace() and not line.startswith("#"):
            name = line.split("==", 1)[0].strip().lower()
            current = found.setdefault(name, []) if name in wanted else None
            if current is not None:
                current.append(line)
        elif current is not None and stripped.startswith("--hash"):
            current.append(line)
        elif not stripped.startswith("#"):
            current = None
    missing = wanted - found.keys()
    if missing:
        raise InstallError(f"{lock.name} has no pinned entry for {', '.join(sorted(missing))}")
    return "\n".join(line for name in names for line in found[name.lower()]) + "\n"


def unsupported_platform(system: str, machine: str) -> str | None:
    """Why regkit cannot be installed here, or None. ``requirements.lock`` holds wheels for
    Linux (x86_64, aarch64) only, and only Linux runners are tested."""
    if system.startswith(("win", "cygwin", "msys")):
        return (
            "regkit's actions run on Linux runners only (requirements.lock has no Windows "
            "wheels): use runs-on: ubuntu-latest"
        )
    if system == "darwin":
        kind = "Apple silicon (untested)" if machine in ("arm64", "aarch64") else "Intel"
        return (
            f"regkit's actions run on Linux runners only, not macOS {kind}: the lock has no "
            "wheels for it; use runs-on: ubuntu-latest"
        )
    return None


def install_key() -> str:
    digest = hashlib.sha256()
    digest.update(f"{sys.executable}\0{sys.version}\0{platform.machine()}\0".encode())
    files = [LOCK, DEV_LOCK, ROOT / "pyproject.toml"]
    files += sorted(
        p
        for p in (ROOT / "src").rglob("*")
        if p.is_file() and not any(part.endswith(_BUILD_LITTER) for part in p.parts)
    )
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_key(key: str) -> str:
    """The Actions cache key of the install ``key``: readable parts first, then the key."""
    os_name = os.environ.get("RUNNER_OS") or platform.system()
    arch = os.environ.get("RUNNER_ARCH") or platform.machine()
    python = platform.python_version()
    return f"regkit-install-{os_name}-{arch}-py{python}-{key}"


def default_venv(key: str) -> Path:
    """Where the install of ``key`` lives: ``$RUNNER_TEMP/regkit-<key>``."""
    base = Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir())
    return base / f"regkit-{key[:16]}"


def is_complete(venv: Path, key: str) -> bool:
    """An install of ``key`` is in ``venv``: its regkit and its marker."""
    regkit = bin_dir(venv) / ("regkit.exe" if os.name == "nt" else "regkit")
    python = bin_dir(venv) / ("python.exe" if os.name == "nt" else "python")
    marker = venv / MARKER
    return (
        regkit.is_file()
        and python.exists()  # a venv restored from a cache: its interpreter is here too
        and marker.is_file()
        and marker.read_text("utf-8").strip() == key
    )


def run(cmd: list[str], env: dict[str, str]) -> None:
    print("+ " + " ".join(cmd), flush=True)
    started = time.monotonic()
    result = subprocess.run(cmd, env=env, check=False)
    print(f"  ({time.monotonic() - started:.1f} s)", flush=True)
    if result.returncode != 0:
        raise InstallError(f"{Path(cmd[0]).name} exited with {result.returncode}")


def cache_env() -> dict[str, str]:
    env = dict(os.environ)
    tool_cache = env.get("RUNNER_TOOL_CACHE")
    if tool_cache:
        env.setdefault("UV_CACHE_DIR", str(Path(tool_cache, "regkit", "cache", "uv")))
        env.setdefault("PIP_CACHE_DIR", str(Path(tool_cache, "regkit", "cache", "pip")))
    # Never download a Python; ignore uv config files of the runner.
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    env["UV_NO_CONFIG"] = "1"
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    env.pop("VIRTUAL_ENV", None)
    return env


# pip's settings (pip.conf, PIP_* variables) that uv does not read: passed on as uv options, so a
# runner behind a package mirror or a TLS-inspecting proxy installs with uv as it does with pip.
_PIP_TO_UV = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "trusted-host": "--allow-insecure-host",
}


def pip_settings(python: str, env: dict[str, str]) -> dict[str, list[str]]:
    """pip's effective index and trust settings (``pip config list``: files and PIP_*)."""
    out = subprocess.run(
        [python, "-m", "pip", "config", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    settings: dict[str, list[str]] = {}
    if out.returncode != 0:  # no pip: only the environment
        for key in (*_PIP_TO_UV, "cert", "no-index"):
            value = env.get("PIP_" + key.upper().replace("-", "_"))
            if value:
                settings[key] = value.split()
        return settings
    for line in out.stdout.splitlines():
        name, sep, value = line.partition("=")
        if not sep:
            continue
        key = name.rsplit(".", 1)[-1].strip()
        value = value.strip().strip("'\"")
        if key in (*_PIP_TO_UV, "cert", "no-index") and value:
            settings[key] = value.split()  # later sources (the environment) come last and win
    return settings


def uv_options(
    settings: dict[str, list[str]], env: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """uv command-line options and environment for pip's ``settings``.

    The system trust store is always used (``UV_SYSTEM_CERTS``: a proxy's CA installed on the
    runner), and pip's ``cert`` becomes ``SSL_CERT_FILE``. uv's own settings, when given, win.
    """
    options: list[str] = []
    for key, flag in _PIP_TO_UV.items():
        for value in settings.get(key, []):
            options += [flag, value]
    if settings.get("no-index", [""])[0].lower() in ("1", "true", "yes", "on"):
        options.append("--no-index")
    extra = {"UV_SYSTEM_CERTS": env.get("UV_SYSTEM_CERTS") or "1"}
    cert = settings.get("cert")
    if cert and not env.get("SSL_CERT_FILE"):
        extra["SSL_CERT_FILE"] = cert[0]
    return options, extra


def bin_dir(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


UV_DIR_PREFIX = ".regkit-uv-"  # this job's unpacked uv, removed after the install


def lock_hashes(entry: str) -> set[str]:
    """The ``--hash=sha256:`` values of a lock entry."""
    return set(re.findall(r"--hash=sha256:([0-9a-f]{64})", entry))


def verified_wheel(directory: Path, hashes: set[str]) -> bytes | None:
    """The bytes of a ``uv-*.whl`` in ``directory`` whose SHA-256 is one of ``hashes``: read
    once, so what was checked is what gets unpacked (no swap in between)."""
    if not directory.is_dir():
        return None
    for wheel in sorted(directory.glob("uv-*.whl")):
        try:
            if wheel.is_symlink() or not wheel.is_file():
                continue
            data = wheel.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() in hashes:
            return data
    return None


def unpack_uv(wheel: bytes, directory: Path) -> Path:
    """``uv`` from the checked bytes of its wheel (``uv-V.data/scripts/uv``) into
    ``directory``."""
    name = "uv.exe" if os.name == "nt" else "uv"
    try:
        with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
            members = [
                m for m in zf.namelist() if re.fullmatch(rf"uv-[^/]+\.data/scripts/{name}", m)
            ]
            if not members:
                raise InstallError("the uv wheel holds no uv executable")
            target = directory / name
            with zf.open(members[0]) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
    except zipfile.BadZipFile:
        raise InstallError("the uv wheel is not a zip file") from None
    target.chmod(0o755)
    return target


def _download_uv(pinned: str, wheels: Path, hashes: set[str], env: dict[str, str]) -> bytes:
    """The uv wheel, downloaded by pip with ``--require-hashes`` and checked again here, kept in
    ``wheels`` for the next job (which checks it again)."""
    wheels.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=wheels.parent))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(pinned)
    try:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--require-hashes"]
        run([*pip, "--no-deps", "--only-binary=:all:", "-d", str(staging), "-r", handle.name], env)
        data = verified_wheel(staging, hashes)
        if data is None:
            raise InstallError("pip downloaded no uv wheel matching the lock")
        for wheel in staging.glob("uv-*.whl"):
            with contextlib.suppress(OSError):
                os.replace(wheel, wheels / wheel.name)  # over a file that did not match
        return data
    finally:
        os.unlink(handle.name)
        shutil.rmtree(staging, ignore_errors=True)


def find_uv(base: Path, env: dict[str, str]) -> str | None:
    """``uv`` from PATH, or unpacked into a fresh directory under ``base`` from the uv wheel
    of the dev lock, its SHA-256 checked against the lock on every use."""
    on_path = shutil.which("uv")
    if on_path:
        return on_path
    pinned = lock_entries(DEV_LOCK, ("uv",))
    version = pinned.split("==", 1)[1].split()[0]
    hashes = lock_hashes(pinned)
    # The runner's tool cache outlives the job on self-hosted runners: the wheel is downloaded
    # once, and checked on every use.
    cache = base
    tool_cache = os.environ.get("RUNNER_TOOL_CACHE")
    if tool_cache and os.access(tool_cache, os.W_OK):
        cache = Path(tool_cache, "regkit")
    wheels = cache / f"uv-wheels-{version}"
    try:
        wheel = verified_wheel(wheels, hashes)
        if wheel is None:
            has_pip = [sys.executable, "-m", "pip", "--version"]
            if subprocess.run(has_pip, check=False, capture_output=True).returncode:
                return None  # no pip next to this Python: fall back to venv + pip
            wheel = _download_uv(pinned, wheels, hashes, env)
        base.mkdir(parents=True, exist_ok=True)
        return str(unpack_uv(wheel, Path(tempfile.mkdtemp(prefix=UV_DIR_PREFIX, dir=base))))
    except (InstallError, OSError) as err:
        reason = err if isinstance(err, InstallError) else type(err).__name__
        print(f"::warning::could not install uv ({reason}); installing with pip", flush=True)
        return None


def link_mode(uv: str, venv: Path, env: dict[str, str]) -> str:
    """Hard links from uv's cache when it shares the venv's file system (about 0.4 s faster
    than copying), else copies (uv would try links, fail and warn)."""
    out = subprocess.run([uv, "cache", "dir"], env=env, capture_output=True, text=True, check=False)
    cache = Path(out.stdout.strip() or tempfile.gettempdir())
    try:
        cache.mkdir(parents=True, exist_ok=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        same = cache.stat().st_dev == venv.parent.stat().st_dev
    except OSError:
        same = False
    return "hardlink" if same else "copy"


def install(venv: Path, installer: str, env: dict[str, str]) -> str:
    """Create ``venv`` and install regkit into it; the installer used.

    With uv when it is there; on any uv failure (a mirror uv cannot reach, a proxy, a broken
    cache) the venv is made again with pip, which reads the runner's pip settings itself.
    """
    uv = None if installer == "pip" else find_uv(venv.parent, env)
    if installer == "uv" and uv is None:
        raise InstallError("uv is not on PATH and could not be installed")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(lock_entries(DEV_LOCK, BUILD_REQUIREMENTS))
    build_reqs = handle.name
    try:
        if uv:
            try:
                install_with_uv(uv, venv, build_reqs, env)
                return "uv"
            except InstallError as err:
                if installer == "uv":
                    raise
                print(f"::warning::installing with uv failed ({err}); installing with pip")
                shutil.rmtree(venv, ignore_errors=True)
        install_with_pip(venv, build_reqs, env)
        return "pip"
    finally:
        os.unlink(build_reqs)
        if uv and Path(uv).parent.name.startswith(UV_DIR_PREFIX):
            shutil.rmtree(Path(uv).parent, ignore_errors=True)


def install_with_uv(uv: str, venv: Path, build_reqs: str, env: dict[str, str]) -> None:
    python = str(bin_dir(venv) / ("python.exe" if os.name == "nt" else "python"))
    options, extra = uv_options(pip_settings(sys.executable, env), env)
    env = {**env, **extra, "UV_LINK_MODE": env.get("UV_LINK_MODE") or link_mode(uv, venv, env)}
    pip = [uv, "pip", "install", "--python", python, *options]
    run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], env)
    run([*pip, "--require-hashes", "-r", str(LOCK), "-r", build_reqs], env)
    run([*pip, "--no-deps", "--no-build-isolation", str(ROOT)], env)


def install_with_pip(venv: Path, build_reqs: str, env: dict[str, str]) -> None:
    check_venv_and_pip(sys.executable, env)
    python = str(bin_dir(venv) / ("python.exe" if os.name == "nt" else "python"))
    # --no-compile: pip would byte-compile every installed module (seconds); Python compiles
    # what regkit imports on first use.
    pip = [python, "-m", "pip", "install", "--quiet", "--no-compile"]
    run([sys.executable, "-m", "venv", str(venv)], env)
    run([*pip, "--require-hashes", "-r", str(LOCK), "-r", build_reqs], env)
    run([*pip, "--no-deps", "--no-build-isolation", str(ROOT)], env)


def check_venv_and_pip(python: str, env: dict[str, str]) -> None:
    """Refuse, naming the packages to install, a Python without ``venv``/``ensurepip``."""
    probe = subprocess.run(
        [python, "-c", "import venv, ensurepip"], env=env, capture_output=True, check=False
    )
    if probe.returncode != 0:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        raise InstallError(
            f"{python} has no venv/ensurepip module: install the packages python{version}-venv "
            f"and python3-pip (Debian/Ubuntu: sudo apt-get install python{version}-venv "
            "python3-pip), or add actions/setup-python before this action"
        )


def set_outputs(values: dict[str, str]) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for key, value in values.items():
            if "\n" in value or "\r" in value:
                raise InstallError(f"path for {key} holds a line break")
            handle.write(f"{key}={value}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install regkit from this checkout.")
    parser.add_argument("--venv", type=Path, help="install into DIR (no reuse by key)")
    parser.add_argument("--installer", choices=("auto", "uv", "pip"), default="auto")
    parser.add_argument("--force", action="store_true", help="reinstall even when complete")
    parser.add_argument(
        "--key", action="store_true", help="install nothing: outputs venv, cache-key, complete"
    )
    args = parser.parse_args(argv)
    refused = unsupported_platform(sys.platform, platform.machine())
    if refused:
        print(f"::error::{refused}", flush=True)
        return 1
    if sys.version_info < MIN_PYTHON:
        print(
            f"::error::regkit needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; "
            f"{sys.executable} is {platform.python_version()}: add actions/setup-python first",
            flush=True,
        )
        return 1
    started = time.monotonic()
    key = install_key()
    venv = args.venv.resolve() if args.venv is not None else default_venv(key)
    regkit = bin_dir(venv) / ("regkit.exe" if os.name == "nt" else "regkit")
    marker = venv / MARKER
    if args.key:
        complete = is_complete(venv, key)
        flag = "true" if complete else "false"
        set_outputs({"venv": str(venv), "cache-key": cache_key(key), "complete": flag})
        print(f"install key {key[:16]}: {venv} ({'complete' if complete else 'not installed'})")
        return 0
    reused = not args.force and is_complete(venv, key)
    how = "reused"
    if not reused:
        if venv.exists():
            shutil.rmtree(venv)
        print(f"::group::Installing regkit into {venv}", flush=True)
        try:
            how = install(venv, args.installer, cache_env())
        except InstallError as err:
            print("::endgroup::", flush=True)
            print(f"::error::installing regkit failed: {err}", flush=True)
            return 1
        print("::endgroup::", flush=True)
        marker.write_text(key + "\n", encoding="utf-8")
    python = bin_dir(venv) / ("python.exe" if os.name == "nt" else "python")
    set_outputs({"regkit": str(regkit), "python": str(python), "venv": str(venv)})
    print(f"regkit in {venv} ({how}, {time.monotonic() - started:.1f} s)", flush=True)
    print(regkit, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
