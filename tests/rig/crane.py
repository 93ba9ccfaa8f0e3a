"""crane (and skopeo) as independent clients, run against a rig.

crane (go-containerregistry 0.20) needs no flag for either shape: ``DOCKER_CONFIG`` from
``rig.env()`` gives it the credentials, ``SSL_CERT_FILE`` the rig's CA on "tls", and for a
loopback host (127.0.0.1) it tries HTTPS first and falls back to plain HTTP by itself, so
``--insecure`` is not needed on "basic" (it works there too, but it also disables TLS
verification, which a "tls" test must not do).

skopeo 1.9 does not fall back to HTTP: on "basic" it needs ``--tls-verify=false``; on "tls" it
gets ``--cert-dir`` (a directory holding the CA as ``ca.crt``). Credentials come from
``--authfile`` (the rig's Docker ``config.json``). ``skopeo()`` inserts these flags after the
sub-command (``src-``/``dest-`` forms for ``copy``/``sync``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pytest

from .tools import tool_path, tools_dir

if TYPE_CHECKING:
    from .shapes import Rig

CRANE_DEFAULT = "/opt/regkit-tools/bin/crane"  # with REGKIT_TOOLS_DIR unset
DEFAULT_TIMEOUT = 120.0


class ToolError(subprocess.CalledProcessError):
    """A tool exited non-zero; ``str()`` includes its stderr for a readable test failure."""

    def __str__(self) -> str:
        err = (self.stderr or b"").decode(errors="replace").strip()
        return f"{super().__str__()}\nstderr:\n{err[-2000:]}"


def crane_path() -> str | None:
    """``$REGKIT_TOOLS_DIR/bin/crane`` (default /opt/regkit-tools) if executable, else
    ``crane`` on PATH, else None."""
    return tool_path("crane")


def skopeo_path() -> str | None:
    return shutil.which("skopeo")


def require_crane() -> str:
    path = crane_path()
    if path is None:
        pytest.skip(
            f"crane not installed (looked for {tools_dir()}/bin/crane and on PATH); "
            "run scripts/install-system-deps"
        )
    return path


def require_skopeo() -> str:
    path = skopeo_path()
    if path is None:
        pytest.skip("skopeo not installed (apt-get install skopeo; scripts/install-system-deps)")
    return path


def run_tool(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    check: bool,
    input: bytes | None,
    timeout: float,
) -> subprocess.CompletedProcess[bytes]:
    """Run a client tool; bytes stdout/stderr, ``ToolError`` on a non-zero exit with ``check``."""
    cp = subprocess.run(
        list(argv), env=dict(env), input=input, capture_output=True, timeout=timeout, check=False
    )
    if check and cp.returncode != 0:
        raise ToolError(cp.returncode, cp.args, cp.stdout, cp.stderr)
    return cp


def _env(rig: Rig, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = rig.env()
    env.update(extra or {})
    return env


def crane(
    rig: Rig,
    *args: str,
    check: bool = True,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``crane ARGS`` with ``rig.env()`` (plus ``env``); bytes stdout/stderr.

    Skips the test when crane is missing. ``check=True`` raises ToolError on a non-zero exit.
    """
    exe = require_crane()
    return run_tool([exe, *args], _env(rig, env), check=check, input=input, timeout=timeout)


def skopeo_flags(rig: Rig, prefix: str = "") -> list[str]:
    """Auth and TLS flags for one side of skopeo (``prefix`` "", "src-" or "dest-")."""
    flags = [f"--{prefix}authfile", str(rig.docker_config / "config.json")]
    if rig.cert_dir is not None:
        flags += [f"--{prefix}cert-dir", str(rig.cert_dir), f"--{prefix}tls-verify=true"]
    else:
        flags += [f"--{prefix}tls-verify=false"]
    return flags


_TWO_SIDED = {"copy", "sync"}
_ONE_SIDED = {"inspect", "list-tags", "delete", "manifest-digest"}


def skopeo(
    rig: Rig,
    subcommand: str,
    *args: str,
    check: bool = True,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``skopeo SUBCOMMAND [rig flags] ARGS`` with ``rig.env()``.

    Rig flags (``skopeo_flags``) are added for inspect, list-tags, delete (one side) and copy,
    sync (both sides, assuming both are this rig; pass your own flags for anything else).
    Image names are skopeo's: ``docker://`` + ``rig.ref(repo, tag)``.
    """
    exe = require_skopeo()
    flags: list[str] = []
    if subcommand in _TWO_SIDED:
        flags = skopeo_flags(rig, "src-") + skopeo_flags(rig, "dest-")
    elif subcommand in _ONE_SIDED and subcommand != "manifest-digest":
        flags = skopeo_flags(rig)
    argv = [exe, subcommand, *flags, *args]
    return run_tool(argv, _env(rig, env), check=check, input=input, timeout=timeout)
