"""GHCR prune plans and results as text (terminal, log) and JSON (``-o json``, the action's
plan file). Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from regkit.errors import Namer, Param, cli_words, say
from regkit.ghcr.prune import GhcrPlan, GhcrResult
from regkit.ops.prune.render import plural, render_plan, repositories_json, short_digest


def ghcr_document(
    registry: str, plans: Sequence[GhcrPlan], results: Sequence[GhcrResult] | None, dry_run: bool
) -> dict[str, Any]:
    """The JSON document of a GHCR prune (``-o json``, the action's plan file)."""
    return {
        "registry": registry,
        "dry_run": dry_run,
        "repositories": repositories_json(plans, results),
        "deleted": [
            f"{registry}/{r.repository}@{o.deletion.digest}"
            for r in results or ()
            for o in r.deleted_versions
        ],
    }


# -- text --------------------------------------------------------------------------------------


def render_ghcr_plan(registry: str, plan: GhcrPlan, words: Namer = cli_words) -> str:
    """The tag plan (``render_plan``) and the package versions; parameters in ``words``."""
    c = plan.counts()
    text = render_plan(registry, plan.plan, words)
    text += (
        f"GHCR: {plural(len(plan.deletions), 'package version')} of {plan.versions} to delete "
        f"({c['image']} images, {c['referrer']} referrers, {c['child']} children, "
        f"{c['untagged']} untagged); {plural(len(plan.untags), 'tag')} removed alone with a "
        "throw-away manifest\n"
    )
    if plan.untagged_kept:
        text += (
            f"{plural(plan.untagged_kept, 'untagged version')} referenced by nothing that stays "
            f"left in place ({say((Param('delete-untagged'),), words)} deletes those older than "
            "the newest build)\n"
        )
    return text


def render_ghcr_result(registry: str, result: GhcrResult) -> str:
    lines = [f"{registry}/{result.repository}: "]
    deleted = len(result.deleted_versions)
    tags = sum(1 for o in result.tags if o.status == "deleted")
    lines[0] += f"deleted {plural(deleted, 'package version')}, removed {plural(tags, 'tag')}" + (
        "" if result.complete else " (incomplete)"
    )
    for o in result.versions:
        if o.status in ("failed", "skipped", "not-run"):
            lines.append(
                f"  version {o.deletion.version_id} {short_digest(o.deletion.digest)}: "
                f"{o.status}: {o.detail}"
            )
    for t in result.tags:
        if t.status in ("failed", "not-run"):
            lines.append(f"  tag {t.tag}: {t.status}: {t.detail}")
    return "\n".join(lines) + "\n"


__all__ = ["ghcr_document", "render_ghcr_plan", "render_ghcr_result"]
