"""regkit's public Python API: what the CLI does, as functions with typed results.

    from regkit import api

    with api.connect("registry.example.com") as reg:        # credentials as the CLI finds them
        for repo in api.overview(reg).repositories:
            print(repo.name, [t.tag for t in repo.tags])
        api.promote(reg, "rednaw/hello-world:1a2b3c4", ["latest"])
        report = api.prune(reg, all_repos=True, match=".*", keep=6,
                           protect_dir="/opt/iac/deploy", record="/var/log/regkit-prune.jsonl")
        print(report.to_text())                              # the CLI's table and result lines
        for gone in report.pruned:                           # what went, with its labels
            print(gone.reference, gone.revision, gone.description)
        api.check(reg).raise_for_damage()

Functions: ``connect``; reading: ``overview``, ``inspect``, ``check``; writing: ``promote``,
``delete``, ``sync``; pruning: ``plan_prune`` + ``execute_prune`` (two steps), ``prune`` (one),
``prune_ghcr`` (ghcr.io, through the GitHub API). Everything public is in ``__all__``.

Arguments are checked once, before any request: a ``str`` where a list is expected
(``protect_tags="v1"``), a wrong type (``keep="6"``, ``keep=True``) or a negative number is a
``regkit.errors.UsageError`` naming the keyword. ``older_than`` takes ``"30d"`` or a
``datetime.timedelta``.

Every function raises the CLI's errors (``regkit.errors.RegkitError`` and its subclasses, each
with a one-line message that says what to do, naming keyword arguments where the CLI names its
flags); none prints anything unless given a callback (``warn``, ``echo``). Each operation logs
one line at INFO on the ``regkit`` logger; the HTTP requests behind it (httpx's lines) show at
DEBUG only. Results are frozen dataclasses, with ``to_json()`` where the CLI has a JSON form.
References may be given whole (``HOST/REPO:TAG``) or relative to the connected registry
(``REPO:TAG``).
"""

from __future__ import annotations

import collections.abc as _abc
import dataclasses as _dataclasses
import datetime as _dt
import functools as _functools
import inspect as _pyinspect
import json as _json
import logging as _logging
import types as _types
import typing as _typing

from regkit import errors as _errors
from regkit import ops as _ops
from regkit.closing import Closing as _Closing
from regkit.ghcr.prune import GhcrPlan, GhcrResult
from regkit.log import LOGGER as _LOG
from regkit.ops.check import CheckReport
from regkit.ops.inspect import Inspection
from regkit.ops.overview import Overview
from regkit.ops.prune import PrunePlan, PruneResult
from regkit.ops.prune import render as _render
from regkit.ops.prune.session import PrunedTag
from regkit.reference import parse_reference as _parse_reference
from regkit.reference import validate_host as _validate_host
from regkit.textsafe import escape as _escape

if _typing.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import datetime, timedelta

    from regkit.ops import ConnectOptions
    from regkit.ops.gc import ThenResult
    from regkit.ops.prune.plan import PrunePolicy
    from regkit.ops.prune.run import Target
    from regkit.ops.sync import SyncItem
    from regkit.reference import Reference
    from regkit.registry import RegistryClient

_UsageError = _errors.UsageError
_RegkitError = _errors.RegkitError


# -- connecting ---------------------------------------------------------------------------------


class Registry(_Closing):
    """A connection to one registry (from ``connect``); close it (or use ``with``) to release
    its connections. ``host``: the registry; ``client``: the ``RegistryClient`` underneath."""

    def __init__(self, host: str, options: ConnectOptions) -> None:
        self.host = _validate_host(host)
        self.options = options
        self.client: RegistryClient = _connect(self.host, options)

    def close(self) -> None:
        """Release the connections."""
        self.client.close()

    def __repr__(self) -> str:
        return f"Registry({self.host!r})"

    def reference(self, text: str) -> Reference:
        """``text`` as a reference on this registry (``REPO:TAG`` gets this host)."""
        ref = _parse_reference(text, default_registry=self.host)
        if ref.registry != self.host:
            raise _UsageError(
                f"{text} is on {ref.registry}, not on {self.host}; connect to {ref.registry}"
            )
        return ref

    def repository(self, text: str) -> str:
        """A repository name given bare or as ``HOST/REPO``."""
        ref = self.reference(text)
        if ref.tag or ref.digest:
            raise _UsageError(
                f"expected a repository, not an image: drop the tag or digest of {text!r}"
            )
        return ref.repository


def connect(
    host: str,
    *,
    username: str | None = None,
    password: str | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
    jobs: int = _ops.DEFAULTS.jobs,
    timeout: float = _ops.DEFAULTS.timeout,
    docker_config: str | None = None,
) -> Registry:
    """A connection to ``host`` (``registry.example.com`` or ``127.0.0.1:5000``).

    Credentials: ``username`` + ``password``, else ``REGISTRY_USERNAME`` + ``REGISTRY_PASSWORD``,
    else the Docker config (``docker_config`` dir, ``$DOCKER_CONFIG``, ``~/.docker``), as the
    CLI. ``ca_file``: a private CA; ``insecure``: plain HTTP / no TLS verification; ``jobs``:
    requests in flight (1 or more); ``timeout``: seconds per request step (more than 0).
    Nothing is sent until the first operation.
    """
    options = _ops.ConnectOptions(
        ca_file=ca_file,
        insecure=insecure,
        jobs=jobs,
        timeout=timeout,
        username=username,
        password=password,
        docker_config=docker_config,
    )
    return Registry(host, options)


# -- reading ------------------------------------------------------------------------------------


def overview(
    reg: Registry,
    repositories: Sequence[str] | None = None,
    *,
    platform: str | None = None,
) -> Overview:
    """Every tag of every repository (or of ``repositories``), newest first, with digest,
    created time, platforms, size and description (``regkit overview``)."""
    from regkit.ops.overview import collect

    repos = [reg.repository(r) for r in repositories] if repositories else None
    found = collect(reg.client, repos, platform=platform)
    tags = sum(len(r.tags) for r in found.repositories)
    _LOG.info(
        "overview of %s: %s, %s",
        reg.host,
        _count(len(found.repositories), "repository", "repositories"),
        _count(tags, "tag"),
    )
    return found


def inspect(reg: Registry, ref: str, *, platform: str | None = None) -> Inspection:
    """One image in one call (``regkit inspect``): digest, tags on it, created, labels, every
    platform with its layers and size, attestations. ``ref`` without tag or digest: latest."""
    from regkit.ops.inspect import inspect as _inspect

    parsed = _parse_reference(ref, default_registry=reg.host, default_tag="latest")
    reg.reference(str(parsed))  # another host is refused
    found = _inspect(reg.client, parsed, platform=platform)
    _LOG.info("inspect of %s: %s", _escape(str(parsed)), found.digest)
    return found


def check(
    reg: Registry,
    repositories: Sequence[str] | None = None,
    *,
    storage: str | None = None,
) -> CheckReport:
    """Check that every tagged image of ``repositories`` (default: the catalog) is whole
    (``regkit check``). ``storage``: the registry's storage root, to also list untagged image
    manifests no index references. The report's ``ok`` is False when anything is broken;
    ``CheckReport.raise_for_damage()`` turns that into an error."""
    from regkit.ops.check import check_repositories

    repos = [reg.repository(r) for r in repositories] if repositories else None
    report = check_repositories(reg.client, repos, storage=storage)
    _log_check(report)
    return report


# -- writing ------------------------------------------------------------------------------------


@_dataclasses.dataclass(frozen=True, slots=True)
class PromotedTarget:
    """One target of ``promote``: ``action`` is create, move or unchanged (``old_digest``:
    where a moved tag pointed)."""

    reference: str
    action: str
    old_digest: str | None


@_dataclasses.dataclass(frozen=True, slots=True)
class Promotion:
    """What ``promote`` did (``promoted``: anything written) or, on a dry run, would do."""

    source: str
    digest: str
    platforms: tuple[str, ...]
    targets: tuple[PromotedTarget, ...]
    promoted: bool
    dry_run: bool
    #: the image's referrers (signatures, attestations, SBOMs) written to another repository,
    #: by kind (signature, attestation, sbom, other); empty when none was looked for
    referrers_copied: tuple[tuple[str, int], ...] = ()


def promote(
    reg: Registry,
    source: str,
    targets: Iterable[str],
    *,
    expect_digest: str | None = None,
    dry_run: bool = False,
    referrers: bool = True,
) -> Promotion:
    """Copy ``source`` (``REPO:TAG`` or ``REPO@DIGEST``) to each of ``targets`` (a list of tags,
    ``REPO:TAG``, or references on another registry) by digest, every platform included
    (``regkit promote``). ``expect_digest``: refuse unless ``source`` is that digest.
    ``referrers``: a target in another repository also gets the image's signatures,
    attestations and SBOMs (``--no-referrers``: False)."""
    from regkit.ops import promote as pr

    src = pr.parse_source(str(reg.reference(source)))
    parsed = pr.parse_targets(list(targets), src)
    if not parsed:
        raise _UsageError("promote needs at least one target tag")

    def connector(host: str) -> RegistryClient:
        return _connect(host, reg.options)

    result = pr.promote(
        src,
        parsed,
        connector,
        expect_digest=expect_digest,
        dry_run=dry_run,
        referrers=referrers,
    )
    done = Promotion(
        source=str(src),
        digest=result.digest,
        platforms=tuple(result.platforms),
        targets=tuple(
            PromotedTarget(str(t.target), t.action.value, t.old_digest) for t in result.plan.targets
        ),
        promoted=result.promoted,
        dry_run=dry_run,
        referrers_copied=tuple(result.referrers.copied.items()) if result.referrers else (),
    )
    _LOG.info(
        "promote of %s%s: %s",
        _escape(done.source),
        " (dry run)" if dry_run else "",
        ", ".join(_escape(f"{t.reference} {t.action}") for t in done.targets),
    )
    return done


@_dataclasses.dataclass(frozen=True, slots=True)
class Deletion:
    """What ``delete`` removed: ``kind`` "manifest" (by digest: every tag on it went, named in
    ``tags``) or "tag" (that tag alone)."""

    kind: str
    reference: str
    digest: str
    tags: tuple[str, ...]


def delete(reg: Registry, ref: str) -> Deletion:
    """``REPO@DIGEST`` deletes the manifest (and names the tags that went with it);
    ``REPO:TAG`` removes that tag only (``regkit delete``)."""
    from regkit.ops.prune.run import delete_reference

    parsed = reg.reference(ref)
    kind, digest, tags = delete_reference(reg.client, str(parsed))
    _LOG.info("delete of %s: %s %s", _escape(str(parsed)), kind, digest)
    return Deletion(kind, str(parsed), digest, tuple(tags))


@_dataclasses.dataclass(frozen=True, slots=True)
class SyncReport:
    """What ``sync`` planned (and, unless ``dry_run``, wrote): a line per source tag;
    ``skipped``: tags that vanished from the source while listing; ``blobs``: mounted, uploaded,
    uploaded_bytes, ... as the CLI's."""

    source: str
    destination: str
    items: tuple[SyncItem, ...]
    dry_run: bool
    skipped: tuple[str, ...]
    blobs: tuple[tuple[str, int], ...]
    #: with ``referrers=True``: the referrers written, by kind (signature, attestation, ...)
    referrers_copied: tuple[tuple[str, int], ...] = ()

    @property
    def written(self) -> tuple[SyncItem, ...]:
        """The items that differed (created or moved)."""
        return tuple(i for i in self.items if i.action.value != "unchanged")

    def to_json(self) -> dict[str, object]:
        """The ``regkit sync -o json`` document."""
        return {
            "source": self.source,
            "destination": self.destination,
            "dry_run": self.dry_run,
            "tags": [i.to_json() for i in self.items],
            "skipped": list(self.skipped),
            "blobs": dict(self.blobs),
        }


def sync(
    reg: Registry,
    source: str,
    destination: str,
    *,
    match: str | None = None,
    dry_run: bool = False,
    referrers: bool = False,
) -> SyncReport:
    """Copy every tag of repository ``source`` (matching ``match``) that differs to repository
    ``destination`` (on this registry, or ``HOST/REPO`` on another), by digest (``regkit
    sync``). Idempotent. ``referrers``: each image's signatures, attestations and SBOMs come
    with it (``--referrers``)."""
    from regkit.ops import sync as sy

    src = _parse_reference(str(reg.reference(source)))
    dst = _parse_reference(destination, default_registry=reg.host)
    for text, ref in ((source, src), (destination, dst)):
        if ref.tag or ref.digest:
            raise _UsageError(f"sync takes repositories: drop the tag or digest from {text!r}")
    other = None if dst.registry == reg.host else _connect(dst.registry, reg.options)
    try:
        result = sy.sync(
            reg.client,
            src,
            other or reg.client,
            dst,
            match=sy.compile_match(match),
            dry_run=dry_run,
            referrers=referrers,
        )
    finally:
        if other is not None:
            other.close()
    blobs = result.to_json()["blobs"]
    report = SyncReport(
        source=str(result.source),
        destination=str(result.destination),
        items=result.items,
        dry_run=result.dry_run,
        skipped=result.skipped,
        blobs=tuple((str(k), int(v)) for k, v in blobs.items()),
        referrers_copied=tuple(result.referrers.copied.items()) if result.referrers else (),
    )
    _LOG.info(
        "sync of %s to %s%s: %s %s, %s unchanged",
        _escape(report.source),
        _escape(report.destination),
        " (dry run)" if dry_run else "",
        len(report.written),
        "to write" if dry_run else "written",
        len(report.items) - len(report.written),
    )
    return report


# -- prune --------------------------------------------------------------------------------------


@_dataclasses.dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune planned and did on one registry, and what followed (``then``, ``check``).

    ``plans``/``results``: per repository (no results on a dry run); ``deleted``: the
    references that went; ``pruned``: the tags removed (planned, on a dry run) with their
    labels; ``to_text()``: the CLI's table and result lines; ``to_json()``: its JSON document.
    ``platform_manifests``: platform manifests of deleted indexes, deleted after them.
    """

    registry: str
    plans: tuple[PrunePlan, ...]
    results: tuple[PruneResult, ...] = ()
    dry_run: bool = False
    records: int = 0  # audit lines written
    platform_manifests: tuple[str, ...] = ()
    then: ThenResult | None = None
    check: CheckReport | None = None
    #: repository -> platform manifests of deleted indexes, deleted after them
    children: _abc.Mapping[str, tuple[str, ...]] = _dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    def _run(self) -> _RegistryPrune:
        from regkit.ops.prune.session import RegistryPrune

        done = None if self.dry_run or not self.results else self.results
        return RegistryPrune(self.registry, self.plans, done, self.children, self.records)

    @property
    def deleted(self) -> tuple[str, ...]:
        """``HOST/REPO:TAG`` of every tag removed (none on a dry run)."""
        return tuple(_render.deleted_references(self.registry, self.results))

    @property
    def pruned(self) -> tuple[PrunedTag, ...]:
        """The tags removed (on a dry run: the tags the plans remove), newest first per
        repository, each with its image's labels (description, revision, created, source)."""
        return self._run().pruned

    @property
    def kept(self) -> tuple[str, ...]:
        """``HOST/REPO:TAG`` of every tag that stays."""
        return tuple(f"{self.registry}/{p.repository}:{e.tag}" for p in self.plans for e in p.kept)

    @property
    def reclaimable_bytes(self) -> int:
        """Bytes garbage collection can reclaim (planned, on a dry run)."""
        if self.dry_run:
            return sum(p.reclaimable_bytes for p in self.plans)
        return sum(r.reclaimable_bytes for r in self.results)

    @property
    def complete(self) -> bool:
        """Nothing failed or was left undone."""
        return all(r.complete for r in self.results)

    @property
    def shrunk_bytes(self) -> int | None:
        """Bytes the storage shrank by across ``then`` (None when not measured)."""
        return self.then.shrunk_bytes if self.then is not None else None

    @property
    def ok(self) -> bool:
        """The prune finished, the ``then`` command succeeded and the check found no damage."""
        return (
            self.complete
            and (self.then is None or self.then.ok)
            and (self.check is None or self.check.ok)
        )

    def to_text(self) -> str:
        """The plans as ``regkit prune`` prints them (its table), then the results."""
        return self._run().text()

    def to_json(self) -> dict[str, object]:
        """The ``regkit prune -o json`` document of this registry."""
        doc = self._run().document(dry_run=self.dry_run)
        if self.then is not None:
            doc["then"] = {
                "command": list(self.then.command),
                "exit_code": self.then.exit_code,
                "storage_shrunk_bytes": self.then.shrunk_bytes,
            }
        if self.check is not None:
            doc["check"] = self.check.to_json()
        return doc

    def raise_for_problems(self) -> None:
        """``RegkitError`` when the prune did not finish, the ``then`` command failed, or the
        check after it found broken images (``CheckError``)."""
        if not self.complete:
            raise _RegkitError(f"prune of {self.registry} did not finish; run it again to finish")
        if self.then is not None and not self.then.ok:
            raise _RegkitError(
                f"the command after the prune ({' '.join(self.then.command)}) exited "
                f"{self.then.exit_code}; the prune itself is done"
            )
        if self.check is not None:
            self.check.raise_for_damage()


if _typing.TYPE_CHECKING:
    from regkit.ops.prune.session import RegistryPrune as _RegistryPrune


def plan_prune(
    reg: Registry,
    repositories: Sequence[str] = (),
    *,
    all_repos: bool = False,
    match: str | None = None,
    keep: int | None = None,
    older_than: str | timedelta | None = None,
    protect_tags: Iterable[str] = (),
    protect_digests: Iterable[str] = (),
    protect_files: Iterable[str] = (),
    protect_dir: str | None = None,
    unprotect: Iterable[str] = (),
    force: bool = False,
    delete_orphans: bool = False,
    now: datetime | None = None,
) -> tuple[PrunePlan, ...]:
    """The prune plan per repository; nothing is changed (``regkit prune --dry-run``); carry
    it out with ``execute_prune``. The arguments are ``prune``'s. For the printable plan and the
    labels of what would go, use ``prune(..., dry_run=True)``."""
    from regkit.ops.prune.run import plan_target

    _refuse_other_kinds(reg)  # GHCR plans package versions: prune_ghcr(dry_run=True)
    target = _prune_target(reg, repositories, all_repos)
    policy = _policy(match, keep, older_than, protect_tags, protect_digests, protect_files,
                     unprotect, force, delete_orphans)  # fmt: skip
    when = now or _dt.datetime.now(_dt.UTC)
    plans = tuple(plan_target(reg.client, target, policy, when, protect_dir=protect_dir))
    for plan in plans:
        _log_prune(reg.host, plan.repository, len(plan.removed), len(plan.kept), dry_run=True)
    return plans


def execute_prune(
    reg: Registry,
    plans: Sequence[PrunePlan],
    *,
    record: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> PruneReport:
    """Carry out ``plans`` (from ``plan_prune``): the report with the results, the audit lines
    written to ``record`` and the platform manifests of deleted indexes deleted after them."""
    from regkit.ops.audit import execute_recorded

    _refuse_other_kinds(reg)
    done = execute_recorded(reg.client, plans, record=record, warn=_in_words(warn, plan_prune))
    return _carried_out_report(reg.host, tuple(plans), done.results, done.records, done.children)


def prune(
    reg: Registry,
    repositories: Sequence[str] = (),
    *,
    all_repos: bool = False,
    match: str | None = None,
    keep: int | None = None,
    older_than: str | timedelta | None = None,
    protect_tags: Iterable[str] = (),
    protect_digests: Iterable[str] = (),
    protect_files: Iterable[str] = (),
    protect_dir: str | None = None,
    unprotect: Iterable[str] = (),
    force: bool = False,
    delete_orphans: bool = False,
    record: str | None = None,
    then: str | Sequence[str] | None = None,
    storage: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    warn: Callable[[str], None] | None = None,
    echo: Callable[[str], None] | None = None,
) -> PruneReport:
    """Plan and (unless ``dry_run``) carry out a prune (``regkit prune --yes``).

    ``repositories`` (a list), or ``all_repos=True`` for the catalog. Keeps the ``keep``
    (default 10) newest tags matching ``match`` (default: short SHAs) per repository, those
    newer than ``older_than`` (``"30d"`` or a ``timedelta``), and everything protected:
    ``protect_tags``, ``protect_digests``, what ``protect_files`` and
    ``protect_dir/<app>/deploy-*.yml`` name, deploy markers (``deployed-*``), ``latest`` and
    release tags, and every manifest a staying tag uses. ``unprotect``: tags taken out of the
    built-in protection (``latest``, release tags), by exact name. ``force``: allow ``keep=0``
    with the default ``match`` and no ``older_than`` (refused otherwise: it deletes every
    build). ``delete_orphans``: also delete referrers (signatures, attestations, SBOMs) whose
    image no longer exists (``--delete-orphans``; without it they are reported and kept); an
    image's referrers always go and stay with it. ``record``: the audit file. ``then``: a
    command (checked before planning: it must be on PATH and executable) run when anything
    was deleted (the registry's garbage-collect), after which every staying image of the
    pruned repositories is checked (``report.check``);
    ``storage``: the registry's storage root, measured before and after (``report.then``).
    ``now``: the time the ages are measured from (default: now).

    ``report.pruned`` lists what went (what would go, on a dry run) with its labels;
    ``report.to_text()`` is the CLI's output. Raises ``RegkitError`` when the prune did not
    finish; check ``report.ok`` for the rest.
    """
    from regkit.ops.gc import storage_bytes
    from regkit.ops.prune.session import prune_targets

    if storage is not None:
        from regkit.ops.check import storage_repositories_root

        storage_repositories_root(storage)  # a wrong directory is refused before any delete
    argv = _then_argv(then)
    target = _prune_target(reg, repositories, all_repos)
    if not dry_run:
        _refuse_other_kinds(reg)
    policy = _policy(match, keep, older_than, protect_tags, protect_digests, protect_files,
                     unprotect, force, delete_orphans)  # fmt: skip
    measure = storage is not None and argv is not None and not dry_run
    before = storage_bytes(storage) if measure and storage is not None else None
    run = prune_targets(
        [target],
        policy,
        lambda _host: reg.client,
        now=now,
        dry_run=dry_run,
        record=record,
        protect_dir=protect_dir,
        warn=_in_words(warn, prune),
    )
    pruned = run.registries[0]
    if not run.carried_out:
        report = PruneReport(reg.host, pruned.tag_plans, dry_run=dry_run)
        for plan in report.plans:
            _log_prune(reg.host, plan.repository, len(plan.removed), len(plan.kept), dry_run)
        return report
    report = _carried_out_report(
        reg.host, pruned.tag_plans, pruned.tag_results or (), pruned.records, pruned.children
    )
    if not report.complete:
        raise _RegkitError(
            "prune did not finish (see the results); the registry is consistent: run the same "
            "prune again to finish"
        )
    if argv is not None and report.deleted:
        then_result, check_report = _after_prune(
            reg,
            [p.repository for p in pruned.plans],
            argv,
            storage=storage,
            storage_before=before,
            echo=echo,
        )
        report = _dataclasses.replace(report, then=then_result, check=check_report)
    return report


def prune_ghcr(
    reg: Registry,
    repositories: Sequence[str],
    *,
    match: str | None = None,
    keep: int | None = None,
    older_than: str | timedelta | None = None,
    protect_tags: Iterable[str] = (),
    protect_digests: Iterable[str] = (),
    protect_files: Iterable[str] = (),
    protect_dir: str | None = None,
    unprotect: Iterable[str] = (),
    force: bool = False,
    delete_untagged: bool = False,
    github_token: str | None = None,
    dry_run: bool = False,
    warn: Callable[[str], None] | None = None,
) -> list[tuple[GhcrPlan, GhcrResult | None]]:
    """``regkit prune ghcr.io/OWNER/NAME``: the plan per package and (unless ``dry_run``) its
    result. The policy arguments are ``prune``'s (``unprotect``, ``force`` included). Versions
    are deleted through the GitHub API (``github_token``, else GITHUB_TOKEN, else the registry
    password; ``GITHUB_API_URL``); the first refusal for want of permission raises
    ``RegkitError`` naming the permission."""
    from regkit.ops.prune.backend import PruneOptions, backend_for
    from regkit.ops.prune.run import Target
    from regkit.ops.prune.session import prune_targets

    if backend_for(reg.host).api_function != "prune_ghcr":
        raise _UsageError(f"{reg.host} is not GHCR: use regkit.api.prune")
    policy = _policy(match, keep, older_than, protect_tags, protect_digests, protect_files,
                     unprotect, force)  # fmt: skip
    names = tuple(dict.fromkeys(reg.repository(r) for r in repositories))
    run = prune_targets(
        [Target(reg.host, names)],
        policy,
        lambda _host: reg.client,
        dry_run=dry_run,
        protect_dir=protect_dir,
        warn=_in_words(warn, prune_ghcr),
        options=PruneOptions(
            delete_untagged=delete_untagged, github_token=github_token, notify=warn
        ),
    )
    pruned = run.registries[0]
    out: list[tuple[GhcrPlan, GhcrResult | None]] = []
    for plan in pruned.plans:
        result = pruned.result_of(plan)
        out.append((plan, result))
        if result is None:
            _log_prune(reg.host, plan.repository, len(plan.plan.removed),
                       len(plan.plan.kept), dry_run=run.dry_run)  # fmt: skip
        else:
            _log_prune(reg.host, plan.repository, len(result.deleted_versions),
                       len(plan.plan.kept), dry_run=False, unit="version")  # fmt: skip
    if run.error:
        raise _RegkitError(run.error)
    return out


# -- internals ----------------------------------------------------------------------------------


def _policy(
    match: str | None,
    keep: int | None,
    older_than: str | timedelta | None,
    protect_tags: Iterable[str],
    protect_digests: Iterable[str],
    protect_files: Iterable[str],
    unprotect: Iterable[str],
    force: bool,
    delete_orphans: bool = False,
) -> PrunePolicy:
    from regkit.ops.prune.run import build_policy

    if isinstance(older_than, _dt.timedelta):
        older_than = _duration_text(older_than)  # as typed: "30d" in the plan and its JSON
    policy = build_policy(
        match=match,
        keep=keep,
        older_than=older_than,
        protect_tags=protect_tags,
        protect_digests=protect_digests,
        protect_files=protect_files,
        unprotect=unprotect,
        force=force,
    )
    return _dataclasses.replace(policy, delete_orphans=True) if delete_orphans else policy


def _duration_text(delta: timedelta) -> str:
    """A ``timedelta`` as the duration a user would type: its largest whole unit (30 days:
    ``30d``, 36 hours: ``36h``), seconds at worst (less than a second: ``0s``)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _then_argv(then: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``then`` as argv, its program checked (on PATH, executable) before anything is planned:
    a prune that would delete and then fail to garbage-collect is refused up front."""
    if then is None:
        return None
    import shlex

    from regkit.ops.prune.then import resolve_then

    if not isinstance(then, str) and not then:
        raise _UsageError("then= is an empty command")
    return resolve_then(then if isinstance(then, str) else shlex.join(then))


def _prune_target(reg: Registry, repositories: Sequence[str], all_repos: bool) -> Target:
    """The one target of an API prune: ``repositories`` (or the catalog), deduplicated."""
    from regkit.ops.prune.run import Target

    if not repositories and not all_repos:
        raise _UsageError("name at least one repository or pass all_repos=True")
    names = () if all_repos else tuple(dict.fromkeys(reg.repository(r) for r in repositories))
    return Target(reg.host, names, all_repos)


def _refuse_other_kinds(reg: Registry) -> None:
    """``plan_prune``/``execute_prune`` (and ``prune`` when it deletes) plan and carry out tag
    plans through the registry API; a registry kind with plans of its own (GHCR) has its own
    function, named in the error."""
    from regkit.ops.prune.backend import backend_for

    backend = backend_for(reg.host)
    if backend.api_function != "prune":
        raise _UsageError(
            f"{reg.host} {backend.deletes_through}: use regkit.api.{backend.api_function}"
        )


def _after_prune(
    reg: Registry,
    repositories: Sequence[str],
    argv: Sequence[str],
    *,
    storage: str | None = None,
    storage_before: int | None = None,
    echo: Callable[[str], None] | None = None,
) -> tuple[ThenResult, CheckReport]:
    """Run ``argv`` (the garbage-collect), then check every image that stayed in
    ``repositories`` (``regkit.ops.prune.session.then_and_check``, as the CLI does)."""
    from regkit.ops.prune.session import then_and_check

    after = then_and_check(
        argv,
        [(reg.host, list(repositories))],
        lambda _host: reg.client,
        storage=storage,
        storage_before=storage_before,
        echo=echo,
    )
    _LOG.info("then: %s exited %s", _escape(" ".join(argv)), after.then.exit_code)
    (report,) = after.checks
    _log_check(report)
    return after.then, report


# -- logging: one line per operation ------------------------------------------------------------


def _count(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def _log_prune(
    registry: str,
    repository: str,
    removed: int,
    kept: int,
    dry_run: bool,
    *,
    unit: str = "",
) -> None:
    what = f"{unit}s " if unit else ""
    if dry_run:
        _LOG.info(
            "prune of %s (dry run): %s %sto delete, %s kept",
            _escape(f"{registry}/{repository}"), removed, what, kept,
        )  # fmt: skip
    else:
        _LOG.info(
            "prune of %s: %s %sdeleted, %s kept",
            _escape(f"{registry}/{repository}"), removed, what, kept,
        )  # fmt: skip


def _carried_out_report(
    host: str,
    plans: tuple[PrunePlan, ...],
    results: tuple[PruneResult, ...],
    records: int,
    children: _abc.Mapping[str, tuple[str, ...]],
) -> PruneReport:
    """The report of a prune carried out on ``host`` (``execute_prune``, ``prune``), logged:
    ``children`` (repository -> platform manifests of deleted indexes) gives its
    ``platform_manifests`` too."""
    report = PruneReport(
        host,
        plans,
        results,
        records=records,
        platform_manifests=tuple(sorted(d for ds in children.values() for d in ds)),
        children=dict(children),
    )
    _log_results(report)
    return report


def _log_results(report: PruneReport) -> None:
    for plan in report.plans:
        result = next((r for r in report.results if r.repository == plan.repository), None)
        deleted = len(result.deleted_tags) if result is not None else 0
        _log_prune(report.registry, plan.repository, deleted, len(plan.kept), dry_run=False)
        if result is not None and not result.complete:
            _LOG.warning(
                "prune of %s did not finish", _escape(f"{report.registry}/{plan.repository}")
            )


def _log_check(report: CheckReport) -> None:
    broken = len(report.broken)
    _LOG.log(
        _logging.INFO if not broken else _logging.WARNING,
        "check of %s: %s, %s",
        report.registry,
        _count(len(report.images), "image"),
        f"{broken} broken" if broken else "all whole",
    )


# -- the boundary: arguments checked once, errors in the API's words ----------------------------


#: What a list parameter holds, for its error ("protect_tags= must be a list of tags")
_NOUNS = {
    "protect_tags": "tags",
    "protect_digests": "digests",
    "protect_files": "paths",
    "unprotect": "tags",
    "repositories": "repositories",
    "targets": "tags or references",
    "plans": "plans",
    "then": "words",
}
#: The smallest value of a whole-number parameter
_MINIMUM = {"keep": 0, "jobs": 1}
#: Numbers that must be more than 0
_POSITIVE = frozenset({"timeout"})
#: Durations that must not be negative
_NOT_NEGATIVE = frozenset({"older_than"})
#: Parameters (``regkit.errors.Param``, named by their CLI flag) whose keyword argument has
#: another name than the flag's
_FLAG_KEYWORDS = {"password-stdin": "password"}
#: The names the annotations use, for checking at run time (the module imports them for type
#: checkers only, so that every public name of this module is in ``__all__``)
_HINT_NAMES: dict[str, object] = {
    "Callable": _abc.Callable,
    "Iterable": _abc.Iterable,
    "Sequence": _abc.Sequence,
    "datetime": _dt.datetime,
    "timedelta": _dt.timedelta,
    "Registry": Registry,
    "PrunePlan": PrunePlan,
}


def _alternatives(hint: object) -> tuple[object, ...]:
    if _typing.get_origin(hint) in (_typing.Union, _types.UnionType):
        return _typing.get_args(hint)
    return (hint,)


def _is_list(hint: object) -> bool:
    return _typing.get_origin(hint) in (_abc.Sequence, _abc.Iterable)


def _shown(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(hint: object, name: str) -> str:
    if _is_list(hint):
        return f"a list of {_NOUNS.get(name, 'items')}"
    if _typing.get_origin(hint) is _abc.Callable:
        return "callable"
    special = {
        bool: "a bool",
        int: "an int",
        float: "a number",
        str: "a str",
        Registry: "a Registry (from regkit.api.connect)",
    }
    if isinstance(hint, type):
        return special.get(hint, f"a {hint.__name__}")
    return str(hint)


def _fits(name: str, value: object, hint: object) -> tuple[bool, object]:
    """(value fits ``hint``, the value to pass on: a list parameter's items as a tuple)."""
    if _is_list(hint):
        if isinstance(value, str | bytes | _abc.Mapping) or not isinstance(value, _abc.Iterable):
            return False, None
        items = tuple(value)
        (item_type,) = _typing.get_args(hint) or (object,)
        for item in items:
            if isinstance(item_type, type) and not isinstance(item, item_type):
                raise _UsageError(
                    f"{name}= must be a list of {_NOUNS.get(name, 'items')} "
                    f"({item_type.__name__}), not a list holding {type(item).__name__} "
                    f"{_shown(item)}"
                )
        return True, items
    if _typing.get_origin(hint) is _abc.Callable:
        return callable(value), value
    if hint is int or hint is float:
        numbers = (int,) if hint is int else (int, float)
        return isinstance(value, numbers) and not isinstance(value, bool), value
    if isinstance(hint, type):
        return isinstance(value, hint), value
    return True, value  # not a form the boundary checks


def _checked(name: str, value: object, hint: object) -> object:
    """``value`` if it fits ``hint`` (list parameters as tuples), else a ``UsageError`` that
    names the keyword, says what it takes and how to write it."""
    options = _alternatives(hint)
    if value is None and type(None) in options:
        return None
    for option in options:
        if option is type(None):
            continue
        fits, out = _fits(name, value, option)
        if fits:
            _check_range(name, out)
            return out
    wanted = [o for o in options if o is not type(None)]
    if isinstance(value, str) and any(_is_list(o) for o in wanted):
        example = _json.dumps(value if len(value) <= 60 else value[:57] + "...")
        raise _UsageError(
            f"{name}= must be a list of {_NOUNS.get(name, 'items')}, not a str; "
            f"write {name}=[{example}]"
        )
    message = (
        f"{name}= must be {' or '.join(_describe(o, name) for o in wanted)}, not "
        f"{type(value).__name__} {_shown(value)}"
    )
    if int in wanted and isinstance(value, str) and value.strip().isdigit():
        message += f"; write {name}={int(value)}"
    raise _UsageError(message)


def _check_range(name: str, value: object) -> None:
    if name in _MINIMUM and isinstance(value, int) and value < _MINIMUM[name]:
        raise _UsageError(f"{name}= must be {_MINIMUM[name]} or more, not {value}")
    if name in _POSITIVE and isinstance(value, int | float) and not value > 0:
        raise _UsageError(f"{name}= must be more than 0, not {value}")
    if name in _NOT_NEGATIVE and isinstance(value, _dt.timedelta) and value < _dt.timedelta(0):
        raise _UsageError(f"{name}= must not be negative")


_P = _typing.ParamSpec("_P")
_R = _typing.TypeVar("_R")


def _public(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn`` behind the API's boundary: each argument checked against its annotation once,
    before ``fn`` runs (``_checked``); unknown or missing arguments a ``UsageError``; and its
    errors saying its keyword arguments where the shared code names a parameter (``Param``:
    "invalid --match pattern" is "invalid match= pattern" here: the same error object, type,
    hint and parts; ``str(err)`` in the API's words)."""
    signature = _pyinspect.signature(fn)
    hints = _typing.get_type_hints(fn, globalns={**globals(), **_HINT_NAMES})
    words = _keyword_words(frozenset(signature.parameters))

    @_functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as err:
            raise _UsageError(f"{fn.__name__}(): {err}") from None
        for name, value in bound.arguments.items():
            if name in hints:
                bound.arguments[name] = _checked(name, value, hints[name])
        try:
            return fn(*bound.args, **bound.kwargs)
        except _RegkitError as err:
            if err.message == err.render(_errors.cli_words):  # not said by an inner call yet
                err.args = (err.render(words), *err.args[1:])
            raise

    return wrapper


def _keyword_words(keywords: frozenset[str]) -> _errors.Namer:
    """The API's words for a parameter: the keyword argument (``all_repos=``, ``password=``
    for ``--password-stdin``; a plural keyword for a repeated flag: ``protect_tags=``),
    "pass all_repos=" where the CLI says "pass --all-repos HOST"; ``None`` when the function
    has no such keyword (its CLI words stand)."""

    def words(param: _errors.Param) -> str | None:
        name = _FLAG_KEYWORDS.get(param.name, param.name.replace("-", "_"))
        for keyword in (name, f"{name}s"):
            if keyword in keywords:
                return f"pass {keyword}=" if param.ask else f"{keyword}="
        return None

    return words


def _words_of(fn: Callable[..., object]) -> _errors.Namer:
    """The API's words for ``fn``'s parameters (``_keyword_words`` of its keywords)."""
    return _keyword_words(frozenset(_pyinspect.signature(fn).parameters))


def _in_words(
    warn: Callable[[str], None] | None, fn: Callable[..., object]
) -> Callable[[str], None] | None:
    """``warn`` (a user's callback) given each warning in the API's words: a parameter it names
    (a ``regkit.errors.Phrase``: "removes them with --delete-orphans") as ``fn``'s keyword
    (``delete_orphans=``)."""
    if warn is None:
        return None
    words, told = _words_of(fn), warn
    return lambda message: told(_errors.say(message, words))


def _connect(host: str, options: ConnectOptions) -> RegistryClient:
    """``regkit.ops.connect``, its warning (an ``insecure`` connection to a remote host, a log
    record) in the API's words: ``insecure=``."""
    return _ops.connect(host, options, words=_words_of(connect))


connect = _public(connect)
overview = _public(overview)
inspect = _public(inspect)
check = _public(check)
promote = _public(promote)
delete = _public(delete)
sync = _public(sync)
plan_prune = _public(plan_prune)
execute_prune = _public(execute_prune)
prune = _public(prune)
prune_ghcr = _public(prune_ghcr)


#: Names that left the public surface, still importable from here (``from regkit.api import
#: TagRow``) for code written against the earlier, wider surface.
_MOVED = {
    "ConnectOptions": "regkit.ops",
    "Damage": "regkit.ops.check",
    "ImageCheck": "regkit.ops.check",
    "Orphan": "regkit.ops.check",
    "RepositoryOverview": "regkit.ops.overview",
    "TagRow": "regkit.ops.overview",
    "SyncItem": "regkit.ops.sync",
    "ThenResult": "regkit.ops.gc",
    "Executed": "regkit.ops.audit",
    "check_targets": "regkit.ops.check",
}


def __getattr__(name: str) -> object:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    if name == "after_prune":
        return _after_prune
    raise AttributeError(f"module 'regkit.api' has no attribute {name!r}")


__all__ = [
    "CheckReport",
    "Deletion",
    "GhcrPlan",
    "GhcrResult",
    "Inspection",
    "Overview",
    "PromotedTarget",
    "Promotion",
    "PrunePlan",
    "PruneReport",
    "PruneResult",
    "PrunedTag",
    "Registry",
    "SyncReport",
    "check",
    "connect",
    "delete",
    "execute_prune",
    "inspect",
    "overview",
    "plan_prune",
    "promote",
    "prune",
    "prune_ghcr",
    "sync",
]
