"""One module per operation; each is a pure planning function plus a small executor.

``connect`` builds a registry client from the connection options every command shares.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regkit.dockerconfig import Credentials, credentials_for
from regkit.errors import Namer, NotFoundError, Param, TLSError, UsageError, cli_words, say
from regkit.reference import host_is_loopback
from regkit.registry.options import Options

if TYPE_CHECKING:
    from regkit.reference import Reference
    from regkit.registry import Descriptor, Manifest, RegistryClient

#: Warnings of the operations (``--insecure`` to a remote host): log records, which the CLI
#: prints on stderr (``regkit.cli.output.warnings_on_stderr``) and an API user's logging gets;
#: a parameter they name is in the words of the caller's namer (``connect(words=)``).
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectOptions(Options):
    """How to reach registries: the connection options (``regkit.registry.options.Options``:
    TLS, concurrency, timeout...) and where credentials come from (``resolve_credentials``;
    an explicit ``credentials`` goes first)."""

    username: str | None = None
    password: str | None = None
    docker_config: str | None = None

    def __repr__(self) -> str:
        return (
            f"ConnectOptions(ca_file={self.ca_file!r}, insecure={self.insecure}, jobs={self.jobs}, "
            f"username={self.username!r}, password={'<hidden>' if self.password else None})"
        )


#: The defaults (``regkit.defaults``: timeout 30 s, 16 jobs) as connection options.
DEFAULTS = ConnectOptions()


def resolve_credentials(host: str, options: ConnectOptions) -> Credentials | None:
    """Explicit credentials (``credentials``, else ``username`` and ``password``), then
    REGISTRY_USERNAME/REGISTRY_PASSWORD, then the Docker config."""
    if options.credentials is not None:
        return options.credentials
    if options.username is not None or options.password is not None:
        if not options.username or options.password is None:
            raise UsageError(
                (
                    "give both a username and a password (",
                    Param("username"),
                    ", ",
                    Param("password-stdin"),
                    ")",
                )
            )
        return Credentials(options.username, options.password)
    env_user, env_password = (
        os.environ.get("REGISTRY_USERNAME"),
        os.environ.get("REGISTRY_PASSWORD"),
    )
    if env_user and env_password is not None:
        return Credentials(env_user, env_password)
    if env_user:
        raise UsageError(
            "REGISTRY_USERNAME is set but REGISTRY_PASSWORD is not: set both, or unset "
            "REGISTRY_USERNAME to use the Docker config"
        )
    return credentials_for(host, options.docker_config)


def connect(host: str, options: ConnectOptions, *, words: Namer = cli_words) -> RegistryClient:
    """A client for ``host``; nothing is sent until the first request. ``words``: the caller's
    namer (``regkit.errors.Namer``) for the parameter a warning names (``--insecure`` on the
    CLI, ``insecure=`` from the Python API)."""
    from regkit.registry import RegistryClient

    ca_file = options.ca_file
    if not ca_file and not options.insecure:
        from regkit.userconfig import remembered_ca

        ca_file = remembered_ca(host)  # from `regkit login HOST --ca-file` (regkit.userconfig)
    if ca_file and not os.path.isfile(ca_file):
        raise TLSError(f"CA file {ca_file} does not exist; pass the PEM file of your registry's CA")
    if options.insecure and not host_is_loopback(host):
        insecure = say((Param("insecure"),), words)
        _log.warning("%s: TLS verification is off for %s", insecure, host)
    credentials = resolve_credentials(host, options)
    return RegistryClient(
        host, options.registry_options(), credentials=credentials, ca_file=ca_file
    )


class Connections:
    """Clients by host, each opened at its first use and all closed together: a command that
    comes back to a registry (a prune, then the check after its ``--then``) reuses the
    connection and the credentials it resolved::

        with Connections(options) as clients:
            clients("registry.example.com").tags("team/app")
    """

    def __init__(self, options: ConnectOptions) -> None:
        self.options = options
        self._clients: dict[str, RegistryClient] = {}

    def __call__(self, host: str) -> RegistryClient:
        if host not in self._clients:
            self._clients[host] = connect(host, self.options)
        return self._clients[host]

    def __enter__(self) -> Connections:
        return self

    def __exit__(self, *_exc: object) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def resolve_platform(
    client: RegistryClient, ref: Reference, manifest: Manifest, platform: str | None
) -> Manifest:
    """Of an index, the manifest of ``platform`` (``os/arch[/variant]``, chosen as
    ``regkit.imagemeta.pick_platform`` does); any other manifest, or no platform: itself."""
    child = platform_child(ref, manifest, platform)
    if child is None:
        return manifest
    return client.get_manifest(ref.repository, child.digest)


def platform_child(ref: Reference, manifest: Manifest, platform: str | None) -> Descriptor | None:
    """Of an index, the child of ``platform`` (``NotFoundError`` naming the platforms it has when
    there is none); any other manifest, or no platform: None."""
    from regkit import imagemeta

    if not manifest.is_index or platform is None:
        return None
    child = imagemeta.pick_platform(manifest, platform)
    if child is None:
        have = ", ".join(imagemeta.platforms_of(manifest)) or "none"
        raise NotFoundError(f"{ref} has no platform {platform} (it has: {have})")
    return child
