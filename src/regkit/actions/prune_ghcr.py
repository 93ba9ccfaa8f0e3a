"""The ``prune-tags`` action on GHCR (``ghcr.io/OWNER/NAME``): the plan of regkit.ops.prune,
carried out as package-version deletions through the GitHub API with ``github-token``.

The registry API (tags, manifests, throw-away pushes) uses the credentials of a previous login
(Docker config, REGISTRY_USERNAME/REGISTRY_PASSWORD), else ``github-token`` as the password,
as ghcr.io accepts. The REST API (versions) always uses ``github-token``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from regkit import gha
from regkit.errors import RegkitError, UsageError
from regkit.ghcr.hosts import login_secret, packages_api, token_login
from regkit.ghcr.prune import (
    GhcrPlan,
    GhcrResult,
    execute_ghcr,
    plan_package,
)
from regkit.ghcr.render import ghcr_document, render_ghcr_plan, render_ghcr_result
from regkit.ops import ConnectOptions, connect
from regkit.ops.prune import render
from regkit.ops.prune.plan import PrunePolicy
from regkit.ops.prune.run import Target


@dataclasses.dataclass
class Totals:
    deleted: list[str] = dataclasses.field(default_factory=list)
    kept: int = 0
    incomplete: list[str] = dataclasses.field(default_factory=list)
    any_removed: bool = False
    documents: list[dict[str, object]] = dataclasses.field(default_factory=list)
    rows_left: int = gha.SUMMARY_ROWS


def prune_goal(
    goal: Target,
    options: ConnectOptions,
    token: str | None,
    policy: PrunePolicy,
    now: datetime,
    *,
    dry_run: bool,
    delete_untagged: bool,
    totals: Totals,
) -> None:
    if goal.all_repos:
        raise UsageError(f"{goal.registry} has no catalog: name the packages in input 'images'")
    if not token:
        raise UsageError(
            f"pruning {goal.registry} deletes package versions through the GitHub API: set input "
            "'github-token' (the workflow's token with 'permissions: packages: write')"
        )
    options = token_login(options, goal.registry, token)
    if (basic := login_secret(options)) is not None:
        gha.mask(basic)
    with (
        connect(goal.registry, options) as client,
        packages_api(client, token=token, notify=gha.info) as api,
    ):
        plans = [
            plan_package(client, api, repo, policy, now, delete_untagged=delete_untagged)
            for repo in goal.repositories
        ]
        with gha.group(f"plan for {goal.registry}"):
            gha.info("\n".join(render_ghcr_plan(goal.registry, p) for p in plans).rstrip("\n"))
        results: list[GhcrResult] = []
        if not dry_run:
            for plan in plans:
                result = execute_ghcr(
                    client, api, plan, warn=lambda m: gha.warning(m, "prune: left alone")
                )
                results.append(result)
                gha.info(render_ghcr_result(goal.registry, result).rstrip("\n"))
                if result.error:
                    _summaries(goal.registry, plans, results, dry_run, totals)
                    raise RegkitError(result.error)
    _summaries(goal.registry, plans, results, dry_run, totals)
    totals.documents.append(ghcr_document(goal.registry, plans, results or None, dry_run))
    for plan in plans:
        done = next((r for r in results if r.repository == plan.repository), None)
        gone = {o.tag for o in done.tags if o.status in ("deleted", "gone")} if done else set()
        totals.kept += sum(1 for e in plan.plan.entries if e.tag not in gone)
        if done is not None:
            totals.deleted += [
                f"{goal.registry}/{plan.repository}:{o.tag}"
                for o in done.tags
                if o.status == "deleted"
            ]
            if not done.complete:
                totals.incomplete.append(f"{goal.registry}/{plan.repository}")
        totals.any_removed = totals.any_removed or bool(plan.deletions or plan.untags)


def _summaries(
    registry: str, plans: list[GhcrPlan], results: list[GhcrResult], dry_run: bool, totals: Totals
) -> None:
    for plan in plans:
        heading, rows = render.markdown(registry, plan.plan, None)
        result = next((r for r in results if r.repository == plan.repository), None)
        status = {o.tag: o.status for o in result.tags} if result else {}
        rows = [(*row[:4], status.get(row[0], ""), row[5]) for row in rows]
        gha.summary.heading(heading, 3)
        shown, hidden = gha.cap_rows(rows, totals.rows_left)
        totals.rows_left -= len(shown)
        if shown:
            gha.summary.table(["TAG", "DIGEST", "CREATED", "ACTION", "RESULT", "REASON"], shown)
        if hidden:
            gha.summary.text(
                f"{hidden} more tags not shown: every tag is in the JSON plan, output plan-file."
            )
        c = plan.counts()
        gha.summary.text(
            f"GHCR: {len(plan.deletions)} of {plan.versions} package versions to delete "
            f"({c['image']} images, {c['referrer']} referrers, {c['child']} children, "
            f"{c['untagged']} untagged)"
            + (
                f"; {len(result.deleted_versions)} deleted"
                if result is not None
                else " (dry run)"
                if dry_run
                else ""
            )
        )
