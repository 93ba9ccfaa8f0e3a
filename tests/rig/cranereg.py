"""go-containerregistry's registry (``crane registry serve``): a registry that is not
distribution, on a free loopback port, plain HTTP, no auth.

What it does differently from distribution (the reasons the rig has it):

- Manifests live in memory, keyed by digest *and* by tag. A DELETE by digest removes the
  digest key only: every tag on it stays listed and still serves the manifest's bytes; a
  DELETE by tag (202) removes that tag alone.
- ``tags/list`` is sorted and honours ``n`` and ``last``, but never sends a ``Link`` header: a
  client that waits for ``Link`` stops after the first page. ``_catalog`` honours ``n`` (default
  10,000) in map order, ignores ``last`` and sends no ``Link`` either.
- No auth (Authorization headers are ignored), no referrers API, no garbage collection.
- Its log (stderr) has a line per request: ``METHOD URL`` on success, ``METHOD URL STATUS
  CODE MESSAGE`` on an error; the status of a successful request is not logged.

``--disk DIR`` keeps blobs on disk; manifests and tags are lost whenever the process ends, so
``restart()`` (like ``wipe()``) starts empty.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from .accesslog import AccessRecord, Request
from .images import Pusher
from .ports import LOOPBACK, port_open
from .procs import ManagedProcess, ServerProcess, StartFailed
from .tools import tool_path, tools_dir

START_TIMEOUT = 10.0
_SERVING = re.compile(rb"serving on port (\d+)")


class RigFeatureUnavailable(NotImplementedError):
    """What a distribution rig offers and crane's registry cannot (say which, and why)."""


def require_crane_registry() -> str:
    """The crane binary (its ``registry serve`` sub-command); skips when it is not built."""
    path = tool_path("crane")
    if path is None:
        pytest.skip(
            f"crane not installed (looked for {tools_dir()}/bin/crane and on PATH); "
            "run scripts/install-system-deps"
        )
    return path


class CraneRegistryProcess(ServerProcess):
    """``crane registry serve --address 127.0.0.1:PORT --disk DIR`` in ``workdir``.

    The first ``start()`` asks for port 0 and reads the port crane chose from its log (no race
    with another process taking a free port); later starts reuse it. Files: ``workdir/disk/``
    (blobs, ``storage_dir``), ``workdir/registry.log`` (appended across restarts).
    """

    version = "crane"
    what = "crane registry"

    def __init__(self, workdir: Path, binary: str) -> None:
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_dir = workdir / "disk"
        self.log_path = workdir / "registry.log"
        self.port: int | None = None
        self._proc: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start and wait until it serves (an empty registry: manifests are not kept)."""
        if self.running:
            return
        self.storage_dir.mkdir(parents=True, exist_ok=True)  # crane does not create it
        for _attempt in range(5):
            port = self.port if self.port is not None else 0
            argv = [
                self.binary,
                "registry",
                "serve",
                "--address",
                f"{LOOPBACK}:{port}",
                "--disk",
                str(self.storage_dir),
            ]
            # PORT in the environment would not matter with --address; drop it anyway.
            env = {k: v for k, v in os.environ.items() if k != "PORT"}
            self._proc = ManagedProcess(argv, self.log_path, env=env, cwd=self.workdir)
            mark = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._proc.start()
            try:
                self.port = self._wait_ready(timeout, mark)
                return
            except StartFailed as exc:
                self._proc.stop(kill=True)
                new_log = self.log_path.read_bytes()[mark:].decode(errors="replace")
                if "address already in use" in new_log:
                    time.sleep(0.1)  # the old process's socket may linger after a kill
                    continue
                raise RuntimeError(f"crane registry did not start: {exc}\n{new_log}") from None
        raise RuntimeError(f"crane registry could not bind a port; log:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float, log_mark: int) -> int:
        """The port crane says it serves on, once that port accepts."""

        def ready() -> int | None:
            with open(self.log_path, "rb") as f:
                f.seek(log_mark)
                found = _SERVING.search(f.read())
            port = int(found.group(1)) if found is not None else None
            return port if port is not None and port_open(port) else None

        return self.wait_serving(ready, timeout, "serving")

    # stop(), restart() and wipe() (ServerProcess): every manifest and tag goes with the
    # process (they live in memory); blobs stay on disk unless wiped.

    def garbage_collect(self, **_options: object) -> None:
        raise RigFeatureUnavailable("crane's registry has no garbage-collect")


class CraneRig:
    """A ``Rig`` look-alike for crane's registry (``shape``, ``version`` and ``param`` are
    ``"crane"``): ``host``, ``scheme`` (http), ``url``, ``ref()``, ``env()``,
    ``ssl_context()``, ``http_client()``, ``pusher()``, ``registry``, ``storage_dir``,
    ``docker_config`` (a ``config.json`` with no credentials: the registry has no auth),
    ``mark()``, ``ensure_running()``, ``wipe()``, ``close()``; ``username``, ``password``,
    ``credentials``, ``ca_file``, ``cert_dir``, ``nginx`` and ``htpasswd`` are None.

    ``requests()``/``access_records()`` raise ``RigFeatureUnavailable``: crane's log does not
    record the status of a successful request. So does ``registry.garbage_collect()``.
    """

    shape = "crane"
    version = "crane"
    param = "crane"
    scheme = "http"
    username: str | None = None
    password: str | None = None
    credentials: tuple[str, str] | None = None
    ca_file: Path | None = None
    cert_dir: Path | None = None
    nginx: None = None
    htpasswd: Path | None = None

    def __init__(self, workdir: Path, registry: CraneRegistryProcess) -> None:
        self.workdir = workdir
        self.registry = registry
        self.docker_config = workdir / "docker"
        self.docker_config.mkdir(parents=True, exist_ok=True)
        path = self.docker_config / "config.json"
        path.write_text(json.dumps({"auths": {}}) + "\n")
        path.chmod(0o600)
        self._pusher: Pusher | None = None

    @property
    def host(self) -> str:
        return self.registry.host

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def storage_dir(self) -> Path:
        return self.registry.storage_dir

    def ref(self, repo: str, tag_or_digest: str | None = None) -> str:
        """``host/repo``, ``host/repo:tag`` or ``host/repo@sha256:...``."""
        if tag_or_digest is None:
            return f"{self.host}/{repo}"
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.host}/{repo}{sep}{tag_or_digest}"

    def env(self, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
        """``base`` (default ``os.environ``) + ``DOCKER_CONFIG`` (no credentials), without
        ``REGISTRY_USERNAME``/``REGISTRY_PASSWORD``."""
        env = dict(os.environ if base is None else base)
        env.pop("REGISTRY_USERNAME", None)
        env.pop("REGISTRY_PASSWORD", None)
        env["DOCKER_CONFIG"] = str(self.docker_config)
        env.update(extra)
        return env

    def ssl_context(self) -> bool:
        return True  # plain HTTP: nothing to verify

    def http_client(self, *, auth: bool = True, **kwargs: Any) -> httpx.Client:
        """An httpx client for ``url`` (no auth: there is none to send); the caller closes it."""
        del auth
        kwargs.setdefault("timeout", 30.0)
        return httpx.Client(base_url=self.url, **kwargs)

    def pusher(self) -> Pusher:
        """A shared ``Pusher`` for this registry (closed by ``close()``)."""
        if self._pusher is None:
            self._pusher = Pusher(self.url)
        return self._pusher

    def mark(self) -> None:
        """Nothing to mark: ``requests()`` is not available here."""

    clear_log = mark

    def requests(self, *, since_mark: bool = True) -> list[Request]:
        raise RigFeatureUnavailable(
            "crane's registry does not log the status of a successful request; count "
            "requests on a distribution rig"
        )

    def access_records(self, *, since_mark: bool = True) -> list[AccessRecord]:
        return self.requests(since_mark=since_mark)  # type: ignore[return-value]

    def ensure_running(self) -> None:
        """Start it if a previous test stopped it (empty then: manifests are in memory)."""
        if not self.registry.running:
            self.registry.start()

    def wipe(self) -> None:
        """Delete every repository: stop, delete the blobs, start on the same port."""
        self.registry.wipe()

    def close(self) -> None:
        if self._pusher is not None:
            with contextlib.suppress(Exception):
                self._pusher.close()
            self._pusher = None
        self.registry.stop()

    def __enter__(self) -> CraneRig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_crane_rig(workdir: Path) -> CraneRig:
    """Start crane's registry with its files under ``workdir``; the caller must ``close()``.
    Skips (pytest) when crane is not built."""
    registry = CraneRegistryProcess(workdir / "registry", require_crane_registry())
    registry.start()
    try:
        return CraneRig(workdir, registry)
    except BaseException:
        registry.stop(kill=True)
        raise
