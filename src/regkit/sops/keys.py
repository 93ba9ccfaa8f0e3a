"""age identities from every place sops looks, combined (``age/keysource.go``).

Sources, in sops' order: SSH keys (``SOPS_AGE_SSH_PRIVATE_KEY_FILE``, else ``~/.ssh/id_ed25519``
and ``~/.ssh/id_rsa``), ``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY_CMD`` and the
default ``<config dir>/sops/age/keys.txt``. Descriptions in ``sources`` name places, never keys.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regkit.sops.errors import SopsError

_X25519_PREFIX = "AGE-SECRET-KEY-1"
_UNSUPPORTED_PREFIXES = ("AGE-SECRET-KEY-PQ-1", "AGE-PLUGIN-")


@dataclass
class Identities:
    """age identities found, where they were looked for, and the secret strings (for masking)."""

    identities: list[Any] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    raw_secret_strings: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.identities)


def default_keys_file(env: Mapping[str, str] | None = None) -> Path:
    """``<config dir>/sops/age/keys.txt`` as sops computes it."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    xdg = env.get("XDG_CONFIG_HOME", "")
    if sys.platform == "darwin":
        base = Path(xdg) if xdg else home / "Library" / "Application Support"
    else:
        base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".config"
    return base / "sops" / "age" / "keys.txt"


def _x25519(text: str) -> Any:
    import pyrage

    return pyrage.x25519.Identity.from_str(text)


def _parse_identities(text: str, origin: str, found: Identities, *, words: bool) -> int:
    """Add the identities in ``text``; return how many. ``origin`` names the source."""
    count = 0
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        for token in line.split() if words else [line]:
            if token.startswith(_UNSUPPORTED_PREFIXES):
                found.unsupported.append(
                    f"{origin} line {lineno}: post-quantum or plugin identity "
                    "(not supported by regkit; use the sops binary)"
                )
                continue
            if not token.startswith(_X25519_PREFIX):
                raise SopsError(
                    f"{origin} line {lineno} is not an age identity (expected a line starting "
                    f"with {_X25519_PREFIX}, or a # comment); fix that source"
                )
            try:
                identity = _x25519(token)
            except Exception:
                raise SopsError(
                    f"{origin} line {lineno} looks like an age identity but does not parse; "
                    "check that it was copied completely"
                ) from None
            found.identities.append(identity)
            found.raw_secret_strings.append(token)
            count += 1
    return count


def _ssh_identity(path: Path, origin: str, found: Identities) -> None:
    import pyrage

    try:
        data = path.read_bytes()
    except OSError as err:
        found.sources.append(f"{origin} {path}: unreadable ({err.strerror})")
        return
    try:
        identity = pyrage.ssh.Identity.from_buffer(data)
    except Exception:
        found.sources.append(
            f"{origin} {path}: not usable (passphrase-protected or not an ed25519/rsa key)"
        )
        return
    found.identities.append(identity)
    found.sources.append(f"{origin} {path}: 1 SSH identity")


def _describe(found: Identities, origin: str, count: int) -> None:
    found.sources.append(f"{origin}: {count} identit{'y' if count == 1 else 'ies'}")


def load_identities(
    env: Mapping[str, str] | None = None, *, recipient: str | None = None
) -> Identities:
    """Collect age identities from every source sops uses, combined.

    ``recipient`` is passed to ``SOPS_AGE_KEY_CMD`` as ``SOPS_AGE_RECIPIENT``.
    """
    env = os.environ if env is None else env
    found = Identities()
    home = Path(env.get("HOME") or Path.home())

    ssh_file = env.get("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    if ssh_file:
        _ssh_identity(Path(ssh_file), "SOPS_AGE_SSH_PRIVATE_KEY_FILE", found)
    else:
        for name in ("id_ed25519", "id_rsa"):
            candidate = home / ".ssh" / name
            if candidate.is_file():
                _ssh_identity(candidate, "SSH key", found)
            else:
                found.sources.append(f"SSH key {candidate}: not present")

    key_env = env.get("SOPS_AGE_KEY")
    if key_env:
        _describe(
            found, "SOPS_AGE_KEY", _parse_identities(key_env, "SOPS_AGE_KEY", found, words=True)
        )
    else:
        found.sources.append("SOPS_AGE_KEY: not set")

    key_file = env.get("SOPS_AGE_KEY_FILE")
    if key_file:
        origin = f"SOPS_AGE_KEY_FILE {key_file}"
        try:
            text = Path(key_file).read_text(encoding="utf-8")
        except OSError as err:
            raise SopsError(
                f"cannot read SOPS_AGE_KEY_FILE {key_file}: {err.strerror}; fix or unset it"
            ) from None
        _describe(found, origin, _parse_identities(text, origin, found, words=False))
    else:
        found.sources.append("SOPS_AGE_KEY_FILE: not set")

    key_cmd = env.get("SOPS_AGE_KEY_CMD")
    if key_cmd:
        _describe(found, "SOPS_AGE_KEY_CMD", _run_key_cmd(key_cmd, env, recipient, found))
    else:
        found.sources.append("SOPS_AGE_KEY_CMD: not set")

    default = default_keys_file(env)
    if default.is_file():
        origin = str(default)
        try:
            text = default.read_text(encoding="utf-8")
        except OSError as err:
            found.sources.append(f"{origin}: unreadable ({err.strerror})")
        else:
            _describe(found, origin, _parse_identities(text, origin, found, words=False))
    else:
        found.sources.append(f"{default}: not present")
    return found


def _run_key_cmd(
    command: str, env: Mapping[str, str], recipient: str | None, found: Identities
) -> int:
    argv = shlex.split(command)
    child_env = dict(env)
    if recipient:
        child_env["SOPS_AGE_RECIPIENT"] = recipient
    try:
        proc = subprocess.run(
            argv, env=child_env, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SopsError(
            f"SOPS_AGE_KEY_CMD could not be run ({type(err).__name__}); fix or unset it"
        ) from None
    if proc.returncode != 0:
        raise SopsError(f"SOPS_AGE_KEY_CMD exited with status {proc.returncode}; fix or unset it")
    return _parse_identities(proc.stdout, "SOPS_AGE_KEY_CMD output", found, words=False)
