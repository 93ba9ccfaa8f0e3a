"""tag, copy, promote (regkit.ops.promote)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from regkit.cli import output
from regkit.cli.common import (
    add_verb,
    command,
    default_registry,
    parse_ref_arg,
)
from regkit.cli.common import (
    connector as _connector,
)
from regkit.cli.complete import reference_arg
from regkit.textsafe import escape

if TYPE_CHECKING:
    from regkit.ops.promote import PromotionResult


def _force_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--force",
        action="store_true",
        help=(
            "move an existing exact release tag (v1.2.3, 1.2.3) to another digest; without it "
            "that is refused and nothing is written (latest, v1, v1.2 always move)"
        ),
    )


@command
def _add_tag(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        common,
        "tag",
        help_="add a tag to an image in its repository, by digest (like crane tag)",
        description="Write the manifest of REF under TAG in the same repository; prints nothing.",
        examples=["regkit tag registry.example.com/team/api:1a2b3c4 v1.2.0"],
    )
    reference_arg(p)
    p.add_argument("tag", metavar="TAG", help="the new tag")
    _force_flag(p)
    p.set_defaults(func=_cmd_tag)


def _cmd_tag(args: argparse.Namespace) -> int:
    from regkit.ops import promote as pr

    source = pr.parse_source(args.ref, default_registry=default_registry(), default_tag="latest")
    pr.promote(source, [pr.parse_target(args.tag, source)], _connector(args), force=args.force)
    return 0


@command
def _add_copy(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        common,
        "copy",
        help_="copy an image to another repository or registry, digests kept (like crane copy)",
        description=(
            "Copy SRC to DST with every platform: blobs are mounted within a registry and "
            "streamed between registries; the manifests keep their digests. A DST without a tag "
            "means DST:latest, as in crane. Prints the destination and the digest. With "
            "--all-tags, SRC and DST are repositories and every tag is copied (as 'regkit sync')."
        ),
        examples=[
            "regkit copy registry.example.com/team/api:v1 backup.example.com/team/api:v1",
            "regkit copy --all-tags registry.example.com/team/api backup.example.com/team/api",
        ],
    )
    reference_arg(p, "src", "SRC")
    reference_arg(p, "dst", "DST")
    p.add_argument(
        "--all-tags",
        action="store_true",
        help="SRC and DST are repositories: copy every tag (see 'regkit sync' for --match)",
    )
    p.add_argument(
        "--referrers",
        action="store_true",
        help=(
            "also copy what is attached to the image (cosign signatures and attestations, "
            "SBOMs: its referrers), so it still verifies in DST"
        ),
    )
    _force_flag(p)
    p.set_defaults(func=_cmd_copy)


def _cmd_copy(args: argparse.Namespace) -> int:
    from regkit.ops import promote as pr

    if args.all_tags:
        from regkit.cli.sync import cmd_sync

        args.match, args.dry_run, args.output = None, False, "table"
        return cmd_sync(args)
    source = pr.parse_source(args.src, default_registry=default_registry(), default_tag="latest")
    target = parse_ref_arg(args.dst, default_tag="latest")
    result = pr.promote(
        source, [target], _connector(args), force=args.force, referrers=args.referrers
    )
    output.write(f"{target}  {result.digest}\n")
    line = result.referrers_line()
    if line is not None:
        output.write(f"{'attached'.ljust(len(str(target)))}  {escape(line)}\n")
    return 0


@command
def _add_promote(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        common,
        "promote",
        help_="give a tested image more tags by digest (release tags, latest), no pull",
        description=(
            "Write the source manifest, byte for byte, under each TARGET; verify every target "
            "then resolves to the source digest. A target already at the digest is left alone. "
            "Prints the digest and one line per target: created, moved from DIGEST, unchanged."
        ),
        examples=[
            "regkit promote registry.example.com/team/api:1a2b3c4 v1.2.0 latest",
            "regkit promote team/api:1a2b3c4 latest --expect-digest sha256:… -o json",
            "regkit promote team/api:1a2b3c4 v1.2.0 --force   # re-point an existing release",
        ],
    )
    reference_arg(p, "src", "SRC", "[HOST/]REPOSITORY:TAG or [HOST/]REPOSITORY@DIGEST")
    p.add_argument(
        "targets",
        metavar="TARGET",
        nargs="+",
        help="a tag (same repository), REPOSITORY:TAG (same registry) or HOST/REPOSITORY:TAG",
    )
    p.add_argument(
        "--expect-digest",
        metavar="DIGEST",
        help="refuse (writing nothing) unless SRC still resolves to this digest",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    p.add_argument(
        "--referrers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=(
            "a TARGET in another repository also gets what is attached to the image (cosign "
            "signatures and attestations, SBOMs), so it still verifies there (default: on; "
            "a TARGET in SRC's repository needs nothing, same digest)"
        ),
    )
    output.add_output(p, trunc=False)
    _force_flag(p)
    p.set_defaults(func=_cmd_promote)


def promote_json(result: PromotionResult) -> dict[str, Any]:
    """The promote result in the CLI's JSON shape (schemas/promote.schema.json)."""
    return {
        "source": str(result.plan.source),
        "digest": result.plan.digest,
        "media_type": result.plan.media_type,
        "platforms": list(result.platforms),
        "dry_run": result.dry_run,
        "promoted": result.promoted,
        "targets": [
            {
                "reference": str(t.target),
                "action": t.action.value,
                "old_digest": t.old_digest,
            }
            for t in result.plan.targets
        ],
        "blobs": result.stats.to_json(),
        "referrers": None if result.referrers is None else result.referrers.to_json(),
    }


def _cmd_promote(args: argparse.Namespace) -> int:
    from regkit.errors import AuthenticationError
    from regkit.ops import promote as pr

    source = pr.parse_source(args.src, default_registry=default_registry())
    targets = pr.parse_targets(pr.split_targets(args.targets), source)
    try:
        result = pr.promote(
            source,
            targets,
            _connector(args),
            expect_digest=args.expect_digest,
            dry_run=args.dry_run,
            force=args.force,
            referrers=args.referrers,
        )
    except AuthenticationError as err:  # on GHCR: name the permission to grant
        from regkit.ghcr.hosts import with_write_hint

        raise with_write_hint(err, source.registry) from None
    try:
        if args.output == "json":
            output.write_json(promote_json(result))
        elif args.output == "markdown":
            rows = [(str(t.target), t.describe(done=not args.dry_run)) for t in result.plan.targets]
            attached = result.referrers_line()
            if attached is not None:
                rows.append(("attached", attached))
            lines = [f"`{result.digest}`", "", *output.markdown_table(("TARGET", "STATUS"), rows)]
            output.write("".join(f"{line}\n" for line in lines))
        else:
            lines = result.lines()
            attached = result.referrers_line()
            if attached is not None:
                width = max(len(str(t.target)) for t in result.plan.targets)
                lines.append(f"{'attached'.ljust(width)}  {attached}")
            output.write("".join(f"{escape(line)}\n" for line in lines))
    except (output.OutputError, BrokenPipeError):
        # The writes happened: say so where it can still be read before reporting the failure.
        for line in result.lines()[1:]:
            print(escape(f"regkit: {line.split()[0]}: {line.split(None, 1)[1]}"), file=sys.stderr)
        raise
    if args.dry_run:
        print("regkit: dry run: nothing was written", file=sys.stderr)
    return 0
