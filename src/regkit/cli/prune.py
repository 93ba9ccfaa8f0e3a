"""prune, delete (regkit.ops.prune)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from regkit.cli import output
from regkit.cli.common import (
    client_for,
    command,
    connect_options,
    parse_ref_arg,
    verb_help,
)
from regkit.cli.common import (
    write as _write,
)
from regkit.errors import Message, RegkitError, UsageError, say
from regkit.progress import Progress
from regkit.textsafe import escape

if TYPE_CHECKING:
    from regkit.ops import Connections
    from regkit.ops.prune.backend import PruneOptions
    from regkit.ops.prune.plan import PrunePolicy
    from regkit.ops.prune.run import Target
    from regkit.ops.prune.session import RegistryPrune


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
            "a rerun finishes). "
            "On GHCR (ghcr.io/OWNER/NAME, token from GITHUB_TOKEN) the images go as package "
            "versions through the GitHub API, each with its platform and attestation manifests "
            "and signatures."
        ),
        **verb_help(
            [
                "regkit prune registry.example.com/team/api --keep 10 --dry-run",
                "regkit prune --all-repos registry.example.com --older-than 30d --yes",
            ]
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
    p.add_argument(
        "--protect-tag",
        action="append",
        default=[],
        metavar="TAG",
        help="a tag that stays, with every tag on its digest (exact name); repeatable",
    )
    p.add_argument(
        "--protect-digest",
        action="append",
        default=[],
        metavar="DIGEST",
        help="a manifest digest that stays (sha256:...), with every tag on it; repeatable",
    )
    p.add_argument(
        "--protect-file",
        action="append",
        default=[],
        metavar="PATH",
        help="a deploy-info.yml (or deploy-history.yml): its image.tag and image.digest stay",
    )
    p.add_argument(
        "--unprotect",
        action="append",
        default=[],
        metavar="TAG",
        help="take TAG out of the built-in protection (latest, release tags and aliases, "
        "deployed-*), by exact name; repeatable",
    )
    p.add_argument(
        "--delete-orphans",
        action="store_true",
        help="also delete referrers (signatures, attestations, SBOMs: sha256-<hex>[.sig|.att|"
        ".sbom] tags) whose image no longer exists; without it they are reported and kept",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="allow --keep 0 with the default --match and no --older-than (deletes every "
        "short-SHA tag, the newest build included)",
    )
    p.add_argument(
        "--all-repos",
        action="append",
        default=[],
        metavar="REGISTRY",
        help="prune every repository of this registry",
    )
    p.add_argument(
        "--protect-dir",
        metavar="DIR",
        help="per repository, protect what DIR/<last path component>/deploy-info.yml and "
        "deploy-history.yml name (a missing file is fine)",
    )
    p.add_argument(
        "--record",
        metavar="FILE",
        help="append one JSON line per removed tag (time, tag, digest, labels, bytes) to FILE",
    )
    p.add_argument(
        "--then",
        metavar="CMD",
        help="after a prune that deleted something, run CMD (e.g. the registry's "
        "garbage-collect; no shell), then check every image that stayed",
    )
    p.add_argument(
        "--storage",
        metavar="DIR",
        help="with --then: the registry's storage root, to report the bytes it shrank by",
    )
    p.add_argument(
        "--delete-untagged",
        action="store_true",
        help="GHCR only: also delete untagged package versions that nothing staying references "
        "and that are older than the newest build",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan, delete nothing")
    output.add_output(p, trunc=False)
    p.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    p.epilog = _PRUNE_EXAMPLES
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.set_defaults(func=_cmd_prune)


_PRUNE_EXAMPLES = """\
Always kept, whatever --match, --keep and --older-than say: latest, release tags (v1.2.3,
1.2.3, v2.0.0-rc.1) and their aliases (v1, v1.2, 1.2), deploy markers (deployed-*, e.g. written
by 'regkit promote SRC deployed-prod' at deploy time), what --protect-* and the deploy files
name, and every tag on the digest of any of them. The REASON column names the rule;
--unprotect TAG lifts a built-in rule for one tag. The team's --then command:
'docker exec registry registry garbage-collect /etc/distribution/config.yml'.

examples:
  regkit prune --dry-run registry.example.com/rednaw/hello-world
  # the team's scheduled job, on the registry host:
  regkit prune --all-repos registry.example.com --match '.*' --keep 6 \\
      --protect-dir /opt/iac/deploy --record /var/log/regkit/prune.jsonl --yes \\
      --then 'docker exec registry registry garbage-collect /etc/distribution/config.yml' \\
      --storage /var/lib/docker-registry
  # GHCR (GITHUB_TOKEN with packages: write and the Admin role on the package):
  regkit prune ghcr.io/acme/iac-dev --match '^[0-9a-f]{40}$' --keep 12 --delete-untagged
"""


def _prune_keep(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _cmd_prune(args: argparse.Namespace) -> int:
    from regkit.ops import Connections
    from regkit.ops.prune.backend import PruneOptions
    from regkit.ops.prune.run import build_policy, targets
    from regkit.ops.prune.session import check_targets

    if not args.dry_run and not args.yes and not sys.stdin.isatty():
        raise UsageError(
            "prune deletes tags and there is no terminal to confirm: pass --yes to delete, "
            "or --dry-run to print the plan only"
        )
    if args.record is not None:  # refused before anything is planned, in a dry run too
        from regkit.ops.audit import check_record_path

        check_record_path(args.record)
    policy = build_policy(
        match=args.match,
        keep=args.keep,
        older_than=args.older_than,
        protect_tags=args.protect_tag,
        protect_digests=args.protect_digest,
        protect_files=args.protect_file,
        unprotect=args.unprotect,
        force=args.force,
    )
    if args.delete_orphans:
        policy = dataclasses.replace(policy, delete_orphans=True)
    goals = targets(args.repos, args.all_repos)
    options = PruneOptions(
        delete_untagged=args.delete_untagged,
        then=args.then is not None or args.storage is not None,
        notify=_remark,
    )
    check_targets(goals, options)  # what a registry's kind cannot do, before anything else
    then = _then_argv(args)
    before = _storage_size(args) if then and not args.dry_run else None

    with Connections(connect_options(args)) as clients:  # one password read, one per registry
        return _prune(args, goals, policy, clients, then, before, options)


def _remark(message: str) -> None:
    print(f"regkit: {escape(message)}", file=sys.stderr, flush=True)


def _prune(
    args: argparse.Namespace,
    goals: Sequence[Target],
    policy: PrunePolicy,
    clients: Connections,
    then: tuple[str, ...] | None,
    before: int | None,
    options: PruneOptions,
) -> int:
    from regkit.ops.prune import render, session
    from regkit.ops.prune.execute import PruneAbandoned
    from regkit.ops.prune.session import PruneRunInterrupted

    def show_plans(planned: RegistryPrune) -> None:
        if args.output == "table":
            _write(planned.plans_text())
        elif args.output == "markdown":
            _write(_markdown_plans(planned.registry, planned.tag_plans))

    def confirm(question: str) -> bool:
        return bool(args.yes) or output.confirm(question)

    def show_result(done: RegistryPrune) -> None:
        if args.output == "json":
            return
        _write(done.results_text())

    def warn(message: Message) -> None:  # a parameter it names in the CLI's words: --flag
        print(f"regkit: warning: {escape(say(message))}", file=sys.stderr, flush=True)

    try:
        run = session.prune_targets(
            goals,
            policy,
            clients,
            dry_run=args.dry_run,
            confirm=confirm,
            record=args.record if not args.dry_run else None,
            protect_dir=args.protect_dir,
            warn=warn,
            on_plans=show_plans,
            on_result=show_result,
            progress=lambda label: _progress(label, quiet=output.quiet(args)),
            options=options,
        )
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
    except PruneRunInterrupted as stop:
        stopped = stop.interrupted
        if args.output == "json":
            _write(render.render_json(stop.documents()))
        else:
            results = stopped.results or ()
            _write("".join(render.render_result(stopped.registry, r) for r in results))
        touched = [(r.registry, r.results or ()) for r in stop.done]
        report = render.interrupted_report(touched, stop.pending, one_per_line=True)
        for line in report:  # a list of references: a heading, then one reference a line
            shown = line if line.startswith("  ") else f"regkit: interrupted: {line}"
            print(shown, file=sys.stderr)
        return 130
    documents = run.documents()
    if not run.carried_out:
        if run.declined:
            print("nothing deleted", file=sys.stderr)
            return 1
        if args.output == "json":
            _write(render.render_json(documents))
        output.note("dry run: nothing deleted" if args.dry_run else "nothing to delete", args)
        return 0
    failed_after = None
    if then and run.deleted and run.complete:
        failed_after = _then_and_check(args, then, before, run.pruned, documents, clients)
    elif then:
        print(
            "regkit: --then not run: "
            + ("the prune did not finish" if not run.complete else "nothing was deleted"),
            file=sys.stderr,
        )
    if args.output == "json":
        _write(render.render_json(documents))
    if run.interrupted:  # a backend stopped at Ctrl-C, after the deletion in flight
        print(f"regkit: {run.error}", file=sys.stderr, flush=True)
        return 130
    if run.error:
        raise RegkitError(run.error)
    if run.lost:
        raise RegkitError(
            f"{render.plural(len(run.lost), 'tag')} went with a DELETE and could not be put "
            f"back: {', '.join(escape(t) for t in run.lost)}; put them back with the 'regkit tag' "
            "commands in the warnings above before garbage collection runs"
        )
    if not run.complete:
        raise RegkitError(
            f"prune did not finish (see above); {run.unfinished}: run the same command again "
            "to finish"
        )
    if failed_after:
        raise RegkitError(failed_after)
    return 0


@contextlib.contextmanager
def _progress(label: str, *, quiet: bool = False) -> Iterator[Callable[[], None]]:
    with Progress(label, quiet=quiet) as progress:
        yield progress.advance


def _then_argv(args: argparse.Namespace) -> tuple[str, ...] | None:
    if args.storage is not None and args.then is None:
        raise UsageError("--storage goes with --then (it measures what the --then command freed)")
    if args.then is None:
        return None
    from regkit.ops.prune.then import resolve_then

    argv = resolve_then(args.then)  # a missing command is refused before anything is planned
    if args.storage:  # a wrong --storage is refused before anything is deleted
        from regkit.ops.check import storage_repositories_root

        storage_repositories_root(args.storage)
    return argv


def _storage_size(args: argparse.Namespace) -> int | None:
    from regkit.ops.gc import storage_bytes

    return storage_bytes(args.storage) if args.storage else None


def _then_and_check(
    args: argparse.Namespace,
    argv: tuple[str, ...],
    before: int | None,
    pruned: Sequence[tuple[str, Sequence[str]]],
    documents: list[dict[str, Any]],
    clients: Connections,
) -> str | None:
    """Run the --then command, then check what stayed (``session.then_and_check``), printed;
    the error to raise, or None."""
    from regkit.ops.check import render_text
    from regkit.ops.prune.render import plural
    from regkit.ops.prune.session import then_and_check

    print(f"regkit: running {' '.join(argv)}", file=sys.stderr)
    after = then_and_check(
        argv,
        pruned,
        clients,
        storage=args.storage,
        storage_before=before,
        echo=lambda line: print(line, file=sys.stderr),
        checking=Progress,
    )
    lines = [f"--then: {' '.join(argv)} exited {after.then.exit_code}"]
    if after.then.shrunk_bytes is not None:
        lines.append(f"storage {args.storage} shrank by {plural(after.then.shrunk_bytes, 'byte')}")
    for report, doc in zip(after.checks, documents, strict=True):
        doc["then"] = after.then_json()
        doc["check"] = report.to_json()
        lines.extend(render_text(report).splitlines())
    if args.output != "json":
        _write("\n".join(lines) + "\n")
    problems = after.problems()
    if problems:
        return "; ".join(problems) + " after the prune (see above); the prune itself is done"
    return None


def _markdown_plans(registry: str, plans: Any) -> str:
    from regkit.ops.prune import render

    lines: list[str] = []
    for plan in plans:
        heading, rows = render.markdown(registry, plan, None)
        lines += [f"### {heading}", ""]
        lines += output.markdown_table(
            ("TAG", "DIGEST", "CREATED", "ACTION", "STATUS", "REASON"),
            [[str(c) for c in row] for row in rows],
        )
        lines += ["", render.counts_line(plan), ""]
    return "".join(f"{line}\n" for line in lines)


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
        **verb_help(
            [
                "regkit delete registry.example.com/team/api:1a2b3c4",
                "regkit delete registry.example.com/team/api@sha256:4f9c... --dry-run",
                "regkit delete registry.example.com/team/api@sha256:4f9c... --yes",
            ]
        ),
    )
    p.add_argument("ref", metavar="REF", help="HOST/REPOSITORY@DIGEST or HOST/REPOSITORY:TAG")
    p.add_argument(
        "--dry-run", action="store_true", help="print what would be deleted, delete nothing"
    )
    p.add_argument("--yes", "-y", action="store_true", help="delete a digest's tags without asking")
    output.add_output(p, trunc=False)
    p.set_defaults(func=_cmd_delete)


def _cmd_delete(args: argparse.Namespace) -> int:
    from regkit.ops.delete import execute_delete, plan_delete

    ref = parse_ref_arg(args.ref, require_identifier=True)  # REGKIT_REGISTRY for a bare REPO
    name = escape(ref.name)
    from regkit.ops.prune.backend import backend_for

    backend = backend_for(ref.registry)
    if not backend.registry_deletes:  # GHCR answers 405: only a prune deletes there
        raise UsageError(
            f"{ref.registry} {backend.deletes_through}: "
            f"run 'regkit prune {name} --match '^TAG$' --keep 0' (the image with its "
            "platform and attestation manifests, or the tag alone when another tag shares it)"
        )

    as_json = args.output == "json"

    def emit(text: str) -> None:
        if not as_json:
            _write(text)

    def document(plan: Any, *, deleted: bool, restored: tuple[str, ...] = ()) -> None:
        if as_json:
            output.write_json(
                {
                    "reference": str(plan.reference),
                    "kind": plan.kind,
                    "digest": plan.digest,
                    "tags": list(plan.tags),
                    "dry_run": bool(args.dry_run),
                    "deleted": deleted,
                    "restored": list(restored),
                }
            )

    def warn(message: str) -> None:
        print(f"regkit: warning: {escape(message)}", file=sys.stderr, flush=True)

    with client_for(args, ref.registry) as client:
        plan = plan_delete(client, str(ref))
        tags = ", ".join(escape(t) for t in plan.tags)
        target = f"{name}@{plan.digest}"
        if plan.kind == "manifest":
            if args.dry_run:
                emit(
                    f"would delete {target}"
                    + (f" and its tags: {tags}\n" if tags else " (no tag points at it)\n")
                )
                document(plan, deleted=False)
                output.note("dry run: nothing deleted", args)
                return 0
            if plan.tags and not args.yes:
                if not sys.stdin.isatty():
                    raise UsageError(
                        f"deleting {target} would also remove its tags {tags} and there is no "
                        "terminal to confirm: pass --yes to delete, or --dry-run to see what "
                        "would go"
                    )
                if not output.confirm(f"Delete {target} and its tags {tags}?"):
                    print("nothing deleted", file=sys.stderr)
                    return 1
        elif args.dry_run:
            emit(_delete_line(plan, name, done=False))
            document(plan, deleted=False)
            output.note("dry run: nothing deleted", args)
            return 0
        result = execute_delete(client, plan, warn=warn)
    if plan.kind == "manifest":
        gone = ", ".join(escape(t) for t in result.removed_tags)  # not those moved meanwhile
        went = f"tags removed with it: {gone}" if gone else "no tag pointed at it"
        emit(f"deleted {target} ({went})\n")
    else:
        emit(_delete_line(plan, name, done=True))
    restored = tuple(result.deletion.restored) if result.deletion is not None else ()
    if restored:
        back = ", ".join(escape(t) for t in restored)
        emit(f"put back on {plan.digest}: {back} (moved onto it while it was deleted)\n")
    document(plan, deleted=True, restored=restored)
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
