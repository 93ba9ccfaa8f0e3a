"""overview: every repository's tags (regkit.ops.overview)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from regkit.cli.common import (
    client_for,
    command,
    validate_platform,
)
from regkit.cli.common import (
    write as _write,
)
from regkit.errors import RegkitError, UsageError
from regkit.progress import Progress
from regkit.reference import (
    validate_host,
    validate_repository,
)

if TYPE_CHECKING:
    pass


@command
def _add_overview(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "overview",
        parents=[common],
        help="every repository's tags with created time, platforms, size and description",
        description=(
            "Show every tag of every repository (or of the repositories named with --repo), "
            "newest first: TAG, DIGEST, CREATED (label org.opencontainers.image.created, else "
            "the config's created), PLATFORMS, SIZE (compressed config and layers) and "
            "DESCRIPTION (label org.opencontainers.image.description); for a multi-platform "
            "image, CREATED, SIZE and DESCRIPTION are those of one platform (--platform). "
            "GHCR has no catalog: 'regkit overview ghcr.io/OWNER' lists the owner's container "
            "packages through the GitHub API (token: GITHUB_TOKEN)."
        ),
    )
    p.add_argument(
        "registry",
        metavar="REGISTRY",
        nargs="?",
        help="registry host[:port], or ghcr.io/OWNER (default: REGKIT_REGISTRY)",
    )
    p.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="REPO",
        help="only this repository (repeatable)",
    )
    p.add_argument(
        "--format",
        choices=("table", "json", "markdown"),
        default="table",
        help="output format (default: table)",
    )
    p.add_argument(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        help=(
            "of a multi-platform image, show CREATED, SIZE and DESCRIPTION of this platform "
            "(default: linux/amd64, else the first in the index); PLATFORMS lists them all"
        ),
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help=(
            "read every manifest and config from the registry; by default those named by a "
            "digest are kept in a local content-addressed cache (REGKIT_CACHE_DIR, else "
            "~/.cache/regkit/content; REGKIT_CACHE=off), so a repeated overview reads only the "
            "tags' manifests"
        ),
    )
    p.set_defaults(func=_cmd_overview)


def _ghcr_owner(text: str) -> tuple[str, str | None]:
    """``ghcr.io/OWNER`` -> (``ghcr.io``, OWNER); anything else -> (text, None)."""
    host, _, owner = text.partition("/")
    if not owner:
        return text, None
    from regkit.ops.ghcr import is_ghcr

    if not is_ghcr(host) or "/" in owner:
        raise UsageError(f"expected a registry host, or ghcr.io/OWNER on GHCR, got {text!r}")
    return host, owner.lower()


def _cmd_overview(args: argparse.Namespace) -> int:
    from regkit.ops import overview as ov

    host = args.registry or os.environ.get("REGKIT_REGISTRY")
    if not host:
        raise UsageError("name the registry: regkit overview HOST (or set REGKIT_REGISTRY)")
    host, owner = _ghcr_owner(host)
    validate_host(host)
    repos = [validate_repository(r) for r in args.repo]
    platform = validate_platform(args.platform) if args.platform else None
    with client_for(args, host) as client, Progress("overview") as progress:
        if not args.no_cache:
            from regkit.registry.cache import ContentCache

            client.cache = ContentCache.from_environment()
        if owner and not repos:  # GHCR has no catalog: the owner's packages, from the API
            from regkit.ops.ghcr import owner_repositories

            repos = owner_repositories(client, owner)
        result = ov.collect(
            client,
            repos or None,
            on_stage=progress.stage,
            on_item=progress.advance,
            platform=platform,
        )
    if not result.repositories:
        raise RegkitError(
            f"no repositories on {host}: the registry is empty, or the user may not list the "
            "catalog; check the host and the credentials, or name repositories with --repo"
        )
    render = {"table": ov.render_table, "json": ov.render_json, "markdown": ov.render_markdown}
    _write(render[args.format](result))
    return 0
