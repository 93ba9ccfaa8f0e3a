"""Plans and results as text (terminal), JSON and Markdown (job summary). Pure functions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from regkit.ops.prune.execute import PruneResult
from regkit.ops.prune.plan import DELETE_MANIFEST, UNTAG, PrunePlan, TagPlan

HEADERS = ("TAG", "DIGEST", "CREATED", "ACTION", "REASON")

GC_NOTE = (
    "Disk space returns only after garbage collection on the server: see the README, "
    '"Garbage collection".'
)
ZONELESS_NOTE = "CREATED times written without a zone (YYYY-MM-DD HH:MM:SS) are read as UTC."


def format_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def short_digest(digest: str) -> str:
    if not digest:
        return "(missing)"
    return digest[:19] if digest.startswith("sha256:") else digest[:12]


def created_cell(entry: TagPlan) -> str:
    if entry.created is None:
        return "unknown"
    return entry.created.display() + ("*" if entry.created.zoneless else "")


def rows(plan: PrunePlan) -> list[tuple[str, str, str, str, str]]:
    return [
        (e.tag, short_digest(e.digest), created_cell(e), e.action, e.reason) for e in plan.entries
    ]


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def counts_line(plan: PrunePlan) -> str:
    by_digest = sum(1 for e in plan.entries if e.action == DELETE_MANIFEST)
    alone = sum(1 for e in plan.entries if e.action == UNTAG)
    return (
        f"{by_digest + alone} of {plural(len(plan.entries), 'tag')} to delete: {by_digest} by "
        f"deleting {plural(len(plan.delete_digests), 'manifest')}, {alone} alone (manifest "
        f"stays); {len(plan.kept)} kept; about {format_bytes(plan.reclaimable_bytes)} "
        f"reclaimable ({plural(plan.reclaimable_bytes, 'byte')})"
    )


def table(cells: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = []
    for r in cells:
        parts = [c.ljust(w) for c, w in zip(r[:-1], widths[:-1], strict=True)]
        lines.append("  ".join([*parts, r[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def render_plan(registry: str, plan: PrunePlan) -> str:
    head = f"{registry}/{plan.repository}\n"
    if not plan.entries:
        return head + "no tags\n"
    return head + table([HEADERS, *rows(plan)]) + counts_line(plan) + "\n"


def render_plans(registry: str, plans: Sequence[PrunePlan]) -> str:
    out = "\n".join(render_plan(registry, p) for p in plans)
    notes = []
    if any(e.created is not None and e.created.zoneless for p in plans for e in p.entries):
        notes.append("* " + ZONELESS_NOTE)
    if any(p.removed for p in plans):
        notes.append(GC_NOTE)
    return out + ("\n" + "\n".join(notes) + "\n" if notes else "")


def render_result(registry: str, result: PruneResult) -> str:
    deleted = result.deleted_tags
    lines = [
        f"{registry}/{result.repository}: deleted {len(deleted)} tags "
        f"({len(result.deleted_manifests)} manifests by digest); about "
        f"{format_bytes(result.reclaimable_bytes)} reclaimable after garbage collection"
    ]
    for o in result.outcomes:
        if o.status in ("skipped", "failed", "not-run", "gone"):
            lines.append(f"  {o.tag}: {o.status}{f' ({o.detail})' if o.detail else ''}")
    return "\n".join(lines) + "\n"


def deleted_references(registry: str, results: Sequence[PruneResult]) -> list[str]:
    return [f"{registry}/{r.repository}:{t}" for r in results for t in r.deleted_tags]


def to_json(
    registry: str,
    plans: Sequence[PrunePlan],
    results: Sequence[PruneResult] | None,
    *,
    dry_run: bool,
) -> dict[str, Any]:
    by_repo = {r.repository: r for r in results or ()}
    return {
        "registry": registry,
        "dry_run": dry_run,
        "repositories": [
            {
                "plan": p.to_json(),
                "result": by_repo[p.repository].to_json() if p.repository in by_repo else None,
            }
            for p in plans
        ],
        "deleted": deleted_references(registry, results or ()),
        "reclaimable_bytes": sum(p.reclaimable_bytes for p in plans)
        if results is None
        else sum(r.reclaimable_bytes for r in results),
    }


def render_json(documents: Sequence[dict[str, Any]]) -> str:
    data: Any = documents[0] if len(documents) == 1 else documents
    return json.dumps(data, indent=2) + "\n"


def markdown(registry: str, plan: PrunePlan, result: PruneResult | None) -> tuple[str, list[Any]]:
    """(heading, table rows) of one repository for the job summary (escaped by the caller)."""
    status = {o.tag: o.status for o in result.outcomes} if result else {}
    table_rows: list[Any] = [
        (e.tag, short_digest(e.digest), created_cell(e), e.action, status.get(e.tag, ""), e.reason)
        for e in plan.entries
    ]
    return f"{registry}/{plan.repository}", table_rows


__all__ = [
    "GC_NOTE",
    "HEADERS",
    "ZONELESS_NOTE",
    "counts_line",
    "deleted_references",
    "format_bytes",
    "markdown",
    "render_json",
    "render_plan",
    "render_plans",
    "render_result",
    "to_json",
]
