"""The two rig shapes: "basic" (registry with htpasswd, plain HTTP) and "tls" (nginx + TLS),
each on either registry version: 2.8 (Debian's docker-registry) or 3 (``registry:3``)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import ssl
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import trustme

from .accesslog import AccessLog, AccessRecord, Request, parse_nginx_line, parse_registry_line
from .images import Pusher
from .nginx import NginxProcess
from .registry import RegistryProcess
from .tools import Version

Shape = Literal["basic", "tls"]
SHAPES: tuple[Shape, ...] = ("basic", "tls")
# The ``rig`` fixture's params: every shape on both registry versions ("-v3" = registry:3).
RIG_PARAMS: tuple[str, ...] = ("basic", "tls", "basic-v3", "tls-v3")
# registry:3 behind nginx with TLS, HTTP/2 and Basic auth: production's shape.
PRODUCTION = "tls-v3"


def rig_shapes(*params: str) -> pytest.MarkDecorator:
    """``@rig_shapes(PRODUCTION)`` on a test that takes the ``rig`` fixture: run it on these
    of RIG_PARAMS only (for a test whose subject is not the shape, the registry version or
    TLS); without it, it runs on all four."""
    for param in params:
        parse_rig_param(param)  # an unknown one fails at import, not as a skipped test
    return pytest.mark.parametrize("rig", params, indirect=True)


def rig_versions(*versions: str, fixture: str = "basic_rig") -> pytest.MarkDecorator:
    """``@rig_versions("3")`` on a test that takes ``basic_rig`` (or ``fixture="tls_rig"``):
    run it on these registry versions only (ids "v2.8", "v3" as the fixture's)."""
    unknown = set(versions) - {"2.8", "3"}
    if unknown:
        raise ValueError(f"unknown registry versions {sorted(unknown)}")
    ids = [f"v{v}" for v in versions]
    return pytest.mark.parametrize(fixture, versions, ids=ids, indirect=True)


def parse_rig_param(param: str) -> tuple[Shape, Version]:
    """``"tls-v3"`` -> ``("tls", "3")``; ``"basic"`` -> ``("basic", "2.8")``."""
    shape, _, suffix = param.partition("-")
    if shape not in SHAPES or suffix not in ("", "v3"):
        raise ValueError(f"unknown rig param {param!r}")
    return shape, ("3" if suffix else "2.8")  # type: ignore[return-value]


DEFAULT_USERNAME = "regkit-test"


def make_htpasswd(path: Path, username: str, password: str, cost: int = 5) -> None:
    """Write a one-user bcrypt htpasswd file (``htpasswd -nBi``; the password goes via stdin)."""
    out = subprocess.run(
        ["htpasswd", "-nBi", "-C", str(cost), username],
        input=password.encode(),
        capture_output=True,
        check=True,
    ).stdout
    path.write_bytes(out.strip() + b"\n")
    path.chmod(0o644)


def write_docker_config(directory: Path, host: str, username: str, password: str) -> Path:
    """``directory/config.json`` with one ``auths`` entry for ``host`` (mode 0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    path = directory / "config.json"
    path.write_text(json.dumps({"auths": {host: {"auth": token}}}, indent=2) + "\n")
    path.chmod(0o600)
    return path


@dataclass(eq=False)
class Rig:
    """A running registry of one shape and version, with credentials and client configuration.

    ``version`` is "2.8" (Debian's docker-registry) or "3" (``registry:3``); ``param`` is the
    ``rig`` fixture id ("basic", "tls", "basic-v3", "tls-v3").

    Clients talk to ``host`` (``127.0.0.1:PORT``): the registry itself on "basic", nginx on
    "tls". ``registry`` is the registry process (``stop(kill=False)``, ``start()``,
    ``restart()``, ``wipe()``, ``url``/``host`` of the registry itself: on "tls" that is the
    auth-less plain-HTTP backend behind nginx). ``nginx`` is None on "basic".
    """

    shape: Shape
    workdir: Path
    registry: RegistryProcess
    nginx: NginxProcess | None
    username: str
    password: str
    htpasswd: Path
    ca_file: Path | None
    cert_dir: Path | None  # directory holding ca.crt (skopeo --cert-dir); None for basic
    docker_config: Path = field(init=False)
    log: AccessLog = field(init=False)
    _pusher: Pusher | None = field(default=None, init=False, repr=False)
    _ssl_context: ssl.SSLContext | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.docker_config = self.workdir / "docker"
        write_docker_config(self.docker_config, self.host, self.username, self.password)
        if self.nginx is not None:
            self.log = AccessLog(self.nginx.access_log, parse_nginx_line)
        else:
            self.log = AccessLog(self.registry.log_path, parse_registry_line)

    # -- addresses -------------------------------------------------------------------------
    @property
    def version(self) -> Version:
        return self.registry.version

    @property
    def param(self) -> str:
        return self.shape if self.version == "2.8" else f"{self.shape}-v3"

    @property
    def host(self) -> str:
        return self.nginx.host if self.nginx is not None else self.registry.host

    @property
    def scheme(self) -> str:
        return "https" if self.nginx is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def storage_dir(self) -> Path:
        return self.registry.storage_dir

    @property
    def credentials(self) -> tuple[str, str]:
        return (self.username, self.password)

    def ref(self, repo: str, tag_or_digest: str | None = None) -> str:
        """``host/repo``, ``host/repo:tag`` or ``host/repo@sha256:...``."""
        if tag_or_digest is None:
            return f"{self.host}/{repo}"
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.host}/{repo}{sep}{tag_or_digest}"

    # -- clients ---------------------------------------------------------------------------
    def env(self, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
        """Environment for a client subprocess: ``base`` (default ``os.environ``) plus
        ``DOCKER_CONFIG`` (this rig's credentials) and, on "tls", ``SSL_CERT_FILE`` (the CA).
        ``REGISTRY_USERNAME``/``REGISTRY_PASSWORD`` from ``base`` are dropped."""
        env = dict(os.environ if base is None else base)
        env.pop("REGISTRY_USERNAME", None)
        env.pop("REGISTRY_PASSWORD", None)
        env["DOCKER_CONFIG"] = str(self.docker_config)
        if self.ca_file is not None:
            env["SSL_CERT_FILE"] = str(self.ca_file)
        env.update(extra)
        return env

    def ssl_context(self) -> ssl.SSLContext | bool:
        """``verify=`` value for httpx: a context trusting the rig's CA, or True on "basic"."""
        if self.ca_file is None:
            return True
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context(cafile=str(self.ca_file))
        return self._ssl_context

    def http_client(self, *, auth: bool = True, **kwargs: Any) -> httpx.Client:
        """An httpx client for ``url`` (base_url set, Basic auth unless ``auth=False``,
        HTTP/2 on "tls"). The caller closes it. Do not share it between threads on "tls":
        httpcore's sync HTTP/2 breaks under concurrent requests (see ``Pusher``); pass
        ``http2=False`` for that."""
        kwargs.setdefault("timeout", 30.0)
        kwargs.setdefault("http2", self.nginx is not None)
        return httpx.Client(
            base_url=self.url,
            auth=self.credentials if auth else None,
            verify=self.ssl_context(),
            **kwargs,
        )

    def pusher(self) -> Pusher:
        """A shared ``rig.images.Pusher`` for this rig (one keep-alive pool; closed by close())."""
        if self._pusher is None:
            self._pusher = Pusher.for_rig(self)
        return self._pusher

    # -- request log -----------------------------------------------------------------------
    def mark(self) -> None:
        """Forget requests logged so far: ``requests()`` returns only later ones."""
        self.log.mark()

    clear_log = mark

    def requests(self, *, since_mark: bool = True) -> list[Request]:
        """Logged requests as ``Request(method, path, status, request_length)`` tuples."""
        return self.log.requests(since_mark=since_mark)

    def access_records(self, *, since_mark: bool = True) -> list[AccessRecord]:
        return self.log.records(since_mark=since_mark)

    # -- life cycle ------------------------------------------------------------------------
    def ensure_running(self) -> None:
        """Start whatever a previous test left stopped."""
        if not self.registry.running:
            self.registry.start()
        if self.nginx is not None and not self.nginx.running:
            self.nginx.start()

    def wipe(self) -> None:
        """Delete every repository: stop the registry, remove its storage, start it again on the
        same port (about 0.1 s). nginx keeps running."""
        self.registry.wipe()

    def close(self) -> None:
        """Stop every process of this rig (idempotent)."""
        if self._pusher is not None:
            with contextlib.suppress(Exception):
                self._pusher.close()
            self._pusher = None
        try:
            if self.nginx is not None:
                self.nginx.stop()
        finally:
            self.registry.stop()

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_rig(
    shape: Shape,
    workdir: Path,
    *,
    username: str = DEFAULT_USERNAME,
    password: str | None = None,
    bcrypt_cost: int = 5,
    delete_enabled: bool = True,
    http2: bool = True,
    registry_config: dict[str, Any] | None = None,
    version: Version = "2.8",
) -> Rig:
    """Start a rig of ``shape`` on registry ``version`` ("2.8" or "3") with all files under
    ``workdir``; the caller must ``close()`` it.

    On failure, whatever was started is stopped before the exception propagates.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    password = password if password is not None else "pw-" + secrets.token_urlsafe(12)
    htpasswd = workdir / "htpasswd"
    make_htpasswd(htpasswd, username, password, bcrypt_cost)
    registry = RegistryProcess(
        workdir / "registry",
        htpasswd=htpasswd if shape == "basic" else None,
        delete_enabled=delete_enabled,
        extra_config=registry_config,
        version=version,
    )
    nginx: NginxProcess | None = None
    try:
        registry.start()
        ca_file: Path | None = None
        cert_dir: Path | None = None
        if shape == "tls":
            ca_file, cert_file, key_file = _make_certs(workdir / "tls")
            cert_dir = workdir / "tls" / "certdir"
            cert_dir.mkdir(exist_ok=True)
            shutil.copyfile(ca_file, cert_dir / "ca.crt")
            nginx = NginxProcess(
                workdir / "nginx",
                upstream=registry.host,
                cert_file=cert_file,
                key_file=key_file,
                htpasswd=htpasswd,
                http2=http2,
            )
            nginx.start()
        elif shape != "basic":
            raise ValueError(f"unknown rig shape {shape!r}")
        return Rig(
            shape=shape,
            workdir=workdir,
            registry=registry,
            nginx=nginx,
            username=username,
            password=password,
            htpasswd=htpasswd,
            ca_file=ca_file,
            cert_dir=cert_dir,
        )
    except BaseException:
        try:
            if nginx is not None:
                nginx.stop(kill=True)
        finally:
            registry.stop(kill=True)
        raise


def _make_certs(directory: Path) -> tuple[Path, Path, Path]:
    """A trustme CA and a leaf for 127.0.0.1 and localhost: (ca.pem, cert chain, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="regkit test CA")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = directory / "ca.pem"
    cert_file = directory / "server-chain.pem"
    key_file = directory / "server-key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key_file))
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file
