"""Which registry is GHCR, where its REST API is, and which token talks to it.

- ``REGKIT_GHCR_HOST`` names the GHCR registry host (default ``ghcr.io``; tests point it at a
  local GHCR). ``ghcr.io`` itself always counts as GHCR.
- Each GHCR registry belongs to one GitHub, whose REST API lists and deletes its package
  versions (``github_of``): ``ghcr.io`` <-> ``https://api.github.com``; a GitHub Enterprise
  Server container registry ``containers.HOST`` <-> ``https://HOST/api/v3`` (GHE.com:
  ``containers.SUB.ghe.com`` <-> ``https://api.SUB.ghe.com``); any other host is refused.
- ``GITHUB_API_URL`` (set on every Actions runner) says which GitHub the run's own tokens
  (``github-token``/``token=``, ``GITHUB_TOKEN``, ``GH_TOKEN``) belong to; unset: github.com.
  Such a token is sent to the registry's GitHub only when that is the same GitHub, and is the
  registry password (``token_login``) only then. The password of the registry's own login is
  sent to the registry's GitHub only. A token that would cross from one GitHub to another is
  one error line naming both. HTTPS only.
- Test setting (never met in production): a GHCR on a loopback host (``REGKIT_GHCR_HOST=
  127.0.0.1:PORT``) belongs to a ``GITHUB_API_URL`` on a loopback host, plain HTTP allowed,
  and to nothing else.
- The REST token: ``GITHUB_TOKEN``, else ``GH_TOKEN``, else the password of the GHCR
  credentials in use (on GHCR that password is a GitHub token), under the rule above.
- ``REGKIT_GHCR_DELETE_INTERVAL``: seconds between two deletions (default 0.35, under GitHub's
  secondary limit of about 180 deletions a minute).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from urllib.parse import urlsplit

from regkit.errors import AuthenticationError, RegkitError, UsageError
from regkit.ghcr.rest import DEFAULT_API_URL, WRITE_INTERVAL, PackagesAPI
from regkit.ops import ConnectOptions, resolve_credentials
from regkit.reference import host_is_loopback
from regkit.registry import RegistryClient

GHCR_HOST_ENV = "REGKIT_GHCR_HOST"
DEFAULT_GHCR_HOST = "ghcr.io"
#: Seconds between two version deletions (default: packages.WRITE_INTERVAL).
INTERVAL_ENV = "REGKIT_GHCR_DELETE_INTERVAL"


def ghcr_host() -> str:
    return (os.environ.get(GHCR_HOST_ENV) or DEFAULT_GHCR_HOST).strip().lower()


def is_ghcr(registry: str) -> bool:
    host = registry.strip().lower()
    return host in (DEFAULT_GHCR_HOST, ghcr_host())


class GitHubOriginError(RegkitError):
    """A token would go from one GitHub to another, or a GitHub API URL is not HTTPS."""


API_URL_ENV = "GITHUB_API_URL"


def _normal_url(url: str, what: str) -> str:
    """``url`` as ``scheme://host[:port]/path`` (lower-case host, no default port, no trailing
    slash); https only, plain http only on a loopback host (the tests' fake)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        host, port = (parts.hostname or ""), parts.port
    except ValueError:
        host, port = "", None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"https": 443, "http": 80}.get(scheme):
        netloc = f"{netloc}:{port}"
    loopback = bool(host) and host_is_loopback(host if ":" not in host else f"[{host}]")
    if not host or scheme not in ("https", "http") or (scheme == "http" and not loopback):
        raise GitHubOriginError(
            f"{what} {url.strip()[:100]!r} is not an https:// URL; a GitHub token goes over "
            "HTTPS only"
        )
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def env_api_url() -> str | None:
    """``GITHUB_API_URL``, normalised (None when unset)."""
    value = os.environ.get(API_URL_ENV, "").strip()
    return _normal_url(value, API_URL_ENV) if value else None


def github_of(registry: str) -> str:
    """The REST API of the GitHub that ``registry`` belongs to (see the module docstring)."""
    host = registry.strip().lower().rstrip("/")
    if host == DEFAULT_GHCR_HOST:
        return DEFAULT_API_URL
    if host_is_loopback(host):
        env = env_api_url()
        if env is None or not host_is_loopback(urlsplit(env).netloc):
            raise GitHubOriginError(
                f"{host} is a GHCR on loopback (a test setting): its GitHub API must be on "
                f"loopback too (set {API_URL_ENV} to it), not {env or 'unset'}"
            )
        return env
    if host.startswith("containers.") and len(host) > len("containers."):
        rest = host[len("containers.") :]
        if rest.endswith(".ghe.com"):
            return _normal_url(f"https://api.{rest}", "the GitHub API")
        return _normal_url(f"https://{rest}/api/v3", "the GitHub API")
    raise GitHubOriginError(
        f"cannot tell which GitHub {host} belongs to: GHCR is ghcr.io (github.com) or "
        "containers.HOST (GitHub Enterprise Server HOST); set REGKIT_GHCR_HOST to one of those"
    )


def token_github() -> str:
    """The GitHub the run's own tokens belong to: ``GITHUB_API_URL``, else github.com."""
    return env_api_url() or DEFAULT_API_URL


def api_url(registry: str | None = None) -> str:
    """The REST API for the package versions of ``registry`` (default: the GHCR host)."""
    return github_of(registry or ghcr_host())


def _registry_of(client: RegistryClient | None) -> str:
    return client.registry if client is not None else ghcr_host()


def _crossing(registry: str, own: str, theirs: str, what: str) -> GitHubOriginError:
    return GitHubOriginError(
        f"{registry} belongs to the GitHub at {own}, but {what} belongs to the GitHub at "
        f"{theirs} ({API_URL_ENV}): a token is never sent to another GitHub; log in to "
        f"{registry} with a token of {own} (regkit login, REGISTRY_USERNAME/REGISTRY_PASSWORD)"
    )


def github_token(client: RegistryClient | None = None, token: str | None = None) -> str:
    """The token for the REST API of the client's registry (see the module docstring)."""
    registry = _registry_of(client)
    own = github_of(registry)
    theirs = token_github()
    given = token or next((v for n in ("GITHUB_TOKEN", "GH_TOKEN") if (v := os.environ.get(n))), "")
    if given and theirs == own:
        return given
    creds = client.credentials if client is not None else None
    if creds is not None and creds.password:
        return creds.password  # the registry's own login: for its own GitHub
    if given:
        raise _crossing(registry, own, theirs, "the GitHub token (GITHUB_TOKEN, github-token)")
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
    """A REST client for the package versions of the client's registry (default: the GHCR
    host), on that registry's own GitHub, with ``github_token(client, token)``."""
    if write_interval is None and os.environ.get(INTERVAL_ENV):
        try:
            write_interval = max(0.0, float(os.environ[INTERVAL_ENV]))
        except ValueError:
            raise UsageError(f"{INTERVAL_ENV} must be a number of seconds") from None
    return PackagesAPI(
        github_token(client, token),
        base_url=github_of(_registry_of(client)),
        notify=notify,
        write_interval=WRITE_INTERVAL if write_interval is None else write_interval,
    )


def token_login(options: ConnectOptions, registry: str, token: str | None) -> ConnectOptions:
    """On GHCR without credentials of its own (no login, no REGISTRY_USERNAME/PASSWORD), log in
    with the GitHub token as password (ghcr.io accepts any user name with it): only when the
    token belongs to the registry's own GitHub (``GITHUB_API_URL``, default github.com)."""
    if not is_ghcr(registry) or not token or resolve_credentials(registry, options) is not None:
        return options
    own, theirs = github_of(registry), token_github()
    if own != theirs:
        raise _crossing(registry.strip().lower(), own, theirs, "the GitHub token (github-token)")
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


def package_owner(text: str) -> tuple[str, str] | None:
    """``ghcr.io/OWNER`` (a GHCR host and one path component) -> (host, owner in lower case):
    the owner whose packages stand for the catalog GHCR does not have; anything else: None."""
    host, _, owner = text.partition("/")
    if not owner or "/" in owner or not is_ghcr(host):
        return None
    return host, owner.lower()


def owner_repositories(client: RegistryClient, owner: str) -> list[str]:
    """``OWNER/NAME`` of every container package of ``owner`` the token can see (GHCR has no
    catalog)."""
    with packages_api(client) as api:
        return [f"{owner}/{p.name}" for p in api.list_packages(owner)]


__all__ = [
    "DEFAULT_GHCR_HOST",
    "GHCR_HOST_ENV",
    "GitHubOriginError",
    "api_url",
    "env_api_url",
    "ghcr_host",
    "github_of",
    "github_token",
    "is_ghcr",
    "login_secret",
    "owner_repositories",
    "package_owner",
    "packages_api",
    "token_github",
    "token_login",
    "with_write_hint",
]
