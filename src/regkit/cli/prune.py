"""prune, delete (regkit.ops.prune)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from regkit.cli.common import (
    client_for,
    command,
)
from regkit.cli.common import (
    write as _write,
)
from regkit.errors import RegkitError, UsageError
from regkit.progress import Progress
from regkit.reference import (
    parse_reference,
)

if TYPE_CHECKING:
    pass


@command
def _add_prune(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "prune",
        parents=[common],
        help="delete old SHA tags, keeping the newest and every protected tag",
        description=(
            "Delete tags matching --match, keeping the --keep newest (by the label "
            "org.opencontainers.image.created, else the config's created), tags newer than "
            "--older-than, protected tags and digests, and tags whose time is unknown. A manifest "
            "that a staying tag or a protected digest still uses is never deleted: such tags are "
            "removed alone. Prints the plan first; asks before deleting on a terminal. "
            "On GHCR (ghcr.io/OWNER/NAME, token from GITHUB_TOKEN) the images go as package "
            "versions through the GitHub API, each with its platform and attestation manifests "
            "and signatures. Example: regkit prune ghcr.io/acme/app --keep 12 --dry-run"
        ),
    )
    p.add_argument("repos", nargs="*", metavar="REPO", help="HOST/REPOSITORY to prune")
    p.add_argument(
        "--match",
        metavar="REGEX",
        help="tags eligible for deletion (re.search; default: ^[0-9a-f]{7}$, a short SHA)",
    )
    p.add_argument(
        "--keep",
        type=_prune_keep,
        metavar="N",
        help="newest eligible tags to keep (default: 10)",
    )
    p.add_argument(
        "--older-than",
        metavar="DURATION",
        help="only delete tags created earlier than this, e.g. 30d, 12h, 2w, 1d12h",
    )
    p.add_argument("--protect-tag", action="append", default=[], metavar="TAG")
    p.add_argument("--protect-digest", action="append", default=[], metavar="DIGEST")
    p.add_argument(
        "--protect-file",
        action="append",
        default=[],
        metavar="PATH",
        help="a deploy-info.yml (or deploy-history.yml): its image.tag and image.digest stay",
    )
    p.add_argument(
        "--all-repos",
        action="append",
        default=[],
        metavar="REGISTRY",
        help="prune every repository of this registry",
    )
    p.add_argument(
        "--delete-untagged",
        action="store_true",
        help="GHCR only: also delete untagged package versions that nothing staying references "
        "and that are older than the newest build",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan, delete nothing")
    p.add_argument("--json", action="store_true", help="print the plan and result as JSON")
    p.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    p.set_defaults(func=_cmd_prune)


def _ghcr_goals(goals: list[Any], args: argparse.Namespace) -> bool:
    from regkit.ops.ghcr import is_ghcr

    on_ghcr = [is_ghcr(g.registry) for g in goals]
    if any(on_ghcr) and not all(on_ghcr):
        raise UsageError("prune GHCR (ghcr.io) and other registries in separate runs")
    if args.delete_untagged and not any(on_ghcr):
        raise UsageError(
            "--delete-untagged is for GHCR (ghcr.io); on distribution, untagged manifests go "
            "with 'registry garbage-collect --delete-untagged' (registry:3 only)"
        )
    return any(on_ghcr)


def _prune_keep(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _cmd_prune(args: argparse.Namespace) -> int:
    import contextlib
    from datetime import UTC, datetime

    from regkit.ops.prune import render
    from regkit.ops.prune.run import build_policy, execute_plans, plan_target, targets

    if not args.dry_run and not args.yes and not sys.stdin.isatty():
        raise UsageError(
            "prune deletes tags and there is no terminal to confirm: pass --yes to delete, "
            "or --dry-run to print the plan only"
        )
    policy = build_policy(
        match=args.match,
        keep=args.keep,
        older_than=args.older_than,
        protect_tags=args.protect_tag,
        protect_digests=args.protect_digest,
        protect_files=args.protect_file,
    )
    goals = targets(args.repos, args.all_repos)
    if _ghcr_goals(goals, args):  # ghcr.io: package versions through the GitHub API
        from regkit.cli import prune_ghcr

        return prune_ghcr.run(args, policy, goals)
    now = datetime.now(UTC)
    documents: list[dict[str, Any]] = []
    incomplete = False
    with contextlib.ExitStack() as stack:
        planned = []
        for goal in goals:
            client = stack.enter_context(client_for(args, goal.registry))
            with Progress(f"reading {goal.registry}") as progress:
                plans = plan_target(client, goal, policy, now, tick=progress.advance)
            planned.append((goal.registry, client, plans))
            if not args.json:
                _write(render.render_plans(goal.registry, plans))
        doomed = sum(len(p.removed) for _, _, ps in planned for p in ps)
        if args.dry_run or doomed == 0:
            for registry, _, plans in planned:
                documents.append(render.to_json(registry, plans, None, dry_run=args.dry_run))
            if args.json:
                _write(render.render_json(documents))
            print(
                "dry run: nothing deleted" if args.dry_run else "nothing to delete",
                file=sys.stderr,
            )
            return 0
        if not args.yes:
            what = render.plural(doomed, "tag")
            print(f"Delete {what}? [y/N] ", end="", file=sys.stderr, flush=True)
            if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                print("nothing deleted", file=sys.stderr)
                return 1

        def warn(message: str) -> None:
            print(f"regkit: warning: {message}", file=sys.stderr)

        for registry, client, plans in planned:
            with Progress(f"pruning {registry}") as progress:
                results = execute_plans(client, plans, warn=warn, tick=progress.advance)
            documents.append(render.to_json(registry, plans, results, dry_run=False))
            incomplete = incomplete or not all(r.complete for r in results)
            if not args.json:
                _write("".join(render.render_result(registry, r) for r in results))
    if args.json:
        _write(render.render_json(documents))
    if incomplete:
        raise RegkitError(
            "prune did not finish (see above); the registry is consistent: run the same "
            "command again to finish"
        )
    return 0


@command
def _add_delete(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "delete",
        parents=[common],
        help="delete a manifest by digest, or remove one tag only (like crane delete)",
        description=(
            "HOST/REPO@DIGEST deletes the manifest and every tag pointing at it (they are "
            "listed). HOST/REPO:TAG removes only that tag; the manifest and its other tags stay "
            "(DELETE by tag on registry:3, a throw-away manifest on distribution 2.8)."
        ),
    )
    p.add_argument("ref", metavar="REF", help="HOST/REPOSITORY@DIGEST or HOST/REPOSITORY:TAG")
    p.set_defaults(func=_cmd_delete)


def _cmd_delete(args: argparse.Namespace) -> int:
    from regkit.ops.prune.run import delete_reference

    ref = parse_reference(args.ref, require_identifier=True)
    with client_for(args, ref.registry) as client:
        kind, digest, tags = delete_reference(client, args.ref)
    name = ref.name
    if kind == "manifest":
        went = f"tags removed with it: {', '.join(tags)}" if tags else "no tag pointed at it"
        _write(f"deleted {name}@{digest} ({went})\n")
    else:
        _write(f"removed tag {name}:{tags[0]}; manifest {digest} and its other tags stay\n")
    return 0
