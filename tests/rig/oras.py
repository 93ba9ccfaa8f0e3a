"""oras as a real OCI 1.1 client, run against a rig: it attaches artifacts (an SBOM) to an image
with ``subject`` and lists them (``oras discover``), the second oracle of the referrers tests.

oras finds out by itself whether the registry serves the referrers API: where it does not
(distribution 2.8, registry:3, crane's registry) ``oras attach`` also maintains the referrers
tag schema's index (``sha256-<hex>``), and ``oras discover`` reads it.

Credentials: ``--registry-config`` (the rig's Docker ``config.json``); the CA on tls from
``SSL_CERT_FILE`` (``rig.env()``); ``--plain-http`` on a plain-HTTP rig (basic, crane), which
oras needs even on loopback. oras refuses absolute file paths to push, so ``attach`` runs in the
file's directory.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .crane import DEFAULT_TIMEOUT, ToolError
from .tools import tool_path, tools_dir

if TYPE_CHECKING:
    from .cranereg import CraneRig
    from .shapes import Rig

    AnyRig = Rig | CraneRig

SPDX = "application/spdx+json"


def oras_path() -> str | None:
    """``$REGKIT_TOOLS_DIR/bin/oras`` if executable, else ``oras`` on PATH, else None."""
    return tool_path("oras")


def require_oras() -> str:
    path = oras_path()
    if path is None:
        pytest.skip(
            f"oras not built (looked for {tools_dir()}/bin/oras and on PATH): "
            "run scripts/install-system-deps with Go >= 1.26"
        )
    return path


def rig_flags(rig: AnyRig) -> list[str]:
    """``--registry-config`` (the rig's credentials) and ``--plain-http`` on HTTP rigs."""
    flags = ["--registry-config", str(Path(rig.docker_config) / "config.json")]
    return flags + (["--plain-http"] if rig.scheme == "http" else [])


def oras(
    rig: AnyRig,
    subcommand: str,
    *args: str,
    check: bool = True,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``oras SUBCOMMAND [rig flags] ARGS`` with ``rig.env()``; bytes stdout/stderr. Skips
    when oras is missing; ``check=True`` raises ToolError on a non-zero exit."""
    exe = require_oras()
    home = Path(rig.workdir) / "oras-home"  # oras keeps nothing in ~ then
    home.mkdir(parents=True, exist_ok=True)
    full_env = rig.env(HOME=str(home))
    full_env.update(env or {})
    argv = [exe, subcommand, *rig_flags(rig), *args]
    cp = subprocess.run(
        argv, cwd=cwd, env=full_env, capture_output=True, timeout=timeout, check=False
    )
    if check and cp.returncode != 0:
        raise ToolError(cp.returncode, cp.args, cp.stdout, cp.stderr)
    return cp


def attach(
    rig: AnyRig,
    ref: str,
    file: Path,
    *,
    artifact_type: str = SPDX,
    media_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> str:
    """``oras attach --artifact-type`` ``file`` to ``ref`` (``HOST/REPO@sha256:...``); the
    digest of the artifact manifest made."""
    extra: list[str] = []
    for key, value in (annotations or {}).items():
        extra += ["--annotation", f"{key}={value}"]
    cp = oras(
        rig,
        "attach",
        "--artifact-type",
        artifact_type,
        "--format",
        "json",
        *extra,
        ref,
        f"{file.name}:{media_type or artifact_type}",
        cwd=file.parent,
    )
    return str(json.loads(cp.stdout)["digest"])


def discover(rig: AnyRig, ref: str, *, artifact_type: str | None = None) -> list[dict[str, Any]]:
    """``oras discover --format json`` ``ref``: the referrers' descriptors (direct ones; each
    with ``digest``, ``mediaType``, ``artifactType``, ``size``, ``annotations``)."""
    args: Sequence[str] = ("--artifact-type", artifact_type) if artifact_type else ()
    cp = oras(rig, "discover", "--format", "json", *args, ref)
    data = json.loads(cp.stdout)
    found = data.get("referrers", data.get("manifests")) or []
    return [dict(d) for d in found]
