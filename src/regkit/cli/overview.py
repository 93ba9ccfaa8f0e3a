"""overview: every repository's tags (regkit.ops.overview)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from regkit.cli import output
from regkit.cli.common import (
    add_verb,
    client_for,
    command,
    default_registry,
    platform_arg,
)
from regkit.cli.complete import attach, repository_completer
from regkit.errors import UsageError
from regkit.progress import Progress
from regkit.reference import (
    _looks_like_host,
    refuse_scheme,
    validate_host,
    validate_repository,
)
from regkit.textsafe import escape

if TYPE_CHECKING:
    from regkit.ops.overview import Overview

HEADERS = ("TAG", "DIGEST", "CREATED (UTC)", "PLATFORMS", "SIZE", "DESCRIPTION")


@command
def _add_overview(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        common,
        "overview",
        help_="every repository's tags with created time, platforms, size and description",
        description=(
            "Show every tag of every repository (or of the repositories named with --repo or "
            "as HOST/REPO), newest first: TAG, DIGEST, CREATED (label "
            "org.opencontainers.image.created, else the config's created), PLATFORMS, SIZE "
            "(compressed config and layers) and DESCRIPTION (label "
            "org.opencontainers.image.description); for a multi-platform image, CREATED, SIZE "
            "and DESCRIPTION are those of one platform (--platform). On a terminal the table is "
            "cut to its width (…); --no-trunc shows everything. An empty registry prints "
            "nothing (a note on stderr) and exits 0. "
            "GHCR has no catalog: 'regkit overview ghcr.io/OWNER' lists the owner's container "
            "packages through the GitHub API (token: GITHUB_TOKEN)."
        ),
        examples=[
            "regkit overview registry.example.com",
            "regkit overview registry.example.com/team/api --no-trunc",
            "regkit overview --repo team/api --repo team/web -o json   # with REGKIT_REGISTRY",
        ],
    )
    attach(
        p.add_argument(
            "registry",
            metavar="REGISTRY",
            nargs="?",
            help=(
                "host[:port], HOST/REPO for one repository, or ghcr.io/OWNER "
                "(default: REGKIT_REGISTRY)"
            ),
        ),
        repository_completer,
    )
    p.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="[HOST/]REPO",
        help="only this repository (repeatable)",
    )
    platform_arg(
        p,
        "of a multi-platform image, show CREATED, SIZE and DESCRIPTION of this platform "
        "(default: linux/amd64, else the first in the index); PLATFORMS lists them all",
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
    output.add_output(p)
    p.set_defaults(func=_cmd_overview)


def split_target(positional: str | None, repos: list[str]) -> tuple[str, list[str]]:
    """The registry and the repositories of ``overview [HOST[/REPO]] [--repo [HOST/]REPO]...``."""
    hosts: list[str] = []
    names: list[str] = []
    for text in ([positional] if positional else []) + list(repos):
        refuse_scheme(text, "registry or repository")  # http://HOST: say to drop the scheme
        first, slash, rest = text.partition("/")
        if text is positional and not slash:
            hosts.append(validate_host(text))
        elif slash and _looks_like_host(first):
            hosts.append(validate_host(first))
            names.append(validate_repository(rest))
        else:
            names.append(validate_repository(text))
    env = default_registry()
    if not hosts and env:
        hosts.append(validate_host(env))
    if not hosts:
        raise UsageError("name the registry: regkit overview HOST (or set REGKIT_REGISTRY)")
    if len(set(hosts)) > 1:
        raise UsageError(
            f"overview reads one registry at a time; got {', '.join(dict.fromkeys(hosts))}"
        )
    return hosts[0], list(dict.fromkeys(names))


def _package_owner(text: str) -> tuple[str, str] | None:
    """``ghcr.io/OWNER``: (host, owner), whose packages stand for the catalog. Only a
    ``HOST/NAME`` target can be one: any other loads no GHCR code (a read verb stays light)."""
    _, slash, rest = text.partition("/")
    if not slash or not rest or "/" in rest:
        return None
    from regkit.ghcr.hosts import package_owner

    return package_owner(text)


def _cmd_overview(args: argparse.Namespace) -> int:
    from regkit.ops import overview as ov

    owner: str | None = None
    packages = _package_owner(args.registry or "")  # ghcr.io/OWNER: the owner's packages
    if packages is not None:
        host, owner = packages
        _, repos = split_target(host, args.repo)
    else:
        host, repos = split_target(args.registry, args.repo)
    platform = getattr(args, "platform", None)
    with (
        client_for(args, host) as client,
        Progress("overview", quiet=output.quiet(args)) as progress,
    ):
        if not args.no_cache:
            from regkit.registry.cache import ContentCache

            client.cache = ContentCache.from_environment()
        if owner and not repos:  # GHCR has no catalog: the owner's packages, from the API
            from regkit.ghcr.hosts import owner_repositories

            repos = owner_repositories(client, owner)
        result = ov.collect(
            client,
            repos or None,
            on_stage=progress.stage,
            on_item=progress.advance,
            platform=platform,
        )
    if not result.repositories:
        output.note(
            f"no repositories on {host} (an empty registry, or a user who may not list it; "
            "name repositories with --repo)",
            args,
        )
    if args.output == "json":
        output.write(ov.render_json(result))
    elif args.output == "markdown":
        output.write(ov.render_markdown(result))
    else:
        output.write(render_table(result, args))
    return 0


def render_table(result: Overview, args: argparse.Namespace) -> str:
    from regkit.ops.overview import (
        HEADERS_ATTACHED,
        attached_text,
        has_attachments,
        render_created,
    )

    width = output.terminal_width(args)
    out: list[str] = []
    for repo in result.repositories:
        out.append(output.cut(f"{result.registry}/{repo.name}", width or 10**6))
        orphaned = [
            output.cut(f"  {escape(o.describe())}", width or 10**6) for o in repo.orphaned_referrers
        ]
        if not repo.tags:
            out += ["  (no tags)", *orphaned, ""]
            continue
        with_attached = has_attachments(repo)
        rows: list[tuple[str, ...]] = []
        for r in repo.tags:
            cells: tuple[str, ...] = (
                r.tag,
                output.short_digest(r.digest, args),
                render_created(r.created),
                ",".join(r.platforms) or "-",
                output.human_size(r.size),
            )
            if with_attached:
                cells += (attached_text(r.attached),)
            rows.append((*cells, r.description or "-"))
        headers = HEADERS_ATTACHED if with_attached else HEADERS
        out += output.table(headers, rows, width=width, indent="  ")
        out += orphaned
        out.append("")
    return "".join(f"{line}\n" for line in out)
