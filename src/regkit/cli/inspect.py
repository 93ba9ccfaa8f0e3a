"""inspect: one image in one call (regkit.ops.inspect)."""

from __future__ import annotations

import argparse
from datetime import UTC
from typing import TYPE_CHECKING, Any

from regkit.cli import output
from regkit.cli.common import (
    add_verb,
    client_for,
    command,
    parse_ref_arg,
    platform_arg,
)
from regkit.cli.complete import reference_arg
from regkit.progress import Progress

if TYPE_CHECKING:
    from regkit.ops.inspect import Inspection


@command
def _add_inspect(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub,
        common,
        "inspect",
        help_="digest, tags, created, labels, platforms, sizes, layers and what is attached",
        description=(
            "Show in one call what an image reference tells: its digest, every tag of the "
            "repository that points at the same digest, the created time (label "
            "org.opencontainers.image.created, else the config's created, else the "
            "annotations), the OCI labels revision, source, version and description, and per "
            "platform os/arch[/variant], compressed size (config and layers), config digest, "
            "layer count and layer sizes. Attestation manifests of an index are listed as "
            "attestations, not platforms. Created and labels of an index are those of one "
            "platform (--platform, default linux/amd64, else the first). ATTACHED and the "
            "referrers table show what is attached to the digest (cosign signatures and "
            "attestations, SBOMs, other OCI 1.1 referrers): found through the referrers API "
            "where the registry serves it, else the sha256-<hex> tag schemes."
        ),
        examples=[
            "regkit inspect registry.example.com/team/api:latest",
            "regkit inspect -o json team/api@sha256:… | jq .tags   # with REGKIT_REGISTRY",
        ],
    )
    reference_arg(p)
    platform_arg(p, "whose created time and labels to show for a multi-platform image")
    output.add_output(p)
    p.set_defaults(func=_cmd_inspect)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from regkit.ops.inspect import inspect

    ref = parse_ref_arg(args.ref, default_tag="latest")
    with (
        client_for(args, ref.registry) as client,
        Progress("reading tags", quiet=output.quiet(args)) as progress,
    ):
        result = inspect(client, ref, platform=args.platform, on_item=progress.advance)
    if args.output == "json":
        output.write_json(result.to_json())
    elif args.output == "markdown":
        output.write(render_markdown(result))
    else:
        output.write(render_table(result, args))
    return 0


def _facts(result: Inspection) -> list[tuple[str, str]]:
    created = (
        result.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if result.created else "-"
    )
    rows = [
        ("reference", result.reference),
        ("digest", result.digest),
        ("media type", result.media_type),
        ("tags", ", ".join(result.tags) or "-"),
        ("created", created),
    ]
    for short in ("revision", "source", "version", "description"):
        rows.append((short, result.label(short) or "-"))
    if result.shown_platform:
        rows.append(("labels of", result.shown_platform))
    from regkit.ops.overview import attached_text  # overview's words for what is attached

    rows.append(("attached", attached_text(result.attached)))
    return rows


def _layers(sizes: list[int]) -> str:
    return f"{len(sizes)}: " + ", ".join(output.human_size(s) for s in sizes) if sizes else "0"


def render_table(result: Inspection, args: argparse.Namespace) -> str:
    width = output.terminal_width(args)
    lines = output.table((), [(f"{k.upper()}", v) for k, v in _facts(result)], width=width)
    lines.append("")
    rows = [
        (
            p.platform or "-",
            output.short_digest(p.digest, args),
            output.human_size(p.size),
            output.short_digest(p.config_digest, args) if p.config_digest else "-",
            _layers([x.size for x in p.layers]),
        )
        for p in result.platforms
    ]
    lines += output.table(("PLATFORM", "DIGEST", "SIZE", "CONFIG", "LAYERS"), rows, width=width)
    if result.attestations:
        lines.append("")
        att = [
            (
                output.short_digest(a.digest, args),
                output.human_size(a.size),
                output.short_digest(a.subject, args) if a.subject else "-",
            )
            for a in result.attestations
        ]
        lines += output.table(("ATTESTATION", "SIZE", "FOR"), att, width=width)
    if result.referrers:
        lines.append("")
        refs = [
            (
                output.short_digest(r.digest, args),
                r.kind,
                r.artifact_type or "-",
                output.human_size(r.size),
                r.found,
            )
            for r in result.referrers
        ]
        lines += output.table(REFERRER_HEADERS, refs, width=width)
    return "\n".join(lines) + "\n"


#: The referrers table; FOUND: referrers-api, referrers-tag (sha256-<hex> index) or cosign-tag
#: (sha256-<hex>.sig/.att/.sbom); -o json names the tag.
REFERRER_HEADERS = ("REFERRER", "KIND", "ARTIFACT TYPE", "SIZE", "FOUND")


def render_markdown(result: Inspection) -> str:
    lines = [f"### `{result.reference}`", ""]
    lines += output.markdown_table(("", ""), [(k, v) for k, v in _facts(result)])
    lines.append("")
    rows = [
        (
            p.platform or "-",
            p.digest,
            output.human_size(p.size),
            p.config_digest or "-",
            _layers([x.size for x in p.layers]),
        )
        for p in result.platforms
    ]
    lines += output.markdown_table(("PLATFORM", "DIGEST", "SIZE", "CONFIG", "LAYERS"), rows)
    if result.attestations:
        lines.append("")
        att = [(a.digest, output.human_size(a.size), a.subject or "-") for a in result.attestations]
        lines += output.markdown_table(("ATTESTATION", "SIZE", "FOR"), att)
    if result.referrers:
        lines.append("")
        refs = [
            (r.digest, r.kind, r.artifact_type or "-", output.human_size(r.size), r.found)
            for r in result.referrers
        ]
        lines += output.markdown_table(REFERRER_HEADERS, refs)
    return "\n".join(lines) + "\n"
