"""Command-line interface: argument parsing and printing only, a module per verb group.

Each verb has an ``_add_<name>(sub, common)`` function, registered with ``@command`` in
``regkit.cli.common``, that declares its arguments and sets ``func`` to a
``_cmd_<name>(args) -> int`` function. The work happens in ``regkit.ops`` and
``regkit.registry``; these modules turn results into text and errors into exit codes.

A command builds only its own verb's parser and imports only its own verb's module
(``VERBS`` says which): ``main`` parses with every verb named but none built, and when
argparse reaches the verb, builds that one and parses again. ``build_parser()`` is the full
parser (every verb built): ``regkit --help``, ``regkit help``, completion, the reference pages.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Collection, Sequence
from typing import Any, NoReturn, cast

from regkit.cli import meta, output
from regkit.cli.common import (
    COMMANDS,
    Handler,
    Parser,
    VerbParser,
    global_flags,
    platform_type,
)
from regkit.errors import Hint, RegkitError, with_hint
from regkit.textsafe import escape

#: Every verb, in the order of ``regkit --help``, and its module in ``regkit.cli`` (which
#: declares its summary, arguments and examples). A test keeps it equal to the full parser.
VERBS: dict[str, str] = {
    "login": "login",
    "logout": "login",
    "decrypt": "login",
    "catalog": "read",
    "ls": "read",
    "digest": "read",
    "manifest": "read",
    "config": "read",
    "inspect": "inspect",
    "tag": "promote",
    "copy": "promote",
    "promote": "promote",
    "sync": "sync",
    "overview": "overview",
    "prune": "prune",
    "delete": "prune",
    "check": "check",
    "help": "meta",
    "version": "meta",
    "completion": "meta",
    "action": "action",
}


#: The module of the verbs about regkit itself (help, version, completion): they reach no
#: registry, so they run without the operations' warnings handler (and without logging).
_ABOUT_REGKIT = "meta"


class _VerbChosen(Exception):
    """argparse reached a verb whose parser is not built yet."""

    def __init__(self, verb: str) -> None:
        super().__init__(verb)
        self.verb = verb


class _Unbuilt(argparse.ArgumentParser):
    """A verb named but not built: parsing it asks for it to be built (``_VerbChosen``). Only
    ``parse_known_args`` is there (argparse's ``__init__`` is not run: its gettext look-ups,
    twice per parser, cost more than the rest of ``regkit version``'s parsing)."""

    def __init__(self, prog: str, verb: str) -> None:
        self.prog = prog
        self.verb = verb

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> NoReturn:
        raise _VerbChosen(self.verb)


class _Regkit(Parser):
    """regkit's own parser. Its help lists every verb with its summary, which the verbs'
    modules hold: while a verb is not built, the help is the full parser's."""

    def format_help(self) -> str:
        if any(isinstance(p, _Unbuilt) for p in _choices(self).values()):
            return build_parser().format_help()
        return super().format_help()


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise AssertionError("regkit's parser has no sub-commands")


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The verbs' parsers by name (argparse's ``choices`` of the sub-commands: a dict)."""
    return cast(dict[str, argparse.ArgumentParser], _subcommands(parser).choices)


def _registrars(module: str) -> list[Any]:
    """The ``_add_<name>`` functions of ``regkit.cli.<module>``, in declaration order."""
    name = f"regkit.cli.{module}"
    importlib.import_module(name)  # registers them (@command)
    return [add for add in COMMANDS if add.__module__ == name]


class _Building:
    """The sub-commands as a verb module sees them when some verbs are built: a wanted verb's
    parser takes its name's place (the order of ``--help`` stays); another verb the module
    declares is built aside and dropped."""

    def __init__(self, parser: argparse.ArgumentParser, wanted: Collection[str]) -> None:
        self.parser = parser
        self.wanted = wanted

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.pop("help", None)  # the summary is for the verbs' list: the full parser's
        kwargs.setdefault("prog", f"{self.parser.prog} {name}")  # as the sub-commands' own
        built = VerbParser(**kwargs)
        if name in self.wanted:
            _choices(self.parser)[name] = built
        return built


def _build(parser: argparse.ArgumentParser, verbs: Collection[str]) -> None:
    """Build ``verbs`` in ``parser`` (one made by ``build_parser(only=...)``)."""
    choices = _choices(parser)
    unknown = [v for v in verbs if v not in VERBS]
    if unknown:
        raise ValueError(f"no regkit verb {', '.join(unknown)}")
    common = global_flags()
    for module in dict.fromkeys(VERBS[v] for v in verbs):
        sub = _Building(parser, verbs)
        for add in _registrars(module):
            declares = add.__name__.removeprefix("_add_")  # _add_<verb>, or several verbs
            if declares not in VERBS or declares in verbs:
                add(sub, common)
    missing = [v for v in verbs if isinstance(choices[v], _Unbuilt)]
    if missing:
        raise RuntimeError(f"regkit.cli.VERBS: {', '.join(missing)} not declared where it says")


def build_parser(only: Collection[str] | None = None) -> argparse.ArgumentParser:
    """regkit's parser: every verb built (the default), or every verb named and only those
    in ``only`` built (``only=()``: none), the rest built when argparse reaches them."""
    parser = _Regkit(
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
    sub = parser.add_subparsers(
        # prog: what argparse would work out with a help formatter (and its imports)
        dest="command",
        metavar="COMMAND",
        parser_class=VerbParser,
        prog=parser.prog,
    )
    if only is not None:
        choices = _choices(parser)
        for name in VERBS:
            choices[name] = _Unbuilt(f"{parser.prog} {name}", name)
        if only:
            _build(parser, only)
        return parser
    common = global_flags()
    for module in dict.fromkeys(VERBS.values()):
        for add in _registrars(module):
            add(sub, common)  # declaration order within a module
    if list(sub.choices) != list(VERBS):
        raise RuntimeError(f"regkit.cli.VERBS says {list(VERBS)}; declared: {list(sub.choices)}")
    return parser


def _parse(argv: Sequence[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The parser and the arguments of ``argv``, only the verb given built."""
    if "_ARGCOMPLETE" in os.environ:
        parser = build_parser()
        from regkit.cli.complete import autocomplete

        autocomplete(parser)
        return parser, parser.parse_args(argv)
    parser = build_parser(only=())
    try:
        return parser, parser.parse_args(argv)
    except _VerbChosen as chosen:
        _build(parser, [chosen.verb])
    return parser, parser.parse_args(argv)


#: The CLI's words for the hints registry-layer errors carry (they name no flag themselves).
HINTS = {
    Hint.CA_FILE: "pass --ca-file PATH (or set SSL_CERT_FILE) for a private CA",
    Hint.INSECURE: (
        "pass --insecure to allow plain HTTP for this host (credentials then travel unencrypted)"
    ),
}


#: Modules a dependency imports that the command never uses, with the condition under which
#: they are left out of the command's process: httpx's own command-line client (imported by
#: ``import httpx`` whenever click and pygments happen to be installed, ~10 ms) and h2
#: (imported by httpcore whenever it is installed; used only with REGKIT_HTTP2).
_UNUSED_IMPORTS: dict[str, Callable[[], bool]] = {
    "httpx._main": lambda: True,
    "h2": lambda: "REGKIT_HTTP2" not in os.environ,
}


def _leave_out_unused_imports() -> None:
    """A ``None`` in sys.modules makes an import fail at once; httpx and httpcore import these
    in ``try: ... except ImportError`` and carry on without them."""
    modules = cast(dict[str, object], sys.modules)
    for module, unused in _UNUSED_IMPORTS.items():
        if unused():
            modules.setdefault(module, None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``regkit ARGV``. ``argv`` None: this process is the command (the console script,
    ``python -m regkit``), so it also leaves out what it never uses (``_UNUSED_IMPORTS``); a
    program that passes ``argv`` keeps its imports as they are."""
    if argv is None:
        _leave_out_unused_imports()
    parser, args = _parse(argv)
    if VERBS.get(getattr(args, "command", None) or "") == _ABOUT_REGKIT:
        return _run(parser, args)  # no registry, so no operation's warning to print
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
        output.detach_stdout()
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
