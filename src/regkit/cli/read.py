"""crane-compatible read verbs: catalog, ls, digest, manifest, config."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from regkit.cli import output
from regkit.cli.common import (
    add_ref_verb,
    add_verb,
    client_for,
    command,
    parse_ref_arg,
    parse_repo_arg,
    registry_arg,
)
from regkit.cli.complete import repository_arg
from regkit.errors import NotFoundError, RegistryError
from regkit.textsafe import escape


@command
def _add_catalog(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        common,
        "catalog",
        help_="list the repositories of a registry (like crane catalog)",
        description=(
            "List the repositories in a registry, one per line, as 'crane catalog' does. An "
            "empty registry prints nothing (a note on stderr) and exits 0."
        ),
        examples=[
            "regkit catalog registry.example.com",
            "regkit catalog -o json      # with REGKIT_REGISTRY",
        ],
    )
    p.add_argument(
        "registry", metavar="REGISTRY", nargs="?", help="host[:port] (default: REGKIT_REGISTRY)"
    )
    p.add_argument("--full-ref", action="store_true", help="print REGISTRY/REPOSITORY (table)")
    output.add_output(p, trunc=False)
    p.set_defaults(func=_cmd_catalog)


def _cmd_catalog(args: argparse.Namespace) -> int:
    host = registry_arg(args.registry, "catalog")
    with client_for(args, host) as client:
        client.ping()
        repos = client.catalog(invalid="warn")  # shown only: a bad name is left out
    if not repos:
        output.note(
            f"no repositories on {host} (an empty registry, or a user who may not list it)", args
        )
    _write_names(args, {"registry": host, "repositories": repos}, repos, lambda r: f"{host}/{r}")
    return 0


def _write_names(
    args: argparse.Namespace,
    document: Mapping[str, object],
    names: list[str],
    full: Callable[[str], str],
) -> None:
    """A list of names (repositories, tags) as ``-o``/``--full-ref`` ask: ``document`` for
    ``json``, a Markdown list of ``full(name)``, else one name per line (``full(name)`` with
    ``--full-ref``); registry text escaped."""
    if args.output == "json":
        output.write_json(document)
    elif args.output == "markdown":
        output.write("".join(escape(f"- `{full(n)}`") + "\n" for n in names))
    else:
        output.write("".join(escape(full(n) if args.full_ref else n) + "\n" for n in names))


@command
def _add_ls(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        common,
        "ls",
        help_="list the tags of a repository (like crane ls)",
        description=(
            "List the tags of a repository, one per line, as 'crane ls' does. A repository "
            "without tags prints nothing (a note on stderr) and exits 0."
        ),
        examples=["regkit ls registry.example.com/team/api", "regkit ls team/api -O -o json"],
    )
    repository_arg(p, "repository", "REPO", "[HOST/]REPOSITORY")
    p.add_argument("--full-ref", action="store_true", help="print HOST/REPOSITORY:TAG (table)")
    p.add_argument(
        "--omit-digest-tags",
        "-O",
        action="store_true",
        help="leave out tags of the form sha256-<hex> (signatures, attestations)",
    )
    output.add_output(p, trunc=False)
    p.set_defaults(func=_cmd_ls)


def _cmd_ls(args: argparse.Namespace) -> int:
    ref = parse_repo_arg(args.repository)
    with client_for(args, ref.registry) as client:
        client.ping()
        tags = client.tags(ref.repository, invalid="warn")  # shown only
    if args.omit_digest_tags:
        tags = [t for t in tags if not t.startswith("sha256-")]
    if not tags:
        output.note(f"no tags in {ref.name}", args)
    document = {"registry": ref.registry, "repository": ref.repository, "tags": tags}
    _write_names(args, document, tags, lambda t: f"{ref.name}:{t}")
    return 0


def _cmd_digest(args: argparse.Namespace) -> int:
    from regkit.ops import resolve_platform

    ref = parse_ref_arg(args.ref, default_tag="latest")
    platform = getattr(args, "platform", None)
    with client_for(args, ref.registry) as client:
        if platform:
            manifest = client.get_manifest(ref.repository, ref.identifier)
            digest = resolve_platform(client, ref, manifest, platform).digest
        else:
            found = client.resolve(ref.repository, ref.identifier)
            if found is None:
                raise NotFoundError(f"{ref}: manifest not found on {ref.registry}")
            digest = found.digest
    output.write(digest + "\n")
    return 0


def _cmd_manifest(args: argparse.Namespace) -> int:
    from regkit.ops import resolve_platform

    ref = parse_ref_arg(args.ref, default_tag="latest")
    with client_for(args, ref.registry) as client:
        manifest = client.get_manifest(ref.repository, ref.identifier)
        manifest = resolve_platform(client, ref, manifest, getattr(args, "platform", None))
    output.write(manifest.raw)
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    from regkit.ops import resolve_platform

    ref = parse_ref_arg(args.ref, default_tag="latest")
    with client_for(args, ref.registry) as client:
        manifest = client.get_manifest(ref.repository, ref.identifier)
        if manifest.is_index:
            platform = getattr(args, "platform", None) or "linux/amd64"
            manifest = resolve_platform(client, ref, manifest, platform)
        config = manifest.config
        if config is None:
            raise RegistryError(f"{ref} has no config blob ({manifest.media_type})")
        data = client.get_blob(ref.repository, config.digest)
    output.write(data)
    return 0


#: The verbs that read one image (REF, --platform): name, help, examples, what runs; --help
#: lists them in this order.
_IMAGE_VERBS: tuple[tuple[str, str, list[str], Callable[[argparse.Namespace], int]], ...] = (
    (
        "digest",
        "print the digest of an image (like crane digest)",
        [
            "regkit digest registry.example.com/team/api:latest",
            "regkit digest --platform linux/arm64 team/api:v1   # with REGKIT_REGISTRY",
        ],
        _cmd_digest,
    ),
    (
        "manifest",
        "print an image's manifest exactly as served (like crane manifest)",
        [
            "regkit manifest registry.example.com/team/api:latest | jq .",
            "regkit manifest --platform linux/arm64 registry.example.com/team/api:v1",
        ],
        _cmd_manifest,
    ),
    (
        "config",
        "print an image's config blob (like crane config; an index uses --platform, "
        "default linux/amd64)",
        ["regkit config registry.example.com/team/api:latest | jq .config.Labels"],
        _cmd_config,
    ),
)


@command
def _add_image_verbs(sub: Any, common: argparse.ArgumentParser) -> None:
    for name, help_, examples, func in _IMAGE_VERBS:
        add_ref_verb(sub, common, name, help_, examples=examples).set_defaults(func=func)
