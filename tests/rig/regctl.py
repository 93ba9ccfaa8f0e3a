"""regctl (regclient) as a second independent client beside crane, run against a rig.

regctl reads the rig's credentials from ``DOCKER_CONFIG`` (it imports Docker's config.json) and,
on "tls", trusts the rig's CA through ``SSL_CERT_FILE`` (Go's system pool reads it). Unlike
crane it does not fall back to plain HTTP by itself: on "basic" every call gets
``--host reg=HOST,tls=disabled``. Its own config goes to a file under the rig's workdir
(``REGCTL_CONFIG``), never to ``~/.regctl``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

from .crane import DEFAULT_TIMEOUT, run_tool
from .tools import tool_path, tools_dir

if TYPE_CHECKING:
    from .shapes import Rig


def regctl_path() -> str | None:
    """``$REGKIT_TOOLS_DIR/bin/regctl`` if executable, else ``regctl`` on PATH, else None."""
    return tool_path("regctl")


def require_regctl() -> str:
    path = regctl_path()
    if path is None:
        pytest.skip(
            f"regctl not built (looked for {tools_dir()}/bin/regctl and on PATH): "
            "run scripts/install-system-deps with Go >= 1.26"
        )
    return path


def regctl_host_flags(rig: Rig) -> list[str]:
    """``--host`` for the rig: plain HTTP on "basic"; nothing on "tls" (the CA comes from
    ``SSL_CERT_FILE``)."""
    if rig.nginx is None:
        # -v error: regctl warns on stderr each time --host changes a host's TLS setting
        return ["-v", "error", "--host", f"reg={rig.host},tls=disabled"]
    return []


def regctl(
    rig: Rig,
    *args: str,
    check: bool = True,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``regctl [--host ...] ARGS`` with ``rig.env()`` (plus ``env``); bytes stdout/stderr.

    Skips the test when regctl is missing. ``check=True`` raises ToolError on a non-zero exit.
    """
    exe = require_regctl()
    full_env = rig.env(REGCTL_CONFIG=str(rig.workdir / "regctl-config.json"))
    full_env.update(env or {})
    argv = [exe, *regctl_host_flags(rig), *args]
    return run_tool(argv, full_env, check=check, input=input, timeout=timeout)
