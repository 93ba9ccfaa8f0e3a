"""Run the regkit CLI as a user does: a subprocess with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping


def regkit(
    *args: str,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    timeout: float = 120.0,
    cwd: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``python -m regkit ARGS``; ``env`` replaces the environment (PATH and HOME are kept)."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "REGKIT_CACHE")  # the cache: off (conftest.py)
    base = {k: v for k, v in os.environ.items() if k in keep}
    base.setdefault("HOME", "/nonexistent")
    full = {**base, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "regkit", *args],
        env=full,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )
