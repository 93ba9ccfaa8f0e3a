"""The prune loop, written once: plan every target, ask, carry out, gather the outcome.

``regkit prune``, the prune-tags action and ``regkit.api.prune`` differ only in how they show
plans and results, and in whether they ask before deleting; they all call ``prune_targets``::

    with Connections(options) as clients:
        run = prune_targets(targets(["registry.example.com/team/api"]), policy, clients,
                            confirm=ask, on_plans=show_plan, on_result=show_result)
    run.complete, run.deleted, run.documents()

Every target is planned before anything is deleted (one question for all of them), then each
registry's plans are carried out in turn with ``regkit.ops.audit.execute_recorded`` (audit lines,
platform manifests of deleted indexes). Ctrl-C while deleting raises ``PruneRunInterrupted``,
which knows what was done and what was not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from regkit import imagemeta
from regkit.ops.prune import render
from regkit.ops.prune.execute import PruneInterrupted, PruneResult
from regkit.ops.prune.plan import PrunePlan, PrunePolicy
from regkit.ops.prune.run import Target, plan_target
from regkit.registry import RegistryClient

#: A progress display for one stage ("reading HOST", "pruning HOST"): a context manager whose
#: value is called once per unit of work.
ProgressFactory = Callable[[str], AbstractContextManager[Callable[[], None]]]


#: ``PrunedTag`` field -> the OCI label it shows
SNAPSHOT_LABELS = {
    "description": imagemeta.DESCRIPTION_LABEL,
    "revision": imagemeta.REVISION_LABEL,
    "created": imagemeta.CREATED_LABEL,
    "source": imagemeta.SOURCE_LABEL,
}


@dataclass(frozen=True, slots=True)
class PrunedTag:
    """A tag a prune removed (or, on a dry run, would remove) and what its image was: the OCI
    labels read while planning (``org.opencontainers.image.*``; config labels, else the
    manifest's annotations). ``created`` is the label, else the image's created time."""

    reference: str  # HOST/REPO:TAG
    repository: str
    tag: str
    digest: str  # "" for a tag whose manifest was already gone
    action: str  # delete-manifest or untag
    description: str | None
    revision: str | None
    created: str | None
    source: str | None
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest or None,
            "action": self.action,
            "description": self.description,
            "revision": self.revision,
            "created": self.created,
            "source": self.source,
            "labels": dict(self.labels),
        }


def pruned_tags(
    registry: str, plans: Sequence[PrunePlan], results: Sequence[PruneResult] | None
) -> tuple[PrunedTag, ...]:
    """The tags removed, in plan order: with ``results``, those whose outcome is ``deleted``;
    without (a dry run, or not carried out), those the plans remove."""
    done = None if results is None else {r.repository: set(r.deleted_tags) for r in results}
    out = []
    for plan in plans:
        for entry in plan.removed:
            if done is not None and entry.tag not in done.get(plan.repository, set()):
                continue
            labels = dict(plan.labels.get(entry.digest, {})) if entry.digest else {}
            created = labels.get(SNAPSHOT_LABELS["created"])
            if created is None and entry.created is not None:
                created = entry.created.when.strftime("%Y-%m-%dT%H:%M:%SZ")
            out.append(
                PrunedTag(
                    reference=f"{registry}/{plan.repository}:{entry.tag}",
                    repository=plan.repository,
                    tag=entry.tag,
                    digest=entry.digest,
                    action=entry.action,
                    description=labels.get(SNAPSHOT_LABELS["description"]),
                    revision=labels.get(SNAPSHOT_LABELS["revision"]),
                    created=created,
                    source=labels.get(SNAPSHOT_LABELS["source"]),
                    labels=labels,
                )
            )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class RegistryPrune:
    """One registry's plans and, once carried out, its results."""

    registry: str
    plans: tuple[PrunePlan, ...]
    results: tuple[PruneResult, ...] | None = None  # None: not carried out
    #: repository -> platform manifests of deleted indexes, deleted after them
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    records: int = 0  # audit lines written

    @property
    def doomed(self) -> int:
        """Tags the plans remove."""
        return sum(len(p.removed) for p in self.plans)

    @property
    def complete(self) -> bool:
        return self.results is None or all(r.complete for r in self.results)

    @property
    def deleted(self) -> list[str]:
        """``host/repo:tag`` of every tag that went."""
        return render.deleted_references(self.registry, self.results or ())

    @property
    def lost(self) -> list[str]:
        """``host/repo:tag`` of tags that went with a DELETE and could not be put back."""
        results = self.results or ()
        return [f"{self.registry}/{r.repository}:{t}" for r in results for t, _ in r.lost]

    @property
    def pruned(self) -> tuple[PrunedTag, ...]:
        """The tags removed (planned for removal while not carried out), with their labels."""
        return pruned_tags(self.registry, self.plans, self.results)

    def text(self) -> str:
        """Plans and results as the CLI prints them (its table, its result lines)."""
        return render.render_plans(self.registry, self.plans) + render.render_results(
            self.registry, self.results or (), self.children
        )

    def result_of(self, plan: PrunePlan) -> PruneResult | None:
        return next((r for r in self.results or () if r.repository == plan.repository), None)

    def document(self, *, dry_run: bool) -> dict[str, Any]:
        """The ``prune -o json`` document of this registry."""
        doc = render.to_json(self.registry, self.plans, self.results, dry_run=dry_run)
        if self.results is not None:
            doc["deleted_platform_manifests"] = {r: list(ds) for r, ds in self.children.items()}
        return doc


@dataclass(frozen=True, slots=True)
class PruneRun:
    """What a prune planned and did, every registry in target order."""

    registries: tuple[RegistryPrune, ...]
    dry_run: bool
    carried_out: bool  # False: a dry run, nothing to delete, or the question answered no
    declined: bool = False  # the question was answered no

    @property
    def doomed(self) -> int:
        return sum(r.doomed for r in self.registries)

    @property
    def complete(self) -> bool:
        return all(r.complete for r in self.registries)

    @property
    def deleted(self) -> list[str]:
        return [ref for r in self.registries for ref in r.deleted]

    @property
    def lost(self) -> list[str]:
        return [ref for r in self.registries for ref in r.lost]

    @property
    def records(self) -> int:
        return sum(r.records for r in self.registries)

    def documents(self) -> list[dict[str, Any]]:
        return [r.document(dry_run=self.dry_run) for r in self.registries]


class PruneRunInterrupted(KeyboardInterrupt):
    """Ctrl-C while deleting: ``done`` the registries finished or touched (the interrupted one
    with the results of its deletions in flight), ``pending`` the plans never started."""

    def __init__(
        self, done: Sequence[RegistryPrune], pending: Sequence[tuple[str, Sequence[PrunePlan]]]
    ) -> None:
        super().__init__("interrupted")
        self.done = tuple(done)
        self.pending = tuple((registry, tuple(plans)) for registry, plans in pending)

    @property
    def interrupted(self) -> RegistryPrune:
        """The registry the deletions stopped in."""
        return self.done[-1]

    def report(self) -> list[str]:
        """One line each: what went, what did not, and how to finish (escaped)."""
        touched = [(r.registry, r.results or ()) for r in self.done]
        return render.interrupted_report(touched, self.pending)

    def documents(self) -> list[dict[str, Any]]:
        """The ``-o json`` documents: what was done, then what was not started."""
        out = [r.document(dry_run=False) for r in self.done]  # every plan, results so far
        started = {r.registry for r in self.done}
        out += [
            RegistryPrune(reg, plans).document(dry_run=False)
            for reg, plans in self.pending
            if reg not in started
        ]
        return out


def _no_progress(_label: str) -> AbstractContextManager[Callable[[], None]]:
    return contextlib.nullcontext(lambda: None)


def prune_targets(
    goals: Sequence[Target],
    policy: PrunePolicy,
    client_for: Callable[[str], RegistryClient],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    confirm: Callable[[int], bool] | None = None,
    record: str | None = None,
    protect_dir: str | None = None,
    warn: Callable[[str], None] | None = None,
    on_plans: Callable[[RegistryPrune], None] | None = None,
    on_result: Callable[[RegistryPrune], None] | None = None,
    progress: ProgressFactory = _no_progress,
) -> PruneRun:
    """Plan ``goals`` (``client_for(host)``: the caller's open client for a registry, e.g.
    ``regkit.ops.Connections``), then, unless ``dry_run``, nothing is doomed or
    ``confirm(doomed_tags)`` says no, carry the plans out.

    ``on_plans`` sees each registry's plans as they are made, ``on_result`` its results as they
    land. ``record``: the audit file (``regkit.ops.audit``). Raises ``PruneRunInterrupted`` on
    Ctrl-C while deleting (``PruneAbandoned`` on a second one)."""
    from regkit.ops.audit import check_record_path, execute_recorded

    if record is not None and not dry_run:
        check_record_path(record)  # a wrong path is refused before the first request
    when = now or datetime.now(UTC)
    planned: list[tuple[RegistryClient, RegistryPrune]] = []
    for goal in goals:
        client = client_for(goal.registry)
        with progress(f"reading {goal.registry}") as tick:
            plans = plan_target(client, goal, policy, when, tick=tick, protect_dir=protect_dir)
        planned.append((client, RegistryPrune(goal.registry, tuple(plans))))
        if on_plans is not None:
            on_plans(planned[-1][1])
    run = PruneRun(tuple(p for _, p in planned), dry_run=dry_run, carried_out=False)
    if dry_run or run.doomed == 0:
        return run
    if confirm is not None and not confirm(run.doomed):
        return replace(run, declined=True)
    finished: list[RegistryPrune] = []
    for at, (client, planned_here) in enumerate(planned):
        try:
            with progress(f"pruning {planned_here.registry}") as tick:
                done = execute_recorded(
                    client, planned_here.plans, record=record, warn=warn, tick=tick
                )
        except PruneInterrupted as stop:
            touched = replace(planned_here, results=stop.results)
            pending = [(planned_here.registry, stop.pending)]
            pending += [(p.registry, p.plans) for _, p in planned[at + 1 :]]
            raise PruneRunInterrupted([*finished, touched], pending) from None
        finished.append(
            replace(
                planned_here,
                results=done.results,
                children=done.children,
                records=done.records,
            )
        )
        if on_result is not None:
            on_result(finished[-1])
    return PruneRun(tuple(finished), dry_run=False, carried_out=True)


__all__ = [
    "SNAPSHOT_LABELS",
    "PruneRun",
    "PruneRunInterrupted",
    "PrunedTag",
    "RegistryPrune",
    "prune_targets",
    "pruned_tags",
]
