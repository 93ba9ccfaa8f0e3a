"""crane-compatible read verbs: catalog, ls, digest, manifest, config."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from regkit.cli.common import (
    add_ref_verb as _add_ref_verb,
)
from regkit.cli.common import (
    client_for,
    command,
)
from regkit.cli.common import (
    resolve_platform as _resolve_platform,
)
from regkit.cli.common import (
    write as _write,
)
from regkit.errors import NotFoundError, RegistryError
from regkit.reference import (
    parse_reference,
    parse_repository,
    validate_host,
)
from regkit.textsafe import escape

if TYPE_CHECKING:
    pass


@command
def _add_catalog(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "catalog",
        parents=[common],
        help="list the repositories of a registry (like crane catalog)",
        description="List the repositories in a registry, one per line, as 'crane catalog' does.",
    )
    p.add_argument("registry", metavar="REGISTRY", help="registry host[:port]")
    p.add_argument("--full-ref", action="store_true", help="print REGISTRY/REPOSITORY")
    p.set_defaults(func=_cmd_catalog)


def _cmd_catalog(args: argparse.Namespace) -> int:
    host = validate_host(args.registry)
    with client_for(args, host) as client:
        client.ping()
        repos = client.catalog()
    _write("".join(escape(f"{host}/{r}" if args.full_ref else r) + "\n" for r in repos))
    return 0


@command
def _add_ls(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "ls",
        parents=[common],
        help="list the tags of a repository (like crane ls)",
        description="List the tags of a repository, one per line, as 'crane ls' does.",
    )
    p.add_argument("repository", metavar="REPO", help="HOST/REPOSITORY")
    p.add_argument("--full-ref", action="store_true", help="print HOST/REPOSITORY:TAG")
    p.add_argument(
        "--omit-digest-tags",
        "-O",
        action="store_true",
        help="leave out tags of the form sha256-<hex> (signatures, attestations)",
    )
    p.set_defaults(func=_cmd_ls)


def _cmd_ls(args: argparse.Namespace) -> int:
    ref = parse_repository(args.repository)
    with client_for(args, ref.registry) as client:
        client.ping()
        tags = client.tags(ref.repository)
    if args.omit_digest_tags:
        tags = [t for t in tags if not t.startswith("sha256-")]
    _write("".join(escape(f"{ref.name}:{t}" if args.full_ref else t) + "\n" for t in tags))
    return 0


@command
def _add_digest(sub: Any, common: argparse.ArgumentParser) -> None:
    p = _add_ref_verb(sub, common, "digest", "print the digest of an image (like crane digest)")
    p.set_defaults(func=_cmd_digest)


def _cmd_digest(args: argparse.Namespace) -> int:
    ref = parse_reference(args.ref, default_tag="latest")
    with client_for(args, ref.registry) as client:
        if args.platform:
            manifest = client.get_manifest(ref.repository, ref.identifier)
            digest = _resolve_platform(client, ref, manifest, args.platform).digest
        else:
            found = client.resolve(ref.repository, ref.identifier)
            if found is None:
                raise NotFoundError(f"{ref}: manifest not found on {ref.registry}")
            digest = found.digest
    _write(digest + "\n")
    return 0


@command
def _add_manifest(sub: Any, common: argparse.ArgumentParser) -> None:
    p = _add_ref_verb(
        sub, common, "manifest", "print an image's manifest exactly as served (like crane manifest)"
    )
    p.set_defaults(func=_cmd_manifest)


def _cmd_manifest(args: argparse.Namespace) -> int:
    ref = parse_reference(args.ref, default_tag="latest")
    with client_for(args, ref.registry) as client:
        manifest = client.get_manifest(ref.repository, ref.identifier)
        manifest = _resolve_platform(client, ref, manifest, args.platform)
    _write(manifest.raw)
    return 0


@command
def _add_config(sub: Any, common: argparse.ArgumentParser) -> None:
    p = _add_ref_verb(
        sub,
        common,
        "config",
        "print an image's config blob (like crane config; an index uses --platform, "
        "default linux/amd64)",
    )
    p.set_defaults(func=_cmd_config)


def _cmd_config(args: argparse.Namespace) -> int:
    ref = parse_reference(args.ref, default_tag="latest")
    with client_for(args, ref.registry) as client:
        manifest = client.get_manifest(ref.repository, ref.identifier)
        if manifest.is_index:
            manifest = _resolve_platform(client, ref, manifest, args.platform or "linux/amd64")
        config = manifest.config
        if config is None:
            raise RegistryError(f"{ref} has no config blob ({manifest.media_type})")
        data = client.get_blob(ref.repository, config.digest)
    _write(data)
    return 0
