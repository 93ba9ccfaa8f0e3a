"""login, logout, decrypt: credentials from a SOPS file (regkit.ops.login, regkit.sops)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from regkit import defaults
from regkit.cli.common import (
    command,
    verb_help,
)
from regkit.cli.common import (
    write as _write,
)
from regkit.errors import UsageError
from regkit.reference import (
    validate_host,
)


def _add_docker_config(p: argparse.ArgumentParser) -> None:
    """``--docker-config DIR``: where login writes and logout removes the credentials."""
    p.add_argument(
        "--docker-config",
        metavar="DIR",
        help="directory of config.json (default: $DOCKER_CONFIG, else ~/.docker)",
    )


@command
def _add_login(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "login",
        parents=[common],
        help="log in to the registry with the credentials of a SOPS file",
        description=(
            "Decrypt the SOPS secrets file, check the registry credentials against the "
            "registry's /v2/, then write them to the Docker client config that docker, crane, "
            "skopeo and trivy read (or to its credential helper). Nothing is written when the "
            "check fails. Docker style: 'regkit login HOST --username U --password-stdin'; "
            "with --username alone on a terminal, the password is asked for. --ca-file is "
            "remembered for HOST in $XDG_CONFIG_HOME/regkit/ (0600), so later commands need "
            "no --ca-file."
        ),
        **verb_help(
            [
                "regkit login                        # registry and credentials from the SOPS file",
                "regkit login registry.example.com -u ci        # asks for the password",
                'echo "$PASSWORD" | regkit login registry.example.com -u ci --password-stdin',
                "regkit login registry.example.com --ca-file ./ca.pem  # the CA is remembered",
            ]
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
        help=f"SOPS file with the credentials (default: {defaults.SECRETS_FILES[0]})",
    )
    p.add_argument(
        "--registry",
        metavar="HOST",
        help="registry host[:port]; overrides the registry key and base_domain of the file",
    )
    p.add_argument(
        "--username-key",
        metavar="KEY",
        help=f"key of the username (default: {defaults.USERNAME_KEY})",
    )
    p.add_argument(
        "--password-key",
        metavar="KEY",
        help=f"key of the password (default: {defaults.PASSWORD_KEY})",
    )
    p.add_argument(
        "--registry-key",
        metavar="KEY",
        help=(
            f"key of the registry host (default: {defaults.REGISTRY_KEY}; when absent: "
            "'registry.' + base_domain)"
        ),
    )
    _add_docker_config(p)
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
            if not password and sys.stdin.isatty():
                password = _ask_password()
            if not password:
                raise UsageError(
                    "--username needs a password: --password-stdin, REGISTRY_PASSWORD, "
                    "or a terminal to type it on"
                )
        target = ops_login.LoginTarget(host, args.username, password, source="the command line")
        result = ops_login.finish_login(
            target,
            secrets_file=None,
            docker_config=args.docker_config,
            verify_credentials=not args.no_verify,
            ca_file=args.ca_file,  # else the CA remembered for the host (finish_login)
            insecure=args.insecure,
            timeout=_timeout(args),
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
            ca_file=args.ca_file,  # else the CA remembered for the host, from the file too
            insecure=args.insecure,
            timeout=_timeout(args),
        )
    target = result.target
    if args.ca_file:
        from regkit.userconfig import remember_ca

        kept = remember_ca(target.host, args.ca_file)
        print(f"CA for {target.host} remembered in {kept} (later commands need no --ca-file)")
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


def _ask_password() -> str:
    """The password typed on the terminal, not echoed (as docker login does)."""
    import getpass

    try:
        return getpass.getpass("Password: ")
    except EOFError:
        return ""


def _timeout(args: argparse.Namespace) -> float:
    from regkit.ops import ConnectOptions

    return float(getattr(args, "timeout", None) or ConnectOptions().timeout)


@command
def _add_logout(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "logout",
        help="remove a registry's credentials from the Docker config (and its helper)",
        description=(
            "Remove the credentials of REGISTRY from the Docker client config and from the "
            "credential helper it names, as 'docker logout' does."
        ),
        **verb_help(["regkit logout registry.example.com"]),
    )
    p.add_argument("registry", metavar="REGISTRY", help="registry host[:port]")
    _add_docker_config(p)
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
        **verb_help(
            [
                "regkit decrypt secrets.enc.yaml",
                'regkit decrypt secrets.enc.yaml --extract \'["registry"]["password"]\'',
            ]
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
