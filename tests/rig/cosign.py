"""cosign (sigstore) as a real signing client, run against a rig: the oracle of the referrers
tests (a signature regkit must find, keep, move or remove with its image).

No network beyond the rig: a key pair made in the test (``cosign generate-key-pair``, the
password in ``COSIGN_PASSWORD``), ``sign --tlog-upload=false`` (no Rekor), ``verify
--insecure-ignore-tlog=true`` (no Rekor, no TUF root: ``TUF_ROOT`` and ``HOME`` point into the
rig's workdir so nothing is written to ``~/.sigstore``).

Credentials come from ``DOCKER_CONFIG`` (``rig.env()``), the CA from ``SSL_CERT_FILE`` on tls.
On a plain-HTTP rig (basic, crane) every registry command gets ``--allow-http-registry``
(cosign v2 refuses HTTP otherwise); never ``--allow-insecure-registry``, which would also
switch off TLS verification on tls. cosign v2 stores a signature under cosign's tag scheme
(``sha256-<hex>.sig``) on every registry.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .crane import DEFAULT_TIMEOUT, ToolError, run_tool
from .tools import tool_path, tools_dir

if TYPE_CHECKING:
    from .cranereg import CraneRig
    from .shapes import Rig

    AnyRig = Rig | CraneRig

PASSWORD = "regkit-test-key"  # protects a throw-away key made in a tmp dir


@dataclass(frozen=True)
class KeyPair:
    key: Path  # cosign.key (encrypted with ``password``)
    pub: Path  # cosign.pub
    password: str = PASSWORD


def cosign_path() -> str | None:
    """``$REGKIT_TOOLS_DIR/bin/cosign`` if executable, else ``cosign`` on PATH, else None."""
    return tool_path("cosign")


def require_cosign() -> str:
    path = cosign_path()
    if path is None:
        pytest.skip(
            f"cosign not built (looked for {tools_dir()}/bin/cosign and on PATH): "
            "run scripts/install-system-deps with Go >= 1.26"
        )
    return path


def _env(rig: AnyRig, home: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    env: dict[str, str] = rig.env(
        HOME=str(home),
        TUF_ROOT=str(home / "tuf"),
        COSIGN_PASSWORD=PASSWORD,
        COSIGN_YES="true",
    )
    env.update(extra or {})
    return env


def registry_flags(rig: AnyRig) -> list[str]:
    """``--allow-http-registry`` on a plain-HTTP rig (basic, crane); nothing on tls."""
    return ["--allow-http-registry"] if rig.scheme == "http" else []


def cosign(
    rig: AnyRig,
    *args: str,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``cosign ARGS`` with the rig's environment; bytes stdout/stderr. Skips the test when
    cosign is missing; ``check=True`` raises ToolError on a non-zero exit."""
    exe = require_cosign()
    home = Path(rig.workdir) / "cosign-home"
    home.mkdir(parents=True, exist_ok=True)
    return run_tool([exe, *args], _env(rig, home, env), check=check, input=None, timeout=timeout)


def generate_key_pair(directory: Path) -> KeyPair:
    """``cosign generate-key-pair`` in ``directory`` (password ``PASSWORD``; no registry)."""
    exe = require_cosign()
    directory.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(directory), "COSIGN_PASSWORD": PASSWORD}
    cp = subprocess.run(
        [exe, "generate-key-pair"],
        cwd=directory,
        env=env,
        capture_output=True,
        timeout=DEFAULT_TIMEOUT,
        check=False,
    )
    if cp.returncode != 0:
        raise ToolError(cp.returncode, cp.args, cp.stdout, cp.stderr)
    return KeyPair(directory / "cosign.key", directory / "cosign.pub")


def sign(rig: AnyRig, keys: KeyPair, ref: str) -> subprocess.CompletedProcess[bytes]:
    """``cosign sign --key`` ``ref`` (``HOST/REPO@sha256:...``), no transparency log."""
    return cosign(
        rig,
        "sign",
        "--key",
        str(keys.key),
        "--tlog-upload=false",
        "--yes",
        *registry_flags(rig),
        ref,
    )


def attest(
    rig: AnyRig, keys: KeyPair, ref: str, predicate: Path, predicate_type: str = "spdxjson"
) -> subprocess.CompletedProcess[bytes]:
    """``cosign attest --key`` ``ref`` with ``predicate`` (an in-toto statement in a DSSE
    envelope, stored under ``sha256-<hex>.att``), no transparency log."""
    return cosign(
        rig,
        "attest",
        "--key",
        str(keys.key),
        "--predicate",
        str(predicate),
        "--type",
        predicate_type,
        "--tlog-upload=false",
        "--yes",
        *registry_flags(rig),
        ref,
    )


def verify(
    rig: AnyRig, keys: KeyPair, ref: str, *, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """``cosign verify --key`` ``ref`` without the transparency log; exit 0 when a signature
    made with ``keys`` is found for the image's digest."""
    return cosign(
        rig,
        "verify",
        "--key",
        str(keys.pub),
        "--insecure-ignore-tlog=true",
        *registry_flags(rig),
        ref,
        check=check,
    )
