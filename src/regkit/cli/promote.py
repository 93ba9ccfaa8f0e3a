"""tag, copy, promote (regkit.ops.promote)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from regkit.cli.common import (
    command,
)
from regkit.cli.common import (
    connector as _connector,
)
from regkit.cli.common import (
    write as _write,
)
from regkit.reference import (
    parse_reference,
)
from regkit.textsafe import escape

if TYPE_CHECKING:
    pass


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
    p = sub.add_parser(
        "tag",
        parents=[common],
        help="add a tag to an image in its repository, by digest (like crane tag)",
        description="Write the manifest of REF under TAG in the same repository; prints nothing.",
    )
    p.add_argument("ref", metavar="REF", help="HOST/REPOSITORY[:TAG|@DIGEST] (tag default: latest)")
    p.add_argument("tag", metavar="TAG", help="the new tag")
    _force_flag(p)
    p.set_defaults(func=_cmd_tag)


def _cmd_tag(args: argparse.Namespace) -> int:
    from regkit.ops import promote as pr

    source = pr.parse_source(args.ref, default_tag="latest")
    pr.promote(source, [pr.parse_target(args.tag, source)], _connector(args), force=args.force)
    return 0


@command
def _add_copy(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "copy",
        parents=[common],
        help="copy an image to another repository or registry, digests kept (like crane copy)",
        description=(
            "Copy SRC to DST with every platform: blobs are mounted within a registry and "
            "streamed between registries; the manifests keep their digests. Prints nothing."
        ),
    )
    p.add_argument("src", metavar="SRC", help="HOST/REPOSITORY[:TAG|@DIGEST] (tag default: latest)")
    p.add_argument("dst", metavar="DST", help="HOST/REPOSITORY[:TAG|@DIGEST] (tag default: latest)")
    _force_flag(p)
    p.set_defaults(func=_cmd_copy)


def _cmd_copy(args: argparse.Namespace) -> int:
    from regkit.ops import promote as pr

    source = pr.parse_source(args.src, default_tag="latest")
    target = parse_reference(args.dst, default_tag="latest")
    pr.promote(source, [target], _connector(args), force=args.force)
    return 0


@command
def _add_promote(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "promote",
        parents=[common],
        help="give a tested image more tags by digest (release tags, latest), no pull",
        description=(
            "Write the source manifest, byte for byte, under each TARGET; verify every target "
            "then resolves to the source digest. A target already at the digest is left alone. "
            "Prints the digest and one line per target: created, moved from DIGEST, unchanged."
        ),
    )
    p.add_argument("src", metavar="SRC", help="HOST/REPOSITORY:TAG or HOST/REPOSITORY@DIGEST")
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
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _force_flag(p)
    p.epilog = (
        "examples:\n"
        "  regkit promote registry.example.com/app:0a1b2c3 v1.4.2 v1.4 v1 latest\n"
        "  regkit promote registry.example.com/app:0a1b2c3 v1.4.2 --force   # re-point a release"
    )
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.set_defaults(func=_cmd_promote)


def _cmd_promote(args: argparse.Namespace) -> int:
    from regkit.ops import promote as pr

    source = pr.parse_source(args.src)
    targets = pr.parse_targets(pr.split_targets(args.targets), source)
    result = pr.promote(
        source,
        targets,
        _connector(args),
        expect_digest=args.expect_digest,
        dry_run=args.dry_run,
        force=args.force,
    )
    lines = [result.json_text()] if args.json else [escape(line) for line in result.lines()]
    _write("".join(f"{line}\n" for line in lines))
    if args.dry_run and not args.json:
        print("regkit: dry run: nothing was written", file=sys.stderr)
    return 0
