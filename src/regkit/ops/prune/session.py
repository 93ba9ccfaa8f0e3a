"""The prune loop, written once for every registry kind: plan every target, ask, carry out,
gather the outcome.

``regkit prune``, the prune-tags action, ``regkit.api.prune`` and ``regkit.api.prune_ghcr``
differ only in how they show plans and results, and in whether they ask before deleting; they
all call ``prune_targets``::

    with Connections(options) as clients:
        run = prune_targets(targets(["registry.example.com/team/api"]), policy, clients,
                            confirm=ask, on_plans=show_plan, on_result=show_result)
    run.complete, run.deleted, run.documents()

What differs per registry kind (distribution, GHCR) is its backend
(``regkit.ops.prune.backend``), chosen from each target's host: no caller asks which kind a
registry is. Every target is planned before anything is deleted (one question for all of them),
then each registry's plans are carried out in turn by its backend (distribution:
``regkit.ops.audit.execute_recorded``, audit lines, platform manifests of deleted indexes).
Within one registry, the distribution backend reads its repositories side by side
(``regkit.ops.prune.fetch.fetch_repositories``) and carries several repositories out at once
(``regkit.ops.prune.execute.execute_plans``), all within the client's ``jobs``; plans and
results still come in repository order.
Ctrl-C while deleting raises ``PruneRunInterrupted``, which knows what was done and what was
not; a backend that stops the run itself (GHCR: a refusal for want of permission, Ctrl-C)
leaves ``PruneRun.error``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from regkit import imagemeta
from regkit.errors import Param, Phrase
from regkit.ops import Connections, connect
from regkit.ops.check import CheckReport
from regkit.ops.prune import render
from regkit.ops.prune.backend import PruneBackend, PruneOptions, Work, backend_for
from regkit.ops.prune.execute import PruneInterrupted, PruneResult
from regkit.ops.prune.plan import PrunePlan, PrunePolicy
from regkit.ops.prune.run import Target
from regkit.registry import RegistryClient

if TYPE_CHECKING:
    from regkit.ops import ConnectOptions
    from regkit.ops.gc import ThenResult

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


def _distribution() -> PruneBackend:
    from regkit.ops.prune.distribution import BACKEND

    return BACKEND


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
    """One registry's plans and, once carried out, its results: its backend's own
    (``backend.tag_plan``/``tag_result`` show them as tag plans and tag outcomes)."""

    registry: str
    plans: tuple[Any, ...]
    results: tuple[Any, ...] | None = None  # None: not carried out
    #: repository -> platform manifests of deleted indexes, deleted after them
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    records: int = 0  # audit lines written
    backend: PruneBackend = field(default_factory=_distribution)

    @property
    def tag_plans(self) -> tuple[PrunePlan, ...]:
        return tuple(self.backend.tag_plan(p) for p in self.plans)

    @property
    def tag_results(self) -> tuple[PruneResult, ...] | None:
        if self.results is None:
            return None
        return tuple(self.backend.tag_result(r) for r in self.results)

    @property
    def doomed(self) -> int:
        """Tags the plans remove."""
        return sum(len(p.removed) for p in self.tag_plans)

    @property
    def work(self) -> int:
        """Deletions the plans make (tags; on GHCR package versions and tags)."""
        return self.backend.work(self.plans)

    @property
    def complete(self) -> bool:
        return self.results is None or all(r.complete for r in self.results)

    @property
    def deleted(self) -> list[str]:
        """``host/repo:tag`` of every tag that went."""
        return render.deleted_references(self.registry, self.tag_results or ())

    @property
    def lost(self) -> list[str]:
        """``host/repo:tag`` of tags that went with a DELETE and could not be put back."""
        results = self.tag_results or ()
        return [f"{self.registry}/{r.repository}:{t}" for r in results for t, _ in r.lost]

    @property
    def pruned(self) -> tuple[PrunedTag, ...]:
        """The tags removed (planned for removal while not carried out), with their labels."""
        return pruned_tags(self.registry, self.tag_plans, self.tag_results)

    def plans_text(self) -> str:
        """The plans as the CLI prints them (its table)."""
        return self.backend.render_plans(self.registry, self.plans)

    def results_text(self) -> str:
        """The results as the CLI prints them (its result lines)."""
        return self.backend.render_results(self.registry, self.results or (), self.children)

    def text(self) -> str:
        """Plans and results as the CLI prints them (its table, its result lines)."""
        return self.plans_text() + self.results_text()

    def result_of(self, plan: Any) -> Any | None:
        return next((r for r in self.results or () if r.repository == plan.repository), None)

    def document(self, *, dry_run: bool) -> dict[str, Any]:
        """The ``prune -o json`` document of this registry."""
        return self.backend.document(self, dry_run=dry_run)


@dataclass(frozen=True, slots=True)
class PruneRun:
    """What a prune planned and did, every registry in target order."""

    registries: tuple[RegistryPrune, ...]
    dry_run: bool
    carried_out: bool  # False: a dry run, nothing to delete, or the question answered no
    declined: bool = False  # the question was answered no
    error: str = ""  # a backend stopped the run (GHCR: a refusal, Ctrl-C); later ones not run
    interrupted: bool = False  # that stop was Ctrl-C

    @property
    def doomed(self) -> int:
        return sum(r.doomed for r in self.registries)

    @property
    def work(self) -> int:
        """Deletions the plans make, every registry."""
        return sum(r.work for r in self.registries)

    def question(self) -> str:
        """The one question before deleting, in each backend's words."""
        phrases: dict[str, int] = {}
        backends: dict[str, PruneBackend] = {}
        for r in self.registries:
            phrases[r.backend.name] = phrases.get(r.backend.name, 0) + r.work
            backends[r.backend.name] = r.backend
        asks = [backends[n].question(w) for n, w in phrases.items() if w]
        if len(asks) == 1:
            return asks[0]
        return "Delete " + " and ".join(a.removeprefix("Delete ").rstrip("?") for a in asks) + "?"

    @property
    def unfinished(self) -> str:
        """What an unfinished prune left, in the words of the registries' backends."""
        return "; ".join(dict.fromkeys(r.backend.unfinished for r in self.registries))

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

    @property
    def pruned(self) -> list[tuple[str, list[str]]]:
        """(registry, its repositories planned), every registry: what ``then_and_check``
        checks after the prune."""
        return [(r.registry, [p.repository for p in r.plans]) for r in self.registries]

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


def check_targets(goals: Sequence[Target], options: PruneOptions) -> None:
    """Each target's backend refuses what its kind cannot do (``--delete-untagged`` off GHCR,
    ``--then`` on it): a ``UsageError`` before anything is planned."""
    for goal in goals:
        backend_for(goal.registry).refuse(goal, options)


class BackendConnections(Connections):
    """``regkit.ops.Connections`` whose options for each host come from its backend, given the
    run's GitHub ``token`` (GHCR: the token as the registry password when there is no login of
    its own); ``on_secret`` sees each secret that adds (to mask), before the host is used."""

    def __init__(
        self,
        options: ConnectOptions,
        token: str | None = None,
        on_secret: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(options)
        self.token, self.on_secret = token, on_secret

    def __call__(self, host: str) -> RegistryClient:
        if host not in self._clients:
            options, secrets = backend_for(host).login(self.options, host, self.token)
            for secret in secrets:
                if self.on_secret is not None:
                    self.on_secret(secret)
            self._clients[host] = connect(host, options)
        return self._clients[host]


def prune_targets(
    goals: Sequence[Target],
    policy: PrunePolicy,
    client_for: Callable[[str], RegistryClient],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    confirm: Callable[[str], bool] | None = None,
    record: str | None = None,
    protect_dir: str | None = None,
    warn: Callable[[str], None] | None = None,
    on_plans: Callable[[RegistryPrune], None] | None = None,
    on_result: Callable[[RegistryPrune], None] | None = None,
    progress: ProgressFactory = _no_progress,
    options: PruneOptions | None = None,
) -> PruneRun:
    """Plan ``goals`` (``client_for(host)``: the caller's open client for a registry, e.g.
    ``regkit.ops.Connections``), each with the backend of its host, then, unless ``dry_run``,
    nothing is to be done or ``confirm(question)`` says no, carry the plans out.

    ``on_plans`` sees each registry's plans as they are made, ``on_result`` its results as they
    land. ``record``: the audit file (``regkit.ops.audit``). ``options``: what the prune asks
    beyond the policy (``record`` and ``protect_dir`` override theirs). Raises
    ``PruneRunInterrupted`` on Ctrl-C while deleting on distribution (``PruneAbandoned`` on a
    second one); a backend that stops the run itself leaves ``PruneRun.error``."""
    from regkit.ops.audit import check_record_path

    options = replace(options or PruneOptions(), protect_dir=protect_dir, record=record)
    check_targets(goals, options)
    if record is not None:  # a wrong path is refused before the first request, dry run too
        check_record_path(record)
    when = now or datetime.now(UTC)
    planned: list[tuple[Work, RegistryPrune]] = []
    with contextlib.ExitStack() as stack:
        for goal in goals:
            backend = backend_for(goal.registry)
            client = client_for(goal.registry)
            state = stack.enter_context(backend.open(client, options))
            work = Work(client, state, options, warn)
            with progress(f"reading {goal.registry}") as tick:
                plans = backend.plan(replace(work, tick=tick), goal, policy, when)
            planned.append((work, RegistryPrune(goal.registry, plans, backend=backend)))
            if on_plans is not None:
                on_plans(planned[-1][1])
        run = PruneRun(tuple(p for _, p in planned), dry_run=dry_run, carried_out=False)
        if dry_run or run.work == 0:
            return run
        if confirm is not None and not confirm(run.question()):
            return replace(run, declined=True)
        return _carry_out(planned, on_result, progress)


def _carry_out(
    planned: Sequence[tuple[Work, RegistryPrune]],
    on_result: Callable[[RegistryPrune], None] | None,
    progress: ProgressFactory,
) -> PruneRun:
    finished: list[RegistryPrune] = []
    for at, (work, planned_here) in enumerate(planned):
        backend = planned_here.backend
        try:
            with progress(f"pruning {planned_here.registry}") as tick:
                done = backend.execute(replace(work, tick=tick), planned_here.plans)
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
        if done.error:  # the backend stopped the run: the registries after it are not touched
            return PruneRun(
                tuple(finished),
                dry_run=False,
                carried_out=True,
                error=done.error,
                interrupted=done.interrupted,
            )
    return PruneRun(tuple(finished), dry_run=False, carried_out=True)


@dataclass(frozen=True, slots=True)
class AfterPrune:
    """What followed a prune: the ``--then`` command, then a check per registry of every image
    that stayed in the pruned repositories (in ``PruneRun.registries`` order)."""

    then: ThenResult
    checks: tuple[CheckReport, ...]

    def then_json(self) -> dict[str, Any]:
        return {
            "command": list(self.then.command),
            "exit_code": self.then.exit_code,
            "storage_shrunk_bytes": self.then.shrunk_bytes,
        }

    def problems(self) -> list[str]:
        """What went wrong, a phrase each (empty: the command succeeded, nothing broken)."""
        out: list[str] = []
        if not self.then.ok:
            out.append(Phrase(("the ", Param("then"), f" command exited {self.then.exit_code}")))
        for report in self.checks:
            if report.broken:
                out.append(f"check found {render.plural(len(report.broken), 'broken image')}")
            if report.orphaned_referrers:
                orphans = render.plural(len(report.orphaned_referrers), "orphaned referrer")
                out.append(f"check found {orphans} (their image is gone)")
        return out


def then_and_check(
    argv: Sequence[str],
    pruned: Sequence[tuple[str, Sequence[str]]],
    client_for: Callable[[str], RegistryClient],
    *,
    storage: str | None = None,
    storage_before: int | None = None,
    echo: Callable[[str], None] | None = None,
    checking: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> AfterPrune:
    """Run ``argv`` (the registry's garbage-collect; its output line by line to ``echo``;
    ``storage`` measured after it, against ``storage_before``), then check every image that
    stayed in the repositories pruned (``(registry, repositories)``, e.g. ``PruneRun.pruned``), on
    each registry's own connection.
    ``checking(label)``: a progress display per registry (with ``stage`` and ``advance``)."""
    from regkit.errors import NotFoundError
    from regkit.ops.check import check_repositories
    from regkit.ops.gc import run_then

    result = run_then(
        tuple(argv),
        echo=echo or (lambda _line: None),
        storage=storage,
        storage_before=storage_before,
    )
    checks = []
    for registry, repositories in pruned:
        client = client_for(registry)  # the prune's own connection
        repos = []
        for repo in repositories:
            try:
                client.tags(repo)
            except NotFoundError:
                continue  # every tag went: nothing stayed to check
            repos.append(repo)
        if not repos:
            checks.append(CheckReport(registry, (), None, ()))
            continue
        with checking(f"checking {registry}") if checking else _no_display() as shown:
            on_stage = shown.stage if shown is not None else None
            tick = shown.advance if shown is not None else None
            checks.append(check_repositories(client, repos, on_stage=on_stage, tick=tick))
    return AfterPrune(result, tuple(checks))


def _no_display() -> AbstractContextManager[Any]:
    return contextlib.nullcontext(None)


__all__ = [
    "SNAPSHOT_LABELS",
    "AfterPrune",
    "BackendConnections",
    "PruneRun",
    "PruneRunInterrupted",
    "PrunedTag",
    "RegistryPrune",
    "check_targets",
    "prune_targets",
    "pruned_tags",
    "then_and_check",
]
