"""What every verb shares: the global connection flags, the client factory, output."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from regkit.errors import NotFoundError, UsageError
from regkit.ops import ConnectOptions, connect
from regkit.reference import (
    Reference,
)
from regkit.registry.manifest import Manifest, pick_child, platforms_of

if TYPE_CHECKING:
    from regkit.registry import RegistryClient


Handler = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (usage errors), as the conventions ask."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


GLOBAL_DEFAULTS: dict[str, Any] = {
    "ca_file": None,
    "insecure": False,
    "jobs": 16,
    "timeout": 30.0,
    "verbose": 0,
    "username": None,
    "password_stdin": False,
}


def global_flags(target: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The connection flags, accepted before and after the command (``regkit -v ls R``).

    On the top-level parser (``target``) they carry the real defaults; the copy given to
    sub-commands defaults to SUPPRESS, so a flag given before the command is not reset.
    """
    common = target or argparse.ArgumentParser(add_help=False)

    def default(name: str) -> Any:
        return GLOBAL_DEFAULTS[name] if target is not None else argparse.SUPPRESS

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
        help=(
            "allow plain HTTP to non-loopback hosts (warned on stderr) and skip TLS verification"
        ),
    )
    g.add_argument(
        "--jobs",
        "-j",
        type=positive_int,
        metavar="N",
        default=default("jobs"),
        help="concurrent requests (default: 16)",
    )
    g.add_argument(
        "--timeout",
        type=positive_float,
        metavar="SECONDS",
        default=default("timeout"),
        help="give up on a request that gets no answer for this long (default: 30)",
    )
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default("verbose"),
        help=(
            "log each request and each retry to stderr, e.g. 'regkit: GET /v2/app/tags/list"
            "?n=1000 answered 503; try 2 of 5 in 0.2s' (retries also show on a terminal)"
        ),
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


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def positive_int(text: str) -> int:
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


COMMANDS: list[Callable[[Any, argparse.ArgumentParser], None]] = []


def command(add: Callable[[Any, argparse.ArgumentParser], None]) -> Callable[[Any, Any], None]:
    """Register an ``_add_<name>`` function; ``--help`` lists verbs by module, then declaration."""
    COMMANDS.append(add)
    return add


def write(data: bytes | str) -> None:
    out = sys.stdout.buffer
    out.write(data.encode() if isinstance(data, str) else data)
    out.flush()


def add_ref_verb(sub: Any, common: argparse.ArgumentParser, name: str, help_: str) -> Any:
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


def resolve_platform(
    client: RegistryClient, ref: Reference, manifest: Manifest, platform: str | None
) -> Manifest:
    if not manifest.is_index or platform is None:
        return manifest
    child = pick_child(manifest, platform)
    if child is None:
        have = ", ".join(platforms_of(manifest)) or "none"
        raise NotFoundError(f"{ref} has no platform {platform} (it has: {have})")
    return client.get_manifest(ref.repository, child.digest)


def connector(args: argparse.Namespace) -> Callable[[str], RegistryClient]:
    options = connect_options(args)  # once: --password-stdin reads stdin
    return lambda host: connect(host, options)
