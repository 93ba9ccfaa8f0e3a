"""check (regkit.ops.check)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from regkit.cli import output
from regkit.cli.common import command, connect_options
from regkit.errors import RegkitError

if TYPE_CHECKING:
    from regkit.ops.check import CheckReport

_EXAMPLES = """\
examples:
  regkit check registry.example.com/rednaw/hello-world
  regkit check --all-repos registry.example.com -o json
  regkit check --all-repos registry.example.com --storage /var/lib/docker-registry
"""


@command
def _add_check(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "check",
        parents=[common],
        help="verify that every tagged image is whole (manifests, config, layers)",
        description=(
            "For every tag: the manifest resolves, every platform manifest of an index "
            "resolves with the size the index says, and the config and every layer exist "
            "(HEAD) with the size the manifest says. Exits 1 listing each broken image and why. "
            "With --storage (the registry's storage directory, readable on the server) it also "
            "lists untagged image manifests that no index references; the registry API cannot "
            "list untagged manifests, so without it they are not reported."
        ),
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("repos", nargs="*", metavar="REPO", help="HOST/REPOSITORY to check")
    p.add_argument(
        "--all-repos",
        action="append",
        default=[],
        metavar="REGISTRY",
        help="check every repository of this registry's catalog",
    )
    p.add_argument(
        "--storage",
        metavar="DIR",
        help="the registry's storage root (filesystem driver), to list untagged manifests",
    )
    output.add_output(p, trunc=False)
    p.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    from regkit.ops import connect
    from regkit.ops.check import check_repositories, check_targets, render_text
    from regkit.progress import Progress

    goals = check_targets(args.repos, args.all_repos)
    options = connect_options(args)  # once: --password-stdin reads stdin
    reports = []
    for host, repos in goals:
        with (
            connect(host, options) as client,
            Progress(f"checking {host}", quiet=output.quiet(args)) as progress,
        ):
            reports.append(
                check_repositories(
                    client,
                    list(repos) or None,
                    storage=args.storage,
                    on_stage=progress.stage,
                    tick=progress.advance,
                )
            )
    if args.output == "json":
        output.write_json(
            reports[0].to_json() if len(reports) == 1 else [r.to_json() for r in reports]
        )
    elif args.output == "markdown":
        output.write("".join(render_markdown(r) for r in reports))
    else:
        output.write("".join(render_text(r) for r in reports))
    broken = sum(len(r.broken) for r in reports)
    if broken:
        print(
            f"regkit: error: {broken} broken image{'s' if broken != 1 else ''} (listed above); "
            "push them again from their source, or delete the broken tags",
            file=sys.stderr,
        )
    orphaned = sum(len(r.orphaned_referrers) for r in reports)
    if orphaned:
        print(
            f"regkit: error: {orphaned} orphaned referrer{'s' if orphaned != 1 else ''} (listed "
            "above: signatures, attestations or SBOMs whose image is gone); delete them "
            "(regkit delete HOST/REPO:TAG)",
            file=sys.stderr,
        )
    if broken or orphaned:
        return RegkitError.exit_code
    return 0


def render_markdown(report: CheckReport) -> str:
    """A heading and a table of the damage, then the summary line (registry text escaped)."""
    from regkit.ops.check import render_text
    from regkit.textsafe import escape

    out = [f"### check {escape(report.registry)}", ""]
    rows = [
        (
            escape(image.repository),
            escape(image.tag),
            d.part + (f" ({escape(d.platform)})" if d.platform else ""),
            d.digest,
            escape(d.problem),
        )
        for image in report.broken
        for d in image.damage
    ]
    rows += [
        (
            escape(o.repository),
            escape(o.tag),
            f"referrer ({o.kind})",
            o.subject,
            "orphaned: its image is gone",
        )
        for o in report.orphaned_referrers
    ]
    if rows:
        out += output.markdown_table(("REPOSITORY", "TAG", "PART", "DIGEST", "PROBLEM"), rows)
        out.append("")
    out.append(render_text(report).splitlines()[-1])
    return "\n".join(out) + "\n"
