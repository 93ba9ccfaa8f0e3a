"""``regkit overview``: every repository's tags with digest, created time, platforms, size and
description, newest first.

Planning is pure (``image_facts``, ``build_rows``); ``collect`` fetches concurrently: per tag a
chain of its manifest, then the shown platform's manifest and config, with one fetch per
distinct child manifest and config shared by every tag that points at the same content.

An image's referrers (signatures, attestations, SBOMs) are not rows: a referrer tag
(cosign's ``sha256-<hex>.sig``/``.att``/``.sbom``, the referrers tag schema's ``sha256-<hex>``)
is read from the tag list overview already has, and only an image such a tag names gets one
referrers lookup (``regkit.registry.referrers``: the API where served, then those tags); its
row says what is attached (``attached``: counts by kind). A repository without referrer tags
costs not one request more. A referrer tag whose image the repository no longer holds (a HEAD
by digest finds nothing) is listed as orphaned. A referrer that only the referrers API lists,
of an image no referrer tag names, is not looked for (``regkit inspect`` shows it): asking the
API for every image would cost a request per image.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from regkit import imagemeta
from regkit.errors import NotFoundError
from regkit.ops.once import Once
from regkit.registry import Manifest, RegistryClient
from regkit.registry import referrers as refs
from regkit.textsafe import escape, escape_markdown

CREATED_LABEL = imagemeta.CREATED_LABEL
DESCRIPTION_LABEL = imagemeta.DESCRIPTION_LABEL


@dataclass(frozen=True, slots=True)
class TagRow:
    tag: str
    digest: str
    created: datetime | None
    platforms: tuple[str, ...]
    size: int | None
    description: str | None
    #: what is attached to the image, by kind (signature, attestation, sbom, other)
    attached: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(refs.KINDS, 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "digest": self.digest,
            "created": format_rfc3339(self.created),
            "platforms": list(self.platforms),
            "size": self.size,
            "description": self.description,
            # only with something attached: an image without any keeps the shape it had
            **(
                {"attached": {k: self.attached.get(k, 0) for k in refs.KINDS}}
                if self.has_any
                else {}
            ),
        }

    def counts(self) -> dict[str, int]:
        """What is attached, by kind, every kind present."""
        return {kind: self.attached.get(kind, 0) for kind in refs.KINDS}

    @property
    def has_any(self) -> bool:
        """Whether anything is attached to the image."""
        return any(self.attached.values())


@dataclass(frozen=True, slots=True)
class OrphanedReferrer:
    """A referrer tag whose image (``subject``) the repository no longer holds."""

    tag: str
    subject: str
    kind: str  # signature, attestation, sbom, other; "index": the referrers tag schema's

    def to_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "subject": self.subject, "kind": self.kind}

    def describe(self) -> str:
        what = "referrers index" if self.kind == "index" else self.kind
        return f"orphaned  {self.tag}: a {what} of {self.subject}, which is gone"


@dataclass(frozen=True, slots=True)
class RepositoryOverview:
    name: str
    tags: tuple[TagRow, ...]
    orphaned_referrers: tuple[OrphanedReferrer, ...] = ()


@dataclass(frozen=True, slots=True)
class Overview:
    registry: str
    repositories: tuple[RepositoryOverview, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "repositories": [
                {
                    "name": r.name,
                    "tags": [t.to_json() for t in r.tags],
                    # only when there is any: a repository without keeps the shape it had
                    **(
                        {"orphaned_referrers": [o.to_json() for o in r.orphaned_referrers]}
                        if r.orphaned_referrers
                        else {}
                    ),
                }
                for r in self.repositories
            ],
        }


def format_rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What one manifest digest tells, whichever tags point at it."""

    created: datetime | None
    platforms: tuple[str, ...]
    size: int | None
    description: str | None


def image_facts(
    manifest: Manifest,
    children: dict[str, Manifest],
    configs: dict[str, dict[str, Any]],
    platform: str | None = None,
) -> ImageFacts:
    """Pure: facts of an image (or index) from its manifests and parsed configs.

    For an index, CREATED, SIZE and DESCRIPTION are those of one platform: ``platform``, by
    default linux/amd64, else the first; SIZE is what a client of that platform pulls (config
    and layers, compressed), like the per-platform size registries' web pages show.
    """
    if manifest.is_index:
        shown = imagemeta.pick_platform(manifest, platform)
        image = children.get(shown.digest) if shown else None
        platforms = tuple(imagemeta.platforms_of(manifest))
        size = image.image_size if image is not None else None
        index: Manifest | None = manifest
    else:
        image = manifest
        cfg_desc = manifest.config
        own = imagemeta.config_platform(configs.get(cfg_desc.digest)) if cfg_desc else None
        platforms = (own,) if own else ()
        size = manifest.image_size
        index = None
    config: dict[str, Any] | None = None
    if image is not None and image.config is not None:
        config = configs.get(image.config.digest)
    created = imagemeta.created_of(config, image, index)
    description = imagemeta.description_of(config, image, index)
    return ImageFacts(created, platforms, size, description)


def sort_rows(rows: Sequence[TagRow]) -> tuple[TagRow, ...]:
    """Newest first; tags without a known time last; ties by tag name."""
    floor = datetime.min.replace(tzinfo=UTC)
    by_name = sorted(rows, key=lambda r: r.tag)
    return tuple(sorted(by_name, key=lambda r: r.created or floor, reverse=True))


def build_rows(
    tag_digests: dict[str, str],
    facts: dict[str, ImageFacts],
    attached: Mapping[str, Mapping[str, int]] | None = None,
) -> tuple[TagRow, ...]:
    """One row per tag (``attached``: counts by kind per digest, for those with any)."""
    rows = []
    for tag, digest in tag_digests.items():
        f = facts.get(digest)
        counts = (attached or {}).get(digest)
        rows.append(
            TagRow(
                tag=tag,
                digest=digest,
                created=f.created if f else None,
                platforms=f.platforms if f else (),
                size=f.size if f else None,
                description=f.description if f else None,
                attached=dict(counts) if counts else dict.fromkeys(refs.KINDS, 0),
            )
        )
    return sort_rows(rows)


def attached_text(counts: Mapping[str, int]) -> str:
    """``signed (1 signature), 1 attestation, 1 SBOM``; ``-`` when nothing is attached (the
    words of ``regkit inspect``'s ATTACHED row)."""
    parts = [
        words.format(n=n, s="s" if n != 1 else "")
        for kind, words in _ATTACHED_WORDS
        if (n := counts.get(kind, 0))
    ]
    return ", ".join(parts) or "-"


_ATTACHED_WORDS = (
    ("signature", "signed ({n} signature{s})"),
    ("attestation", "{n} attestation{s}"),
    ("sbom", "{n} SBOM{s}"),
    ("other", "{n} other"),
)


def has_attachments(repo: RepositoryOverview) -> bool:
    """Whether any row of ``repo`` has something attached (its table gets an ATTACHED
    column; a repository without any keeps today's columns)."""
    return any(r.has_any for r in repo.tags)


Tick = Callable[[str, int], None]


def collect(
    client: RegistryClient,
    repositories: Sequence[str] | None = None,
    *,
    on_stage: Tick | None = None,
    on_item: Callable[[], None] | None = None,
    platform: str | None = None,
) -> Overview:
    """Fetch everything the overview shows, concurrently (bounded by the client's jobs).

    Each tag is one chain on a worker: its manifest, then (for an index) the manifest of the
    platform shown (``platform``, default linux/amd64, else the first), then that platform's
    config. Chains run side by side with no barrier between steps, so the workers stay busy
    until the last tag; content shared by several tags is fetched once. The other platforms'
    manifests are not read: the index lists their platforms, and SIZE is per platform.
    """
    stage = on_stage or (lambda _label, _total: None)
    tick = on_item or (lambda: None)
    # The workers will all be busy at once: their connections open while the catalog and
    # the tag lists are read, not after.
    client.warm(client.jobs - 1)
    names = list(repositories) if repositories else client.catalog(invalid="warn")

    stage("listing tags", len(names))

    def list_tags(repo: str) -> tuple[str, list[str]]:
        try:
            found = client.tags(repo, invalid="warn")  # shown only
        except NotFoundError:
            if repositories:
                raise NotFoundError(
                    f"repository {repo} not found on {client.registry}; "
                    "check the name with 'regkit catalog'"
                ) from None
            found = []
        tick()
        return repo, found

    listed = client.map(list_tags, names)

    # Referrer tags are not rows: they say which images have something attached.
    referrer_tags = {repo: refs.referrer_tags(tags) for repo, tags in listed}
    pairs = [(repo, tag) for repo, tags in listed for tag in tags if refs.classify_tag(tag) is None]
    stage("reading tags", len(pairs))

    def fetch_child(repo: str, digest: str) -> Manifest | None:
        try:
            return client.get_manifest(repo, digest)
        except NotFoundError:
            return None

    def fetch_config(repo: str, digest: str) -> dict[str, Any]:
        try:
            data = json.loads(client.get_blob(repo, digest))
        except (NotFoundError, ValueError):
            data = {}
        return data if isinstance(data, dict) else {}

    # By digest: content is read once, from the repository of the first tag that asks.
    child_once: Once[str, Manifest | None] = Once()
    config_once: Once[str, dict[str, Any]] = Once()

    def read_tag(pair: tuple[str, str]) -> Manifest | None:
        repo, tag = pair
        try:
            try:
                manifest = client.get_manifest(repo, tag)
            except NotFoundError:
                return None  # deleted between listing and reading
            image: Manifest | None = manifest
            if manifest.is_index:
                shown = imagemeta.pick_platform(manifest, platform)
                if shown is not None:
                    d = shown.digest
                    image = child_once.get(d, lambda: fetch_child(repo, d))
                else:
                    image = None
            if image is not None and (cfg := image.config) is not None:
                config_once.get(cfg.digest, lambda: fetch_config(repo, cfg.digest))
            return manifest
        finally:
            tick()

    manifests = client.map(read_tag, pairs)
    children = {d: m for d, m in child_once.results().items() if m is not None}
    configs = config_once.results()

    # One pass over every (tag, manifest): rows per repository, facts once per digest.
    tag_digests: dict[str, dict[str, str]] = {repo: {} for repo, _tags in listed}
    facts: dict[str, ImageFacts] = {}
    for (repo, tag), m in zip(pairs, manifests, strict=True):
        if m is None:
            continue
        tag_digests[repo][tag] = m.digest
        if m.digest not in facts:
            facts[m.digest] = image_facts(m, children, configs, platform)
    attached, orphaned = _attachments(client, listed, referrer_tags, tag_digests)
    result = [
        RepositoryOverview(
            repo,
            build_rows(tag_digests[repo], facts, attached.get(repo)),
            orphaned.get(repo, ()),
        )
        for repo, _ in listed
    ]
    return Overview(client.registry, tuple(result))


def _attachments(
    client: RegistryClient,
    listed: Sequence[tuple[str, list[str]]],
    referrer_tags: Mapping[str, Mapping[str, list[refs.ReferrerTag]]],
    tag_digests: Mapping[str, Mapping[str, str]],
) -> tuple[dict[str, dict[str, dict[str, int]]], dict[str, tuple[OrphanedReferrer, ...]]]:
    """Per repository: counts by kind per image digest a referrer tag names (one referrers
    lookup each), and the referrer tags whose image is gone (one HEAD per such digest)."""
    tags_of = dict(listed)
    lookups: list[tuple[str, str]] = []
    heads: list[tuple[str, str]] = []
    for repo, by_subject in referrer_tags.items():
        shown = set(tag_digests.get(repo, {}).values())
        for subject in by_subject:
            (lookups if subject in shown else heads).append((repo, subject))
    if not lookups and not heads:
        return {}, {}

    def lookup(ask: tuple[str, str]) -> dict[str, int]:
        repo, subject = ask
        return refs.count_kinds(refs.referrers(client, repo, subject, tags=tags_of[repo]))

    def present(ask: tuple[str, str]) -> bool:
        try:
            return client.resolve(*ask) is not None
        except NotFoundError:
            return False

    counts = client.map(lookup, lookups)
    there = client.map(present, heads)
    attached: dict[str, dict[str, dict[str, int]]] = {}
    for (repo, subject), found in zip(lookups, counts, strict=True):
        attached.setdefault(repo, {})[subject] = found
    orphaned: dict[str, list[OrphanedReferrer]] = {}
    for (repo, subject), is_there in zip(heads, there, strict=True):
        if is_there:
            continue  # an untagged image: no row to show it on
        for rt in referrer_tags[repo][subject]:
            kind = "index" if rt.suffix is None else refs.kind_of("", rt.suffix)
            orphaned.setdefault(repo, []).append(OrphanedReferrer(rt.tag, subject, kind))
    return attached, {repo: tuple(found) for repo, found in orphaned.items()}


def render_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def short_digest(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}"


def render_created(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


HEADERS = ("TAG", "DIGEST", "CREATED (UTC)", "PLATFORMS", "SIZE", "DESCRIPTION")
#: The headers of a repository with something attached to an image: ATTACHED before the
#: description (which is last: it may be long).
HEADERS_ATTACHED = (*HEADERS[:-1], "ATTACHED", HEADERS[-1])


def table_cells(row: TagRow, *, attached: bool = False) -> tuple[str, ...]:
    """The cells of one row, registry text escaped (``regkit.textsafe``); with ``attached``,
    an ATTACHED cell before the description."""
    cells = (
        escape(row.tag),
        escape(short_digest(row.digest)),
        render_created(row.created),
        escape(",".join(row.platforms) or "-"),
        render_size(row.size),
        escape((row.description or "-").replace("\n", " ")),
    )
    if not attached:
        return cells
    return (*cells[:-1], attached_text(row.attached), cells[-1])


def render_table(overview: Overview) -> str:
    out: list[str] = []
    for repo in overview.repositories:
        out.append(escape(f"{overview.registry}/{repo.name}"))
        if not repo.tags:
            out.append("  (no tags)")
            out += [f"  {escape(o.describe())}" for o in repo.orphaned_referrers]
            out.append("")
            continue
        with_attached = has_attachments(repo)
        headers = HEADERS_ATTACHED if with_attached else HEADERS
        rows = [headers, *(table_cells(r, attached=with_attached) for r in repo.tags)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(headers) - 1)]
        for cells in rows:
            line = "  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths, strict=True))
            out.append(f"  {line}  {cells[-1]}".rstrip())
        out += [f"  {escape(o.describe())}" for o in repo.orphaned_referrers]
        out.append("")
    return "\n".join(out)


def _md(cell: str) -> str:
    """One cell, Markdown made inert as the job summary does (a label is data, not a link)."""
    return escape_markdown(cell.replace("\n", " "))


def render_markdown(overview: Overview) -> str:
    out: list[str] = []
    for repo in overview.repositories:
        out.append(f"### `{escape(overview.registry)}/{escape(repo.name)}`")
        out.append("")
        if not repo.tags:
            out.append("_no tags_")
            out += ["", *(f"- {_md(escape(o.describe()))}" for o in repo.orphaned_referrers)]
            out.append("")
            continue
        with_attached = has_attachments(repo)
        headers = HEADERS_ATTACHED if with_attached else HEADERS
        out.append("| " + " | ".join(headers) + " |")
        out.append("|" + "---|" * len(headers))
        for row in repo.tags:
            cells = table_cells(row, attached=with_attached)
            out.append("| " + " | ".join(_md(c) for c in cells) + " |")
        if repo.orphaned_referrers:
            out.append("")
            out += [f"- {_md(escape(o.describe()))}" for o in repo.orphaned_referrers]
        out.append("")
    return "\n".join(out)


def render_json(overview: Overview) -> str:
    return json.dumps(overview.to_json(), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "ImageFacts",
    "OrphanedReferrer",
    "Overview",
    "RepositoryOverview",
    "TagRow",
    "attached_text",
    "build_rows",
    "collect",
    "image_facts",
    "render_json",
    "render_markdown",
    "render_table",
]
