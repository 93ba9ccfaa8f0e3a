"""Where the rig finds its tools: the tools directory scripts/install-system-deps fills.

``REGKIT_TOOLS_DIR`` (default ``/opt/regkit-tools``) holds ``bin/registry`` (distribution v3,
``registry:3``), ``bin/crane`` and ``bin/regctl``, each a symlink to a ``go install`` build of a
pinned version. Debian's ``docker-registry`` (2.8) comes from apt and is found on PATH.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Literal

import pytest

Version = Literal["2.8", "3"]
VERSIONS: tuple[Version, ...] = ("2.8", "3")
REGISTRY_28_BIN = "docker-registry"


def tools_dir() -> Path:
    return Path(os.environ.get("REGKIT_TOOLS_DIR") or "/opt/regkit-tools")


def tool_path(name: str) -> str | None:
    """``$REGKIT_TOOLS_DIR/bin/NAME`` if executable, else NAME on PATH, else None."""
    candidate = tools_dir() / "bin" / name
    if os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def registry_binary(version: Version) -> str | None:
    """The registry executable of ``version``: Debian's docker-registry for 2.8, the
    ``go install`` build in the tools directory for 3 (never a ``registry`` found elsewhere)."""
    if version == "2.8":
        return shutil.which(REGISTRY_28_BIN)
    candidate = tools_dir() / "bin" / "registry"
    return str(candidate) if os.access(candidate, os.X_OK) else None


def require_registry(version: Version) -> str:
    path = registry_binary(version)
    if path is None:
        if version == "3":
            pytest.skip(
                f"registry:3 not built ({tools_dir()}/bin/registry missing): "
                "run scripts/install-system-deps with Go >= 1.26"
            )
        pytest.skip("docker-registry 2.8 not installed: run scripts/install-system-deps")
    return path
