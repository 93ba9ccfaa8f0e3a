"""Which registry is GHCR, where its REST API is, and which token talks to it.

- ``REGKIT_GHCR_HOST`` names the GHCR registry host (default ``ghcr.io``; tests point it at a
  local GHCR). ``ghcr.io`` itself always counts as GHCR.
- ``GITHUB_API_URL`` (set on every Actions runner; ``https://HOST/api/v3`` on GitHub Enterprise
  Server) is the REST API; default ``https://api.github.com``.
- The REST token: ``GITHUB_TOKEN``, else ``GH_TOKEN``, else the password of the GHCR
  credentials in use (on GHCR that password is a GitHub token).
- ``REGKIT_GHCR_DELETE_INTERVAL``: seconds between two deletions (default 0.35, under GitHub's
  secondary limit of about 180 deletions a minute).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from regkit.errors import AuthenticationError, UsageError
from regkit.ops import ConnectOptions, resolve_credentials
from regkit.registry import RegistryClient
from regkit.registry.packages import DEFAULT_API_URL, WRITE_INTERVAL, PackagesAPI

GHCR_HOST_ENV = "REGKIT_GHCR_HOST"
DEFAULT_GHCR_HOST = "ghcr.io"
#: Seconds between two version deletions (default: packages.WRITE_INTERVAL).
INTERVAL_ENV = "REGKIT_GHCR_DELETE_INTERVAL"


def ghcr_host() -> str:
    return (os.environ.get(GHCR_HOST_ENV) or DEFAULT_GHCR_HOST).strip().lower()


def is_ghcr(registry: str) -> bool:
    host = registry.strip().lower()
    return host in (DEFAULT_GHCR_HOST, ghcr_host())


def api_url() -> str:
    return (os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")


def github_token(client: RegistryClient | None = None) -> str:
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        value = os.environ.get(name)
        if value:
            return value
    creds = client.credentials if client is not None else None
    if creds is not None and creds.password:
        return creds.password
    raise UsageError(
        "GHCR package versions are listed and deleted through the GitHub API: set GITHUB_TOKEN "
        "(in a workflow: the github-token input, with 'permissions: packages: write') or log in "
        "to ghcr.io with a GitHub token as password"
    )


def packages_api(
    client: RegistryClient | None = None,
    *,
    token: str | None = None,
    notify: Callable[[str], None] | None = None,
    write_interval: float | None = None,
) -> PackagesAPI:
    """A REST client for GHCR package versions, with the token (``token``, else
    ``github_token(client)``) and API URL of this run."""
    if write_interval is None and os.environ.get(INTERVAL_ENV):
        try:
            write_interval = max(0.0, float(os.environ[INTERVAL_ENV]))
        except ValueError:
            raise UsageError(f"{INTERVAL_ENV} must be a number of seconds") from None
    return PackagesAPI(
        token or github_token(client),
        base_url=api_url(),
        notify=notify,
        write_interval=WRITE_INTERVAL if write_interval is None else write_interval,
    )


def token_login(options: ConnectOptions, registry: str, token: str | None) -> ConnectOptions:
    """On GHCR without credentials of its own (no login, no REGISTRY_USERNAME/PASSWORD), log in
    with the GitHub token as password (ghcr.io accepts any user name with it)."""
    if not is_ghcr(registry) or not token or resolve_credentials(registry, options) is not None:
        return options
    return dataclasses.replace(options, username="regkit", password=token)


def login_secret(options: ConnectOptions) -> str | None:
    """The base64 ``user:password`` form of a ``token_login`` (to mask in Actions)."""
    from regkit.dockerconfig import Credentials

    if options.username and options.password:
        return Credentials(options.username, options.password).basic_token()
    return None


WRITE_HINT = (
    "on GHCR the token needs 'permissions: packages: write' and write access to the package "
    "(the package's settings, Manage Actions access: the workflow's repository with the Write "
    "or Admin role)"
)


def with_write_hint(err: AuthenticationError, registry: str) -> AuthenticationError:
    """A refused write on GHCR, with the permission to grant named."""
    if not is_ghcr(registry) or err.status not in (401, 403):
        return err
    return AuthenticationError(f"{err.message}; {WRITE_HINT}", status=err.status, code=err.code)


def owner_repositories(client: RegistryClient, owner: str) -> list[str]:
    """``OWNER/NAME`` of every container package of ``owner`` the token can see (GHCR has no
    catalog)."""
    with packages_api(client) as api:
        return [f"{owner}/{p.name}" for p in api.list_packages(owner)]


__all__ = [
    "DEFAULT_GHCR_HOST",
    "GHCR_HOST_ENV",
    "api_url",
    "ghcr_host",
    "github_token",
    "is_ghcr",
    "login_secret",
    "owner_repositories",
    "packages_api",
    "token_login",
    "with_write_hint",
]
