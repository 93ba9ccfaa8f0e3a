"""The exceptions a user can meet. Each carries a message that says what happened and what to do.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``. No message may
contain a secret: callers build messages from hosts, paths, key names and status codes only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Self


class Hint(StrEnum):
    """What a user can change to get past an error, named without naming a CLI flag: the
    adapters (the CLI, the actions) turn a hint into their own words (``with_hint``)."""

    CA_FILE = "ca-file"  # trust a private CA
    INSECURE = "insecure"  # allow plain HTTP (and no TLS verification) for this host


class RegkitError(Exception):
    """Base of every error regkit reports to a user (exit code 1)."""

    exit_code: int = 1
    hint: Hint | None = None

    def __init__(self, message: str, *, hint: Hint | None = None) -> None:
        super().__init__(" ".join(message.split()))  # one line, always
        self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0])


def with_hint(err: RegkitError, hints: Mapping[Hint, str]) -> str:
    """The error's one line, followed by the adapter's words for its hint (if it has one)."""
    extra = hints.get(err.hint) if err.hint is not None else None
    return f"{err.message}; {extra}" if extra else err.message


#: ``--flag``, with "pass " before it and a METAVAR after it when they are there
_FLAG = re.compile(
    r"(?P<pass>\bpass )?(?<![\w-])--(?P<flag>[a-z][a-z0-9-]*)(?P<meta> [A-Z]{2,}\b)?"
)


def rename_flags(message: str, rename: Callable[[str], str | None], *, imperative: str) -> str:
    """``message`` in an adapter's words: each CLI ``--flag`` that ``rename`` has a name for
    becomes that name ("pass --registry HOST" becomes ``imperative`` + the name); a flag it has
    none for stays. The shared code words its errors for the CLI; the actions and the Python
    API say them in their own terms with this."""

    def one(match: re.Match[str]) -> str:
        name = rename(match["flag"])
        if name is None:
            return match[0]
        return (f"{imperative} " if match["pass"] else "") + name

    return _FLAG.sub(one, message)


class UsageError(RegkitError):
    """The command line or an action input is wrong (exit code 2)."""

    exit_code = 2


class InvalidReferenceError(UsageError):
    """An image reference, repository, tag or digest does not follow the distribution grammar."""


class RegistryError(RegkitError):
    """The registry answered something we cannot work with."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        hint: Hint | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code


class AuthenticationError(RegistryError):
    """Credentials missing or refused (401), or access denied (403)."""


class TLSError(RegistryError):
    """The TLS handshake failed: unknown CA, wrong host name, or plain HTTP refused."""


class ConnectionFailedError(RegistryError):
    """The registry could not be reached (DNS, refused connection, timeout)."""


class NotFoundError(RegistryError):
    """A repository, tag, manifest or blob does not exist."""


class UnsupportedError(RegistryError):
    """The registry does not support an operation (2.8 tag delete, deletes disabled)."""


class DigestMismatchError(RegistryError):
    """Content did not hash to the digest the registry or the caller claimed."""


class LimitExceededError(RegistryError):
    """What a registry sent passed one of regkit's bounds (``regkit.defaults``: body sizes,
    pages, names, JSON nesting, the request deadline); ``limit`` names the bound, ``value``
    is its number."""

    def __init__(self, message: str, *, limit: str, value: float) -> None:
        super().__init__(message, code="LIMIT")
        self.limit = limit
        self.value = value

    @classmethod
    def on_list(cls, subject: str, over: str, *, limit: str, value: float) -> Self:
        """A list (catalog, tags, versions) passed a bound: ``<subject> <over>, regkit's limit
        on one list; a partial list is not safe to act on``."""
        return cls(
            f"{subject} {over}, regkit's limit on one list; a partial list is not safe to act on",
            limit=limit,
            value=value,
        )


class SopsError(RegkitError):
    """A SOPS file could not be decrypted."""
