"""What every verb shares: the global connection flags, the client factory, output."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from regkit import defaults
from regkit.errors import UsageError

if TYPE_CHECKING:
    from regkit.ops import ConnectOptions
    from regkit.reference import Reference
    from regkit.registry import RegistryClient

# Imported where used (regkit.reference, difflib): `regkit version` loads only this module's
# parser classes and flags (issue 25).


Handler = Callable[[argparse.Namespace], int]


class HelpFormatter(argparse.HelpFormatter):
    """Wraps the description; keeps the examples of the epilog as written. Its width is the
    terminal's, found as ``shutil.get_terminal_size`` does: argparse would import shutil (and
    with it bz2, lzma and zlib, ~2 ms of ``regkit version``) for every parser it builds."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        # argparse: the terminal's columns less 2 when no width is given
        super().__init__(prog, indent_increment, max_help_position, width or _columns() - 2)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _columns() -> int:
    """``shutil.get_terminal_size().columns``: ``COLUMNS``, else stdout's terminal, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (usage errors), as the conventions ask; no
    abbreviated flags (``--y`` is not ``--yes``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:
        match = _INVALID_CHOICE.match(message)
        if match and self._subparsers is not None:
            import difflib

            verbs = [v for v in _verb_names(self) if v not in HIDDEN_VERBS]
            wrong = match.group(1)
            close = difflib.get_close_matches(wrong, verbs, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            message = f"unknown command '{wrong}'{hint} ('{self.prog} help' lists the commands)"
        elif message.startswith(_UNRECOGNIZED):
            message += _flag_hint(self, message[len(_UNRECOGNIZED) :].split())
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


class VerbParser(Parser):
    """A verb's parser: an unknown flag is reported with this verb's usage, not regkit's."""

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if args is not None:
            args = _glue_dash_values(self, list(args))
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


_INVALID_CHOICE = re.compile(r"argument COMMAND: invalid choice: '([^']*)'")
_UNRECOGNIZED = "unrecognized arguments: "
#: A value that starts like a negative number (``-5d``, ``-1``): argparse takes it for a flag.
_DASH_VALUE = re.compile(r"^-[0-9.]")


def _flag_hint(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """For the first unknown ``--flag`` close to one of ``parser``'s: "; did you mean
    '--keep'?" (as an unknown command gets one), else nothing."""
    import difflib

    names = [f[2:] for f in parser._option_string_actions if f.startswith("--")]
    for extra in extras:
        if not extra.startswith("--") or extra == "--":
            continue
        wrong = extra[2:].split("=", 1)[0]
        # an abbreviation (refused: allow_abbrev is off) names its flags; else the closest name
        close = [n for n in names if n.startswith(wrong)][:3] if len(wrong) > 0 else []
        close = close or difflib.get_close_matches(wrong, names, n=1, cutoff=0.6)
        if close:
            return f"; did you mean {' or '.join(repr('--' + c) for c in close)}?"
    return ""


def _glue_dash_values(parser: argparse.ArgumentParser, args: list[str]) -> list[str]:
    """``--older-than -5d`` as ``--older-than=-5d``: a flag that takes one value gets a value
    that starts with a minus and a digit, so it is checked (and refused in words) as a value,
    not reported as "expected one argument"."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return out + args[i:]
        action = parser._option_string_actions.get(arg)
        following = args[i + 1] if i + 1 < len(args) else None
        if (
            action is not None
            and action.nargs is None
            and following is not None
            and _DASH_VALUE.match(following)
        ):
            out.append(f"{arg}={following}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


#: Verbs that exist but are not listed in --help (the GitHub Actions entry point).
HIDDEN_VERBS = frozenset({"action", "__complete"})


def _verb_names(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


class _DEFAULTS:
    ca_file: str | None = None
    insecure = False
    jobs = defaults.JOBS
    timeout = defaults.TIMEOUT
    verbose = 0


GLOBAL_DEFAULTS: dict[str, Any] = {
    "ca_file": _DEFAULTS.ca_file,
    "insecure": _DEFAULTS.insecure,
    "jobs": _DEFAULTS.jobs,
    "timeout": _DEFAULTS.timeout,
    "verbose": _DEFAULTS.verbose,
    "username": None,
    "password_stdin": False,
    "quiet": False,
}


def global_flags(target: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The connection flags, accepted before and after the command (``regkit -v ls R``).

    On the top-level parser (``target``) they carry the real defaults; the copy given to
    sub-commands defaults to SUPPRESS, so a flag given before the command is not reset.
    """
    common = target or argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)

    def flag(group: Any, *names: str, **kwargs: Any) -> None:
        """An option whose default is its ``GLOBAL_DEFAULTS`` entry (by its dest)."""
        action = group.add_argument(*names, **kwargs)
        action.default = GLOBAL_DEFAULTS[action.dest] if target is not None else argparse.SUPPRESS

    g = common.add_argument_group("connection")
    flag(
        g,
        "--ca-file",
        metavar="PATH",
        help="PEM file of CA certificates to trust (also read from SSL_CERT_FILE)",
    )
    flag(
        g,
        "--insecure",
        action="store_true",
        help=(
            "allow plain HTTP to non-loopback hosts (warned on stderr) and skip TLS verification"
        ),
    )
    flag(
        g,
        "--jobs",
        "-j",
        type=positive_int,
        metavar="N",
        help=f"concurrent requests (default: {_DEFAULTS.jobs})",
    )
    flag(
        g,
        "--timeout",
        type=positive_float,
        metavar="SECONDS",
        help=(
            "give up on a request not answered in full within this many seconds; a blob "
            f"stream must deliver each 256 KiB within it (default: {_DEFAULTS.timeout:g})"
        ),
    )
    flag(
        g,
        "-v",
        "--verbose",
        action="count",
        help=(
            "log each request and each retry to stderr, e.g. 'regkit: GET /v2/app/tags/list"
            "?n=1000 answered 503; try 2 of 5 in 0.2s' (retries also show on a terminal)"
        ),
    )
    flag(
        g,
        "--username",
        "-u",
        metavar="USER",
        help="registry user (else REGISTRY_USERNAME, else the Docker config)",
    )
    flag(
        g,
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else REGISTRY_PASSWORD)",
    )
    flag(
        common,
        "-q",
        "--quiet",
        action="store_true",
        help="no progress and no notes on stderr, only errors (also REGKIT_QUIET=1)",
    )
    return common


_N = TypeVar("_N", int, float)


def checked_number(
    text: str, convert: Callable[[str], _N], what: str, refuse: Callable[[_N], str | None]
) -> _N:
    """``text`` read by ``convert`` (``int``, ``float``) as an argparse type: ``expected
    <what>, got '<text>'`` when it is not one; ``expected <refuse(value)>`` when ``refuse``
    names what is wrong with the value."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    wrong = refuse(value)
    if wrong is not None:
        raise argparse.ArgumentTypeError(f"expected {wrong}")
    return value


def positive_float(text: str) -> float:
    def refuse(value: float) -> str | None:
        if value > 0 and value != float("inf"):
            return None
        return f"a positive number of seconds, got {text!r}"

    return checked_number(text, float, "a number of seconds", refuse)


def positive_int(text: str) -> int:
    def refuse(value: int) -> str | None:
        return None if value >= 1 else f"a number of at least 1, got {value}"

    return checked_number(text, int, "a whole number", refuse)


def connect_options(args: argparse.Namespace) -> ConnectOptions:
    """The connection options of a parsed command line (reads the password from stdin once)."""
    from regkit.ops import ConnectOptions

    password: str | None = None
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin: no password on standard input")
    elif getattr(args, "username", None):
        password = os.environ.get("REGISTRY_PASSWORD")
        if password is None:
            raise UsageError("--username needs --password-stdin or REGISTRY_PASSWORD")
    return ConnectOptions(
        ca_file=getattr(args, "ca_file", None) or None,
        insecure=bool(getattr(args, "insecure", False)),
        jobs=int(getattr(args, "jobs", _DEFAULTS.jobs)),
        timeout=float(getattr(args, "timeout", _DEFAULTS.timeout)),
        verbose=int(getattr(args, "verbose", 0)),
        username=getattr(args, "username", None),
        password=password,
        quiet=bool(getattr(args, "quiet", False)),  # REGKIT_QUIET: read by the transport itself
    )


def client_for(args: argparse.Namespace, host: str) -> RegistryClient:
    from regkit.ops import connect

    return connect(host, connect_options(args))


COMMANDS: list[Callable[[Any, argparse.ArgumentParser], None]] = []


def command(add: Callable[[Any, argparse.ArgumentParser], None]) -> Callable[[Any, Any], None]:
    """Register an ``_add_<name>`` function; ``--help`` lists verbs by module, then declaration."""
    COMMANDS.append(add)
    return add


def write(data: bytes | str) -> None:
    from regkit.cli.output import write as _write

    _write(data)


def add_verb(
    sub: Any,
    common: argparse.ArgumentParser | None,
    name: str,
    *,
    help_: str | None,
    description: str,
    examples: list[str],
) -> Any:
    """A verb's parser: ``common`` (the connection flags) as parent when they mean something,
    the examples as the epilog of ``--help``; ``help_=None`` hides the verb from the list."""
    epilog = examples_epilog(examples)
    kwargs: dict[str, Any] = {
        "parents": [common] if common is not None else [],
        "description": description,
        "epilog": epilog,
        "formatter_class": HelpFormatter,
    }
    if help_ is not None:
        kwargs["help"] = help_
    return sub.add_parser(name, **kwargs)


def examples_epilog(examples: list[str]) -> str:
    """The ``examples:`` block of a verb's --help (kept as written by ``HelpFormatter``)."""
    return "examples:\n" + "".join(f"  {line}\n" for line in examples)


def verb_help(examples: list[str]) -> dict[str, Any]:
    """``sub.add_parser(..., **verb_help([...]))``: the examples and the formatter keeping them."""
    return {"epilog": examples_epilog(examples), "formatter_class": HelpFormatter}


def add_ref_verb(
    sub: Any, common: argparse.ArgumentParser, name: str, help_: str, examples: list[str]
) -> Any:
    p = add_verb(
        sub,
        common,
        name,
        help_=help_,
        description=help_[0].upper() + help_[1:] + ".",
        examples=examples,
    )
    from regkit.cli.complete import reference_arg

    reference_arg(p)
    platform_arg(p, "for a multi-platform image, the platform to use")
    return p


def platform_type(value: str) -> str:
    """argparse type of --platform: a wrong form is a usage error (exit 2) in every verb."""
    try:
        return validate_platform(value)
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def platform_arg(p: argparse.ArgumentParser, help_: str) -> None:
    """``--platform`` on a verb; SUPPRESS keeps a value given before the verb (crane style)."""
    p.add_argument(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        type=platform_type,
        default=argparse.SUPPRESS,
        help=help_,
    )


def default_registry() -> str | None:
    """REGKIT_REGISTRY: the registry of a reference written without a host."""
    return os.environ.get("REGKIT_REGISTRY", "").strip() or None


def parse_ref_arg(text: str, *, default_tag: str | None = None, **kwargs: Any) -> Reference:
    from regkit.reference import parse_reference

    return parse_reference(
        text, default_registry=default_registry(), default_tag=default_tag, **kwargs
    )


def parse_repo_arg(text: str) -> Reference:
    from regkit.reference import parse_repository

    return parse_repository(text, default_registry=default_registry())


def registry_arg(value: str | None, verb: str) -> str:
    """A REGISTRY argument, else REGKIT_REGISTRY, validated."""
    host = value or default_registry()
    if not host:
        raise UsageError(f"name the registry: regkit {verb} HOST (or set REGKIT_REGISTRY)")
    from regkit.reference import validate_host

    return validate_host(host)


_PLATFORM_RE = re.compile(r"[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)?")


def validate_platform(value: str) -> str:
    """``os/arch[/variant]`` in lower case, or a usage error naming the form."""
    if not _PLATFORM_RE.fullmatch(value):
        raise UsageError(
            f"invalid platform {value[:80]!r}: expected OS/ARCH[/VARIANT], e.g. linux/arm64"
        )
    return value


def connector(args: argparse.Namespace) -> Callable[[str], RegistryClient]:
    from regkit.ops import connect

    options = connect_options(args)  # once: --password-stdin reads stdin
    return lambda host: connect(host, options)
