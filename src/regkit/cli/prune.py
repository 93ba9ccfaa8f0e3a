"""prune, delete (regkit.ops.prune)."""

from __future__ import annotations

import argparse
import os
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
from regkit.textsafe import escape

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
            "removed alone. Prints the plan first; asks before deleting on a terminal. A tag "
            "another client points at a manifest while it is deleted is put back. Ctrl-C lets "
            "the deletions in flight finish, then says what was and was not deleted (exit 130; "
            "a rerun finishes)."
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
    p.add_argument("--dry-run", action="store_true", help="print the plan, delete nothing")
    p.add_argument("--json", action="store_true", help="print the plan and result as JSON")
    p.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    p.set_defaults(func=_cmd_prune)


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
    from regkit.ops.prune.execute import PruneAbandoned, PruneInterrupted, PruneResult
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
            print(f"regkit: warning: {escape(message)}", file=sys.stderr, flush=True)

        finished: list[tuple[str, list[PruneResult]]] = []
        at = 0
        try:
            for current, (registry, client, plans) in enumerate(planned):
                at = current
                with Progress(f"pruning {registry}") as progress:
                    results = execute_plans(client, plans, warn=warn, tick=progress.advance)
                finished.append((registry, results))
                documents.append(render.to_json(registry, plans, results, dry_run=False))
                incomplete = incomplete or not all(r.complete for r in results)
                if not args.json:
                    _write("".join(render.render_result(registry, r) for r in results))
        except PruneAbandoned:
            print(
                "regkit: interrupted again: stopped at once; a deletion in flight may or may not "
                "have happened; the registry is consistent: run the same command again to "
                "finish",
                file=sys.stderr,
                flush=True,
            )
            sys.stdout.flush()
            os._exit(130)  # the request in flight would hold the exit until it ends
        except PruneInterrupted as stop:
            registry = planned[at][0]
            touched = [*finished, (registry, list(stop.results))]
            pending = [(registry, list(stop.pending))]
            pending += [(reg, list(ps)) for reg, _, ps in planned[at + 1 :]]
            if not args.json:
                _write("".join(render.render_result(registry, r) for r in stop.results))
            for line in render.interrupted_report(touched, pending):
                print(f"regkit: interrupted: {line}", file=sys.stderr)
            return 130
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
        help="delete a manifest by digest (with its tags), or one tag (like crane delete)",
        description=(
            "HOST/REPO@DIGEST deletes the manifest and every tag pointing at it: they are shown "
            "first, and on a terminal you are asked; elsewhere pass --yes (or --dry-run to see "
            "what would go). HOST/REPO:TAG removes that tag; its manifest stays when another tag "
            "(or a multi-platform image) uses it, and is deleted with it when it was its only "
            "tag, so nothing is left untagged. A tag that another client points at the manifest "
            "while it is deleted is put back."
        ),
        epilog=(
            "examples:\n"
            "  regkit delete registry.example.com/app:0a1b2c3\n"
            "  regkit delete registry.example.com/app@sha256:4f9c... --dry-run\n"
            "  regkit delete registry.example.com/app@sha256:4f9c... --yes"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ref", metavar="REF", help="HOST/REPOSITORY@DIGEST or HOST/REPOSITORY:TAG")
    p.add_argument(
        "--dry-run", action="store_true", help="print what would be deleted, delete nothing"
    )
    p.add_argument("--yes", "-y", action="store_true", help="delete a digest's tags without asking")
    p.set_defaults(func=_cmd_delete)


def _cmd_delete(args: argparse.Namespace) -> int:
    from regkit.ops.delete import execute_delete, plan_delete

    ref = parse_reference(args.ref, require_identifier=True)
    name = escape(ref.name)

    def warn(message: str) -> None:
        print(f"regkit: warning: {escape(message)}", file=sys.stderr, flush=True)

    with client_for(args, ref.registry) as client:
        plan = plan_delete(client, args.ref)
        tags = ", ".join(escape(t) for t in plan.tags)
        target = f"{name}@{plan.digest}"
        if plan.kind == "manifest":
            if args.dry_run:
                _write(
                    f"would delete {target}"
                    + (f" and its tags: {tags}\n" if tags else " (no tag points at it)\n")
                )
                print("regkit: dry run: nothing deleted", file=sys.stderr)
                return 0
            if plan.tags and not args.yes:
                if not sys.stdin.isatty():
                    raise UsageError(
                        f"deleting {target} would also remove its tags {tags} and there is no "
                        "terminal to confirm: pass --yes to delete, or --dry-run to see what "
                        "would go"
                    )
                print(
                    f"Delete {target} and its tags {tags}? [y/N] ",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
                if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                    print("nothing deleted", file=sys.stderr)
                    return 1
        elif args.dry_run:
            _write(_delete_line(plan, name, done=False))
            print("regkit: dry run: nothing deleted", file=sys.stderr)
            return 0
        result = execute_delete(client, plan, warn=warn)
    if plan.kind == "manifest":
        went = f"tags removed with it: {tags}" if tags else "no tag pointed at it"
        _write(f"deleted {target} ({went})\n")
    else:
        _write(_delete_line(plan, name, done=True))
    if result.deletion is not None and result.deletion.restored:
        back = ", ".join(escape(t) for t in result.deletion.restored)
        _write(f"put back on {plan.digest}: {back} (moved onto it while it was deleted)\n")
    if result.deletion is not None and result.deletion.lost:
        raise RegkitError(
            f"tags {', '.join(result.deletion.lost)} went with {target} and were not put back "
            "(see the warning above)"
        )
    return 0


def _delete_line(plan: Any, name: str, *, done: bool) -> str:
    tag = escape(plan.tags[0])
    if plan.kind == "tag-and-manifest":
        verb = "deleted" if done else "would delete"
        return f"{verb} {name}:{tag} and its manifest {plan.digest} (no other tag pointed at it)\n"
    verb = "removed" if done else "would remove"
    stays = ", ".join(escape(t) for t in (*plan.others, *plan.index_users))
    what = "its other tags" if plan.others else "the tags of a multi-platform image using it"
    return f"{verb} tag {name}:{tag}; manifest {plan.digest} stays with {what}: {stays}\n"
