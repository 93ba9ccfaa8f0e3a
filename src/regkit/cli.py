"""Command-line interface: argument parsing and printing only.

Each sub-command has an ``_add_<name>(sub)`` function that declares its arguments and sets
``func`` to a ``_cmd_<name>(args) -> int`` function. The work itself happens in ``regkit.ops``
and ``regkit.registry``; this module turns results into text and errors into exit codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from regkit import __version__
from regkit.errors import RegkitError

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (usage errors), as the conventions ask."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _global_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("connection")
    g.add_argument(
        "--ca-file",
        metavar="PATH",
        help="PEM file of CA certificates to trust (also read from SSL_CERT_FILE)",
    )
    g.add_argument(
        "--insecure",
        action="store_true",
        help="allow plain HTTP to non-loopback hosts and skip TLS verification",
    )
    g.add_argument(
        "--jobs",
        "-j",
        type=_positive_int,
        default=16,
        metavar="N",
        help="concurrent requests (default: 16)",
    )
    g.add_argument("-v", "--verbose", action="count", default=0, help="log requests to stderr")
    return common


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="regkit",
        description=(
            "Operate a self-hosted Docker registry: log in from a SOPS file, promote images by "
            "digest, prune old tags safely, and list everything."
        ),
    )
    parser.add_argument("--version", action="version", version=f"regkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = _global_flags()
    for add in _COMMANDS:
        add(sub, common)
    return parser


_COMMANDS: list[Callable[[Any, argparse.ArgumentParser], None]] = []


def command(add: Callable[[Any, argparse.ArgumentParser], None]) -> Callable[[Any, Any], None]:
    """Register an ``_add_<name>`` function (in declaration order: the order of ``--help``)."""
    _COMMANDS.append(add)
    return add


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return func(args)
    except RegkitError as err:
        print(f"regkit: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("regkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
