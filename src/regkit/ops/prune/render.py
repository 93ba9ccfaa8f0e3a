"""Plans and results as text (terminal), JSON and Markdown (job summary). Pure functions.

Tags and reasons come from the registry: every text and Markdown cell is escaped
(``regkit.textsafe``); JSON stays exact.

A reason or a note that names one of regkit's parameters (an orphan's "--delete-orphans removes
it") says it in the words of ``words``, the adapter's namer (``regkit.errors.Namer``): the CLI's
by default (``--delete-orphans``), an action's input, the API's keyword. The JSON says the CLI's
words: its bytes are the CLI's document."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from regkit.errors import Namer, Param, RegkitError, cli_words, say
from regkit.ops.prune.execute import PruneResult
from regkit.ops.prune.plan import DELETE_MANIFEST, UNTAG, PrunePlan, TagPlan
from regkit.registry.manifest import parse_json
from regkit.registry.referrers import (
    FOUND_TAG_INDEX,
    KINDS,
    artifact_type_of,
    classify_tag,
    describe_kinds,
    kind_of,
    parse_referrers_index,
)
from regkit.textsafe import escape

HEADERS = ("TAG", "DIGEST", "CREATED", "ACTION", "REASON")

GC_NOTE = (
    "Disk space returns only after garbage collection on the server: see the README, "
    '"Garbage collection".'
)
#: The full guidance, for the job summary and the README (tests/prune/test_gc_prune.py checks it
#: against what garbage-collect does on each version).
GC_GUIDANCE = (
    "Space returns only after 'registry garbage-collect' runs on the server (registry stopped "
    "or read-only; restart it after). prune deletes the platform manifests of the "
    "multi-platform images it deletes, so no --delete-untagged is needed for them; "
    "'garbage-collect --delete-untagged' removes every untagged manifest, protected digests "
    "without a tag included. distribution 2.8's "
    "--delete-untagged also removes the platform manifests of multi-platform images that are "
    "still tagged (breaking them): use --delete-untagged only on registry:3."
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


#: How a referrer tag is shown: under its image, indented, never as an image of its own.
REFERRER_INDENT = "  - "


def referrer_groups(plan: PrunePlan) -> tuple[dict[str, list[TagPlan]], list[TagPlan]]:
    """Each image's referrers (by the image's digest, for its first tag in ``plan.entries``),
    each followed by its own (a signed SBOM's signature, those only the referrers API lists);
    and the referrers of an untagged or missing subject (orphans)."""
    every = (*plan.referrers, *plan.untagged_referrers)
    kids: dict[str, list[TagPlan]] = {}
    for r in every:
        kids.setdefault(r.subject, []).append(r)
    done: set[int] = set()  # the referrers placed (by id: an untagged one has no tag)
    seen: set[str] = set()

    def under(digest: str, out: list[TagPlan]) -> None:
        if digest in seen:  # a loop a tag claims
            return
        seen.add(digest)
        for r in kids.get(digest, ()):
            if id(r) not in done:
                done.add(id(r))
                out.append(r)
                under(r.digest, out)
                refs = plan.refs.get(r.digest)  # what a referrers index lists, and theirs
                for child in refs.children if refs is not None else ():
                    under(child, out)

    groups: dict[str, list[TagPlan]] = {}
    for e in plan.entries:
        if e.digest and e.digest not in seen:
            under(e.digest, groups.setdefault(e.digest, []))
    return groups, [r for r in every if id(r) not in done]


def with_referrers(plan: PrunePlan) -> list[tuple[TagPlan, bool]]:
    """The plan's entries, each image's referrers right under its first tag (``True``: a
    referrer; ``referrer_groups``); referrers of an untagged or missing subject (orphans)
    last."""
    groups, rest = referrer_groups(plan)
    out: list[tuple[TagPlan, bool]] = []
    for e in plan.entries:
        out.append((e, False))
        out += [(r, True) for r in groups.pop(e.digest, ())]
    return out + [(r, True) for r in rest]


def going_with(
    plan: PrunePlan, referrers: Sequence[TagPlan], went: Collection[str] | None
) -> dict[str, int]:
    """How many of each kind of an image's ``referrers`` (``referrer_groups``) go with it
    (``went``: None) or went (``went``: the referrer manifests a run deleted): a cosign tag's
    manifest by its payload's type or its suffix, the manifests a referrers index lists by
    their ``artifactType`` (the index itself is bookkeeping), one only the API lists by its
    kind."""
    counts: dict[str, int] = dict.fromkeys(KINDS, 0)

    def gone(r: TagPlan | str) -> bool:
        if isinstance(r, str):
            return went is not None and r in went
        return r.removed if went is None else r.digest in went

    for r in referrers:
        if not r.tag:
            counts[r.kind or "other"] += gone(r)
            continue
        rt = classify_tag(r.tag)
        raw = getattr(plan.sources.get(r.digest), "raw", None)
        if rt is None or rt.suffix is not None:
            at = ""
            if isinstance(raw, bytes):
                try:
                    doc = parse_json(raw, f"referrer {r.tag}")
                    at = artifact_type_of(doc) if isinstance(doc, dict) else ""
                except RegkitError:
                    at = ""
            counts[kind_of(at, rt.suffix if rt else None)] += gone(r)
            continue
        listed = None
        if isinstance(raw, bytes):
            try:
                listed = parse_referrers_index(raw, rt.subject, FOUND_TAG_INDEX, r.tag)
            except RegkitError:
                listed = None
        if listed is None:
            refs = plan.refs.get(r.digest)
            counts["other"] += sum(
                gone(c) if went is not None else r.removed
                for c in (refs.children if refs is not None else ())
            )
            continue
        for x in listed:
            counts[x.kind] += gone(x.digest) if went is not None else r.removed
    return counts


def tag_cell(e: TagPlan) -> str:
    """A TAG cell: the tag, escaped; ``(no tag)`` for a referrer only the referrers API lists."""
    return escape(e.tag) if e.tag else "(no tag)"


def rows(plan: PrunePlan, words: Namer = cli_words) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            (REFERRER_INDENT if referrer else "") + tag_cell(e),
            short_digest(e.digest),
            "-" if referrer else created_cell(e),
            e.action,
            escape(say(e.reason, words)),
        )
        for e, referrer in with_referrers(plan)
    ]


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def counts_line(plan: PrunePlan, words: Namer = cli_words) -> str:
    by_digest = sum(1 for e in plan.entries if e.action == DELETE_MANIFEST)
    alone = sum(1 for e in plan.entries if e.action == UNTAG)
    return (
        f"{by_digest + alone} of {plural(len(plan.entries), 'tag')} to delete: {by_digest} by "
        f"deleting {plural(len(plan.delete_digests), 'manifest')}, {alone} alone (manifest "
        f"stays); {len(plan.kept)} kept;{referrers_phrase(plan, words)} about "
        f"{format_bytes(plan.reclaimable_bytes)} reclaimable "
        f"({plural(plan.reclaimable_bytes, 'byte')})"
    )


def referrers_phrase(plan: PrunePlan, words: Namer = cli_words) -> str:
    """`` 6 referrer tags: 2 go with their images, 1 orphan kept;`` and `` 2 untagged
    referrers (referrers API) go with their images;`` (empty without any)."""
    untagged = (
        f" {plural(len(plan.untagged_referrers), 'untagged referrer')} (referrers API) go with "
        "their images;"
        if plan.untagged_referrers
        else ""
    )
    if not plan.referrers:
        return untagged
    going = sum(1 for r in plan.referrers if r.removed and not r.orphan)
    orphans = [r for r in plan.referrers if r.orphan]
    parts = [f"{going} go with their images"]
    if orphans:
        gone = sum(1 for r in orphans if r.removed)
        parts.append(
            f"{plural(len(orphans), 'orphan')} ({gone} deleted)"
            if gone
            else f"{plural(len(orphans), 'orphan')} kept ({say((Param('delete-orphans'),), words)} "
            "removes them)"
        )
    return f" {plural(len(plan.referrers), 'referrer tag')}: {', '.join(parts)};" + untagged


def table(cells: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = []
    for r in cells:
        parts = [c.ljust(w) for c, w in zip(r[:-1], widths[:-1], strict=True)]
        lines.append("  ".join([*parts, r[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def render_plan(registry: str, plan: PrunePlan, words: Namer = cli_words) -> str:
    head = escape(f"{registry}/{plan.repository}") + "\n"
    if not plan.entries and not plan.referrers and not plan.untagged_referrers:
        return head + "no tags\n"
    return head + table([HEADERS, *rows(plan, words)]) + counts_line(plan, words) + "\n"


def render_plans(registry: str, plans: Sequence[PrunePlan], words: Namer = cli_words) -> str:
    out = "\n".join(render_plan(registry, p, words) for p in plans)
    notes = []
    if any(e.created is not None and e.created.zoneless for p in plans for e in p.entries):
        notes.append("* " + ZONELESS_NOTE)
    if any(p.removed or p.referrer_digests for p in plans):
        notes.append(GC_NOTE)
    return out + ("\n" + "\n".join(notes) + "\n" if notes else "")


def render_result(registry: str, result: PruneResult) -> str:
    deleted = result.deleted_tags
    manifests = len(result.deleted_manifests) + len(result.put_back_manifests)
    back = [t for t, d in result.restored if d in result.put_back_manifests]
    again = f", since put back for {plural(len(back), 'tag')}" if back else ""
    lines = [
        escape(f"{registry}/{result.repository}")
        + f": deleted {plural(len(deleted), 'tag')} ({plural(manifests, 'manifest')} by digest"
        f"{again}); about {format_bytes(result.reclaimable_bytes)} reclaimable after garbage "
        "collection"
    ]
    for o in result.outcomes:
        if o.status in ("skipped", "failed", "not-run", "gone"):
            lines.append(escape(f"  {o.tag}: {o.status}{f' ({o.detail})' if o.detail else ''}"))
    for tag, digest in result.restored:
        lines.append(escape(f"  {tag}: put back on {digest} (it went with a DELETE of this prune)"))
    for tag, _ in result.lost:
        lines.append(escape(f"  {tag}: went with a DELETE of this prune and was not put back"))
    referrers: Sequence[str] = getattr(result, "deleted_referrers", ())
    if referrers:
        lines.append(
            f"  also deleted {plural(len(referrers), 'referrer manifest')} (signatures, "
            "attestations, SBOMs) of the deleted images"
        )
    return "\n".join(lines) + "\n"


def render_results(
    registry: str,
    results: Sequence[PruneResult],
    children: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """What was carried out on one registry, as the CLI prints it after the plans: each
    result (``render_result``), then the platform manifests of deleted indexes deleted after
    them, a line per repository."""
    out = "".join(render_result(registry, r) for r in results)
    for repo, digests in (children or {}).items():
        out += (
            escape(f"{registry}/{repo}")
            + f": also deleted {plural(len(digests), 'platform manifest')} of deleted "
            "indexes that nothing else uses\n"
        )
    return out


def interrupted_report(
    done: Sequence[tuple[str, Sequence[PruneResult]]],
    pending: Sequence[tuple[str, Sequence[PrunePlan]]],
    *,
    one_per_line: bool = False,
) -> list[str]:
    """What an interrupted prune did and did not do, one line each (references sorted).

    ``one_per_line``: a list of more than one reference is a heading line ("not deleted (58
    tags):") followed by a line per reference, indented by two spaces (a terminal's report)."""

    def listed(what: str, refs: list[str]) -> list[str]:
        if one_per_line and len(refs) > 1:
            return [f"{what}:", *(f"  {r}" for r in refs)]
        return [f"{what}: {', '.join(refs)}"]

    deleted = sorted(
        f"{reg}/{r.repository}:{t}" for reg, rs in done for r in rs for t in r.deleted_tags
    )
    left = [
        f"{reg}/{r.repository}:{o.tag}"
        for reg, rs in done
        for r in rs
        for o in r.outcomes
        if o.status in ("not-run", "failed")
    ]
    left += [f"{reg}/{p.repository}:{e.tag}" for reg, ps in pending for p in ps for e in p.removed]
    lines = listed(f"deleted {plural(len(deleted), 'tag')}", deleted) if deleted else []
    lines = lines or ["nothing was deleted"]
    if left:
        many = f" ({plural(len(left), 'tag')})" if one_per_line and len(left) > 1 else ""
        lines += listed(f"not deleted{many}", sorted(left))
    lines += [
        f"{reg}/{r.repository}:{t}: went with a DELETE of this prune and was not put back"
        for reg, rs in done
        for r in rs
        for t, _ in r.lost
    ]
    lines.append("the registry is consistent; run the same command again to finish")
    return [escape(line) for line in lines]


def deleted_references(registry: str, results: Sequence[PruneResult]) -> list[str]:
    return [f"{registry}/{r.repository}:{t}" for r in results for t in r.deleted_tags]


def repositories_json(plans: Sequence[Any], results: Sequence[Any] | None) -> list[Any]:
    """Each plan's JSON beside its result's (None where it has none), in plan order: the
    ``repositories`` of a prune document, on distribution and on GHCR alike."""
    by_repo = {r.repository: r for r in results or ()}
    return [
        {
            "plan": p.to_json(),
            "result": by_repo[p.repository].to_json() if p.repository in by_repo else None,
        }
        for p in plans
    ]


def to_json(
    registry: str,
    plans: Sequence[PrunePlan],
    results: Sequence[PruneResult] | None,
    *,
    dry_run: bool,
) -> dict[str, Any]:
    return {
        "registry": registry,
        "dry_run": dry_run,
        "repositories": repositories_json(plans, results),
        "deleted": deleted_references(registry, results or ()),
        "reclaimable_bytes": sum(p.reclaimable_bytes for p in plans)
        if results is None
        else sum(r.reclaimable_bytes for r in results),
    }


def render_json(documents: Sequence[dict[str, Any]]) -> str:
    data: Any = documents[0] if len(documents) == 1 else documents
    return json.dumps(data, indent=2) + "\n"


def markdown(
    registry: str, plan: PrunePlan, result: PruneResult | None, words: Namer = cli_words
) -> tuple[str, list[Any]]:
    """(heading, table rows) of one repository for the job summary (escaped by the caller);
    reasons in ``words``.

    An image's first row says in RESULT what went with it (``deleted; removed with it: 1
    signature, 1 SBOM``) or, in a dry run, what would (``would go with it: ...``)."""
    status = {o.tag: o.status for o in result.outcomes} if result else {}
    went = set(getattr(result, "deleted_referrers", ()))
    groups, _ = referrer_groups(plan)
    table_rows: list[Any] = []
    for e, referrer in with_referrers(plan):
        if referrer:
            done = "deleted" if e.digest in went else ""
        else:
            done = status.get(e.tag, "")
            mine = groups.pop(e.digest, [])
            counts = going_with(plan, mine, went if result is not None else None)
            if any(counts.values()):
                with_it = "removed with it: " if result is not None else "would go with it: "
                done = "; ".join(x for x in (done, with_it + describe_kinds(counts)) if x)
        table_rows.append(
            (
                (REFERRER_INDENT if referrer else "") + tag_cell(e),
                short_digest(e.digest),
                "-" if referrer else created_cell(e),
                e.action,
                done,
                escape(say(e.reason, words)),
            )
        )
    return escape(f"{registry}/{plan.repository}"), table_rows


__all__ = [
    "GC_GUIDANCE",
    "GC_NOTE",
    "HEADERS",
    "ZONELESS_NOTE",
    "counts_line",
    "deleted_references",
    "format_bytes",
    "interrupted_report",
    "markdown",
    "render_json",
    "render_plan",
    "render_plans",
    "render_result",
    "render_results",
    "repositories_json",
    "to_json",
]
