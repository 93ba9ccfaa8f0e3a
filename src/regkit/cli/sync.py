"""sync (and copy --all-tags): a repository's tags to another repository (regkit.ops.sync)."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from regkit.cli import output
from regkit.cli.common import add_verb, command, connector, parse_repo_arg
from regkit.cli.complete import repository_arg
from regkit.progress import Progress
from regkit.textsafe import escape


@command
def _add_sync(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        common,
        "sync",
        help_="copy every (matching) tag of a repository to another one, by digest",
        description=(
            "Copy every tag of SRC_REPO that --match finds (all without it) to DST_REPO, on the "
            "same or another registry, digests kept: blobs are mounted within a registry and "
            "streamed between registries, several images at once. A tag already at the same "
            "digest costs one HEAD per side and is not written, so a second run writes nothing. "
            "Tags of DST_REPO that SRC_REPO lacks stay. Prints one line per tag and a summary "
            "(on stderr)."
        ),
        examples=[
            "regkit sync registry.example.com/team/api backup.example.com/team/api",
            "regkit sync old.example.com/team/api new.example.com/team/api --match '^v' --dry-run",
            "regkit sync team/api team/api-mirror -o json      # with REGKIT_REGISTRY",
        ],
    )
    add_sync_arguments(p)


def add_sync_arguments(
    p: argparse.ArgumentParser, *, names: tuple[str, str] = ("src", "dst")
) -> None:
    if names == ("src", "dst"):
        repository_arg(p, "src", "SRC_REPO", "[HOST/]REPOSITORY to copy from")
        repository_arg(p, "dst", "DST_REPO", "[HOST/]REPOSITORY to copy to")
    p.add_argument(
        "--match",
        metavar="REGEX",
        help="only tags this regular expression finds (re.search), e.g. '^v[0-9]'",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    p.add_argument(
        "--referrers",
        action="store_true",
        help=(
            "also copy what is attached to each image (cosign signatures and attestations, "
            "SBOMs), so it still verifies in DST_REPO; referrer tags (sha256-<hex>, "
            "sha256-<hex>.sig ...) then come with their image instead of as tags of their own"
        ),
    )
    output.add_output(p, trunc=False)
    p.set_defaults(func=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    from regkit.ops import sync as sy

    source = parse_repo_arg(args.src)
    destination = parse_repo_arg(args.dst)
    match = sy.compile_match(args.match)
    connect = connector(args)
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(connect(source.registry))
        dst = (
            src
            if destination.registry == source.registry
            else stack.enter_context(connect(destination.registry))
        )
        progress = stack.enter_context(Progress("sync", quiet=output.quiet(args)))
        result = sy.sync(
            src,
            source,
            dst,
            destination,
            match=match,
            dry_run=args.dry_run,
            on_stage=progress.stage,
            on_item=progress.advance,
            referrers=bool(getattr(args, "referrers", False)),
        )
    for tag in result.skipped:
        output.note(f"tag {escape(tag)} vanished from {source} while syncing; skipped", args)
    if not result.items:
        what = f"matching {args.match!r} " if args.match else ""
        output.note(f"no tags {what}in {source}; nothing to sync", args)
    if args.output == "json":
        output.write_json(result.to_json())
    elif args.output == "markdown":
        rows = [(i.tag, i.digest, _status(i, result.dry_run)) for i in result.items]
        body = output.markdown_table(("TAG", "DIGEST", "STATUS"), rows) if rows else []
        output.write("".join(f"{line}\n" for line in body))
    else:
        rows = [(i.tag, i.digest, _status(i, result.dry_run)) for i in result.items]
        lines = output.table((), rows, width=None)
        output.write("".join(f"{line}\n" for line in lines))
    output.note(result.summary(), args)
    return 0


def _status(item: Any, dry_run: bool) -> str:
    from regkit.ops.sync import SyncAction

    if item.action is SyncAction.CREATE:
        return "create" if dry_run else "created"
    if item.action is SyncAction.UPDATE:
        return f"{'update' if dry_run else 'updated'} from {item.old_digest}"
    return "unchanged"
