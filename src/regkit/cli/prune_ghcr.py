"""``regkit prune ghcr.io/OWNER/NAME``: the prune on GHCR (regkit.ghcr.prune), printed.

Called by ``regkit.cli.prune`` when the targets are on GHCR; same flags, same plan, same
confirmation; package versions are deleted through the GitHub REST API.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from datetime import UTC, datetime
from typing import Any

from regkit.cli import output
from regkit.cli.common import connect_options
from regkit.cli.common import write as _write
from regkit.errors import RegkitError, UsageError
from regkit.ghcr.hosts import packages_api
from regkit.ghcr.prune import (
    as_prune_result,
    execute_ghcr,
    plan_package,
)
from regkit.ghcr.render import ghcr_document, render_ghcr_plan, render_ghcr_result
from regkit.ops import Connections
from regkit.ops.audit import append_records, prune_records, snapshot_labels
from regkit.ops.prune.plan import PrunePolicy
from regkit.ops.prune.run import Target
from regkit.progress import Progress
from regkit.textsafe import escape


def _stderr(message: str) -> None:
    print(f"regkit: {escape(message)}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, policy: PrunePolicy, goals: list[Target]) -> int:
    if getattr(args, "then", None) is not None or getattr(args, "storage", None) is not None:
        raise UsageError(
            "--then and --storage are for a self-hosted registry: GHCR frees its storage itself"
        )
    record = getattr(args, "record", None)
    if record and not args.dry_run:
        from regkit.ops.audit import check_record_path

        check_record_path(record)
    for goal in goals:
        if goal.all_repos:
            raise UsageError(
                f"{goal.registry} has no catalog: name the packages ({goal.registry}/OWNER/NAME)"
            )
    now = datetime.now(UTC)
    documents: list[dict[str, Any]] = []
    failed: list[str] = []
    interrupted = False
    incomplete = False
    with contextlib.ExitStack() as stack:
        clients = stack.enter_context(Connections(connect_options(args)))  # stdin read once
        planned = []
        for goal in goals:
            client = clients(goal.registry)
            api = stack.enter_context(packages_api(client, notify=_stderr))
            with Progress(f"reading {goal.registry}") as progress:
                plans = [
                    plan_package(
                        client,
                        api,
                        repo,
                        policy,
                        now,
                        delete_untagged=args.delete_untagged,
                        tick=progress.advance,
                        protect_dir=getattr(args, "protect_dir", None),
                    )
                    for repo in goal.repositories
                ]
            planned.append((goal.registry, client, api, plans))
            if args.output != "json":
                _write("\n".join(render_ghcr_plan(goal.registry, p) for p in plans))
        work = sum(len(p.deletions) + len(p.untags) for *_, ps in planned for p in ps)
        if args.dry_run or work == 0:
            documents = [ghcr_document(r, ps, None, args.dry_run) for r, _, _, ps in planned]
            if args.output == "json":
                _write(
                    json.dumps(documents[0] if len(documents) == 1 else documents, indent=2) + "\n"
                )
            print(
                "dry run: nothing deleted" if args.dry_run else "nothing to delete",
                file=sys.stderr,
            )
            return 0
        if not args.yes and not output.confirm(f"Delete {work} package versions and tags?"):
            print("nothing deleted", file=sys.stderr)
            return 1
        for registry, client, api, plans in planned:
            results = []
            with Progress(f"pruning {registry}") as progress:
                for plan in plans:
                    labels = snapshot_labels(client, plan.plan) if record else {}
                    result = execute_ghcr(
                        client,
                        api,
                        plan,
                        warn=lambda m: _stderr(f"warning: {m}"),
                        tick=progress.advance,
                    )
                    results.append(result)
                    if record:
                        lines = prune_records(
                            registry, plan.plan, as_prune_result(result), labels, datetime.now(UTC)
                        )
                        append_records(record, lines)
                    if result.error:
                        failed.append(result.error)
                        interrupted = interrupted or result.interrupted
                        break
            incomplete = incomplete or not all(r.complete for r in results)
            documents.append(ghcr_document(registry, plans, results, False))
            if args.output != "json":
                _write("".join(render_ghcr_result(registry, r) for r in results))
            if failed:
                break
    if args.output == "json":
        _write(json.dumps(documents[0] if len(documents) == 1 else documents, indent=2) + "\n")
    if interrupted:
        print(f"regkit: {failed[0]}", file=sys.stderr, flush=True)
        return 130
    if failed:
        raise RegkitError(failed[0])
    if incomplete:
        raise RegkitError(
            "prune did not finish (see above); every image left is whole: run the same command "
            "again to finish"
        )
    return 0
