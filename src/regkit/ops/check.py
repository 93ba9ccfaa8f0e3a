"""``regkit check``: is every tagged image whole?

For each tag: its manifest resolves; for an index, every platform manifest it lists resolves
and has the size the index says; for every image manifest, the config and each layer exist
(HEAD) with the size the manifest says. Requests run concurrently, a chain per tag, and content
shared by several tags is asked about once per repository (``regkit.ops.once``).

``judge_image`` is the pure part: from what was fetched, the list of damage.

Untagged manifests: distribution has no API that lists manifests without a tag, so from the
API alone they are unknowable. With the registry's storage readable (``storage``: the
filesystem driver's root directory, on the server), ``_manifests/revisions`` lists every
manifest a repository holds; the ones that no tag points at and no index references (tagged
or not) are reported as *orphans*: ``garbage-collect --delete-untagged`` would remove them,
and without it they stay for ever. They are not damage (exit 0).

Referrers whose image is gone (``orphaned_referrers``): a referrer tag (cosign's
``sha256-<hex>.sig``/``.att``/``.sbom``, the referrers tag schema's ``sha256-<hex>`` index) names
its image's digest; when no tag of the repository is that image (nor a platform of one) and a
HEAD of the digest finds nothing, the referrer belongs to nothing: damage (exit 1), found from
the tag list check already reads. A referrer only the referrers API lists cannot be found
without its image's digest, so it is not looked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from regkit.errors import (
    AuthenticationError,
    ConnectionFailedError,
    NotFoundError,
    Param,
    RegistryError,
    RegkitError,
    TLSError,
    UsageError,
)
from regkit.ops.once import Once
from regkit.reference import DIGEST_RE, parse_reference, validate_host, validate_repository
from regkit.registry import Manifest, RegistryClient
from regkit.registry.referrers import classify_tag, kind_of
from regkit.textsafe import escape

#: Layers a registry is not expected to hold (Windows base layers, "foreign" layers with URLs).
FOREIGN_LAYER_TYPES = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)

_FATAL = (AuthenticationError, ConnectionFailedError, TLSError)


class CheckError(RegkitError):
    """``check`` found broken images."""


@dataclass(frozen=True, slots=True)
class Damage:
    """One thing wrong with an image: which part (``manifest``, ``platform manifest``,
    ``config``, ``layer``), its digest, and the problem."""

    part: str
    digest: str
    problem: str
    platform: str | None = None

    def __str__(self) -> str:
        where = f" ({self.platform})" if self.platform else ""
        digest = f" {self.digest}" if self.digest else ""
        return f"{self.part}{where}{digest}: {self.problem}"

    def to_json(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "digest": self.digest,
            "platform": self.platform,
            "problem": self.problem,
        }


@dataclass(frozen=True, slots=True)
class ImageCheck:
    """One tag and what is wrong with the image it names (nothing: ``ok``)."""

    repository: str
    tag: str
    digest: str  # "" when the tag's manifest cannot be read
    damage: tuple[Damage, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.damage

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest or None,
            "ok": self.ok,
            "damage": [d.to_json() for d in self.damage],
        }


@dataclass(frozen=True, slots=True)
class Orphan:
    """An untagged image manifest in storage that no index references."""

    repository: str
    digest: str
    media_type: str

    def to_json(self) -> dict[str, Any]:
        return {"repository": self.repository, "digest": self.digest, "media_type": self.media_type}


@dataclass(frozen=True, slots=True)
class OrphanedReferrer:
    """A referrer tag whose image (``subject``) the repository no longer holds."""

    repository: str
    tag: str
    subject: str
    kind: str  # signature, attestation, sbom, other; "index" for the referrers tag schema's

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "tag": self.tag,
            "subject": self.subject,
            "kind": self.kind,
        }


def referrer_kind(tag: str) -> str:
    """What a referrer tag holds by its name: cosign's suffix, or the tag schema's index."""
    rt = classify_tag(tag)
    if rt is None or rt.suffix is None:
        return "index"
    return kind_of("", rt.suffix)


@dataclass(frozen=True, slots=True)
class CheckReport:
    registry: str
    images: tuple[ImageCheck, ...]
    #: None when the storage was not given: untagged manifests cannot be listed by the API.
    orphans: tuple[Orphan, ...] | None = None
    repositories: tuple[str, ...] = ()
    #: referrer tags (signatures, attestations, SBOMs) whose image is gone
    orphaned_referrers: tuple[OrphanedReferrer, ...] = ()

    @property
    def broken(self) -> tuple[ImageCheck, ...]:
        return tuple(i for i in self.images if not i.ok)

    @property
    def ok(self) -> bool:
        return not self.broken and not self.orphaned_referrers

    def raise_for_damage(self) -> None:
        """``CheckError`` naming the broken images (or, without any, the orphaned referrers)
        when there is damage."""
        if not self.broken and self.orphaned_referrers:
            orphan = self.orphaned_referrers[0]
            n = len(self.orphaned_referrers)
            more = f" and {n - 1} more" if n > 1 else ""
            raise CheckError(
                f"{n} orphaned referrer(s) on {self.registry}: {orphan.repository}:{orphan.tag} "
                f"belongs to {orphan.subject}, which is gone{more}; delete them "
                "(regkit delete HOST/REPO:TAG)"
            )
        if self.broken:
            first = self.broken[0]
            more = f" and {len(self.broken) - 1} more" if len(self.broken) > 1 else ""
            raise CheckError(
                f"{len(self.broken)} broken image(s) on {self.registry}: "
                f"{first.repository}:{first.tag}: {first.damage[0]}{more}; push them again "
                "from their source, or delete the broken tags"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "ok": self.ok,
            "repositories": list(self.repositories),
            "checked": len(self.images),
            "broken": [i.to_json() for i in self.broken],
            "images": [i.to_json() for i in self.images],
            "orphans": None if self.orphans is None else [o.to_json() for o in self.orphans],
            "orphaned_referrers": [o.to_json() for o in self.orphaned_referrers],
        }


# -- judging (pure) -------------------------------------------------------------------------------

#: What a fetch found: a manifest, or why there is none ("missing", an error message).
Found = Manifest | str


def judge_image(
    top: Found,
    manifests: Mapping[str, Found],
    blob_sizes: Mapping[str, int | str | None],
) -> tuple[Damage, ...]:
    """The damage of one image from what was fetched.

    ``top``: the tag's manifest (or why it could not be read); ``manifests``: platform manifests
    by digest; ``blob_sizes``: size by digest from a HEAD, None when missing, or an error text.
    """
    if isinstance(top, str):
        return (Damage("manifest", "", top),)
    damage: list[Damage] = []
    images: list[tuple[Manifest, str | None]] = []
    if top.is_index:
        for child in top.children:
            found = manifests.get(child.digest, "not read")
            if isinstance(found, str):
                damage.append(Damage("platform manifest", child.digest, found, child.platform))
                continue
            if len(found.raw) != child.size:
                damage.append(
                    Damage(
                        "platform manifest",
                        child.digest,
                        f"size {len(found.raw)}, the index says {child.size}",
                        child.platform,
                    )
                )
            if found.is_index:
                damage.append(
                    Damage("platform manifest", child.digest, "is an index", child.platform)
                )
                continue
            images.append((found, child.platform))
    else:
        images.append((top, None))
    for image, platform in images:
        parts = [("config", image.config)] if image.config is not None else []
        if image.config is None:
            damage.append(Damage("manifest", image.digest, "has no config", platform))
        parts += [("layer", layer) for layer in image.layers if not _foreign(layer)]
        for part, desc in parts:
            assert desc is not None
            size = blob_sizes.get(desc.digest, "not checked")
            if size is None:
                damage.append(Damage(part, desc.digest, "missing", platform))
            elif isinstance(size, str):
                damage.append(Damage(part, desc.digest, size, platform))
            elif size != desc.size:
                damage.append(
                    Damage(
                        part, desc.digest, f"size {size}, the manifest says {desc.size}", platform
                    )
                )
    return tuple(damage)


def _foreign(desc: Any) -> bool:
    return desc.media_type in FOREIGN_LAYER_TYPES


def find_orphans(
    repository: str,
    stored: Mapping[str, Found],
    tagged: Iterable[Manifest],
) -> tuple[Orphan, ...]:
    """Untagged image manifests (``stored``: every manifest in storage, read by digest) that no
    tag names and no stored index lists."""
    tagged_digests = {m.digest for m in tagged}
    every = [m for m in stored.values() if isinstance(m, Manifest)]
    referenced = {c.digest for m in every if m.is_index for c in m.children}
    referenced |= {c.digest for m in tagged if m.is_index for c in m.children}
    return tuple(
        Orphan(repository, m.digest, m.media_type)
        for m in sorted(every, key=lambda m: m.digest)
        if not m.is_index and m.digest not in tagged_digests and m.digest not in referenced
    )


# -- storage -------------------------------------------------------------------------------------


def storage_repositories_root(storage: str | Path) -> Path:
    """``<root>/docker/registry/v2/repositories`` of a filesystem-driver storage directory (the
    driver's ``rootdirectory``, or its ``docker/registry/v2`` directory)."""
    base = Path(storage)
    for candidate in (base / "docker" / "registry" / "v2", base):
        if (candidate / "repositories").is_dir() or (candidate / "blobs").is_dir():
            return candidate / "repositories"
    raise UsageError(
        f"{storage} is not a registry's storage directory (no docker/registry/v2 inside); pass "
        "the filesystem driver's rootdirectory, e.g. /var/lib/docker-registry"
    )


def _inside(base: Path, path: Path, repository: str) -> Path:
    """``path`` resolved (symlinks followed), refused unless it stays under ``base``."""
    resolved = path.resolve()
    if not resolved.is_relative_to(base.resolve()):
        raise UsageError(
            f"the storage directory of {repository} leads outside the storage (a symlink to "
            f"{resolved}); nothing was read from it: remove the link from the registry's storage"
        )
    return resolved


def stored_manifests(storage: str | Path, repository: str) -> list[str]:
    """Digests of every manifest revision ``repository`` holds in storage (sorted).

    ``repository`` must follow the repository grammar (no ``..``, no absolute path), every
    directory read must resolve to a place inside the storage (no symlink out of it), and
    only entries shaped like a digest (``sha256:<64 hex>``) are returned: they are sent to
    the registry."""
    validate_repository(repository)
    repos = storage_repositories_root(storage)
    root = repos / repository / "_manifests" / "revisions"
    out: list[str] = []
    try:
        if not root.exists():
            return []
        _inside(repos, root, repository)
        for algorithm in sorted(p for p in root.iterdir() if p.is_dir()):
            if algorithm.name != "sha256":
                continue
            for entry in sorted(algorithm.iterdir()):
                digest = f"{algorithm.name}:{entry.name}"
                if not DIGEST_RE.match(digest):
                    continue
                link = entry / "link"
                if link.is_file() and _inside(repos, link, repository):
                    out.append(digest)
    except FileNotFoundError:
        return []
    except OSError as err:
        raise UsageError(
            (
                f"cannot read the registry storage at {root}: {err.strerror or err}; run check "
                "where the storage is readable, or without ",
                Param("storage"),
            )
        ) from None
    return out


# -- fetching ------------------------------------------------------------------------------------


def check_repositories(
    client: RegistryClient,
    repositories: Sequence[str] | None = None,
    *,
    storage: str | Path | None = None,
    on_stage: Callable[[str, int], None] | None = None,
    tick: Callable[[], None] | None = None,
) -> CheckReport:
    """Check every tag of ``repositories`` (default: the whole catalog)."""
    stage = on_stage or (lambda _label, _total: None)
    advance = tick or (lambda: None)
    if storage is not None:
        storage_repositories_root(storage)  # refuse a wrong directory before any request
    explicit = repositories is not None and len(repositories) > 0
    names = list(repositories) if explicit and repositories else client.catalog()
    for name in names:  # a name becomes a request path, and a path under the storage
        validate_repository(name)
    stage("listing tags", len(names))

    def list_tags(repo: str) -> list[str]:
        try:
            return client.tags(repo)
        except NotFoundError:
            if explicit:
                raise NotFoundError(
                    f"repository {repo} not found on {client.registry}; "
                    "check the name with 'regkit catalog'"
                ) from None
            return []
        finally:
            advance()

    listed = client.map(list_tags, names)
    pairs = [(repo, tag) for repo, tags in zip(names, listed, strict=True) for tag in tags]
    stage("checking tags", len(pairs))

    manifest_once: Once[tuple[str, str], Found] = Once()
    blob_once: Once[tuple[str, str], int | str | None] = Once()

    def read_manifest(repo: str, ref: str) -> Found:
        try:
            return client.get_manifest(repo, ref)
        except NotFoundError:
            return "missing"
        except _FATAL:
            raise
        except RegistryError as err:
            return f"unreadable: {err.message}"

    def head_blob(repo: str, digest: str) -> int | str | None:
        try:
            return client.blob_size(repo, digest)
        except _FATAL:
            raise
        except RegistryError as err:
            return f"unreadable: {err.message}"

    def chain(pair: tuple[str, str]) -> tuple[Found, dict[str, Found], dict[str, int | str | None]]:
        repo, tag = pair
        try:
            top = read_manifest(repo, tag)
            children: dict[str, Found] = {}
            sizes: dict[str, int | str | None] = {}
            if isinstance(top, str):
                return top, children, sizes
            images = [top]
            for child in top.children:
                d = child.digest
                found = manifest_once.get((repo, d), partial(read_manifest, repo, d))
                children[d] = found
                if isinstance(found, Manifest) and not found.is_index:
                    images.append(found)
            for image in images:
                blobs = [image.config] if image.config is not None else []
                blobs += [layer for layer in image.layers if not _foreign(layer)]
                for desc in blobs:
                    bd = desc.digest
                    sizes[bd] = blob_once.get((repo, bd), partial(head_blob, repo, bd))
            return top, children, sizes
        finally:
            advance()

    fetched = client.map(chain, pairs)

    # A tag whose manifest was missing may have been deleted since the listing: only a tag
    # that is still listed is a broken one.
    gone: set[tuple[str, str]] = set()
    for repo in {p[0] for p, f in zip(pairs, fetched, strict=True) if f[0] == "missing"}:
        try:
            still = set(client.tags(repo))
        except NotFoundError:
            still = set()
        gone |= {(repo, t) for r, t in pairs if r == repo and t not in still}

    images: list[ImageCheck] = []
    for (repo, tag), (top, children, sizes) in zip(pairs, fetched, strict=True):
        if (repo, tag) in gone:
            continue
        digest = top.digest if isinstance(top, Manifest) else ""
        found: Found = top
        if top == "missing":
            found = "missing: the tag is listed but its manifest is gone"
        images.append(ImageCheck(repo, tag, digest, judge_image(found, children, sizes)))

    orphaned = _orphaned_referrers(client, names, listed, pairs, fetched)

    orphans: tuple[Orphan, ...] | None = None
    if storage is not None:
        orphans = ()
        tops: dict[str, list[Manifest]] = {}
        for (repo, _tag), (top, _c, _s) in zip(pairs, fetched, strict=True):
            if isinstance(top, Manifest):
                tops.setdefault(repo, []).append(top)
        for repo in names:
            tagged = tops.get(repo, [])
            known = {m.digest for m in tagged}
            known |= {c.digest for m in tagged for c in m.children}
            unknown = [d for d in stored_manifests(storage, repo) if d not in known]
            if not unknown:
                continue
            stage(f"reading untagged manifests of {repo}", len(unknown))
            stored = dict(
                zip(unknown, client.map(partial(read_manifest, repo), unknown), strict=True)
            )
            orphans += find_orphans(repo, stored, tagged)
    return CheckReport(client.registry, tuple(images), orphans, tuple(names), orphaned)


def _orphaned_referrers(
    client: RegistryClient,
    names: Sequence[str],
    listed: Sequence[Sequence[str]],
    pairs: Sequence[tuple[str, str]],
    fetched: Sequence[tuple[Found, dict[str, Found], dict[str, int | str | None]]],
) -> tuple[OrphanedReferrer, ...]:
    """Referrer tags whose subject is neither a tagged image (or a platform of one) nor
    answers a HEAD by digest; a HEAD only for a subject no tag explains, and a repository
    listed again only when one is found (a prune may have removed both since)."""
    known: dict[str, set[str]] = {}
    for (repo, _tag), (top, children, _sizes) in zip(pairs, fetched, strict=True):
        if isinstance(top, Manifest):
            known.setdefault(repo, set()).update({top.digest, *children})
    asks: list[tuple[str, str]] = []
    tags_of: dict[tuple[str, str], list[str]] = {}
    for repo, tags in zip(names, listed, strict=True):
        for tag in tags:
            rt = classify_tag(tag)
            if rt is None or rt.subject in known.get(repo, set()):
                continue
            if (repo, rt.subject) not in tags_of:
                asks.append((repo, rt.subject))
            tags_of.setdefault((repo, rt.subject), []).append(tag)
    if not asks:
        return ()

    def head(ask: tuple[str, str]) -> bool:
        try:
            return client.resolve(*ask) is not None
        except NotFoundError:
            return False

    present = client.map(head, asks)
    missing = [ask for ask, there in zip(asks, present, strict=True) if not there]
    out: list[OrphanedReferrer] = []
    for repo in dict.fromkeys(r for r, _ in missing):
        try:
            still = set(client.tags(repo))
        except NotFoundError:
            still = set()
        for r, subject in missing:
            if r != repo:
                continue
            for tag in sorted(tags_of[(r, subject)]):
                if tag in still:
                    out.append(OrphanedReferrer(repo, tag, subject, referrer_kind(tag)))
    return tuple(out)


def render_text(report: CheckReport) -> str:
    """Broken images (one line per damage), orphans, then a summary line. Registry text (tags,
    error messages) is escaped (``regkit.textsafe``)."""
    lines: list[str] = []
    for image in report.broken:
        name = escape(f"{report.registry}/{image.repository}:{image.tag}")
        for damage in image.damage:
            lines.append(f"BROKEN {name}: {escape(damage)}")
    for o in report.orphaned_referrers:
        lines.append(
            escape(
                f"ORPHANED {report.registry}/{o.repository}:{o.tag}: a referrer ({o.kind}) of "
                f"{o.subject}, which is gone"
            )
        )
    for orphan in report.orphans or ():
        lines.append(
            f"UNTAGGED {report.registry}/{orphan.repository}@{orphan.digest}: an image manifest "
            "no tag names and no index lists"
        )
    checked = len(report.images)
    repos = len(report.repositories)
    summary = (
        f"{checked} tag{'s' if checked != 1 else ''} in {repos} "
        f"repositor{'ies' if repos != 1 else 'y'} of {report.registry}: "
    )
    if report.ok:
        summary += "every image is whole"
    else:
        summary += f"{len(report.broken)} broken"
    if report.orphaned_referrers:
        n = len(report.orphaned_referrers)
        summary += f", {n} orphaned referrer{'s' if n != 1 else ''}"
    if report.orphans is not None:
        summary += f"; {len(report.orphans)} untagged image manifest(s) no index lists"
    lines.append(summary)
    return "\n".join(lines) + "\n"


def check_targets(
    repos: Sequence[str], all_repos: Sequence[str] = ()
) -> list[tuple[str, tuple[str, ...]]]:
    """``HOST/REPO`` arguments and ``--all-repos`` hosts grouped as (host, repositories); an
    empty tuple means the whole catalog (``regkit check``)."""
    grouped: dict[str, list[str]] = {}
    whole = {validate_host(h) for h in all_repos}
    for text in repos:
        ref = parse_reference(text)
        if ref.tag or ref.digest:
            raise UsageError(f"check takes repositories: drop the tag or digest from {text!r}")
        names = grouped.setdefault(ref.registry, [])
        if ref.repository not in names:
            names.append(ref.repository)
    out = [(h, tuple(r)) for h, r in grouped.items() if h not in whole]
    out += [(h, ()) for h in dict.fromkeys(validate_host(h) for h in all_repos)]
    if not out:
        raise UsageError(
            ("name at least one repository (HOST/REPO) or ", Param("all-repos", "HOST", ask=True))
        )
    return out


__all__ = [
    "CheckError",
    "CheckReport",
    "Damage",
    "ImageCheck",
    "Orphan",
    "OrphanedReferrer",
    "check_repositories",
    "check_targets",
    "find_orphans",
    "judge_image",
    "render_text",
    "storage_repositories_root",
    "stored_manifests",
]
