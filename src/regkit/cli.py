"""Command-line interface: argument parsing and printing only.

Each sub-command has an ``_add_<name>(sub)`` function that declares its arguments and sets
``func`` to a ``_cmd_<name>(args) -> int`` function. The work itself happens in ``regkit.ops``
and ``regkit.registry``; this module turns results into text and errors into exit codes.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from regkit import __version__
from regkit.errors import NotFoundError, RegistryError, RegkitError, UsageError
from regkit.ops import ConnectOptions, connect
from regkit.progress import Progress
from regkit.reference import (
    Reference,
    parse_reference,
    parse_repository,
    validate_host,
    validate_repository,
)
from regkit.registry.manifest import Manifest, pick_child, platforms_of

if TYPE_CHECKING:
    from regkit.registry import RegistryClient

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (usage errors), as the conventions ask."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


_GLOBAL_DEFAULTS: dict[str, Any] = {
    "ca_file": None,
    "insecure": False,
    "jobs": 16,
    "timeout": 30.0,
    "verbose": 0,
    "username": None,
    "password_stdin": False,
}


def _global_flags(target: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The connection flags, accepted before and after the command (``regkit -v ls R``).

    On the top-level parser (``target``) they carry the real defaults; the copy given to
    sub-commands defaults to SUPPRESS, so a flag given before the command is not reset.
    """
    common = target or argparse.ArgumentParser(add_help=False)

    def default(name: str) -> Any:
        return _GLOBAL_DEFAULTS[name] if target is not None else argparse.SUPPRESS

    g = common.add_argument_group("connection")
    g.add_argument(
        "--ca-file",
        metavar="PATH",
        default=default("ca_file"),
        help="PEM file of CA certificates to trust (also read from SSL_CERT_FILE)",
    )
    g.add_argument(
        "--insecure",
        action="store_true",
        default=default("insecure"),
        help="allow plain HTTP to non-loopback hosts and skip TLS verification",
    )
    g.add_argument(
        "--jobs",
        "-j",
        type=_positive_int,
        metavar="N",
        default=default("jobs"),
        help="concurrent requests (default: 16)",
    )
    g.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        default=default("timeout"),
        help="give up on a request that gets no answer for this long (default: 30)",
    )
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default("verbose"),
        help="log requests to stderr",
    )
    g.add_argument(
        "--username",
        "-u",
        metavar="USER",
        default=default("username"),
        help="registry user (else REGISTRY_USERNAME, else the Docker config)",
    )
    g.add_argument(
        "--password-stdin",
        action="store_true",
        default=default("password_stdin"),
        help="read the password from standard input (else REGISTRY_PASSWORD)",
    )
    return common


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def connect_options(args: argparse.Namespace) -> ConnectOptions:
    """The connection options of a parsed command line (reads the password from stdin once)."""
    password: str | None = None
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin: no password on standard input")
    elif getattr(args, "username", None):
        password = os.environ.get("REGISTRY_PASSWORD")
        if password is None:
            raise UsageError("--username needs --password-stdin or REGISTRY_PASSWORD")
    return ConnectOptions(
        ca_file=getattr(args, "ca_file", None) or None,
        insecure=bool(getattr(args, "insecure", False)),
        jobs=int(getattr(args, "jobs", 16)),
        timeout=float(getattr(args, "timeout", 30.0)),
        verbose=int(getattr(args, "verbose", 0)),
        username=getattr(args, "username", None),
        password=password,
    )


def client_for(args: argparse.Namespace, host: str) -> RegistryClient:
    return connect(host, connect_options(args))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="regkit",
        description=(
            "Operate a self-hosted Docker registry: log in from a SOPS file, promote images by "
            "digest, prune old tags safely, and list everything."
        ),
    )
    parser.add_argument("--version", action="version", version=f"regkit {__version__}")
    _global_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = _global_flags()
    for add in _COMMANDS:
        add(sub, common)
    return parser


_COMMANDS: list[Callable[[Any, argparse.ArgumentParser], None]] = []


def command(add: Callable[[Any, argparse.ArgumentParser], None]) -> Callable[[Any, Any], None]:
    """Register an ``_add_<name>`` function (in declaration order: the order of ``--help``)."""
    _COMMANDS.append(add)
    return add


# -- login, logout (regkit.ops.login) -----------------------------------------------------


@command
def _add_login(sub: Any, common: argparse.ArgumentParser) -> None:
    from regkit.ops import login as ops_login

    p = sub.add_parser(
        "login",
        parents=[common],
        help="log in to the registry with the credentials of a SOPS file",
        description=(
            "Decrypt the SOPS secrets file, check the registry credentials against the "
            "registry's /v2/, then write them to the Docker client config that docker, crane, "
            "skopeo and trivy read (or to its credential helper). Nothing is written when the "
            "check fails. Docker style: 'regkit login HOST --username U --password-stdin'."
        ),
    )
    p.add_argument(
        "host",
        nargs="?",
        metavar="HOST",
        help="registry host[:port] (same as --registry)",
    )
    p.add_argument(
        "--secrets-file",
        metavar="PATH",
        help=f"SOPS file with the credentials (default: {ops_login.DEFAULT_SECRETS_FILE})",
    )
    p.add_argument(
        "--registry",
        metavar="HOST",
        help="registry host[:port]; overrides the registry key and base_domain of the file",
    )
    p.add_argument(
        "--username-key",
        metavar="KEY",
        help=f"key of the username (default: {ops_login.DEFAULT_USERNAME_KEY})",
    )
    p.add_argument(
        "--password-key",
        metavar="KEY",
        help=f"key of the password (default: {ops_login.DEFAULT_PASSWORD_KEY})",
    )
    p.add_argument(
        "--registry-key",
        metavar="KEY",
        help=(
            f"key of the registry host (default: {ops_login.DEFAULT_REGISTRY_KEY}; when absent: "
            "'registry.' + base_domain)"
        ),
    )
    p.add_argument(
        "--docker-config",
        metavar="DIR",
        help="directory of config.json (default: $DOCKER_CONFIG, else ~/.docker)",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="write the credentials without checking them against the registry",
    )
    p.set_defaults(func=_cmd_login)


def _cmd_login(args: argparse.Namespace) -> int:
    from regkit.ops import login as ops_login

    if args.host and args.registry and args.host != args.registry:
        raise UsageError(f"give the registry once: HOST {args.host!r} or --registry, not both")
    registry = args.host or args.registry
    if args.username or args.password_stdin:
        sops_options = [
            f"--{name.replace('_', '-')}"
            for name in ("secrets_file", "username_key", "password_key", "registry_key")
            if getattr(args, name)
        ]
        if sops_options:
            raise UsageError(
                f"--username/--password-stdin log in without a secrets file; drop "
                f"{', '.join(sops_options)}"
            )
        if not registry:
            raise UsageError("--username/--password-stdin need the registry: regkit login HOST")
        if not args.username:
            raise UsageError("--password-stdin needs --username USER")
        host = ops_login.normalise_host(registry)
        validate_host(host)
        if args.password_stdin:
            password = ops_login.read_password_stdin(sys.stdin.read())
        else:
            password = os.environ.get("REGISTRY_PASSWORD") or ""
            if not password:
                raise UsageError("--username needs --password-stdin (or REGISTRY_PASSWORD)")
        target = ops_login.LoginTarget(host, args.username, password, source="the command line")
        result = ops_login.finish_login(
            target,
            secrets_file=None,
            docker_config=args.docker_config,
            verify_credentials=not args.no_verify,
            ca_file=args.ca_file,
            insecure=args.insecure,
            timeout=float(getattr(args, "timeout", None) or 30.0),
        )
    else:
        result = ops_login.login(
            args.secrets_file or ops_login.DEFAULT_SECRETS_FILE,
            registry=registry,
            username_key=args.username_key or ops_login.DEFAULT_USERNAME_KEY,
            password_key=args.password_key or ops_login.DEFAULT_PASSWORD_KEY,
            registry_key=args.registry_key or ops_login.DEFAULT_REGISTRY_KEY,
            docker_config=args.docker_config,
            verify_credentials=not args.no_verify,
            ca_file=args.ca_file,
            insecure=args.insecure,
            timeout=float(getattr(args, "timeout", None) or 30.0),
        )
    target = result.target
    if result.verified is None:
        checked = "not verified (--no-verify)"
    elif result.verified.auth_required:
        checked = "credentials accepted by the registry"
    else:
        checked = "the registry asks for no credentials; stored anyway"
    origin = (
        f" (from {result.secrets_file}, {ops_login.key_description(target)}; "
        f"registry from {target.source})"
        if result.secrets_file
        else ""
    )
    print(f"Logged in to {target.host} as {target.username}{origin}: {checked}")
    if result.stored.helper:
        print(
            f"Credentials stored in docker-credential-{result.stored.helper}; "
            f"entry for {target.host} in {result.stored.config_path}"
        )
    else:
        print(f"Credentials for {target.host} written to {result.stored.config_path}")
    return 0


@command
def _add_logout(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "logout",
        help="remove a registry's credentials from the Docker config (and its helper)",
        description=(
            "Remove the credentials of REGISTRY from the Docker client config and from the "
            "credential helper it names, as 'docker logout' does."
        ),
    )
    p.add_argument("registry", metavar="REGISTRY", help="registry host[:port]")
    p.add_argument(
        "--docker-config",
        metavar="DIR",
        help="directory of config.json (default: $DOCKER_CONFIG, else ~/.docker)",
    )
    p.set_defaults(func=_cmd_logout)


def _cmd_logout(args: argparse.Namespace) -> int:
    from regkit.ops import login as ops_login

    result = ops_login.logout(args.registry, args.docker_config)
    if not result.removed:
        print(f"Not logged in to {result.host} (no entry in {result.config_path})")
        return 0
    where = []
    if result.from_config:
        where.append(str(result.config_path))
    if result.helper:
        where.append(f"docker-credential-{result.helper}")
    print(f"Removed the credentials of {result.host} from {' and '.join(where)}")
    return 0


@command
def _add_decrypt(sub: Any, common: argparse.ArgumentParser) -> None:
    types = ["yaml", "json", "dotenv", "ini", "binary"]
    p = sub.add_parser(
        "decrypt",
        help="decrypt a SOPS file (age keys) and print it like 'sops -d'",
        description=(
            "Decrypt a SOPS file natively with age identities from SOPS_AGE_KEY, "
            "SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, the default keys.txt or SSH keys, and print it "
            "as 'sops -d' does. Refuses a file whose MAC does not match unless --ignore-mac."
        ),
    )
    p.add_argument("file", metavar="FILE", help="the encrypted file")
    p.add_argument("--extract", metavar="PATH", help='print one value, e.g. \'["a"]["b"][0]\'')
    p.add_argument("--input-type", choices=types, help="file format (default: from the extension)")
    p.add_argument("--output-type", choices=types, help="output format (default: the input type)")
    p.add_argument("--ignore-mac", action="store_true", help="do not verify the file's MAC")
    p.set_defaults(func=_cmd_decrypt)


def _cmd_decrypt(args: argparse.Namespace) -> int:
    from regkit.sops import decrypt_file
    from regkit.sops.render import render

    doc = decrypt_file(args.file, ignore_mac=args.ignore_mac, input_type=args.input_type)
    _write(render(doc, args.output_type, args.extract))
    return 0


# -- crane-compatible verbs ---------------------------------------------------------------


def _write(data: bytes | str) -> None:
    out = sys.stdout.buffer
    out.write(data.encode() if isinstance(data, str) else data)
    out.flush()


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
    _write("".join(f"{host}/{r}\n" if args.full_ref else f"{r}\n" for r in repos))
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
    _write("".join(f"{ref.name}:{t}\n" if args.full_ref else f"{t}\n" for t in tags))
    return 0


def _add_ref_verb(sub: Any, common: argparse.ArgumentParser, name: str, help_: str) -> Any:
    p = sub.add_parser(name, parents=[common], help=help_, description=help_ + ".")
    p.add_argument("ref", metavar="REF", help="HOST/REPOSITORY[:TAG|@DIGEST] (tag default: latest)")
    p.add_argument(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        help="for a multi-platform image, the platform to use",
    )
    return p


_PLATFORM_RE = re.compile(r"[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)?")


def validate_platform(value: str) -> str:
    """``os/arch[/variant]`` in lower case, or a usage error naming the form."""
    if not _PLATFORM_RE.fullmatch(value):
        raise UsageError(
            f"invalid platform {value[:80]!r}: expected OS/ARCH[/VARIANT], e.g. linux/arm64"
        )
    return value


def _resolve_platform(
    client: RegistryClient, ref: Reference, manifest: Manifest, platform: str | None
) -> Manifest:
    if not manifest.is_index or platform is None:
        return manifest
    child = pick_child(manifest, platform)
    if child is None:
        have = ", ".join(platforms_of(manifest)) or "none"
        raise NotFoundError(f"{ref} has no platform {platform} (it has: {have})")
    return client.get_manifest(ref.repository, child.digest)


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


# -- tag, copy, promote (regkit.ops.promote) ----------------------------------------------


def _connector(args: argparse.Namespace) -> Callable[[str], RegistryClient]:
    options = connect_options(args)  # once: --password-stdin reads stdin
    return lambda host: connect(host, options)


@command
def _add_tag(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "tag",
        parents=[common],
        help="add a tag to an image in its repository, by digest (like crane tag)",
        description="Write the manifest of REF under TAG in the same repository; prints nothing.",
    )
    p.add_argument("ref", metavar="REF", help="HOST/REPOSITORY[:TAG|@DIGEST] (tag default: latest)")
    p.add_argument("tag", metavar="TAG", help="the new tag")
    p.set_defaults(func=_cmd_tag)


def _cmd_tag(args: argparse.Namespace) -> int:
    from regkit.ops import promote as pr

    source = pr.parse_source(args.ref, default_tag="latest")
    pr.promote(source, [pr.parse_target(args.tag, source)], _connector(args))
    return 0


@command
def _add_copy(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "copy",
        parents=[common],
        help="copy an image to another repository or registry, digests kept (like crane copy)",
        description=(
            "Copy SRC to DST with every platform: blobs are mounted within a registry and "
            "streamed between registries; the manifests keep their digests. Prints nothing."
        ),
    )
    p.add_argument("src", metavar="SRC", help="HOST/REPOSITORY[:TAG|@DIGEST] (tag default: latest)")
    p.add_argument("dst", metavar="DST", help="HOST/REPOSITORY[:TAG|@DIGEST] (tag default: latest)")
    p.set_defaults(func=_cmd_copy)


def _cmd_copy(args: argparse.Namespace) -> int:
    from regkit.ops import promote as pr

    source = pr.parse_source(args.src, default_tag="latest")
    target = parse_reference(args.dst, default_tag="latest")
    pr.promote(source, [target], _connector(args))
    return 0


@command
def _add_promote(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "promote",
        parents=[common],
        help="give a tested image more tags by digest (release tags, latest), no pull",
        description=(
            "Write the source manifest, byte for byte, under each TARGET; verify every target "
            "then resolves to the source digest. A target already at the digest is left alone. "
            "Prints the digest and one line per target: created, moved from DIGEST, unchanged."
        ),
    )
    p.add_argument("src", metavar="SRC", help="HOST/REPOSITORY:TAG or HOST/REPOSITORY@DIGEST")
    p.add_argument(
        "targets",
        metavar="TARGET",
        nargs="+",
        help="a tag (same repository), REPOSITORY:TAG (same registry) or HOST/REPOSITORY:TAG",
    )
    p.add_argument(
        "--expect-digest",
        metavar="DIGEST",
        help="refuse (writing nothing) unless SRC still resolves to this digest",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_promote)


def _cmd_promote(args: argparse.Namespace) -> int:
    from regkit.ops import promote as pr

    source = pr.parse_source(args.src)
    targets = pr.parse_targets(pr.split_targets(args.targets), source)
    result = pr.promote(
        source,
        targets,
        _connector(args),
        expect_digest=args.expect_digest,
        dry_run=args.dry_run,
    )
    lines = [result.json_text()] if args.json else result.lines()
    _write("".join(f"{line}\n" for line in lines))
    if args.dry_run and not args.json:
        print("regkit: dry run: nothing was written", file=sys.stderr)
    return 0


# -- overview -----------------------------------------------------------------------------


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
            "image, CREATED, SIZE and DESCRIPTION are those of one platform (--platform)."
        ),
    )
    p.add_argument(
        "registry",
        metavar="REGISTRY",
        nargs="?",
        help="registry host[:port] (default: REGKIT_REGISTRY)",
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


def _cmd_overview(args: argparse.Namespace) -> int:
    from regkit.ops import overview as ov

    host = args.registry or os.environ.get("REGKIT_REGISTRY")
    if not host:
        raise UsageError("name the registry: regkit overview HOST (or set REGKIT_REGISTRY)")
    validate_host(host)
    repos = [validate_repository(r) for r in args.repo]
    platform = validate_platform(args.platform) if args.platform else None
    with client_for(args, host) as client, Progress("overview") as progress:
        if not args.no_cache:
            from regkit.registry.cache import ContentCache

            client.cache = ContentCache.from_environment()
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


# -- prune, delete (regkit.ops.prune; owner: prune) ---------------------------------------


@command
def _add_prune(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "prune",
        parents=[common],
        help="delete old SHA tags, keeping the newest and every protected tag",
        description=(
            "Delete tags matching --match, keeping the --keep newest (by the label "
            "org.opencontainers.image.created, else the config's created), tags newer than "
            "--older-than, protected tags and digests, and tags whose time is unknown. A manifest "
            "that a staying tag or a protected digest still uses is never deleted: such tags are "
            "removed alone. Prints the plan first; asks before deleting on a terminal."
        ),
    )
    p.add_argument("repos", nargs="*", metavar="REPO", help="HOST/REPOSITORY to prune")
    p.add_argument(
        "--match",
        metavar="REGEX",
        help="tags eligible for deletion (re.search; default: ^[0-9a-f]{7}$, a short SHA)",
    )
    p.add_argument(
        "--keep",
        type=_prune_keep,
        metavar="N",
        help="newest eligible tags to keep (default: 10)",
    )
    p.add_argument(
        "--older-than",
        metavar="DURATION",
        help="only delete tags created earlier than this, e.g. 30d, 12h, 2w, 1d12h",
    )
    p.add_argument("--protect-tag", action="append", default=[], metavar="TAG")
    p.add_argument("--protect-digest", action="append", default=[], metavar="DIGEST")
    p.add_argument(
        "--protect-file",
        action="append",
        default=[],
        metavar="PATH",
        help="a deploy-info.yml (or deploy-history.yml): its image.tag and image.digest stay",
    )
    p.add_argument(
        "--all-repos",
        action="append",
        default=[],
        metavar="REGISTRY",
        help="prune every repository of this registry",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan, delete nothing")
    p.add_argument("--json", action="store_true", help="print the plan and result as JSON")
    p.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    p.set_defaults(func=_cmd_prune)


def _prune_keep(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _cmd_prune(args: argparse.Namespace) -> int:
    import contextlib
    from datetime import UTC, datetime

    from regkit.ops.prune import render
    from regkit.ops.prune.run import build_policy, execute_plans, plan_target, targets

    if not args.dry_run and not args.yes and not sys.stdin.isatty():
        raise UsageError(
            "prune deletes tags and there is no terminal to confirm: pass --yes to delete, "
            "or --dry-run to print the plan only"
        )
    policy = build_policy(
        match=args.match,
        keep=args.keep,
        older_than=args.older_than,
        protect_tags=args.protect_tag,
        protect_digests=args.protect_digest,
        protect_files=args.protect_file,
    )
    goals = targets(args.repos, args.all_repos)
    now = datetime.now(UTC)
    documents: list[dict[str, Any]] = []
    incomplete = False
    with contextlib.ExitStack() as stack:
        planned = []
        for goal in goals:
            client = stack.enter_context(client_for(args, goal.registry))
            with Progress(f"reading {goal.registry}") as progress:
                plans = plan_target(client, goal, policy, now, tick=progress.advance)
            planned.append((goal.registry, client, plans))
            if not args.json:
                _write(render.render_plans(goal.registry, plans))
        doomed = sum(len(p.removed) for _, _, ps in planned for p in ps)
        if args.dry_run or doomed == 0:
            for registry, _, plans in planned:
                documents.append(render.to_json(registry, plans, None, dry_run=args.dry_run))
            if args.json:
                _write(render.render_json(documents))
            print(
                "dry run: nothing deleted" if args.dry_run else "nothing to delete",
                file=sys.stderr,
            )
            return 0
        if not args.yes:
            what = render.plural(doomed, "tag")
            print(f"Delete {what}? [y/N] ", end="", file=sys.stderr, flush=True)
            if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                print("nothing deleted", file=sys.stderr)
                return 1

        def warn(message: str) -> None:
            print(f"regkit: warning: {message}", file=sys.stderr)

        for registry, client, plans in planned:
            with Progress(f"pruning {registry}") as progress:
                results = execute_plans(client, plans, warn=warn, tick=progress.advance)
            documents.append(render.to_json(registry, plans, results, dry_run=False))
            incomplete = incomplete or not all(r.complete for r in results)
            if not args.json:
                _write("".join(render.render_result(registry, r) for r in results))
    if args.json:
        _write(render.render_json(documents))
    if incomplete:
        raise RegkitError(
            "prune did not finish (see above); the registry is consistent: run the same "
            "command again to finish"
        )
    return 0


@command
def _add_delete(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "delete",
        parents=[common],
        help="delete a manifest by digest, or remove one tag only (like crane delete)",
        description=(
            "HOST/REPO@DIGEST deletes the manifest and every tag pointing at it (they are "
            "listed). HOST/REPO:TAG removes only that tag; the manifest and its other tags stay "
            "(DELETE by tag on registry:3, a throw-away manifest on distribution 2.8)."
        ),
    )
    p.add_argument("ref", metavar="REF", help="HOST/REPOSITORY@DIGEST or HOST/REPOSITORY:TAG")
    p.set_defaults(func=_cmd_delete)


def _cmd_delete(args: argparse.Namespace) -> int:
    from regkit.ops.prune.run import delete_reference

    ref = parse_reference(args.ref, require_identifier=True)
    with client_for(args, ref.registry) as client:
        kind, digest, tags = delete_reference(client, args.ref)
    name = ref.name
    if kind == "manifest":
        went = f"tags removed with it: {', '.join(tags)}" if tags else "no tag pointed at it"
        _write(f"deleted {name}@{digest} ({went})\n")
    else:
        _write(f"removed tag {name}:{tags[0]}; manifest {digest} and its other tags stay\n")
    return 0


@command
def _add_action(sub: Any, common: argparse.ArgumentParser) -> None:
    # No `common` parent: an action takes everything from its INPUT_* variables.
    p = sub.add_parser(
        "action",
        help="run a GitHub Action step (login, promote, prune, overview)",
        description=(
            "Entry point of regkit's GitHub Actions: reads the inputs from INPUT_<NAME> "
            "variables, writes outputs to GITHUB_OUTPUT and the job summary to "
            "GITHUB_STEP_SUMMARY, and reports errors as ::error:: annotations."
        ),
    )
    p.add_argument("name", metavar="NAME", help="login, promote, prune or overview")
    p.set_defaults(func=_cmd_action)


def _cmd_action(args: argparse.Namespace) -> int:
    from regkit.actions import run  # lazy: keeps `regkit --version` fast

    return run(args.name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return func(args)
    except RegkitError as err:
        print(f"regkit: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("regkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:
        if type(err).__module__.startswith(("httpx", "httpcore", "h2")):
            # A transport failure that escaped translation: still one line, never a traceback.
            print(
                f"regkit: error: connection failed ({type(err).__name__}: {err})", file=sys.stderr
            )
            return 1
        raise
