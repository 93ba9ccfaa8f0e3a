"""The Docker client configuration (``config.json``): read, merge, atomic 0600 write, helpers.

docker, crane, skopeo and trivy all read this file, so regkit reads and writes it the way they
do: ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``; ``auths`` entries keyed by
host (or by URL, as old clients wrote them), ``credHelpers`` per host and a default
``credsStore``, both called as ``docker-credential-<name>``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regkit.errors import Param, RegkitError


class DockerConfigError(RegkitError):
    """The Docker client config cannot be read, parsed or written."""


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password, even in a debugger or a log
        return f"Credentials(username={self.username!r}, password=<hidden>)"

    __str__ = __repr__

    def basic_token(self) -> str:
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


def config_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("DOCKER_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".docker"


def _normalise_host(key: str) -> str:
    """``https://host/v1/`` and ``http://host`` -> ``host`` (docker's convertToHostname)."""
    host = key
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix) :]
            break
    return host.split("/", 1)[0]


def load(directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The parsed config, ``{}`` when the file does not exist."""
    path = config_dir(directory) / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise DockerConfigError(f"cannot read Docker config {path}: {err.strerror}") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as err:
        raise DockerConfigError(
            f"Docker config {path} is not valid JSON (line {getattr(err, 'lineno', '?')}); "
            "fix or remove it"
        ) from None
    if not isinstance(data, dict):
        raise DockerConfigError(f"Docker config {path} is not a JSON object; fix or remove it")
    return data


def helper_for(config: dict[str, Any], host: str) -> str | None:
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if _normalise_host(str(key)) == host and isinstance(name, str) and name:
                return name
    store = config.get("credsStore")
    return store if isinstance(store, str) and store else None


def _from_auths(config: dict[str, Any], host: str) -> Credentials | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if _normalise_host(str(key)) != host or not isinstance(entry, dict):
            continue
        user, password = entry.get("username"), entry.get("password")
        if isinstance(user, str) and isinstance(password, str) and user:
            return Credentials(user, password)
        auth = entry.get("auth")
        if isinstance(auth, str) and auth:
            try:
                decoded = base64.b64decode(auth, validate=False).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise DockerConfigError(
                    f"the Docker config entry for {host} has an unreadable 'auth' value; "
                    f"run 'regkit login' or 'docker login {host}' again"
                ) from None
            user, sep, password = decoded.partition(":")
            if sep and user:
                return Credentials(user, password)
    return None


#: Longest wait for one credential-helper call (a keychain prompt included).
HELPER_TIMEOUT = 120.0


class _HelperFailed(Exception):
    """A helper call failed: ``status`` is its exit status (None: it could not be run)."""

    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _NotFound(Exception):
    """The helper holds no entry for the server asked about."""


class _Helper:
    """``docker-credential-<name>``, called the way docker does (the docker-credential-helpers
    protocol: ``store``/``get``/``erase``/``list``, the request on stdin, the answer on stdout).

    Both of its streams are always captured and never passed on: a helper that echoes its
    input prints the secret (JSON-escaped, past any mask of the raw value). Nothing of its
    output goes into an error either: only the helper's name and exit status.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.program = f"docker-credential-{name}"

    def _run(self, action: str, data: bytes | None) -> bytes:
        import shutil
        import subprocess

        exe = shutil.which(self.program)
        if exe is None:
            raise _HelperFailed(None, "missing")
        try:
            done = subprocess.run(
                [exe, action],
                input=data if data is not None else b"",
                capture_output=True,  # stdout AND stderr: nothing of the helper is shown
                timeout=HELPER_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise _HelperFailed(None, f"no answer within {HELPER_TIMEOUT:.0f} s") from None
        except OSError as err:
            raise _HelperFailed(None, f"it could not be run ({err.strerror})") from None
        if done.returncode != 0:
            said = (done.stdout + done.stderr).lower()
            if action in ("get", "erase") and b"credentials not found" in said:
                raise _NotFound
            raise _HelperFailed(done.returncode, "status")
        return done.stdout

    def get(self, server: str) -> dict[str, Any]:
        answer = json.loads(self._run("get", server.encode()).decode("utf-8"))
        if not isinstance(answer, dict):
            raise ValueError("not an object")
        if not answer.get("Username") and not answer.get("Secret"):
            raise _NotFound  # docker-credential-pass answers an empty entry
        return answer

    def store(self, server: str, username: str, secret: str) -> None:
        payload = {"ServerURL": server, "Username": username, "Secret": secret}
        self._run("store", json.dumps(payload).encode("utf-8"))

    def erase(self, server: str) -> None:
        self._run("erase", server.encode())

    def list(self) -> dict[str, Any]:
        answer = json.loads(self._run("list", None).decode("utf-8"))
        return answer if isinstance(answer, dict) else {}


def _helper_store(name: str) -> _Helper:
    return _Helper(name)


def _from_helper(name: str, host: str) -> Credentials | None:
    try:
        store = _helper_store(name)
        for server in (host, f"https://{host}"):
            try:
                got = store.get(server)
            except _NotFound:
                continue
            user, secret = got.get("Username"), got.get("Secret")
            if isinstance(user, str) and isinstance(secret, str) and user:
                return Credentials(user, secret)
    except _HelperFailed as err:
        raise DockerConfigError(_helper_error(name, host, err)) from None
    except ValueError:  # not JSON (UnicodeDecodeError too): its output is not shown either
        raise DockerConfigError(
            f"credential helper docker-credential-{name} (named in the Docker config) answered "
            f"for {host} with something that is not JSON; install or fix the helper"
        ) from None
    return None


def credentials_for(
    host: str, directory: str | os.PathLike[str] | None = None
) -> Credentials | None:
    """Credentials for ``host`` from the Docker config: helper first when one is named."""
    config = load(directory)
    helper = helper_for(config, host)
    if helper:
        found = _from_helper(helper, host)
        if found:
            return found
    return _from_auths(config, host)


def atomic_write_json(path: Path, data: dict[str, Any], *, private_dir: bool = True) -> None:
    """Write ``path`` atomically with mode 0600; its directory is made 0700 when
    ``private_dir`` (False: the directory of a symlinked config's target, not ours to change)."""
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if private_dir:
        with contextlib.suppress(OSError):
            directory.chmod(0o700)
    fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump(data, handle, indent="\t")
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# -- writing: store and remove credentials (regkit login / logout) ----------------------------

CONFIG_NAME = "config.json"


@dataclass(frozen=True, slots=True)
class StoreResult:
    """Where ``store_credentials`` put the credentials of ``host``."""

    host: str
    config_path: Path
    helper: str | None  # "docker-credential-<helper>" holds the secret; None: in config.json

    def describe(self) -> str:
        if self.helper:
            return f"docker-credential-{self.helper} (registered in {self.config_path})"
        return str(self.config_path)


@dataclass(frozen=True, slots=True)
class RemoveResult:
    """What ``remove_credentials`` removed for ``host``."""

    host: str
    config_path: Path
    from_config: bool
    helper: str | None  # the helper that held an entry, erased

    @property
    def removed(self) -> bool:
        return self.from_config or self.helper is not None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the config directory itself around read-modify-write.

    Locking the directory leaves no lock file behind and opens no file by name, so nothing
    planted in the directory (a symlink named like a lock file) is ever followed or created. A
    directory that is itself a symlink (a dotfiles ``~/.docker``) is locked through it.
    """
    import fcntl

    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise DockerConfigError(
            (
                f"cannot write to the Docker config directory {directory}: {err.strerror}; "
                "choose another directory with ",
                Param("docker-config"),
                " or DOCKER_CONFIG",
            )
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _secure_directory(directory: Path) -> None:
    """The config directory we were given (not a symlink target's) is made 0700."""
    with contextlib.suppress(OSError):
        directory.chmod(0o700)


def _config_file(directory: Path) -> Path:
    """``config.json``, or the file it links to (docker writes through a symlink, too)."""
    path = directory / CONFIG_NAME
    if path.is_symlink():
        return path.resolve()
    return path


def _write(path: Path, data: dict[str, Any], directory: Path) -> None:
    """Write the config at ``path`` (``directory/config.json`` or the file it links to)."""
    try:
        _secure_directory(directory)
        atomic_write_json(path, data, private_dir=path.parent == directory)
    except OSError as err:
        raise DockerConfigError(
            (
                f"cannot write Docker config {path}: {err.strerror}; choose another directory "
                "with ",
                Param("docker-config"),
                " or DOCKER_CONFIG",
            )
        ) from None


def _host_keys(auths: dict[str, Any], host: str) -> list[str]:
    """Every ``auths`` key naming ``host`` (``host``, ``https://host``, ``http://host/v1/``)."""
    return [key for key in auths if _normalise_host(str(key)) == host]


def _helper_error(name: str, host: str, err: _HelperFailed) -> str:
    """What went wrong with a credential helper, never with its output: a helper that echoes
    its input prints the secret (JSON-escaped, past any redaction of the raw value)."""
    if err.status is not None:
        detail = (
            f"it exited with status {err.status} (its output is not shown: it may hold the secret)"
        )
    elif err.reason == "missing":
        detail = f"docker-credential-{name} is not installed or not on PATH"
    else:
        detail = err.reason
    return (
        f"credential helper docker-credential-{name} (named in the Docker config) failed for "
        f"{host}: {detail}; install or fix the helper, or remove 'credsStore'/'credHelpers' "
        "from the config"
    )


def store_credentials(
    host: str, creds: Credentials, directory: str | os.PathLike[str] | None = None
) -> StoreResult:
    """Log ``host`` in: merge its credentials into ``<directory>/config.json`` as docker does.

    Every other entry is kept. The file is replaced atomically (mode 0600, directory 0700)
    under an exclusive lock, so concurrent logins to different hosts all survive. When the
    config names a credential helper for ``host`` (``credHelpers`` or ``credsStore``), the
    secret goes to the helper and ``auths`` keeps an empty entry, exactly like ``docker login``.
    """
    if ":" in creds.username:
        raise DockerConfigError(
            f"the username for {host} contains ':', which HTTP Basic auth cannot carry"
        )
    directory_path = config_dir(directory)
    with _locked(directory_path):
        config = load(directory_path)
        path = _config_file(directory_path)
        helper = helper_for(config, host)
        if helper:
            try:
                _helper_store(helper).store(host, creds.username, creds.password)
            except _HelperFailed as err:
                raise DockerConfigError(_helper_error(helper, host, err)) from None
            entry: dict[str, Any] = {}
        else:
            entry = {"auth": creds.basic_token()}
        auths = config.get("auths")
        if not isinstance(auths, dict):
            auths = {}
        for key in _host_keys(auths, host):
            del auths[key]  # old forms (https://host/v1/) would shadow or confuse clients
        auths[host] = entry
        config["auths"] = auths
        _write(path, config, directory_path)
    return StoreResult(host=host, config_path=path, helper=helper)


def remove_credentials(host: str, directory: str | os.PathLike[str] | None = None) -> RemoveResult:
    """Log ``host`` out: drop its ``auths`` entries and erase it from the credential helper."""

    directory_path = config_dir(directory)
    path = _config_file(directory_path)
    if not path.exists():
        return RemoveResult(host=host, config_path=path, from_config=False, helper=None)
    with _locked(directory_path):
        config = load(directory_path)
        helper = helper_for(config, host)
        erased: str | None = None
        if helper:
            store = _helper_store(helper)
            for server in (host, f"https://{host}"):
                try:
                    store.erase(server)
                except _NotFound:
                    continue
                except _HelperFailed as err:
                    raise DockerConfigError(_helper_error(helper, host, err)) from None
                erased = helper
        auths = config.get("auths")
        keys = _host_keys(auths, host) if isinstance(auths, dict) else []
        if keys and isinstance(auths, dict):
            for key in keys:
                del auths[key]
            _write(path, config, directory_path)
    return RemoveResult(host=host, config_path=path, from_config=bool(keys), helper=erased)
