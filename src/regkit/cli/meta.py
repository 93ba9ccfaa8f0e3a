"""help, version, completion: about regkit itself."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from regkit._version import version
from regkit.cli.common import add_verb, command
from regkit.cli.output import write
from regkit.errors import UsageError

SHELLS = ("bash", "zsh", "fish")


@command
def _add_help(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        None,
        "help",
        help_="show the help of regkit or of one command",
        description="Show the help of regkit, or of COMMAND (the same as 'regkit COMMAND --help').",
        examples=["regkit help", "regkit help prune"],
    )
    p.add_argument("topic", metavar="COMMAND", nargs="?", help="the command to explain")
    p.set_defaults(func=_cmd_help)


def _cmd_help(args: argparse.Namespace) -> int:
    from regkit.cli import build_parser

    parser = build_parser()
    if not args.topic:
        write(parser.format_help())
        return 0
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            verb = action.choices.get(args.topic)
            if verb is not None:
                write(verb.format_help())
                return 0
    raise UsageError(f"no command '{args.topic}'; 'regkit help' lists the commands")


@command
def _add_version(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        None,
        "version",
        help_="print regkit's version",
        description="Print regkit's version (the same as 'regkit --version').",
        examples=["regkit version"],
    )
    p.set_defaults(func=_cmd_version)


def _cmd_version(args: argparse.Namespace) -> int:
    write(f"regkit {version()}\n")
    return 0


class VersionAction(argparse.Action):
    """``--version``: argparse's version action, with the version read only when asked (the
    installed metadata, ``regkit._version``), not when the parser is built."""

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str = argparse.SUPPRESS,
        default: str = argparse.SUPPRESS,
        help: str = "show program's version number and exit",
    ) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> NoReturn:
        parser._print_message(f"regkit {version()}\n", sys.stdout)
        parser.exit()


@command
def _add_completion(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        None,
        "completion",
        help_="print the shell completion script for bash, zsh or fish",
        description=(
            "Print the completion script of SHELL: commands and flags, and, when the "
            "registry answers within about 300 ms with the credentials at hand (REGKIT_REGISTRY "
            "or the host typed, then REGISTRY_USERNAME/REGISTRY_PASSWORD or the Docker config), "
            "repositories and tags. Load it from your shell's start-up file."
        ),
        examples=[
            'eval "$(regkit completion bash)"          # in ~/.bashrc',
            'eval "$(regkit completion zsh)"           # in ~/.zshrc (after compinit)',
            "regkit completion fish | source           # in ~/.config/fish/config.fish",
        ],
    )
    p.add_argument("shell", metavar="SHELL", choices=SHELLS, help="bash, zsh or fish")
    p.set_defaults(func=_cmd_completion)


def _cmd_completion(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode

    write(shellcode(["regkit"], shell=args.shell))
    return 0
