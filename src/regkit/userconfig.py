"""regkit's own configuration directory: ``$XDG_CONFIG_HOME/regkit`` (else ``~/.config/regkit``).

It holds one thing today: the CA certificate a registry was logged in with
(``login --ca-file``), as ``ca/HOST.pem`` (mode 0600, directories 0700), so later commands for
that registry need no ``--ca-file``. A copy, not a path: the original may move or go away.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from regkit.errors import TLSError


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "regkit"


def _ca_path(host: str) -> Path:
    if "/" in host or host in ("", ".", ".."):
        raise ValueError(f"not a registry host: {host!r}")
    return config_dir() / "ca" / f"{host}.pem"


def remembered_ca(host: str) -> str | None:
    """The CA file remembered for ``host``, if any."""
    try:
        path = _ca_path(host)
    except ValueError:
        return None
    return str(path) if path.is_file() else None


def remember_ca(host: str, ca_file: str) -> Path:
    """Keep a copy of ``ca_file`` for ``host``; written atomically, 0600."""
    try:
        data = Path(ca_file).read_bytes()
    except OSError as err:
        raise TLSError(f"cannot read the CA file {ca_file} ({err.strerror or err})") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise TLSError(f"{ca_file} holds no PEM certificate; pass the PEM file of your CA")
    path = _ca_path(host)
    for directory in (path.parent.parent, path.parent):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ca-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def forget_ca(host: str) -> bool:
    try:
        path = _ca_path(host)
    except ValueError:
        return False
    if path.is_file():
        path.unlink()
        return True
    return False
