"""Per-repository protections: the deploy files of a deploy directory, and deploy marker tags.

``--protect-dir DIR`` reads ``DIR/<app>/deploy-info.yml`` and ``DIR/<app>/deploy-history.yml``,
``<app>`` being the last path component of the repository (``rednaw/hello-world`` ->
``hello-world``), as the team's deploys write them on the server. What they name is protected
in that repository only. A missing file (or directory) protects nothing; a file that cannot be
read, or that names no image, stops the prune before anything is deleted.

Deploy markers: a tag matching ``DEPLOYED_PATTERN`` (``deployed-prod``, ``deployed-staging``,
written by ``regkit promote SRC deployed-prod`` at deploy time) is always kept, and so is every
other tag on its digest: CI, which cannot read the server's deploy files, still never prunes
what runs. The plan itself applies that rule (``regkit.ops.prune.plan``, built-in protection);
``marker_protection`` turns it into an explicit protection for callers that want one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path

from regkit.errors import Param, UsageError
from regkit.ops.prune.plan import PrunePolicy, TagInfo
from regkit.ops.prune.protect import (
    DeployFileError,
    Protection,
    parse_deploy_info,
    read_deploy_file,
)

DEPLOY_FILES = ("deploy-info.yml", "deploy-history.yml")
#: Tags written at deploy time to mark what runs; every prune keeps them and their digests.
DEPLOYED_PATTERN = r"^deployed-"


def app_name(repository: str) -> str:
    """The deploy directory's name for ``repository``: its last path component."""
    return repository.rsplit("/", 1)[-1]


def deploy_dir_protection(protect_dir: str | Path, repository: str) -> Protection:
    """The tags and digests named by ``protect_dir/<app>/deploy-{info,history}.yml``."""
    base = Path(protect_dir)
    if not base.is_dir():
        raise UsageError(
            (
                Param("protect-dir"),
                f" {protect_dir} is not a directory; pass the directory holding one "
                "sub-directory per app (e.g. /opt/iac/deploy)",
            )
        )
    found = Protection()
    for name in DEPLOY_FILES:
        path = base / app_name(repository) / name
        try:
            text = read_deploy_file(path)
        except FileNotFoundError:
            continue
        except (OSError, DeployFileError) as err:
            why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise UsageError(
                f"cannot read {path} (protects {repository}): {why}; fix its permissions or "
                "content, nothing was deleted"
            ) from None
        source = f"deploy file {app_name(repository)}/{name}"
        found = found | parse_deploy_info(text, str(path)).because(source)
    return found


def marker_protection(tags: Iterable[TagInfo], pattern: str = DEPLOYED_PATTERN) -> Protection:
    """Deploy marker tags and the digests they point at."""
    rx = re.compile(pattern)
    marked = [t for t in tags if rx.search(t.tag) and not t.dangling and not t.throwaway]
    return Protection(frozenset(t.tag for t in marked), frozenset(t.digest for t in marked))


def with_protection(policy: PrunePolicy, extra: Protection) -> PrunePolicy:
    """``policy`` also protecting ``extra`` (for one repository)."""
    if not extra.tags and not extra.digests:
        return policy
    return dataclasses.replace(
        policy,
        protect_tags=policy.protect_tags | extra.tags,
        protect_digests=policy.protect_digests | extra.digests,
        protect_reasons={**policy.protect_reasons, **extra.reasons},
    )


__all__ = [
    "DEPLOYED_PATTERN",
    "DEPLOY_FILES",
    "app_name",
    "deploy_dir_protection",
    "marker_protection",
    "with_protection",
]
