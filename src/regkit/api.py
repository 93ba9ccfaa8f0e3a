"""regkit's public Python API: what the CLI does, as functions with typed results.

    from regkit import api

    with api.connect("registry.example.com") as reg:        # credentials as the CLI finds them
        for repo in api.overview(reg).repositories:
            print(repo.name, [t.tag for t in repo.tags])
        api.promote(reg, "rednaw/hello-world:1a2b3c4", ["latest"])
        report = api.prune(reg, all_repos=True, match=".*", keep=6,
                           protect_dir="/opt/iac/deploy", record="/var/log/regkit-prune.jsonl")
        api.check(reg).raise_for_damage()

Every function raises the CLI's errors (``regkit.errors.RegkitError`` and its subclasses, each
with a one-line message that says what to do, naming keyword arguments where the CLI names its
flags); none prints anything unless given a callback
(``warn``, ``echo``). Results are frozen dataclasses with ``to_json()`` where the CLI has a JSON
form. References may be given whole (``HOST/REPO:TAG``) or relative to the connected registry
(``REPO:TAG``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect as pyinspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import ParamSpec, TypeVar

from regkit.errors import NotFoundError, RegkitError, UsageError, rename_flags
from regkit.ops import DEFAULTS, ConnectOptions
from regkit.ops import connect as _connect_client
from regkit.ops.audit import Executed
from regkit.ops.check import CheckReport, Damage, ImageCheck, Orphan
from regkit.ops.check import check_targets as _check_targets
from regkit.ops.gc import ThenResult
from regkit.ops.ghcr_prune import GhcrPlan, GhcrResult
from regkit.ops.inspect import Inspection
from regkit.ops.overview import Overview, RepositoryOverview, TagRow
from regkit.ops.prune import PrunePlan, PruneResult
from regkit.ops.prune.run import Target
from regkit.ops.sync import SyncItem
from regkit.reference import Reference, parse_reference, validate_host
from regkit.registry import RegistryClient

Callback = Callable[[str], None]
_P = ParamSpec("_P")
_R = TypeVar("_R")


# -- connecting ---------------------------------------------------------------------------------


class Registry:
    """A connection to one registry; close it (or use ``with``) to release its connections."""

    def __init__(self, host: str, options: ConnectOptions) -> None:
        self.host = validate_host(host)
        self.options = options
        self.client: RegistryClient = _connect_client(self.host, options)

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"Registry({self.host!r})"

    def reference(self, text: str) -> Reference:
        """``text`` as a reference on this registry (``REPO:TAG`` gets this host)."""
        ref = parse_reference(text, default_registry=self.host)
        if ref.registry != self.host:
            raise UsageError(
                f"{text} is on {ref.registry}, not on {self.host}; connect to {ref.registry}"
            )
        return ref

    def repository(self, text: str) -> str:
        """A repository name given bare or as ``HOST/REPO``."""
        ref = self.reference(text)
        if ref.tag or ref.digest:
            raise UsageError(
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
    jobs: int = DEFAULTS.jobs,
    timeout: float = DEFAULTS.timeout,
    docker_config: str | None = None,
    options: ConnectOptions | None = None,
) -> Registry:
    """A connection to ``host`` (``registry.example.com`` or ``127.0.0.1:5000``).

    Credentials: ``username`` + ``password``, else ``REGISTRY_USERNAME`` + ``REGISTRY_PASSWORD``,
    else the Docker config (``docker_config`` dir, ``$DOCKER_CONFIG``, ``~/.docker``), as the
    CLI. Nothing is sent until the first operation.
    """
    if options is None:
        options = ConnectOptions(
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
    return collect(reg.client, repos, platform=platform)


def inspect(reg: Registry, ref: str, *, platform: str | None = None) -> Inspection:
    """One image in one call (``regkit inspect``): digest, tags on it, created, labels, every
    platform with its layers and size, attestations. ``ref`` without tag or digest: latest."""
    from regkit.ops.inspect import inspect as _inspect

    parsed = parse_reference(ref, default_registry=reg.host, default_tag="latest")
    reg.reference(str(parsed))  # another host is refused
    return _inspect(reg.client, parsed, platform=platform)


def check(
    reg: Registry,
    repositories: Sequence[str] | None = None,
    *,
    storage: str | None = None,
    on_stage: Callable[[str, int], None] | None = None,
    tick: Callable[[], None] | None = None,
) -> CheckReport:
    """Check that every tagged image of ``repositories`` (default: the catalog) is whole
    (``regkit check``). ``storage``: the registry's storage root, to also list untagged image
    manifests no index references. The report's ``ok`` is False when anything is broken;
    ``CheckReport.raise_for_damage()`` turns that into an error."""
    from regkit.ops.check import check_repositories

    repos = [reg.repository(r) for r in repositories] if repositories else None
    return check_repositories(reg.client, repos, storage=storage, on_stage=on_stage, tick=tick)


# -- writing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromotedTarget:
    reference: str
    action: str  # create, move, unchanged
    old_digest: str | None


@dataclass(frozen=True, slots=True)
class Promotion:
    source: str
    digest: str
    platforms: tuple[str, ...]
    targets: tuple[PromotedTarget, ...]
    promoted: bool  # anything written
    dry_run: bool


def promote(
    reg: Registry,
    source: str,
    targets: Iterable[str],
    *,
    expect_digest: str | None = None,
    dry_run: bool = False,
) -> Promotion:
    """Copy ``source`` (``REPO:TAG`` or ``REPO@DIGEST``) to each target (a tag, ``REPO:TAG``, or a
    reference on another registry) by digest, every platform included (``regkit promote``)."""
    from regkit.ops import promote as pr

    src = pr.parse_source(str(reg.reference(source)))
    parsed = pr.parse_targets(list(targets), src)
    if not parsed:
        raise UsageError("promote needs at least one target tag")

    def connector(host: str) -> RegistryClient:
        return _connect_client(host, reg.options)

    result = pr.promote(src, parsed, connector, expect_digest=expect_digest, dry_run=dry_run)
    return Promotion(
        source=str(src),
        digest=result.digest,
        platforms=tuple(result.platforms),
        targets=tuple(
            PromotedTarget(str(t.target), t.action.value, t.old_digest) for t in result.plan.targets
        ),
        promoted=result.promoted,
        dry_run=dry_run,
    )


@dataclass(frozen=True, slots=True)
class Deletion:
    kind: str  # "manifest" (by digest: every tag on it went) or "tag" (that tag alone)
    reference: str
    digest: str
    tags: tuple[str, ...]


def delete(reg: Registry, ref: str) -> Deletion:
    """``REPO@DIGEST`` deletes the manifest (and names the tags that went with it);
    ``REPO:TAG`` removes that tag only (``regkit delete``)."""
    from regkit.ops.prune.run import delete_reference

    parsed = reg.reference(ref)
    kind, digest, tags = delete_reference(reg.client, str(parsed))
    return Deletion(kind, str(parsed), digest, tuple(tags))


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What ``sync`` planned (and, unless ``dry_run``, wrote): a line per source tag."""

    source: str
    destination: str
    items: tuple[SyncItem, ...]
    dry_run: bool
    skipped: tuple[str, ...]  # tags that vanished from the source while listing
    blobs: tuple[tuple[str, int], ...]  # mounted, uploaded, uploaded_bytes, ... (as the CLI's)

    @property
    def written(self) -> tuple[SyncItem, ...]:
        return tuple(i for i in self.items if i.action.value != "unchanged")

    def to_json(self) -> dict[str, object]:
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
) -> SyncReport:
    """Copy every tag of repository ``source`` (matching ``match``) that differs to repository
    ``destination`` (on this registry, or ``HOST/REPO`` on another), by digest (``regkit
    sync``). Idempotent."""
    from regkit.ops import sync as sy

    src = parse_reference(str(reg.reference(source)))
    dst = parse_reference(destination, default_registry=reg.host)
    for text, ref in ((source, src), (destination, dst)):
        if ref.tag or ref.digest:
            raise UsageError(f"sync takes repositories: drop the tag or digest from {text!r}")
    other = None if dst.registry == reg.host else _connect_client(dst.registry, reg.options)
    try:
        result = sy.sync(
            reg.client,
            src,
            other or reg.client,
            dst,
            match=sy.compile_match(match),
            dry_run=dry_run,
        )
    finally:
        if other is not None:
            other.close()
    blobs = result.to_json()["blobs"]
    return SyncReport(
        source=str(result.source),
        destination=str(result.destination),
        items=result.items,
        dry_run=result.dry_run,
        skipped=result.skipped,
        blobs=tuple((str(k), int(v)) for k, v in blobs.items()),
    )


# -- prune --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune planned and did on one registry, and what followed (``then``, ``check``)."""

    registry: str
    plans: tuple[PrunePlan, ...]
    results: tuple[PruneResult, ...] = ()  # empty on a dry run
    dry_run: bool = False
    records: int = 0  # audit lines written
    #: platform manifests of deleted indexes, deleted after them (nothing else used them)
    platform_manifests: tuple[str, ...] = ()
    then: ThenResult | None = None
    check: CheckReport | None = None

    @property
    def deleted(self) -> tuple[str, ...]:
        """``HOST/REPO:TAG`` of every tag removed."""
        return tuple(
            f"{self.registry}/{r.repository}:{t}" for r in self.results for t in r.deleted_tags
        )

    @property
    def kept(self) -> tuple[str, ...]:
        return tuple(f"{self.registry}/{p.repository}:{e.tag}" for p in self.plans for e in p.kept)

    @property
    def reclaimable_bytes(self) -> int:
        if self.dry_run:
            return sum(p.reclaimable_bytes for p in self.plans)
        return sum(r.reclaimable_bytes for r in self.results)

    @property
    def complete(self) -> bool:
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

    def raise_for_problems(self) -> None:
        """``RegkitError`` when the prune did not finish, the ``then`` command failed, or the
        check after it found broken images (``CheckError``)."""
        if not self.complete:
            raise RegkitError(f"prune of {self.registry} did not finish; run it again to finish")
        if self.then is not None and not self.then.ok:
            raise RegkitError(
                f"the command after the prune ({' '.join(self.then.command)}) exited "
                f"{self.then.exit_code}; the prune itself is done"
            )
        if self.check is not None:
            self.check.raise_for_damage()


def plan_prune(
    reg: Registry,
    repositories: Sequence[str] = (),
    *,
    all_repos: bool = False,
    match: str | None = None,
    keep: int | None = None,
    older_than: str | None = None,
    protect_tags: Iterable[str] = (),
    protect_digests: Iterable[str] = (),
    protect_files: Iterable[str] = (),
    protect_dir: str | None = None,
    now: datetime | None = None,
    tick: Callable[[], None] | None = None,
) -> tuple[PrunePlan, ...]:
    """The prune plan per repository; nothing is changed (``regkit prune --dry-run``)."""
    from regkit.ops.prune.run import build_policy, plan_target

    target = _prune_target(reg, repositories, all_repos)
    policy = build_policy(
        match=match,
        keep=keep,
        older_than=older_than,
        protect_tags=protect_tags,
        protect_digests=protect_digests,
        protect_files=protect_files,
    )
    when = now or datetime.now(UTC)
    return tuple(plan_target(reg.client, target, policy, when, tick=tick, protect_dir=protect_dir))


def _prune_target(reg: Registry, repositories: Sequence[str], all_repos: bool) -> Target:
    """The one target of an API prune: ``repositories`` (or the catalog), deduplicated."""
    if not repositories and not all_repos:
        raise UsageError("name at least one repository or pass all_repos=True")
    names = () if all_repos else tuple(dict.fromkeys(reg.repository(r) for r in repositories))
    return Target(reg.host, names, all_repos)


def execute_prune(
    reg: Registry,
    plans: Sequence[PrunePlan],
    *,
    record: str | None = None,
    warn: Callback | None = None,
    tick: Callable[[], None] | None = None,
) -> Executed:
    """Carry out ``plans``: the results, the audit lines written (``record``) and the platform
    manifests of deleted indexes deleted after them."""
    from regkit.ops.audit import execute_recorded

    _refuse_ghcr(reg)
    return execute_recorded(reg.client, plans, record=record, warn=warn, tick=tick)


def _refuse_ghcr(reg: Registry) -> None:
    from regkit.ops.ghcr import is_ghcr

    if is_ghcr(reg.host):
        raise UsageError(
            f"{reg.host} deletes through the GitHub API, not the registry: use "
            "regkit.api.prune_ghcr"
        )


def prune_ghcr(
    reg: Registry,
    repositories: Sequence[str],
    *,
    match: str | None = None,
    keep: int | None = None,
    older_than: str | None = None,
    protect_tags: Iterable[str] = (),
    protect_digests: Iterable[str] = (),
    protect_files: Iterable[str] = (),
    protect_dir: str | None = None,
    delete_untagged: bool = False,
    github_token: str | None = None,
    dry_run: bool = False,
    warn: Callback | None = None,
) -> list[tuple[GhcrPlan, GhcrResult | None]]:
    """``regkit prune ghcr.io/OWNER/NAME``: the plan per package and (unless ``dry_run``) its
    result. Versions are deleted through the GitHub API (``github_token``, else GITHUB_TOKEN,
    else the registry password; ``GITHUB_API_URL``); the first refusal for want of permission
    raises ``RegkitError`` naming the permission."""
    from regkit.ops.ghcr import packages_api
    from regkit.ops.ghcr_prune import execute_ghcr, plan_package
    from regkit.ops.prune.run import build_policy

    policy = build_policy(
        match=match,
        keep=keep,
        older_than=older_than,
        protect_tags=protect_tags,
        protect_digests=protect_digests,
        protect_files=protect_files,
    )
    now = datetime.now(UTC)
    out: list[tuple[GhcrPlan, GhcrResult | None]] = []
    with packages_api(reg.client, token=github_token, notify=warn) as api:
        plans = [
            plan_package(
                reg.client,
                api,
                reg.repository(r),
                policy,
                now,
                delete_untagged=delete_untagged,
                protect_dir=protect_dir,
            )
            for r in repositories
        ]
        for plan in plans:
            if dry_run:
                out.append((plan, None))
                continue
            result = execute_ghcr(reg.client, api, plan, warn=warn)
            out.append((plan, result))
            if result.error:
                raise RegkitError(result.error)
    return out


def prune(
    reg: Registry,
    repositories: Sequence[str] = (),
    *,
    all_repos: bool = False,
    match: str | None = None,
    keep: int | None = None,
    older_than: str | None = None,
    protect_tags: Iterable[str] = (),
    protect_digests: Iterable[str] = (),
    protect_files: Iterable[str] = (),
    protect_dir: str | None = None,
    record: str | None = None,
    then: str | Sequence[str] | None = None,
    storage: str | None = None,
    dry_run: bool = False,
    warn: Callback | None = None,
    echo: Callback | None = None,
) -> PruneReport:
    """Plan and (unless ``dry_run``) carry out a prune (``regkit prune --yes``).

    Keeps the ``keep`` newest tags matching ``match`` per repository, protected tags and
    digests, what ``protect_files`` and ``protect_dir/<app>/deploy-*.yml`` name, deploy
    markers (``deployed-*``), and every manifest a staying tag uses. ``record``: the audit file.
    ``then``: a command run when anything was deleted (the registry's garbage-collect), after
    which every staying image of the pruned repositories is checked (``report.check``);
    ``storage``: the registry's storage root, measured before and after (``report.then``).
    Raises ``RegkitError`` when the prune did not finish; check ``report.ok`` for the rest.
    """
    from regkit.ops.gc import split_command, storage_bytes

    if storage is not None:
        from regkit.ops.check import storage_repositories_root

        storage_repositories_root(storage)  # a wrong directory is refused before any delete
    argv = None
    if then is not None:
        argv = split_command(then) if isinstance(then, str) else tuple(then)
        if not argv:
            raise UsageError("then: empty command")
    from regkit.ops.prune.run import build_policy
    from regkit.ops.prune.session import prune_targets

    target = _prune_target(reg, repositories, all_repos)
    if not dry_run:
        _refuse_ghcr(reg)
    policy = build_policy(
        match=match,
        keep=keep,
        older_than=older_than,
        protect_tags=protect_tags,
        protect_digests=protect_digests,
        protect_files=protect_files,
    )
    measure = storage is not None and argv is not None and not dry_run
    before = storage_bytes(storage) if measure and storage is not None else None
    run = prune_targets(
        [target],
        policy,
        lambda _host: reg.client,
        dry_run=dry_run,
        record=record,
        protect_dir=protect_dir,
        warn=warn,
    )
    pruned = run.registries[0]
    if not run.carried_out:
        return PruneReport(reg.host, pruned.plans, dry_run=dry_run)
    children = tuple(sorted(d for ds in pruned.children.values() for d in ds))
    report = PruneReport(
        reg.host,
        pruned.plans,
        pruned.results or (),
        records=pruned.records,
        platform_manifests=children,
    )
    if not report.complete:
        raise RegkitError(
            "prune did not finish (see the results); the registry is consistent: run the same "
            "prune again to finish"
        )
    if argv is not None and report.deleted:
        then_result, check_report = after_prune(
            reg,
            [p.repository for p in pruned.plans],
            argv,
            storage=storage,
            storage_before=before,
            echo=echo,
        )
        report = dataclasses.replace(report, then=then_result, check=check_report)
    return report


def after_prune(
    reg: Registry,
    repositories: Sequence[str],
    argv: Sequence[str],
    *,
    storage: str | None = None,
    storage_before: int | None = None,
    echo: Callback | None = None,
    on_stage: Callable[[str, int], None] | None = None,
    tick: Callable[[], None] | None = None,
) -> tuple[ThenResult, CheckReport]:
    """Run ``argv`` (the garbage-collect), then check every image that stayed in
    ``repositories``."""
    from regkit.ops.check import check_repositories
    from regkit.ops.gc import run_then

    result = run_then(
        tuple(argv),
        echo=echo or (lambda _line: None),
        storage=storage,
        storage_before=storage_before,
    )
    repos = [r for r in repositories if _exists(reg, r)]
    report = (
        check_repositories(reg.client, repos, on_stage=on_stage, tick=tick)
        if repos
        else CheckReport(reg.host, (), None, ())
    )
    return result, report


def _exists(reg: Registry, repository: str) -> bool:
    try:
        reg.client.tags(repository)
    except NotFoundError:
        return False  # every tag went: nothing stayed to check
    return True


# -- errors in the API's words ------------------------------------------------------------------


#: CLI flags whose keyword argument has another name
_FLAG_KEYWORDS = {"password-stdin": "password"}


def _in_keywords(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn`` whose errors name its keyword arguments where the shared code names a CLI flag
    ("invalid --match pattern" becomes "invalid match= pattern"); the error is the same
    object, of the same type, with the same hint."""
    params = set(pyinspect.signature(fn).parameters)

    def rename(flag: str) -> str | None:
        name = _FLAG_KEYWORDS.get(flag, flag.replace("-", "_"))
        for candidate in (name, f"{name}s"):
            if candidate in params:
                return f"{candidate}="
        return None

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except RegkitError as err:
            err.args = (rename_flags(err.message, rename, imperative="pass"), *err.args[1:])
            raise

    return wrapper


connect = _in_keywords(connect)
overview = _in_keywords(overview)
inspect = _in_keywords(inspect)
check = _in_keywords(check)
check_targets = _in_keywords(_check_targets)
promote = _in_keywords(promote)
delete = _in_keywords(delete)
sync = _in_keywords(sync)
plan_prune = _in_keywords(plan_prune)
execute_prune = _in_keywords(execute_prune)
prune_ghcr = _in_keywords(prune_ghcr)
prune = _in_keywords(prune)
after_prune = _in_keywords(after_prune)


__all__ = [
    "CheckReport",
    "ConnectOptions",
    "Damage",
    "Deletion",
    "Executed",
    "GhcrPlan",
    "GhcrResult",
    "ImageCheck",
    "Inspection",
    "Orphan",
    "Overview",
    "PromotedTarget",
    "Promotion",
    "PrunePlan",
    "PruneReport",
    "PruneResult",
    "Registry",
    "RepositoryOverview",
    "SyncItem",
    "SyncReport",
    "TagRow",
    "ThenResult",
    "after_prune",
    "check",
    "check_targets",
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
