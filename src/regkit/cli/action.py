"""action: the GitHub Actions entry point (regkit.actions)."""

from __future__ import annotations

import argparse
from typing import Any

from regkit.cli.common import command


@command
def _add_action(sub: Any, common: argparse.ArgumentParser) -> None:
    # No `common` parent: an action takes everything from its INPUT_* variables. No help=:
    # the GitHub entry point is not listed among the verbs of `regkit --help`.
    p = sub.add_parser(
        "action",
        description=(
            "Entry point of regkit's GitHub Actions: reads the inputs from INPUT_<NAME> "
            "variables, writes outputs to GITHUB_OUTPUT and the job summary to "
            "GITHUB_STEP_SUMMARY, and reports errors as ::error:: annotations."
        ),
    )
    p.add_argument("name", metavar="NAME", help="login, promote, prune or overview")
    p.set_defaults(func=_cmd_action)


def _cmd_action(args: argparse.Namespace) -> int:
    from regkit.actions import run  # lazy: keeps `regkit --version` fast

    return run(args.name)
