"""Command-line interface: argument parsing and printing only, a module per verb group.

Each verb has an ``_add_<name>(sub, common)`` function, registered with ``@command`` in
``regkit.cli.common``, that declares its arguments and sets ``func`` to a
``_cmd_<name>(args) -> int`` function. The work happens in ``regkit.ops`` and
``regkit.registry``; these modules turn results into text and errors into exit codes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from regkit.cli import (
    action,
    check,
    inspect,
    login,
    meta,
    output,
    overview,
    promote,
    prune,
    read,
    sync,
)
from regkit.cli.common import (
    COMMANDS,
    Handler,
    Parser,
    VerbParser,
    global_flags,
    platform_type,
)
from regkit.cli.output import detach_stdout
from regkit.errors import Hint, RegkitError, with_hint
from regkit.textsafe import escape

# The verb modules register themselves with @command when imported, in the order of --help.
_VERB_MODULES = (login, read, inspect, promote, sync, overview, prune, check, meta, action)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="regkit",
        description=(
            "Operate a self-hosted Docker registry: log in from a SOPS file, promote images by "
            "digest, prune old tags safely, and list everything."
        ),
    )
    parser.add_argument("--version", action=meta.VersionAction)
    global_flags(parser)
    parser.add_argument(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        type=platform_type,
        default=None,
        help="for a multi-platform image, the platform to use (as after the command)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=VerbParser)
    common = global_flags()
    order = {module.__name__: i for i, module in enumerate(_VERB_MODULES)}
    for add in sorted(COMMANDS, key=lambda add: order.get(add.__module__, len(order))):
        add(sub, common)  # sorted() is stable: declaration order within a module
    return parser


#: The CLI's words for the hints registry-layer errors carry (they name no flag themselves).
HINTS = {
    Hint.CA_FILE: "pass --ca-file PATH (or set SSL_CERT_FILE) for a private CA",
    Hint.INSECURE: (
        "pass --insecure to allow plain HTTP for this host (credentials then travel unencrypted)"
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:
        from regkit.cli.complete import autocomplete

        autocomplete(parser)
    args = parser.parse_args(argv)
    # --quiet travels as args.quiet (output.note, Progress, ConnectOptions.quiet), never through
    # the environment; the operations' warnings (log records) are printed for this call only
    with output.warnings_on_stderr():
        return _run(parser, args)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code = func(args)
        output.flush()
        return code
    except RegkitError as err:
        print(f"regkit: error: {escape(with_hint(err, HINTS))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("regkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        detach_stdout()
        return 0
    except Exception as err:
        if type(err).__module__.startswith(("httpx", "httpcore", "h2")):
            # A transport failure that escaped translation: still one line, never a traceback.
            print(
                f"regkit: error: connection failed ({type(err).__name__}: {escape(err)})",
                file=sys.stderr,
            )
            return 1
        raise
