"""Promote an image by digest: the tested manifest, byte for byte, under new tags.

``parse_source``/``parse_targets`` validate every reference before any request.
``plan_promotion`` (pure) decides per target: ``create`` (no such tag yet), ``move`` (the tag
points at another digest) or ``unchanged`` (it already points at the source digest, so it is
not written: a rerun writes nothing). An exact release tag (``v1.2.3``, ``1.2.3``, with
an optional pre-release such as ``-rc.1``) never moves to another digest without ``force``
(``refuse_release_moves``): a published version must not change under its users. ``latest``
and aliases (``v1``, ``v1.2``) move freely.

``promote`` is the executor: it reads the source manifest once, checks ``expect_digest``
before any write, writes through ``regkit.ops.copy`` and then verifies that every target
resolves to the source digest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from regkit import imagemeta
from regkit.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    Param,
    RegkitError,
)
from regkit.ops.copy import (
    CopyStats,
    Image,
    ReferrerStats,
    copy_image,
    copy_referrers,
    fetch_image,
)
from regkit.ops.prune.rules import is_release_tag
from regkit.reference import Reference, parse_reference, validate_digest, validate_tag
from regkit.registry import Descriptor, Manifest, RegistryClient
from regkit.registry import referrers as refs

Connector = Callable[[str], RegistryClient]


class SourceNotFoundError(NotFoundError):
    """The source tag or digest does not exist (nothing was written)."""


class ReleaseTagMoveError(RegkitError):
    """An existing exact release tag would move to another digest (nothing was written)."""


class TargetAction(StrEnum):
    CREATE = "create"
    MOVE = "move"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class TargetPlan:
    target: Reference
    action: TargetAction
    old_digest: str | None = None
    still_on_old: tuple[str, ...] | None = None  # a forced release move: tags left on the old

    @property
    def moves_release(self) -> bool:
        """A move of an exact release tag (refused without force)."""
        tag = self.target.tag
        return self.action is TargetAction.MOVE and tag is not None and is_release_tag(tag)

    @property
    def writes(self) -> bool:
        return self.action is not TargetAction.UNCHANGED

    def describe(self, *, done: bool) -> str:
        """``created`` / ``moved from sha256:...`` / ``unchanged`` (``create``... in a plan)."""
        if self.action is TargetAction.CREATE:
            return "created" if done else "create"
        if self.action is TargetAction.MOVE:
            text = f"{'moved' if done else 'move'} from {self.old_digest}"
            if self.still_on_old is not None:
                left = ", ".join(self.still_on_old) or "none"
                text += f" (still on it: {left})"
            return text
        return "unchanged"


@dataclass(frozen=True, slots=True)
class Plan:
    source: Reference
    digest: str
    media_type: str
    targets: tuple[TargetPlan, ...]

    @property
    def writes(self) -> tuple[TargetPlan, ...]:
        return tuple(t for t in self.targets if t.writes)


@dataclass
class PromotionResult:
    plan: Plan
    dry_run: bool
    platforms: list[str] = field(default_factory=list)
    stats: CopyStats = field(default_factory=CopyStats)
    manifest: Manifest | None = field(default=None, repr=False)
    #: the source image's referrers and those written to another repository; None when none
    #: was looked for (every target in the source repository, or ``referrers=False``)
    referrers: ReferrerStats | None = None

    @property
    def digest(self) -> str:
        return self.plan.digest

    @property
    def promoted(self) -> bool:
        """True when anything was written."""
        return not self.dry_run and bool(self.plan.writes)

    def lines(self) -> list[str]:
        """The digest, then one line per target: ``REF  created|moved from ...|unchanged``."""
        done = not self.dry_run
        names = [str(t.target) for t in self.plan.targets]
        width = max((len(n) for n in names), default=0)
        out = [self.plan.digest]
        for name, t in zip(names, self.plan.targets, strict=True):
            out.append(f"{name.ljust(width)}  {t.describe(done=done)}")
        return out

    def referrers_line(self) -> str | None:
        """``1 signature, 1 SBOM: 2 copied`` (or ``already there``, ``to copy`` on a dry
        run); None when the image has none or none was looked for."""
        r = self.referrers
        if r is None or not any(r.found.values()):
            return None
        copied = sum(r.copied.values())
        done = f"{copied} copied" if copied else "already there"
        what = "to copy" if self.dry_run else done
        return f"{r.describe('found')}: {what}"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.plan.source),
            "digest": self.plan.digest,
            "mediaType": self.plan.media_type,
            "platforms": self.platforms,
            "dryRun": self.dry_run,
            "promoted": self.promoted,
            "targets": [
                {
                    "reference": str(t.target),
                    "action": t.action.value,
                    "status": t.describe(done=not self.dry_run),
                    "oldDigest": t.old_digest,
                    "digest": self.plan.digest,
                }
                for t in self.plan.targets
            ],
            "blobs": self.stats.as_dict(),
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2)


# -- parsing (pure) --------------------------------------------------------------------------


def parse_source(
    text: str, *, default_registry: str | None = None, default_tag: str | None = None
) -> Reference:
    """``registry/repo:tag`` or ``registry/repo@sha256:...``."""
    ref = parse_reference(
        text, default_registry=default_registry, require_identifier=True, default_tag=default_tag
    )
    if ref.tag and ref.digest:
        return Reference(ref.registry, ref.repository, None, ref.digest)  # the digest wins
    return ref


def parse_target(text: str, source: Reference) -> Reference:
    """A bare tag (source repository), ``repo:tag`` (source registry) or a full reference."""
    if not text or not text.strip():
        raise InvalidReferenceError("invalid target: it is empty")
    if "/" not in text and ":" not in text and "@" not in text:
        return source.with_tag(validate_tag(text))
    ref = parse_reference(text, default_registry=source.registry)
    if ref.digest:
        raise InvalidReferenceError(
            f"invalid target {text!r}: a target is a tag, not a digest (e.g. {ref.name}:v1.2.3)"
        )
    if not ref.tag:
        raise InvalidReferenceError(f"invalid target {text!r}: add the tag, e.g. {ref.name}:latest")
    return ref


def split_targets(texts: Iterable[str]) -> list[str]:
    """Targets from arguments or an action input: comma or newline separated, blanks dropped."""
    out: list[str] = []
    for text in texts:
        for line in text.replace(",", "\n").splitlines():
            if line.strip():
                out.append(line.strip())
    return out


def parse_targets(texts: Iterable[str], source: Reference) -> list[Reference]:
    """Every target validated (the first bad one raises), duplicates dropped, order kept."""
    out: list[Reference] = []
    for text in texts:
        ref = parse_target(text, source)
        if ref not in out:
            out.append(ref)
    if not out:
        raise InvalidReferenceError("no targets: give at least one tag or reference to promote to")
    return out


# -- planning (pure) -------------------------------------------------------------------------


def plan_promotion(
    source: Reference,
    source_descriptor: Descriptor,
    targets: Sequence[Reference],
    current: Mapping[Reference, str | None],
) -> Plan:
    """Per target: create, move from its current digest, or leave it (already the digest)."""
    digest = source_descriptor.digest
    plans: list[TargetPlan] = []
    for target in targets:
        old = current.get(target)
        if target.digest and target.digest != digest:
            raise DigestMismatchError(
                f"cannot copy {digest} to {target}: the target names another digest"
            )
        if old == digest:
            plans.append(TargetPlan(target, TargetAction.UNCHANGED, old))
        elif old is None:
            plans.append(TargetPlan(target, TargetAction.CREATE))
        else:
            plans.append(TargetPlan(target, TargetAction.MOVE, old))
    return Plan(source, digest, source_descriptor.media_type, tuple(plans))


def refuse_release_moves(plan: Plan) -> None:
    """ReleaseTagMoveError naming every exact release tag the plan would move."""
    moves = [t for t in plan.targets if t.moves_release]
    if not moves:
        return
    names = ", ".join(str(t.target) for t in moves)
    olds = sorted({t.old_digest or "" for t in moves})
    several = len(moves) > 1
    source = (
        f"from {olds[0]}"
        if len(olds) == 1
        else "from " + ", ".join(f"{t.old_digest} ({t.target.tag})" for t in moves)
    )
    raise ReleaseTagMoveError(
        (
            f"refusing to move the release tag{'s' if several else ''} {names} {source} to "
            f"{plan.digest}: a published version must not change; nothing was written; ",
            Param("force", ask=True),
            f" to move {'them' if several else 'it'}",
        )
    )


def write_groups(plan: Plan) -> dict[tuple[str, str], list[str]]:
    """(registry, repository) -> the tags (or digest) to write there, in plan order."""
    groups: dict[tuple[str, str], list[str]] = {}
    for t in plan.writes:
        groups.setdefault((t.target.registry, t.target.repository), []).append(t.target.identifier)
    return groups


# -- executor --------------------------------------------------------------------------------


def promote(
    source: Reference,
    targets: Sequence[Reference],
    connect: Connector,
    *,
    expect_digest: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    referrers: bool = True,
) -> PromotionResult:
    """Plan, then (unless ``dry_run``) write and verify. Nothing is written on any error
    found before the first write: unreachable or refusing registries, a missing source, a
    source that moved away from ``expect_digest``, an exact release tag that would move
    (unless ``force``; then the result names the tags still on its old digest).
    ``referrers``: a target in another repository also gets the source image's referrers
    (signatures, attestations, SBOMs: ``regkit.ops.copy.copy_referrers``) so it still verifies
    there; a target in the source repository needs nothing (same digest)."""
    if expect_digest is not None:
        validate_digest(expect_digest)
    hosts = list(dict.fromkeys([source.registry, *(t.registry for t in targets)]))
    with contextlib.ExitStack() as stack:
        clients = {h: stack.enter_context(connect(h)) for h in hosts}
        for host, client in clients.items():
            client.warm(_connections_to_warm(source, targets, host))
        src = clients[source.registry]

        def read_source() -> Manifest | None:
            try:
                return src.get_manifest(source.repository, source.identifier)
            except NotFoundError:
                return None

        # The source manifest and every target's current digest, in one concurrent round. It
        # reaches every registry involved, so missing or refused credentials, or a registry
        # that cannot be reached, stop the promotion here, before any write.
        reads: list[Callable[[], object]] = [read_source]
        reads += [_bound(clients[t.registry], t) for t in targets]
        answers = src.map(lambda read: read(), reads)
        top = answers[0]
        if not isinstance(top, Manifest):
            raise SourceNotFoundError(
                f"source {source} does not exist; check the tag (regkit ls {source.name})"
            )
        if expect_digest is not None and top.digest != expect_digest:
            raise DigestMismatchError(
                f"source {source} is {top.digest}, not the expected {expect_digest}; "
                "it changed since it was tested, nothing was promoted"
            )
        current: dict[Reference, str | None] = {}
        for target, found in zip(targets, answers[1:], strict=True):
            current[target] = found.digest if isinstance(found, Descriptor) else None
        plan = plan_promotion(source, top.descriptor(), targets, current)
        if not force:
            refuse_release_moves(plan)
        result = PromotionResult(plan, dry_run, platforms=_platforms(top), manifest=top)
        elsewhere = [
            (t.target.registry, t.target.repository)
            for t in plan.targets
            if (t.target.registry, t.target.repository) != (source.registry, source.repository)
        ]
        source_tags: list[str] = []
        if referrers and elsewhere:
            result.referrers = ReferrerStats()
            source_tags = src.tags(source.repository, invalid="warn")
            if dry_run:
                for r in refs.referrers_below(src, source.repository, top.digest, tags=source_tags):
                    result.referrers.add(r.kind, copied=False)
        if dry_run:
            return result
        groups = write_groups(plan)
        image = Image(top)
        if any(key != (source.registry, source.repository) for key in groups):
            image = fetch_image(src, source.repository, top.digest, top)
        for (host, repository), names in groups.items():
            copy_image(
                src, source.repository, image, clients[host], repository, names, result.stats
            )
        if result.referrers is not None:
            # every target repository elsewhere, written or not: a rerun brings what is missing
            for index, (host, repository) in enumerate(dict.fromkeys(elsewhere)):
                found = result.referrers if index == 0 else ReferrerStats()
                copy_referrers(
                    src,
                    source.repository,
                    top.digest,
                    clients[host],
                    repository,
                    source_tags=source_tags,
                    target_tags=_lister(clients[host], repository),
                    stats=result.stats,
                    found=found,
                )
                if index:
                    for kind, n in found.copied.items():
                        result.referrers.copied[kind] += n
                    result.referrers.indexes_written += found.indexes_written
        if not plan.writes:
            return result
        _verify(clients, [t.target for t in plan.writes], top.digest)
        if any(t.moves_release for t in plan.targets):
            result.plan = _with_tags_left(clients, plan)
        return result


def _lister(client: RegistryClient, repository: str) -> Callable[[], list[str]]:
    def tags() -> list[str]:
        try:
            return client.tags(repository, invalid="warn")
        except NotFoundError:
            return []

    return tags


def _with_tags_left(clients: Mapping[str, RegistryClient], plan: Plan) -> Plan:
    """The plan with, on each forced release move, the tags still on the old digest."""
    left: dict[tuple[str, str, str], tuple[str, ...]] = {}
    for t in plan.targets:
        key = (t.target.registry, t.target.repository, t.old_digest or "")
        if not t.moves_release or key in left:
            continue
        client = clients[t.target.registry]
        tags = client.tags(t.target.repository)
        descs = client.map(_resolver_in(client, t.target.repository), tags)
        left[key] = tuple(
            tag for tag, d in zip(tags, descs, strict=True) if d and d.digest == t.old_digest
        )
    targets = tuple(
        dataclasses.replace(
            t, still_on_old=left[(t.target.registry, t.target.repository, t.old_digest or "")]
        )
        if t.moves_release
        else t
        for t in plan.targets
    )
    return dataclasses.replace(plan, targets=targets)


def _resolver_in(client: RegistryClient, repository: str) -> Callable[[str], Descriptor | None]:
    return lambda tag: client.resolve(repository, tag)


BLOB_FAN_OUT = 8  # connections worth opening ahead for a copy of blobs (mounts, uploads)


def _connections_to_warm(source: Reference, targets: Sequence[Reference], host: str) -> int:
    """Connections to open ahead on ``host``, beyond those of the first round (which reads the
    source and resolves every target, each on its own connection): a copy to another
    repository next sends one request per blob at once."""
    mine = [t for t in targets if t.registry == host]
    reads = len(mine) + (1 if source.registry == host else 0)
    copies = any(t.repository != source.repository or t.registry != source.registry for t in mine)
    return max(0, (BLOB_FAN_OUT if copies else len(mine)) - reads)


def _current_digests(
    clients: Mapping[str, RegistryClient], targets: Sequence[Reference]
) -> dict[Reference, str | None]:
    out: dict[Reference, str | None] = {}
    for host, client in clients.items():
        mine = [t for t in targets if t.registry == host]
        found = client.map(_resolver(client), mine)
        out.update({t: (d.digest if d else None) for t, d in zip(mine, found, strict=True)})
    return out


def _bound(client: RegistryClient, target: Reference) -> Callable[[], Descriptor | None]:
    return lambda: client.resolve(target.repository, target.identifier)


def _resolver(client: RegistryClient) -> Callable[[Reference], Descriptor | None]:
    return lambda t: client.resolve(t.repository, t.identifier)


def _verify(
    clients: Mapping[str, RegistryClient], targets: Sequence[Reference], digest: str
) -> None:
    now = _current_digests(clients, targets)
    for target in targets:
        if now.get(target) != digest:
            raise DigestMismatchError(
                f"{target} resolves to {now.get(target) or 'nothing'} after the promotion, "
                f"not {digest}; the registry changed it or another promotion raced this one"
            )


def _platforms(top: Manifest) -> list[str]:
    return Image(top).platforms


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What a promotion's summary says of the image, read as overview reads it."""

    created: datetime | None = None
    description: str | None = None


def image_facts(client: RegistryClient, repository: str, top: Manifest) -> ImageFacts:
    """Created and description of an image (``regkit.imagemeta``: the label, then the
    config's ``created``, then the annotations); of an index, those of the platform that stands
    for it (linux/amd64, else the first), as overview shows."""
    index = top if top.is_index else None
    manifest = top
    if index is not None:
        child = imagemeta.pick_platform(index)
        if child is None:
            return ImageFacts()
        manifest = client.get_manifest(repository, child.digest)
    config: dict[str, Any] | None = None
    if manifest.config is not None:
        try:
            data = json.loads(client.get_blob(repository, manifest.config.digest))
        except ValueError:
            data = None
        config = data if isinstance(data, dict) else None
    return ImageFacts(
        imagemeta.created_of(config, manifest, index),
        imagemeta.description_of(config, manifest, index),
    )
