"""The exceptions a user can meet. Each carries a message that says what happened and what to do.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``. No message may
contain a secret: callers build messages from hosts, paths, key names and status codes only.

A message that names one of regkit's parameters names it as a ``Param``, never by writing
``--flag`` into its text: ``UsageError(("no repository; ", Param("all-repos", "HOST",
ask=True)))`` is "pass --all-repos HOST" on the CLI, "pass all_repos=" from the Python API and
"set input 'all-repos'" in an action (``RegkitError.render``; tests/api/test_error_params.py
keeps ``--flag`` out of every message outside ``regkit.cli``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum

TYPE_CHECKING = False  # typing itself is not imported: `regkit version` stays fast
if TYPE_CHECKING:
    from typing import Self


class Hint(StrEnum):
    """What a user can change to get past an error, named without naming a CLI flag: the
    adapters (the CLI, the actions) turn a hint into their own words (``with_hint``)."""

    CA_FILE = "ca-file"  # trust a private CA
    INSECURE = "insecure"  # allow plain HTTP (and no TLS verification) for this host


class Param:
    """A parameter of regkit named in an error message (click's ``param_hint``): the shared
    code says which parameter, each adapter says it in its own words (``--keep``, ``keep=``,
    input ``keep``).

    ``name`` is the CLI's long option without its dashes (every parameter has one; the API
    and the actions map it to their names); ``metavar`` follows it in the CLI's words only
    ("--registry HOST"); ``ask`` is the imperative "pass --registry HOST" (an action says
    "set input 'registry'")."""

    # A plain class, not a dataclass or NamedTuple: importing dataclasses or typing would cost
    # every command (`regkit version` included) several milliseconds.
    __slots__ = ("ask", "metavar", "name")

    def __init__(self, name: str, metavar: str | None = None, ask: bool = False) -> None:
        self.name = name
        self.metavar = metavar
        self.ask = ask

    def _key(self) -> tuple[str, str | None, bool]:
        return (self.name, self.metavar, self.ask)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Param) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Param({self.name!r}, {self.metavar!r}, ask={self.ask!r})"

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name):
            raise AttributeError(f"Param.{name} cannot be changed")
        object.__setattr__(self, name, value)


#: An error message: plain text, or text and ``Param`` parts said in a row.
Message = str | tuple[str | Param, ...]
#: An adapter's words for a parameter; ``None`` when it has no such parameter (then the
#: CLI's words stand: a flag the user can look up).
Namer = Callable[[Param], str | None]


def cli_words(param: Param) -> str:
    """The CLI's words: ``--all-repos HOST``, after "pass " when the error asks for it."""
    flag = f"--{param.name}" + (f" {param.metavar}" if param.metavar else "")
    return f"pass {flag}" if param.ask else flag


class Phrase(str):
    """A ``Message`` where a ``str`` is stored or passed (a plan's reason, which the CLI and the
    JSON show as text; a warning through a ``warn(str)`` callback): the ``str`` is the CLI's
    words, ``say(phrase, namer)`` an adapter's. Text made from it (``+``, an f-string) is plain
    text in the CLI's words: say it where it is shown."""

    parts: tuple[str | Param, ...]

    def __new__(cls, message: Message) -> Self:
        parts = _parts(message)
        phrase = super().__new__(cls, say(parts))
        phrase.parts = parts
        return phrase


def _parts(message: Message) -> tuple[str | Param, ...]:
    return (message,) if isinstance(message, str) else tuple(message)


def say(message: Message, namer: Namer = cli_words) -> str:
    """A message that is not an error (a warning, a plan's note or reason) in an adapter's
    words: each ``Param`` as ``namer`` says it (the CLI's words where it has none); a
    ``Phrase`` by its parts, plain text as it is."""
    parts = message.parts if isinstance(message, Phrase) else message
    if isinstance(parts, str):
        return parts
    return "".join(
        part if isinstance(part, str) else namer(part) or cli_words(part) for part in parts
    )


class RegkitError(Exception):
    """Base of every error regkit reports to a user (exit code 1).

    The message is text, or a tuple of text and ``Param`` parts (``parts``); ``str(err)`` and
    ``message`` say it in the CLI's words, ``render(namer)`` in an adapter's."""

    exit_code: int = 1
    hint: Hint | None = None

    def __init__(self, message: Message, *, hint: Hint | None = None) -> None:
        self.parts = _parts(message)
        super().__init__(self._said(cli_words))
        self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0])

    def render(self, namer: Namer) -> str:
        """The message, each parameter in ``namer``'s words (the CLI's where it has none). A
        message of text only is ``message`` (which may have grown since: a retry's count)."""
        if all(isinstance(part, str) for part in self.parts):
            return self.message
        return self._said(namer)

    def _said(self, namer: Namer) -> str:
        return " ".join(say(self.parts, namer).split())  # one line, always


def with_hint(err: RegkitError, hints: Mapping[Hint, str], namer: Namer = cli_words) -> str:
    """The error's one line in an adapter's words (``namer``; the CLI's by default), followed
    by the adapter's words for its hint (if it has one)."""
    line = err.render(namer)
    extra = hints.get(err.hint) if err.hint is not None else None
    return f"{line}; {extra}" if extra else line


class UsageError(RegkitError):
    """The command line or an action input is wrong (exit code 2)."""

    exit_code = 2


class InvalidReferenceError(UsageError):
    """An image reference, repository, tag or digest does not follow the distribution grammar."""


class RegistryError(RegkitError):
    """The registry answered something we cannot work with."""

    def __init__(
        self,
        message: Message,
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

    def __init__(self, message: Message, *, limit: str, value: float) -> None:
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
