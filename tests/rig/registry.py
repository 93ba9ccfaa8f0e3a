"""A real distribution registry on a free loopback port: Debian's ``docker-registry`` (2.8) or
distribution v3 (``registry:3``, built by scripts/install-system-deps)."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

from .ports import LOOPBACK, free_port, port_open
from .procs import ManagedProcess, ServerProcess, StartFailed
from .tools import REGISTRY_28_BIN, Version, registry_binary

REGISTRY_BIN = REGISTRY_28_BIN  # 2.8; v3's binary: tools.registry_binary("3")
START_TIMEOUT = 10.0


class RegistryProcess(ServerProcess):
    """``docker-registry serve CONFIG`` (2.8) or ``registry serve CONFIG`` (``version="3"``)
    with a config file of our own, in ``workdir``. Both read the same configuration.

    Files: ``workdir/config.yml`` (JSON, which is YAML), ``workdir/storage/`` (filesystem
    storage root, ``storage_dir``), ``workdir/registry.log`` (application and access log,
    appended across restarts). The port is chosen on the first ``start()`` and kept for later
    starts, so ``stop()`` + ``start()`` and ``restart()`` serve the same storage at the same
    address. ``http.secret`` is fixed per instance, so upload sessions survive a restart.
    """

    what = "registry"

    def __init__(
        self,
        workdir: Path,
        *,
        htpasswd: Path | None = None,
        realm: str = "regkit-test",
        delete_enabled: bool = True,
        extra_config: dict[str, Any] | None = None,
        version: Version = "2.8",
    ) -> None:
        binary = registry_binary(version)
        if binary is None:
            raise RuntimeError(f"no registry binary for version {version}")
        self.version: Version = version
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_dir = workdir / "storage"
        self.config_path = workdir / "config.yml"
        self.log_path = workdir / "registry.log"
        self.htpasswd = htpasswd
        self.realm = realm
        self.delete_enabled = delete_enabled
        self.extra_config = extra_config or {}
        self.port: int | None = None
        self._secret = secrets.token_hex(16)
        self._proc: ManagedProcess | None = None

    # -- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}"

    # -- config ----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        assert self.port is not None
        cfg: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": self.delete_enabled},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": f"{LOOPBACK}:{self.port}",
                "secret": self._secret,
                "headers": {"X-Content-Type-Options": ["nosniff"]},
            },
        }
        if self.htpasswd is not None:
            cfg["auth"] = {"htpasswd": {"realm": self.realm, "path": str(self.htpasswd)}}
        _deep_update(cfg, self.extra_config)
        return cfg

    def write_config(self) -> None:
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")

    # -- life cycle ------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start and wait until it serves; keeps the port (and storage) of a previous start."""
        if self.running:
            return
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        keep_port = self.port is not None
        for _attempt in range(5):
            if not keep_port:
                self.port = free_port()
            self.write_config()
            self._proc = ManagedProcess(
                [self.binary, "serve", str(self.config_path)], self.log_path, cwd=self.workdir
            )
            mark = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._proc.start()
            try:
                self._wait_ready(timeout, mark)
                return
            except StartFailed as exc:
                self._proc.stop(kill=True)
                new_log = self.log_path.read_bytes()[mark:].decode(errors="replace")
                if "address already in use" in new_log and not keep_port:
                    continue  # another process took the port between free_port() and bind
                if "address already in use" in new_log and keep_port:
                    # the old process's socket may linger for a moment after a kill
                    time.sleep(0.1)
                    continue
                msg = f"registry {self.version} did not start: {exc}\n{new_log}"
                raise RuntimeError(msg) from None
        msg = f"registry {self.version} could not bind a port; log:\n{self.log_tail()}"
        raise RuntimeError(msg)

    def _wait_ready(self, timeout: float, log_mark: int) -> None:
        # distribution logs "listening on ADDR" once its handler is built and the socket bound;
        # with the port accepting, /v2/ answers. Probing without HTTP keeps requests() clean.
        port = self.port
        assert port is not None
        needle = f"listening on {self.host}".encode()

        def ready() -> bool:
            with open(self.log_path, "rb") as f:
                f.seek(log_mark)
                return needle in f.read() and port_open(port)

        self.wait_serving(ready, timeout, f"listening on {self.host}")

    def garbage_collect(
        self, *, delete_untagged: bool = False, dry_run: bool = False, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the registry's own ``garbage-collect [--delete-untagged] [--dry-run] CONFIG`` on
        this storage. The registry must be stopped (offline mark-and-sweep; running it during
        writes corrupts images): call ``stop()`` first and ``start()`` after, which also drops
        the in-memory blob descriptor cache. Raises RuntimeError with the output on failure."""
        if self.running:
            raise RuntimeError("stop the registry before garbage-collect")
        if self.port is not None:
            self.write_config()
        argv = [self.binary, "garbage-collect"]
        if delete_untagged:
            argv.append("--delete-untagged")
        if dry_run:
            argv.append("--dry-run")
        argv.append(str(self.config_path))
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if cp.returncode != 0:
            output = f"{cp.stdout}{cp.stderr}"
            raise RuntimeError(f"{' '.join(argv)} failed ({cp.returncode}):\n{output}")
        return cp


def _deep_update(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value
