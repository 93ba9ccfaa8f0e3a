"""What a GHCR prune reads to plan: only what the plan uses (issue 24).

On GHCR every manifest GET counts as a download of that package version (a public version with
over 5,000 downloads can no longer be deleted); a HEAD does not, and neither does a blob GET.
The distribution fetch (``regkit.ops.prune.fetch``) reads every platform manifest and every
attestation of every index, for byte estimates and put-backs that GHCR has no use for. Here:

- every tag: a HEAD (its digest and media type);
- every tagged image (each digest once, whatever the number of its tags): a GET of its manifest
  (an index lists its children: the versions that go with it, or stay with it); for an index,
  a GET of the one platform manifest ``pick_child`` takes and of its config (the created time
  and labels, as the distribution fetch reads them); for an image manifest, its config. The
  other platform manifests and the attestations are never read;
- a referrer tag (``sha256-<hex>[.sig|.att|...]``): nothing more when the HEAD says it is no
  index (it references nothing; its created time is never used); a referrers index: its
  manifest (the SBOMs it lists go with it), not the manifests it lists;
- a protected digest no tag points at, and the subject of a referrer tag that is neither
  tagged nor listed by an index: a HEAD (does it exist?), and a GET when it is an index (its
  children stay).

The created time of every tag's image is read as the distribution fetch reads it (the label
``org.opencontainers.image.created``, then the config's ``created``, then annotations): it
decides which SHA tags are the newest, and the plan shows it for every tag. A package version's
``created_at`` is when it was pushed, which can differ from the label (a promote or a re-push
of an old build), so it is not used in its place. The plan's byte estimate counts the blobs
read: the manifests and the one platform manifest's config and layers per image.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from regkit.errors import NotFoundError, RegistryError
from regkit.ops.audit import Labels, labels_from_config
from regkit.ops.once import Once
from regkit.ops.prune.fetch import RepositoryState, oci_labels, refs_of, tag_info
from regkit.ops.prune.plan import ImageRefs, PrunePlan, PrunePolicy, TagInfo, plan_prune
from regkit.reference import validate_repository
from regkit.registry import Manifest, RegistryClient
from regkit.registry.manifest import IMAGE_TYPES, Descriptor, pick_child
from regkit.registry.referrers import classify_tag

#: Largest config read for a created time (as the distribution fetch).
CONFIG_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PackageState:
    """A package's tags as planned on GHCR, and the labels of each image's config (by digest:
    what ``--record`` writes, without reading them again)."""

    state: RepositoryState
    record_labels: Mapping[str, Labels] = field(default_factory=dict)


def fetch_package(
    client: RegistryClient,
    repository: str,
    *,
    protect_digests: Iterable[str] = (),
    tick: Callable[[], None] | None = None,
) -> PackageState:
    """The tags of ``repository`` with digests, created times and children, reading only what
    the plan uses (see the module docstring)."""
    advance = tick or (lambda: None)
    try:
        names = client.tags(repository)
    except NotFoundError:
        raise NotFoundError(
            f"repository {repository} not found on {client.registry}; "
            "check the name with 'regkit catalog'"
        ) from None

    def head(ref: str) -> Descriptor | None:
        try:
            return client.resolve(repository, ref)
        finally:
            advance()

    def get(digest: str) -> Manifest | None:
        try:
            return client.get_manifest(repository, digest)
        except NotFoundError:
            return None  # deleted since the HEAD, or a child missing from a broken index
        finally:
            advance()

    def get_config(digest: str) -> dict[str, Any] | None:
        try:
            data = json.loads(client.get_blob(repository, digest, limit=CONFIG_LIMIT))
        except (RegistryError, ValueError):
            return None  # an unreadable config: the created time is unknown, and said so
        finally:
            advance()
        return data if isinstance(data, dict) else None

    child_once: Once[str, Manifest | None] = Once()
    config_once: Once[str, dict[str, Any] | None] = Once()

    def image(digest: str) -> Manifest | None:
        """A tagged image's manifest, its picked platform manifest and that one's config."""
        m = get(digest)
        if m is None:
            return None
        picked: Manifest | None = m
        if m.is_index:
            desc = pick_child(m)
            picked = child_once.get(desc.digest, lambda: get(desc.digest)) if desc else None
        if picked is not None and (cfg := picked.config) is not None:
            config_once.get(cfg.digest, lambda: get_config(cfg.digest))
        return m

    def needs_reading(desc: Descriptor) -> bool:
        """Not known by its HEAD to be an image manifest (which references no manifest)."""
        return desc.media_type not in IMAGE_TYPES

    descs = dict(zip(names, client.map(head, names), strict=True))
    images = sorted(
        {d.digest for t, d in descs.items() if d is not None and classify_tag(t) is None}
    )
    referrer_indexes = sorted(
        {
            d.digest
            for t, d in descs.items()
            if d is not None and classify_tag(t) is not None and needs_reading(d)
        }
        - set(images)
    )
    read = dict(zip(images, client.map(image, images), strict=True))
    read.update(zip(referrer_indexes, client.map(get, referrer_indexes), strict=True))
    manifests = {d: m for d, m in read.items() if m is not None}

    # Untagged manifests known to exist: protected digests, and subjects of referrer tags that
    # nothing tagged lists (so their referrers are no orphans). A HEAD each; an index is read.
    listed = {c.digest for m in manifests.values() for c in m.children}
    subjects = {rt.subject for t in names if (rt := classify_tag(t)) is not None}
    tagged = {d.digest for d in descs.values() if d is not None}
    wanted = sorted((set(protect_digests) | (subjects - listed)) - tagged)
    untagged: dict[str, ImageRefs] = {}
    for digest, desc in zip(wanted, client.map(head, wanted), strict=True):
        if desc is None:
            continue
        if not needs_reading(desc):
            untagged[digest] = ImageRefs(digest, (), ((digest, desc.size),))
        elif (m := get(digest)) is not None:
            manifests[digest] = m
            untagged[digest] = refs_of(m, {})

    children = {d: m for d, m in child_once.results().items() if m is not None}
    configs = config_once.results()

    def picked_of(m: Manifest) -> Manifest | None:
        if not m.is_index:
            return m
        desc = pick_child(m)
        return children.get(desc.digest) if desc else None

    infos: list[TagInfo] = []
    labels: dict[str, dict[str, str]] = {}
    record: dict[str, Labels] = {}
    missing = [
        t for t, d in descs.items() if d is None or (d.digest in read and read[d.digest] is None)
    ]
    if missing:
        # Deleted since the listing, or dangling: still listed, its manifest gone (the registry
        # stopped between deleting a manifest and its tag links). Only the latter is listed now.
        still = set(client.tags(repository))
        infos += [TagInfo(t, "", None, dangling=True) for t in missing if t in still]
    for tag, desc in descs.items():
        if desc is None or tag in missing:
            continue
        m = manifests.get(desc.digest)
        if m is None:  # a referrer tag on an image manifest: what the HEAD told is enough
            labels.setdefault(desc.digest, {})
            blobs = ((desc.digest, desc.size),)
            infos.append(TagInfo(tag, desc.digest, None, (), blobs))
            continue
        picked = picked_of(m)
        config = picked.config if picked is not None else None
        cfg = configs.get(config.digest) if config is not None else None
        refs = refs_of(m, children)
        if m.digest not in labels:
            labels[m.digest] = oci_labels(cfg, picked, m if m.is_index else None)
            record[m.digest] = labels_from_config(cfg)
        infos.append(tag_info(repository, tag, m, picked, cfg, refs))
    state = RepositoryState(
        repository,
        tuple(infos),
        tuple(untagged.values()),
        {**children, **manifests},
        labels,
    )
    return PackageState(state, record)


def plan_tags(
    client: RegistryClient,
    repository: str,
    policy: PrunePolicy,
    now: datetime,
    *,
    tick: Callable[[], None] | None = None,
    protect_dir: str | None = None,
) -> tuple[PrunePlan, Mapping[str, Labels]]:
    """The tag plan of one package (as ``regkit.ops.prune.run.plan_target`` makes it on
    distribution: ``protect_dir``'s deploy files protected too), from ``fetch_package``; and
    the labels of each image's config for ``--record``."""
    from regkit.ops.prune.deploydir import deploy_dir_protection, with_protection

    validate_repository(repository)
    if protect_dir is not None:
        policy = with_protection(policy, deploy_dir_protection(protect_dir, repository))
    fetched = fetch_package(client, repository, protect_digests=policy.protect_digests, tick=tick)
    state = fetched.state
    plan = plan_prune(list(state.tags), policy, now, untagged=state.untagged, repository=repository)
    plan = dataclasses.replace(plan, sources=state.manifests, labels=state.labels)
    return plan, fetched.record_labels


__all__ = ["CONFIG_LIMIT", "PackageState", "fetch_package", "plan_tags"]
