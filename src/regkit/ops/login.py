"""``regkit login``: registry credentials from a SOPS file into the Docker client config.

Pure part: :func:`plan_login` picks the host, username and password out of the decrypted
document (key names configurable; the older layout ``registry.`` + ``base_domain`` when the
registry key is absent). Executor: :func:`decrypt_secrets` (the SOPS file), :func:`verify`
(``GET /v2/`` with the credentials, before anything is written) and :func:`write` (merge into
``config.json`` or the credential helper). :func:`login` runs the three in order.

No message built here contains a value from the secrets file except the registry host: missing
or wrong entries are reported by their KEY names only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regkit import defaults
from regkit.dockerconfig import (
    Credentials,
    RemoveResult,
    StoreResult,
    remove_credentials,
    store_credentials,
)
from regkit.errors import AuthenticationError, Message, Param, RegkitError, TLSError, UsageError
from regkit.ops import ConnectOptions
from regkit.reference import HOST_RE, validate_host

_DEFAULT_TIMEOUT = ConnectOptions().timeout  # the one default (regkit.ops.ConnectOptions)

# The team's file is ``secrets/infra.yml`` now; ``secrets/infrastructure-secrets.yml`` is its
# older name. The default is the first of these that exists (the first when none does).
DEFAULT_SECRETS_FILES = defaults.SECRETS_FILES
DEFAULT_SECRETS_FILE = DEFAULT_SECRETS_FILES[0]
DEFAULT_USERNAME_KEY = defaults.USERNAME_KEY
DEFAULT_PASSWORD_KEY = defaults.PASSWORD_KEY
DEFAULT_REGISTRY_KEY = defaults.REGISTRY_KEY
BASE_DOMAIN_KEY = "base_domain"
REGISTRY_PREFIX = "registry."


class LoginPlanError(RegkitError):
    """The secrets file does not hold what a login needs (named by key, never by value)."""


@dataclass(frozen=True, slots=True)
class LoginTarget:
    """What to log into and with what; ``source`` says where the host came from."""

    host: str
    username: str
    password: str
    source: str
    username_key: str = DEFAULT_USERNAME_KEY
    password_key: str = DEFAULT_PASSWORD_KEY

    def __repr__(self) -> str:  # never show the password
        return (
            f"LoginTarget(host={self.host!r}, username={self.username!r}, password=<hidden>, "
            f"source={self.source!r})"
        )

    __str__ = __repr__

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.username, self.password)

    @property
    def secrets(self) -> list[str]:
        """Strings that must never be printed: the password and the base64 ``user:password``."""
        return [s for s in (self.password, self.credentials.basic_token()) if s]


# -- pure planning ---------------------------------------------------------------------------


def _items(node: Any) -> list[tuple[str, Any]] | None:
    """The (key, value) pairs of a mapping node: a ``Mapping`` or sops' ordered ``Branch``."""
    if isinstance(node, Mapping):
        return [(k, v) for k, v in node.items() if isinstance(k, str)]
    if isinstance(node, list) and all(isinstance(i, tuple) and len(i) == 2 for i in node):
        return [(k, v) for k, v in node if isinstance(k, str)]  # comments have non-str keys
    return None


_MISSING = object()


def _lookup(data: Any, key: str) -> Any:
    """``data[key]``; a dotted key (``registry.user``) also walks nested maps. ``_MISSING``."""
    items = _items(data)
    if items is None:
        return _MISSING
    for k, v in items:
        if k == key:
            return v
    head, dot, rest = key.partition(".")
    if dot and head and rest:
        for k, v in items:
            if k == head:
                return _lookup(v, rest)
    return _MISSING


def _top_keys(data: Any) -> list[str]:
    return [k for k, _ in _items(data) or []]


def _string(value: Any, key: str, what: str) -> str:
    """A scalar as text: strings as they are, integers in decimal; anything else refused."""
    if isinstance(value, bool) or value is None:
        raise LoginPlanError(
            f"key '{key}' ({what}) holds {'nothing' if value is None else 'a boolean'}, "
            "not a string; check the secrets file"
        )
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        kind = "a map" if _items(value) is not None else type(value).__name__
        if isinstance(value, list) and _items(value) is None:
            kind = "a list"
        raise LoginPlanError(
            f"key '{key}' ({what}) holds {kind}, not a string; check the secrets file or pass "
            "another key name"
        )
    if not value.strip():
        raise LoginPlanError(f"key '{key}' ({what}) is empty in the secrets file")
    return value


def _missing(keys: Sequence[str], data: Any, hint: Message) -> LoginPlanError:
    found = _top_keys(data)
    shown = ", ".join(found[:30]) + (", ..." if len(found) > 30 else "")
    names = " and ".join(f"'{k}'" for k in keys)
    return LoginPlanError(
        (
            f"the secrets file has no key {names} (",
            *((hint,) if isinstance(hint, str) else hint),
            f"); its top-level keys are: {shown or '(none)'}",
        )
    )


def normalise_host(text: str) -> str:
    """``https://registry.example.com/`` -> ``registry.example.com``; host[:port] unchanged."""
    host = text.strip()
    for prefix in ("https://", "http://"):
        if host.lower().startswith(prefix):
            host = host[len(prefix) :]
            break
    return host.rstrip("/")


def _host_from_file(value: str, key: str, prefix: str = "") -> str:
    host = prefix + normalise_host(value)
    if not HOST_RE.match(host):  # the value stays out of the message: it came from the file
        raise LoginPlanError(
            (
                f"key '{key}' in the secrets file is not a registry host (expected host[:port], "
                "e.g. registry.example.com); fix it or ",
                Param("registry", "HOST", ask=True),
            )
        )
    return host


def plan_login(
    secrets_doc_data: Any,
    registry_override: str | None = None,
    username_key: str = DEFAULT_USERNAME_KEY,
    password_key: str = DEFAULT_PASSWORD_KEY,
    registry_key: str = DEFAULT_REGISTRY_KEY,
) -> LoginTarget:
    """Pick the registry host, username and password out of a decrypted secrets document.

    The host: ``registry_override`` when given; else the value of ``registry_key``; else
    ``registry.`` + the value of ``base_domain`` (the older layout). Errors name the keys that
    are missing or wrong, never a value.
    """
    if _items(secrets_doc_data) is None:
        raise LoginPlanError(
            "the secrets file is not a map of keys to values; a login needs the keys "
            f"'{username_key}' and '{password_key}'"
        )
    raw_user = _lookup(secrets_doc_data, username_key)
    raw_password = _lookup(secrets_doc_data, password_key)
    absent = [
        k for k, v in ((username_key, raw_user), (password_key, raw_password)) if v is _MISSING
    ]
    if absent:
        raise _missing(
            absent,
            secrets_doc_data,
            (Param("username-key", ask=True), "/", Param("password-key"), " if they differ"),
        )
    username = _string(raw_user, username_key, "the registry username")
    password = _string(raw_password, password_key, "the registry password")
    if ":" in username:
        raise LoginPlanError(
            f"key '{username_key}' holds a username with ':', which HTTP Basic auth cannot carry"
        )

    if registry_override:
        host = normalise_host(registry_override)
        validate_host(host)
        source = "--registry"
    else:
        raw_registry = _lookup(secrets_doc_data, registry_key)
        if raw_registry is not _MISSING:
            host = _host_from_file(
                _string(raw_registry, registry_key, "the registry host"), registry_key
            )
            source = f"key '{registry_key}'"
        else:
            raw_base = _lookup(secrets_doc_data, BASE_DOMAIN_KEY)
            if raw_base is _MISSING:
                raise _missing(
                    [registry_key, BASE_DOMAIN_KEY],
                    secrets_doc_data,
                    (Param("registry", "HOST", ask=True), " or ", Param("registry-key", "KEY")),
                )
            host = _host_from_file(
                _string(raw_base, BASE_DOMAIN_KEY, "the base domain"),
                BASE_DOMAIN_KEY,
                prefix=REGISTRY_PREFIX,
            )
            source = f"'{REGISTRY_PREFIX}' + key '{BASE_DOMAIN_KEY}' (key '{registry_key}' absent)"
    if password in host:  # a registry key pointing at the password: never print it as a host
        raise LoginPlanError(
            (
                "the registry host (",
                Param("registry") if registry_override else source,
                f") contains the password from key '{password_key}'; check ",
                Param("registry-key"),
                " / ",
                Param("password-key"),
            )
        )
    return LoginTarget(
        host=host,
        username=username,
        password=password,
        source=source,
        username_key=username_key,
        password_key=password_key,
    )


def read_password_stdin(text: str) -> str:
    """A password piped on stdin, as ``docker login --password-stdin`` reads it."""
    password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise UsageError((Param("password-stdin"), ": nothing was read from standard input"))
    return password


# -- executor --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decrypted:
    """A decrypted secrets file: its data, and every string in it that must stay unseen."""

    path: Path
    data: Any
    secret_values: list[str]


def decrypt_secrets(
    path: str | os.PathLike[str],
    identities: Any = None,
) -> Decrypted:
    """Decrypt the SOPS file (age identities from the usual sources unless given)."""
    from regkit.sops import decrypt_file  # lazy: pyrage and cryptography

    file = default_secrets_file() if str(path) == DEFAULT_SECRETS_FILE else Path(path)
    if not file.is_file():
        raise UsageError(
            (
                f"secrets file {file} does not exist; ",
                Param("secrets-file", "PATH", ask=True),
                f" (default {' or '.join(DEFAULT_SECRETS_FILES)}, relative to the current "
                "directory)",
            )
        )
    doc = decrypt_file(file, identities=identities)
    values = [str(v) for v in secret_values(doc)]
    return Decrypted(path=file, data=doc.data, secret_values=values)


def default_secrets_file(base: Path | None = None) -> Path:
    """The first of ``DEFAULT_SECRETS_FILES`` that exists under ``base`` (default: the current
    directory), else the first one (so the error names the current name)."""
    for name in DEFAULT_SECRETS_FILES:
        candidate = Path(name) if base is None else base / name
        if candidate.is_file():
            return candidate
    return Path(DEFAULT_SECRETS_FILES[0]) if base is None else base / DEFAULT_SECRETS_FILES[0]


def secret_values(doc: Any) -> list[Any]:
    secrets = getattr(doc, "secrets", None)
    if callable(secrets):
        return list(secrets())
    return []


@dataclass(frozen=True, slots=True)
class VerifyResult:
    host: str
    auth_required: bool  # False: the registry accepted anonymous requests (nothing checked)


def verify(
    target: LoginTarget,
    *,
    ca_file: str | None = None,
    insecure: bool = False,
    what: str = "the credentials",
    timeout: float = _DEFAULT_TIMEOUT,
) -> VerifyResult:
    """``GET /v2/`` with the credentials; raise a one-line error on 401, TLS or network failure."""
    from regkit.registry import RegistryClient

    if ca_file and not os.path.isfile(ca_file):
        raise TLSError(f"CA file {ca_file} does not exist; pass the PEM file of your registry's CA")
    with RegistryClient(
        target.host,
        credentials=target.credentials,
        ca_file=ca_file,
        insecure=insecure,
        jobs=1,
        timeout=timeout,
    ) as client:
        try:
            client.ping(require_auth=True)
        except AuthenticationError as err:
            if err.status == 403:
                raise AuthenticationError(
                    f"{target.host} accepted the user {target.username!r} but denied access "
                    f"to /v2/ (403); nothing was written",
                    status=err.status,
                    code=err.code,
                ) from None
            raise AuthenticationError(
                f"{target.host} refused {what} (401 Unauthorized); check that they match the "
                "registry's htpasswd; nothing was written",
                status=err.status,
                code=err.code,
            ) from None
        return VerifyResult(host=target.host, auth_required=client.transport.auth_required)


def write(target: LoginTarget, docker_config: str | os.PathLike[str] | None = None) -> StoreResult:
    return store_credentials(target.host, target.credentials, docker_config)


def logout(host: str, docker_config: str | os.PathLike[str] | None = None) -> RemoveResult:
    host = normalise_host(host)
    validate_host(host)
    return remove_credentials(host, docker_config)


@dataclass(frozen=True, slots=True)
class LoginResult:
    target: LoginTarget
    stored: StoreResult
    verified: VerifyResult | None  # None with --no-verify
    secrets_file: Path | None


def key_description(target: LoginTarget) -> str:
    return f"keys '{target.username_key}', '{target.password_key}'"


def login(
    secrets_file: str | os.PathLike[str] = DEFAULT_SECRETS_FILE,
    *,
    registry: str | None = None,
    username_key: str = DEFAULT_USERNAME_KEY,
    password_key: str = DEFAULT_PASSWORD_KEY,
    registry_key: str = DEFAULT_REGISTRY_KEY,
    docker_config: str | os.PathLike[str] | None = None,
    verify_credentials: bool = True,
    ca_file: str | None = None,
    insecure: bool = False,
    identities: Any = None,
    timeout: float = _DEFAULT_TIMEOUT,
) -> LoginResult:
    """Decrypt, plan, verify (unless told not to), then write: nothing is written on failure."""
    decrypted = decrypt_secrets(secrets_file, identities)
    target = plan_login(decrypted.data, registry, username_key, password_key, registry_key)
    return finish_login(
        target,
        secrets_file=decrypted.path,
        docker_config=docker_config,
        verify_credentials=verify_credentials,
        ca_file=ca_file,
        insecure=insecure,
        timeout=timeout,
    )


def finish_login(
    target: LoginTarget,
    *,
    secrets_file: Path | None,
    docker_config: str | os.PathLike[str] | None = None,
    verify_credentials: bool = True,
    ca_file: str | None = None,
    insecure: bool = False,
    timeout: float = _DEFAULT_TIMEOUT,
) -> LoginResult:
    """Verify (unless told not to), then write the Docker config.

    Without ``ca_file`` (and without ``insecure``), the CA remembered for the target's host by
    ``regkit login HOST --ca-file`` is trusted, as every other command does
    (``regkit.ops.connect``): the host may come from the secrets file."""
    checked: VerifyResult | None = None
    if not ca_file and not insecure:
        from regkit.userconfig import remembered_ca

        ca_file = remembered_ca(target.host)
    if verify_credentials:
        what = (
            f"the credentials from {secrets_file} ({key_description(target)})"
            if secrets_file
            else f"the credentials of user {target.username!r}"
        )
        checked = verify(target, ca_file=ca_file, insecure=insecure, what=what, timeout=timeout)
    stored = write(target, docker_config)
    return LoginResult(target=target, stored=stored, verified=checked, secrets_file=secrets_file)


__all__ = [
    "DEFAULT_PASSWORD_KEY",
    "DEFAULT_REGISTRY_KEY",
    "DEFAULT_SECRETS_FILE",
    "DEFAULT_SECRETS_FILES",
    "DEFAULT_USERNAME_KEY",
    "Decrypted",
    "LoginPlanError",
    "LoginResult",
    "LoginTarget",
    "VerifyResult",
    "decrypt_secrets",
    "default_secrets_file",
    "finish_login",
    "login",
    "logout",
    "normalise_host",
    "plan_login",
    "read_password_stdin",
    "verify",
    "write",
]
