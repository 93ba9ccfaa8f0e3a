"""Carrying out a prune plan without losing a tag that should stay.

Each step is one request the registry applies atomically (a DELETE, a PUT), so a prune that
stops half-way (the registry died, the runner was cancelled) leaves a consistent registry and
a rerun plans the rest. The one two-step operation, the throw-away path, leaves at worst a tag
pointing at a throw-away manifest; the next plan recognises it and deletes it.

Removing one tag is ``RegistryClient.delete_tag`` (DELETE by tag on ``registry:3``, the
throw-away manifest on distribution 2.8, learned per client).

Other writers are expected. Before the deletes, the tags are listed and resolved once: a staying
tag that moved onto a manifest planned for deletion turns that deletion into tag removals, and a
doomed tag that moved is skipped with a warning. Just before each manifest DELETE, the tags are
listed again and the doomed tags resolved again (in one concurrent round with reading the
manifest's bytes); a tag new since then that points at the manifest turns it into tag removals.
After each DELETE the tags are listed once more: a staying tag that vanished with it (pointed
there meanwhile, e.g. a rollback) is put back from the manifest's bytes
(``regkit.ops.delete.delete_keeping``) and the result says so.

Tag-first (registry:3, many DELETEs by digest): a DELETE by digest makes distribution read the
link of every tag of the repository to untag those on it, while a DELETE by tag removes one tag
in constant time. With ``TAG_FIRST_FROM`` or more DELETEs by digest planned, each doomed tag is
checked and removed by name first (all of them, before any manifest DELETE), so the
manifest DELETEs that follow scan only the tags that stay; each manifest DELETE is guarded as
above. A unit whose tags went by name always gets its manifest DELETE, even after Ctrl-C (it
is the deletion in flight), so no untagged manifest is left behind.

The platform manifests (and attestations) of a deleted index that nothing else in the plan
uses are deleted by the same worker right after their index, side by side, guarded the same
way. Their windows open (unarmed: ``Windows``) once the index's DELETE returned and before the
listing after it, so that one listing is the index's "after" and their "before"; one more
listing after them serves them all. Those another image also lists are left to
``regkit.ops.prune.children``, which runs after the whole plan as before.

Ctrl-C: no new deletion starts, the ones in flight finish (and are checked), then
``PruneInterrupted`` carries what was and was not done; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal

from regkit.errors import (
    AuthenticationError,
    ConnectionFailedError,
    NotFoundError,
    RegkitError,
    TLSError,
    UnsupportedError,
)
from regkit.ops.delete import (
    Deletion,
    Lister,
    Windows,
    delete_all_keeping,
    delete_keeping,
    delete_listed_keeping,
    get_manifest_or_none,
)
from regkit.ops.prune.plan import UNTAG, Action, PrunePlan, TagPlan, reclaimable_bytes
from regkit.registry import Manifest, RegistryClient
from regkit.registry.throwaway import throwaway_image

Status = Literal["deleted", "gone", "skipped", "failed", "not-run"]
Hook = Callable[[str], None]

#: Manifest DELETEs by digest planned (indexes and the platform manifests deleted with them)
#: from which the doomed tags are removed by name first, where the registry deletes tags by
#: name. Measured on registry:3 (benchmarks, issue 24): a DELETE by digest costs the server
#: about 2.4 ms + 0.024 ms per tag in the repository (26.6 ms at 1,000 tags), a DELETE by tag
#: 2.7 ms. Every doomed tag still there is scanned by every DELETE by digest (on average half
#: of them), so one more request per doomed tag (~4 ms with the proxy's auth) pays from about
#: 2 x 4 / 0.024 = 333 DELETEs by digest, whatever the number of doomed tags.
TAG_FIRST_FROM = 400

# kept for callers of the old names
throwaway_manifest = throwaway_image


def remove_tag(
    client: RegistryClient,
    repository: str,
    tag: str,
    *,
    on_delete: Hook | None = None,
    guard: Callable[[Manifest], object] | None = None,
) -> str:
    """Remove ``tag`` alone (``RegistryClient.delete_tag``); its manifest and every other tag
    stay. A tag already gone counts as removed. Returns the way it went."""
    try:
        how = client.delete_tag(repository, tag, delete_digest=guard)
    except NotFoundError:
        how = "gone already"
    if on_delete is not None:
        on_delete(f"{repository}:{tag}")
    return how


# -- executing a plan ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    tag: str
    digest: str
    action: Action
    status: Status
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "digest": self.digest,
            "action": self.action,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class PruneResult:
    repository: str
    outcomes: tuple[Outcome, ...]
    deleted_manifests: tuple[str, ...]
    reclaimable_bytes: int
    warnings: tuple[str, ...] = field(default_factory=tuple)
    restored: tuple[tuple[str, str], ...] = ()  # (tag, digest): went with a DELETE, put back
    lost: tuple[tuple[str, str], ...] = ()  # (tag, digest): went with a DELETE, not put back
    put_back_manifests: tuple[str, ...] = ()  # deleted, then written again for a restored tag
    #: platform manifests (and attestations) of deleted indexes, deleted right after them
    deleted_children: tuple[str, ...] = ()

    @property
    def deleted_tags(self) -> tuple[str, ...]:
        return tuple(o.tag for o in self.outcomes if o.status == "deleted")

    @property
    def complete(self) -> bool:
        """Nothing failed, was left undone or lost (skipped tags moved: not ours any more)."""
        return not self.lost and all(
            o.status in ("deleted", "gone", "skipped") for o in self.outcomes
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "complete": self.complete,
            "deleted_tags": list(self.deleted_tags),
            "deleted_manifests": list(self.deleted_manifests),
            "reclaimable_bytes": self.reclaimable_bytes,
            "outcomes": [o.to_json() for o in self.outcomes],
            "warnings": list(self.warnings),
            "restored": [{"tag": t, "digest": d} for t, d in self.restored],
            "put_back_manifests": list(self.put_back_manifests),
            "lost": [{"tag": t, "digest": d} for t, d in self.lost],
        }


class PruneInterrupted(KeyboardInterrupt):
    """Ctrl-C during the deletes: ``results`` of the repositories touched (the deletions in
    flight finished first), ``pending`` the plans not started."""

    def __init__(self, results: Sequence[PruneResult], pending: Sequence[PrunePlan]) -> None:
        super().__init__("interrupted")
        self.results = tuple(results)
        self.pending = tuple(pending)


class PruneAbandoned(KeyboardInterrupt):
    """A second Ctrl-C while the deletions in flight were finishing: stop at once."""


_FATAL = (ConnectionFailedError, AuthenticationError, TLSError)


@dataclass
class _Run:
    client: RegistryClient
    plan: PrunePlan
    warn: Callable[[str], None]
    on_delete: Hook
    tick: Callable[[], None]
    side: ThreadPoolExecutor
    abort: threading.Event = field(default_factory=threading.Event)
    abort_reason: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    warnings: list[str] = field(default_factory=list)
    deleted_manifests: list[str] = field(default_factory=list)
    restored: list[tuple[str, str]] = field(default_factory=list)
    lost: list[tuple[str, str]] = field(default_factory=list)
    put_back: list[str] = field(default_factory=list)
    listed: frozenset[str] = frozenset()
    doomed: frozenset[str] = frozenset()
    windows: Windows = field(default_factory=Windows)
    lister: Lister | None = None
    #: index digest -> its platform manifests no other image in the plan uses
    exclusive: dict[str, tuple[str, ...]] = field(default_factory=dict)
    deleted_children: list[str] = field(default_factory=list)
    by_name: bool | None = None  # tag-first: whether the registry deletes tags by name
    shared: _Shared | None = None  # what the repositories carried out together share
    started: bool = False  # a deletion began here

    def begin(self, in_flight: bool = False) -> bool:
        """A deletion begins, unless the run stopped (``in_flight``: it began already, its
        tags went by name); counted in flight until ``end``."""
        if self.abort.is_set() and not in_flight:
            return False
        with self.lock:
            self.started = True
        if self.shared is not None:
            with self.shared.lock:
                self.shared.flight += 1
        return True

    def end(self) -> None:
        if self.shared is not None:
            with self.shared.lock:
                self.shared.flight -= 1

    def warning(self, message: str) -> None:
        with self.lock:
            self.warnings.append(message)
        self.warn(message)

    def fatal(self, err: RegkitError) -> None:
        with self.lock:
            if not self.abort.is_set():
                self.abort_reason = err.message
                self.abort.set()

    def record(self, deletion: Deletion) -> None:
        with self.lock:
            if deletion.deleted and not deletion.restored:
                self.deleted_manifests.append(deletion.digest)
            elif deletion.deleted:
                self.put_back.append(deletion.digest)
            self.restored += [(t, deletion.digest) for t in deletion.restored]
            self.lost += [(t, deletion.digest) for t in deletion.lost]

    def guard(self, entry: TagPlan) -> Callable[[Manifest], Deletion]:
        """The throw-away path's DELETE for ``entry``, checked like any other; a tag copied
        from ``entry`` meanwhile goes back on the image ``entry`` named."""
        repo = self.plan.repository

        def named() -> Manifest | None:
            return get_manifest_or_none(self.client, repo, entry.digest) if entry.digest else None

        def delete(manifest: Manifest) -> Deletion:
            deletion = delete_listed_keeping(
                self.client,
                repo,
                manifest,
                self.doomed,
                warn=self.warning,
                windows=self.windows,
                stand_in=(entry.tag, named),
                lister=self.lister,
            )
            with self.lock:
                self.restored += [(t, entry.digest) for t in deletion.restored]
                self.lost += [(t, entry.digest) for t in deletion.lost]
            return deletion

        return delete


Unit = tuple[str, tuple[str, ...]]  # (digest to delete, or "" for tags removed alone; tags)


#: Repositories whose plans are carried out at once, per ``jobs`` of the client (at least 2;
#: 1 with ``--jobs 1``): their deletions share the client's ``jobs`` workers, so more
#: repositories at once only keep the workers busy between one repository's rounds.
REPOSITORIES_PER_JOBS = 4


def repositories_at_once(jobs: int, plans: int) -> int:
    """How many repositories' plans are carried out side by side."""
    if jobs <= 1:
        return 1
    return max(1, min(plans, max(2, jobs // REPOSITORIES_PER_JOBS)))


@dataclass
class _Shared:
    """What the repositories of one registry share while their plans are carried out: the
    workers (``jobs``) that run every repository's deletions, the side pool of the guards'
    listings and reads, and the Ctrl-C state."""

    workers: ThreadPoolExecutor
    side: ThreadPoolExecutor
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: bool = False  # no repository starts any more (Ctrl-C, or an error)
    runs: list[_Run] = field(default_factory=list)
    flight: int = 0  # deletions being carried out right now, every repository

    def interrupt(self, reason: str) -> int:
        """Ctrl-C: no repository starts, no deletion starts; the deletions in flight (their
        number is returned) finish."""
        with self.lock:
            self.stop = True
            runs = list(self.runs)
            flight = self.flight
        for run in runs:
            with run.lock:
                run.abort_reason = reason
                run.abort.set()
        return flight


def execute_plan(
    client: RegistryClient,
    plan: PrunePlan,
    *,
    warn: Callable[[str], None] | None = None,
    on_delete: Hook | None = None,
    tick: Callable[[], None] | None = None,
) -> PruneResult:
    """Carry out ``plan`` (concurrently, bounded by the client's jobs).

    Ctrl-C (KeyboardInterrupt in the calling thread) starts nothing new, waits for the
    deletions in flight, and raises ``PruneInterrupted`` with the result so far; a second
    Ctrl-C while waiting raises ``PruneAbandoned``.
    """
    try:
        (result,) = execute_plans(client, [plan], warn=warn, on_delete=on_delete, tick=tick)
    except PruneInterrupted as stop:
        raise PruneInterrupted(stop.results, ()) from None
    return result


def execute_plans(
    client: RegistryClient,
    plans: Sequence[PrunePlan],
    *,
    warn: Callable[[str], None] | None = None,
    on_delete: Hook | None = None,
    tick: Callable[[], None] | None = None,
    before: Callable[[PrunePlan], object] | None = None,
    after: Callable[[PrunePlan, PruneResult], object] | None = None,
    done: Callable[[PrunePlan, PruneResult], object] | None = None,
) -> list[PruneResult]:
    """Carry out ``plans`` (repositories of one registry), several repositories side by side
    (``repositories_at_once``); every repository's deletions run on the same ``jobs``
    workers, each guarded as in ``execute_plan``. Results in plan order.

    In a repository's own turn: ``before(plan)`` before its first deletion (the audit's labels),
    ``after(plan, result)`` once its plan is carried out (not after Ctrl-C stopped it). On the
    calling thread, in plan order: ``done(plan, result)`` for each result (the audit lines).

    Ctrl-C (KeyboardInterrupt in the calling thread): no repository and no deletion starts
    any more, the deletions in flight finish, then ``PruneInterrupted`` with the results of the
    repositories touched and the plans not started; a second Ctrl-C raises ``PruneAbandoned``.
    Another error in a repository starts no further repository; it is raised once the others
    in flight have finished (their ``done`` called)."""
    say = warn or (lambda _m: None)
    if not plans:
        return []
    shared = _Shared(
        ThreadPoolExecutor(client.jobs, thread_name_prefix="regkit-prune"),
        ThreadPoolExecutor(max(2, client.jobs), thread_name_prefix="regkit-check"),
    )
    drivers = ThreadPoolExecutor(
        repositories_at_once(client.jobs, len(plans)), thread_name_prefix="regkit-repo"
    )
    hook, ticks = on_delete or (lambda _r: None), tick or (lambda: None)

    def drive(plan: PrunePlan) -> PruneResult | None:
        """One repository's turn; None: not started (stopped before it)."""
        try:
            return turn(plan)
        except BaseException:
            with shared.lock:
                shared.stop = True  # an error: no further repository starts
            raise

    def turn(plan: PrunePlan) -> PruneResult | None:
        if shared.stop:
            return None
        if not plan.removed:
            result = PruneResult(plan.repository, (), (), 0)
        else:
            if before is not None:
                before(plan)
            run = _Run(client, plan, say, hook, ticks, shared.side, shared=shared)
            run.doomed = frozenset(e.tag for e in plan.removed)
            run.lister = Lister(client, plan.repository)
            with shared.lock:
                if shared.stop:
                    return None
                shared.runs.append(run)
            result = _execute(run, shared.workers)
            if run.abort_reason == INTERRUPTED:
                return result if run.started else None  # None: nothing was done here
        if after is not None:
            after(plan, result)
        return result

    futures = [drivers.submit(drive, plan) for plan in plans]
    interrupted = False
    try:
        try:
            wait(futures)
        except KeyboardInterrupt:
            interrupted = True
            flight = shared.interrupt(INTERRUPTED)
            if flight:
                say(
                    f"interrupted: finishing the {flight} deletion(s) in flight, starting no "
                    "more (Ctrl-C again to stop at once)"
                )
            try:
                wait(futures)
            except KeyboardInterrupt:
                raise PruneAbandoned("interrupted twice") from None
        results: list[PruneResult | None] = []
        error: BaseException | None = None
        for f in futures:
            found = f.exception()
            if found is not None:
                error = error or found
                results.append(None)
            else:
                results.append(f.result())
        for plan, result in zip(plans, results, strict=True):
            if result is not None and done is not None:
                done(plan, result)
        if interrupted:
            touched = [r for r in results if r is not None]
            pending = [p for p, r in zip(plans, results, strict=True) if r is None]
            raise PruneInterrupted(touched, pending)
        if error is not None:
            raise error
        return [r for r in results if r is not None]
    finally:
        drivers.shutdown(wait=False, cancel_futures=True)
        shared.workers.shutdown(wait=False, cancel_futures=True)
        shared.side.shutdown(wait=False, cancel_futures=True)


INTERRUPTED = "interrupted (Ctrl-C)"


def _execute(run: _Run, workers: ThreadPoolExecutor) -> PruneResult:
    client, plan, repo = run.client, run.plan, run.plan.repository
    removed = plan.removed
    delete_digests = set(plan.delete_digests)

    # A tag that stays (or was pushed since planning) and now points at a manifest planned for
    # deletion: delete its doomed tags one by one instead, so the manifest stays.
    run.listed = frozenset(client.tags(repo))
    others = [t for t in sorted(run.listed) if t not in run.doomed]
    pointed: set[str] = set()
    # on the workers every repository shares (this thread is not one of them)
    for tag, desc in zip(
        others, workers.map(lambda t: client.resolve(repo, t), others), strict=True
    ):
        if desc is not None:
            pointed.add(desc.digest)
        if desc is not None and desc.digest in delete_digests:
            delete_digests.discard(desc.digest)
            run.warning(
                f"{repo}:{tag} now points at {desc.digest}, planned for deletion (a push since "
                "planning?); removing the old tags of that manifest one by one instead"
            )
    run.exclusive = _exclusive_children(plan, delete_digests, pointed)

    units: list[Unit] = [
        (d, tuple(e.tag for e in removed if e.digest == d)) for d in sorted(delete_digests)
    ]
    units += [("", (e.tag,)) for e in removed if e.digest not in delete_digests]
    by_tag = {e.tag: e for e in removed}
    untagged: dict[str, list[Status | None]] = {}  # digest -> tag-first checks (None: removed)
    failed: dict[str, str] = {}  # digest -> why tag-first stopped before removing any tag

    def do(unit: Unit) -> list[Outcome]:
        digest, tags = unit
        begun = False
        try:
            # a manifest whose tags went by name is deleted even after Ctrl-C (in flight)
            if digest in failed:
                return [_outcome(by_tag[t], "failed", failed[digest]) for t in tags]
            if not run.begin(digest in untagged):
                return [_outcome(by_tag[t], "not-run", run.abort_reason) for t in tags]
            begun = True
            if digest:
                return _delete_manifest(
                    run, digest, [by_tag[t] for t in tags], untagged.get(digest)
                )
            return [_untag(run, by_tag[tags[0]])]
        except (*_FATAL, UnsupportedError) as err:  # deletion disabled: nothing else works
            run.fatal(err)
            return [_outcome(by_tag[t], "failed", err.message) for t in tags]
        except RegkitError as err:
            return [_outcome(by_tag[t], "failed", err.message) for t in tags]
        finally:
            if begun:
                run.end()
            run.tick()

    def untag_first(unit: Unit) -> None:
        digest, tags = unit
        if not run.begin():
            return
        checks: list[Status | None] = []
        try:
            _untag_first(digest, tags, checks)
        finally:
            run.end()

    def _untag_first(digest: str, tags: tuple[str, ...], checks: list[Status | None]) -> None:
        try:
            if _untag_doomed(run, digest, [by_tag[t] for t in tags], checks) is None:
                return  # no DELETE by tag here: the manifest DELETE takes the tags
        except (*_FATAL, UnsupportedError) as err:
            run.fatal(err)
            if None not in checks:
                failed[digest] = err.message
                return
        except RegkitError:
            if None not in checks:
                return  # nothing removed: the manifest DELETE checks its tags again
        # tags not reached (an error) still name the manifest as far as we know: its DELETE
        # takes them, and the check after the run finishes any left
        untagged[digest] = checks + [None] * (len(tags) - len(checks))

    # Manifest deletes first, all at once (with tag-first, their doomed tags by name before
    # them). Then tag removals: concurrently where the registry deletes tags by name; one at a
    # time on the throw-away path (distribution 2.8), whose tag link writes can race the
    # registry's own tag lookup inside a concurrent manifest DELETE (which then fails after the
    # manifest went, leaving its tags dangling).
    digest_units = [u for u in units if u[0]]
    tag_units = [u for u in units if not u[0]]
    # Ctrl-C (``_Shared.interrupt``) sets ``run.abort``: the units not yet begun come back
    # not-run, those in flight finish (a manifest whose tags went by name is deleted too).
    if (
        len(digest_units) + sum(len(run.exclusive.get(u[0], ())) for u in digest_units)
        >= TAG_FIRST_FROM
        and client.tag_delete_supported is not False
    ):
        todo = list(digest_units)
        if client.tag_delete_supported is None:  # the first learns whether tags go by name
            workers.submit(untag_first, todo.pop(0)).result()
        if run.by_name is not False:
            for f in [workers.submit(untag_first, u) for u in todo]:
                f.result()
    futures = [workers.submit(do, u) for u in digest_units]
    groups = [f.result() for f in futures]
    if tag_units:
        groups.append(workers.submit(do, tag_units[0]).result())  # learns whether by name
        if client.tag_delete_supported:
            rest = [workers.submit(do, u) for u in tag_units[1:]]
            groups += [f.result() for f in rest]
        else:
            groups += [workers.submit(do, u).result() for u in tag_units[1:]]
    outcomes = [o for group in groups for o in group]
    if not run.abort.is_set():
        outcomes = _verify(run, outcomes)
    return _result(run, outcomes)


def _exclusive_children(
    plan: PrunePlan, delete_digests: set[str], pointed: set[str]
) -> dict[str, tuple[str, ...]]:
    """Index digest -> its platform manifests that no other image of the plan lists (tagged,
    protected, or planned for deletion too), that no tag of the plan names, and that no other
    tag pointed at just now (``pointed``): deleted right after their index."""
    users: dict[str, set[str]] = {}
    for digest, refs in plan.refs.items():
        for child in refs.children:
            users.setdefault(child, set()).add(digest)
    named = {e.digest for e in plan.entries} | set(plan.policy.protect_digests) | pointed
    out: dict[str, tuple[str, ...]] = {}
    for digest in delete_digests:
        found = plan.refs.get(digest)
        if found is None:
            continue
        mine = tuple(
            sorted(
                {c for c in found.children if users.get(c) == {digest} and c not in named}
                - delete_digests
            )
        )
        if mine:
            out[digest] = mine
    return out


def _result(run: _Run, outcomes: list[Outcome]) -> PruneResult:
    order = {e.tag: i for i, e in enumerate(run.plan.entries)}
    outcomes.sort(key=lambda o: order[o.tag])
    deleted = tuple(sorted(run.deleted_manifests))
    return PruneResult(
        repository=run.plan.repository,
        outcomes=tuple(outcomes),
        deleted_manifests=deleted,
        reclaimable_bytes=reclaimable_bytes(run.plan.refs, deleted),
        warnings=tuple(run.warnings),
        restored=tuple(sorted(run.restored)),
        lost=tuple(sorted(run.lost)),
        put_back_manifests=tuple(sorted(run.put_back)),
        deleted_children=tuple(sorted(run.deleted_children)),
    )


def _verify(run: _Run, outcomes: list[Outcome], passes: int = 2) -> list[Outcome]:
    """List the tags once more: a tag reported deleted but still listed is finished alone.

    Distribution can leave a tag behind when a manifest DELETE fails half-way inside the
    registry (the manifest went, its tag links did not: a 500, then a retried DELETE answers
    404). Such a tag still points at what we deleted, or at nothing; it is removed alone.
    """
    repo = run.plan.repository
    by_tag = {e.tag: e for e in run.plan.entries}
    for _ in range(passes):
        listed = set(run.client.tags(repo))
        left = [o for o in outcomes if o.status == "deleted" and o.tag in listed]
        if not left:
            break
        run.listed = frozenset(listed)

        def finish(o: Outcome) -> Outcome:
            entry = by_tag[o.tag]
            desc = run.client.resolve(repo, o.tag)
            if desc is not None and desc.digest not in (entry.digest, *run.deleted_manifests):
                run.warning(f"{repo}:{o.tag} moved to {desc.digest} meanwhile; left alone")
                return _outcome(entry, "skipped", "moved since planning")
            remove_tag(run.client, repo, o.tag, on_delete=run.on_delete, guard=run.guard(entry))
            return Outcome(o.tag, o.digest, o.action, "deleted", o.detail + "; finished alone")

        try:
            redone = {o.tag: o for o in (finish(o) for o in left)}  # rare: one at a time
        except RegkitError as err:
            bad = {o.tag for o in left}
            return [
                _outcome(by_tag[o.tag], "failed", err.message) if o.tag in bad else o
                for o in outcomes
            ]
        outcomes = [redone.get(o.tag, o) for o in outcomes]
    return outcomes


def _outcome(
    entry: TagPlan, status: Status, detail: str = "", action: Action | None = None
) -> Outcome:
    return Outcome(entry.tag, entry.digest, action or entry.action, status, detail)


def _check(run: _Run, tag: str, digest: str) -> Status | None:
    """None when ``tag`` still points at ``digest`` (or, for a dangling tag planned with no
    digest, is still listed and still resolves to nothing); else why it is left alone."""
    if not digest and tag not in run.listed:
        return "gone"
    desc = run.client.resolve(run.plan.repository, tag)
    if desc is None:
        return None if not digest else "gone"
    if desc.digest != digest:
        run.warning(
            f"{run.plan.repository}:{tag} moved to {desc.digest} since planning (a push "
            "meanwhile?); left alone"
        )
        return "skipped"
    return None


def _detail(status: Status | None, default: str) -> str:
    return "moved since planning" if status == "skipped" else default


def _untag_doomed(
    run: _Run, digest: str, entries: list[TagPlan], checks: list[Status | None]
) -> list[Status | None] | None:
    """Tag-first: remove by name each doomed tag of ``digest`` that still points at it (checked
    just before, like an untag); ``checks`` gets one per tag as it goes (None: removed), and is
    returned. None when the registry turns out not to delete tags by name (distribution 2.8:
    nothing changed, the manifest DELETE takes them as before)."""
    if run.by_name is False:
        return None
    for entry in entries:
        status = _check(run, entry.tag, digest)
        if status is None:
            try:
                run.client.delete_manifest(run.plan.repository, entry.tag)
            except NotFoundError:
                status = "gone"
            except UnsupportedError as err:
                if err.status == 400 and None not in checks:
                    run.by_name = False
                    return None
                raise
            run.by_name = True
        checks.append(status)
    return checks


def _delete_manifest(
    run: _Run,
    digest: str,
    entries: list[TagPlan],
    untagged: list[Status | None] | None = None,
) -> list[Outcome]:
    """Re-check, DELETE by digest, put back any staying tag that went with it.

    ``untagged``: tag-first went before, these are its checks (None: removed by name)."""
    repo = run.plan.repository
    window: int | None = run.windows.open(digest)
    assert run.lister is not None
    mark = run.lister.recent_mark()  # the listing after this worker's previous DELETE serves
    opened: list[tuple[str, int]] = []  # (platform manifest, its window), opened unarmed
    by_name = untagged is not None and any(c is None for c in untagged)
    done: Status = "deleted" if by_name else "gone"
    how = "deleted by tag" if by_name else ""
    try:
        # one round: the tags listed again, each doomed tag resolved again, and the
        # manifest's bytes (to put a tag back) unless the plan holds them
        listing = run.side.submit(run.lister.after, mark)
        known = run.plan.sources.get(digest)
        reading = (
            None
            if known is not None
            else run.side.submit(get_manifest_or_none, run.client, repo, digest)
        )
        checks = (
            list(untagged)
            if untagged is not None
            else [_check(run, e.tag, digest) for e in entries]
        )
        listed = set(listing.result())
        manifest: Manifest | None = known if reading is None else reading.result()
        if all(c is not None for c in checks) or manifest is None:
            return [
                _outcome(e, c or done, _detail(c, how))
                for e, c in zip(entries, checks, strict=True)
            ]
        fresh = sorted(listed - run.listed - run.doomed)  # pushed since the first listing
        moved_here = [
            tag
            for tag in fresh
            if (desc := run.client.resolve(repo, tag)) is not None and desc.digest == digest
        ]
        with run.lock:
            run.listed = run.listed | listed
        if not moved_here:
            handed, window = window, None  # delete_keeping closes it
            # side by side, the platform manifests' windows open once the index is gone,
            # before the listing after it, which is their "before" too
            group = run.exclusive.get(digest, ()) if run.client.jobs > 1 else ()

            def open_group() -> None:
                opened.extend((c, run.windows.open(c, armed=False, ignore=handed)) for c in group)

            try:
                deletion = delete_keeping(
                    run.client,
                    repo,
                    manifest,
                    listed - run.doomed,
                    warn=run.warning,
                    windows=run.windows,
                    window=handed,
                    lister=run.lister,
                    then=open_group if group else None,
                )
            except BaseException:
                _close(run, opened)
                raise
    finally:
        if window is not None:
            run.windows.close(window)
    if moved_here:
        run.warning(
            f"{repo}:{moved_here[0]} now points at {digest}, planned for deletion (a push since "
            "planning?); removing the old tags of that manifest one by one instead"
        )
        if by_name:
            return [
                _outcome(e, c or "deleted", _detail(c, how), UNTAG)
                for e, c in zip(entries, checks, strict=True)
            ]
        return [
            _untag(run, e) if c is None else _outcome(e, c, _detail(c, ""))
            for e, c in zip(entries, checks, strict=True)
        ]
    run.record(deletion)
    run.on_delete(f"{repo}@{digest}")
    if deletion.deleted and not deletion.restored and not deletion.lost:
        _delete_children(run, digest, opened, deletion.listed)
    else:
        _close(run, opened)
    detail = "by tag, then its manifest by digest" if by_name else "by digest"
    return [
        _outcome(e, c or "deleted", _detail(c, detail))
        for e, c in zip(entries, checks, strict=True)
    ]


def _close(run: _Run, opened: Sequence[tuple[str, int]]) -> None:
    for _child, wid in opened:
        run.windows.close(wid)


def _delete_children(
    run: _Run, index: str, opened: Sequence[tuple[str, int]], listed: frozenset[str]
) -> None:
    """Right after ``index`` was deleted: its platform manifests no other image uses, each
    DELETE guarded like the index's. Side by side (``opened``: their windows, opened before
    the listing after the index's DELETE, ``listed``, which is their "before"), with one
    listing after them all; with ``--jobs 1`` one after the other, each with its own listings.
    A tag pushed onto one since the first listing keeps it; a failure leaves them to the phase
    after the run (``regkit.ops.prune.children``)."""
    children = run.exclusive.get(index, ())
    if not children or run.lister is None:
        _close(run, opened)
        return
    if opened:
        results = _delete_child_group(run, opened, listed)
    else:
        results = [
            _delete_child_group(run, [(child, run.windows.open(child))], None)[0]
            for child in children
        ]
    for child, deletion in zip(children, results, strict=True):
        if deletion is None:
            continue
        with run.lock:
            if deletion.deleted and not deletion.restored:
                run.deleted_children.append(child)
            elif deletion.deleted:
                run.put_back.append(child)
            run.restored += [(t, child) for t in deletion.restored]
            run.lost += [(t, child) for t in deletion.lost]


def _delete_child_group(
    run: _Run, windows: Sequence[tuple[str, int]], listed: frozenset[str] | None
) -> list[Deletion | None]:
    """DELETE the platform manifests of ``windows`` (their windows open) side by side after
    ``listed`` (the tags listed since their windows opened; None: listed now), with one
    listing after them all (``delete_all_keeping``); None for one left alone."""
    client, repo, lister = run.client, run.plan.repository, run.lister
    assert lister is not None
    try:
        before = set(lister.after(lister.mark()) if listed is None else listed)
        fresh = sorted(before - run.listed - run.doomed)
        pointed: set[str] = set()
        if fresh:
            descs = client.map(lambda t: client.resolve(repo, t), fresh)
            pointed = {d.digest for d in descs if d is not None}
            with run.lock:
                run.listed = run.listed | before
    except RegkitError:
        _close(run, windows)
        return [None for _ in windows]
    staying = before - run.doomed
    found: dict[str, Deletion | None] = {}
    todo: list[tuple[Manifest, int]] = []
    for child, wid in windows:
        try:
            manifest = run.plan.sources.get(child) or get_manifest_or_none(client, repo, child)
        except RegkitError:
            manifest = None
        if manifest is None or child in pointed:
            run.windows.close(wid)
            found[child] = None
        else:
            todo.append((manifest, wid))
    if todo:
        side_by_side = len(todo) > 1
        deletions = delete_all_keeping(
            client,
            repo,
            todo,
            staying,
            warn=run.warning,
            windows=run.windows,
            lister=lister,
            run=(lambda f, xs: list(run.side.map(f, xs))) if side_by_side else _one_by_one,
        )
        found.update((m.digest, d) for (m, _wid), d in zip(todo, deletions, strict=True))
    return [found.get(child) for child, _wid in windows]


def _one_by_one(
    f: Callable[[tuple[Manifest, int]], bool | None], xs: list[tuple[Manifest, int]]
) -> list[bool | None]:
    return [f(x) for x in xs]


def _untag(run: _Run, entry: TagPlan) -> Outcome:
    status = _check(run, entry.tag, entry.digest)
    action: Action = UNTAG
    if status is not None:
        return _outcome(entry, status, _detail(status, ""), action)
    how = remove_tag(
        run.client, run.plan.repository, entry.tag, on_delete=run.on_delete, guard=run.guard(entry)
    )
    return _outcome(entry, "deleted", how, action)


__all__ = [
    "Outcome",
    "PruneAbandoned",
    "PruneInterrupted",
    "PruneResult",
    "execute_plan",
    "remove_tag",
    "throwaway_manifest",
]
