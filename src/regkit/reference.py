"""Image references: parse, validate and normalise, without any I/O.

Grammar (distribution/reference): ``[host[:port]/]path[:tag][@digest]`` where each path
component matches ``[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*``, a tag matches
``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`` and a digest is ``sha256:`` followed by 64 lower-case
hex digits. The first component is a host when it contains ``.`` or ``:`` or is
``localhost``. Every error names the part that is wrong, before any network request.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from regkit.errors import InvalidReferenceError, Param

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
COMPONENT_RE = re.compile(rf"^{_COMPONENT}$")
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
HOST_RE = re.compile(
    rf"^(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]{{1,5}})?$"
)
MAX_NAME_LENGTH = 255


def _show(value: str) -> str:
    """A value quoted for an error message, shortened when long."""
    return repr(value if len(value) <= 80 else value[:77] + "...")


#: ``http://``, ``https://``, ``docker://``...: a URL where a reference or host belongs
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)")


def refuse_scheme(text: str, what: str = "reference", example: str = "HOST/REPOSITORY") -> None:
    """A reference or host written as a URL: say to drop the scheme (regkit picks HTTPS, and
    plain HTTP only for loopback or with --insecure)."""
    match = _SCHEME_RE.match(text)
    if match:
        rest = text[match.end() :].rstrip("/") or example
        rest = rest if len(rest) <= 80 else rest[:77] + "..."
        raise InvalidReferenceError(
            (
                f"invalid {what} {_show(text)}: drop the scheme {_show(match.group(1))}: write "
                f"{rest} (regkit uses HTTPS; plain HTTP for localhost or with ",
                Param("insecure"),
                ")",
            )
        )


def validate_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        if len(tag) > 128:
            raise InvalidReferenceError(
                f"invalid tag {_show(tag)}: {len(tag)} characters, at most 128 are allowed"
            )
        raise InvalidReferenceError(
            f"invalid tag {_show(tag)}: a tag is 1 to 128 of A-Z a-z 0-9 _ . - "
            "and must not start with . or -"
        )
    return tag


def validate_digest(digest: str) -> str:
    if not DIGEST_RE.match(digest):
        raise InvalidReferenceError(
            f"invalid digest {_show(digest)}: expected sha256: followed by 64 lower-case hex digits"
        )
    return digest


def validate_repository(repository: str) -> str:
    if not repository:
        raise InvalidReferenceError("invalid repository: the name is empty")
    if len(repository) > MAX_NAME_LENGTH:
        raise InvalidReferenceError(
            f"invalid repository {_show(repository)}: longer than {MAX_NAME_LENGTH} characters"
        )
    for part in repository.split("/"):
        if not COMPONENT_RE.match(part):
            hint = " (upper case is not allowed)" if part.lower() != part else ""
            raise InvalidReferenceError(
                f"invalid repository {_show(repository)}: path component {_show(part)} must be "
                f"lower-case letters and digits separated by . _ __ or -{hint}"
            )
    return repository


def validate_host(host: str) -> str:
    refuse_scheme(host, "registry host", "registry.example.com")
    if not host or not HOST_RE.match(host):
        raise InvalidReferenceError(
            f"invalid registry host {_show(host)}: expected host[:port], e.g. registry.example.com"
        )
    return host


def validate_tag_or_digest(value: str) -> str:
    """A bare source/target: a digest when it starts with ``sha256:``, else a tag."""
    return validate_digest(value) if value.startswith("sha256:") else validate_tag(value)


def _looks_like_host(component: str) -> bool:
    return (
        "." in component
        or ":" in component
        or component == "localhost"
        or (component.startswith("[") and component.endswith("]"))
    )


def has_host(text: str) -> bool:
    """True when ``text`` (``[HOST/]REPOSITORY...``) starts with a registry host: a first path
    component with a dot, a port, ``localhost`` or ``[IPv6]`` (what ``parse_reference`` takes
    as the host)."""
    first, slash, _rest = text.partition("/")
    return bool(slash) and _looks_like_host(first)


def host_is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1, with or without a port."""
    name = host
    if name.startswith("["):
        name = name[1 : name.index("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed reference. ``tag`` and ``digest`` may both be absent (a repository)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository``."""
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self) -> str:
        """What goes after ``/manifests/``: the digest when present, else the tag."""
        if self.digest:
            return self.digest
        if self.tag:
            return self.tag
        raise InvalidReferenceError(f"{self.name}: a tag or digest is needed")

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, validate_tag(tag), None)

    def repo(self) -> Reference:
        return Reference(self.registry, self.repository)

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(
    text: str,
    *,
    default_registry: str | None = None,
    require_identifier: bool = False,
    default_tag: str | None = None,
) -> Reference:
    """Parse ``[host/]repo[:tag][@digest]``.

    Without a host in ``text``, ``default_registry`` is used; without either, the input is an
    error (regkit has no implicit Docker Hub). ``default_tag`` fills in a missing tag and
    digest (crane uses ``latest``).
    """
    if text is None or not text.strip():
        raise InvalidReferenceError("invalid reference: it is empty")
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidReferenceError(f"invalid reference {_show(text)}: it contains white space")
    refuse_scheme(text, "reference", "HOST/REPOSITORY[:TAG]")
    rest = text
    digest: str | None = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        validate_digest(digest)
    tag: str | None = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        validate_tag(tag)
    registry: str | None = None
    if "/" in rest:
        first, remainder = rest.split("/", 1)
        if _looks_like_host(first):
            registry, rest = validate_host(first), remainder
    elif _looks_like_host(rest) and default_registry is None:
        raise InvalidReferenceError(
            f"invalid reference {_show(text)}: {_show(rest)} looks like a registry host; "
            "add the repository, e.g. HOST/team/app:tag"
        )
    if registry is None:
        if default_registry is None:
            raise InvalidReferenceError(
                f"invalid reference {_show(text)}: no registry host; write HOST/REPOSITORY[:TAG]"
            )
        registry = validate_host(default_registry)
    validate_repository(rest)
    if tag is None and digest is None:
        if default_tag is not None:
            tag = validate_tag(default_tag)
        elif require_identifier:
            raise InvalidReferenceError(
                f"invalid reference {_show(text)}: add :TAG or @sha256:DIGEST"
            )
    return Reference(registry, rest, tag, digest)


def parse_repository(text: str, *, default_registry: str | None = None) -> Reference:
    """A repository reference without tag or digest (``host/team/app``)."""
    ref = parse_reference(text, default_registry=default_registry)
    if ref.tag or ref.digest:
        raise InvalidReferenceError(
            f"invalid repository {_show(text)}: expected HOST/REPOSITORY without a tag or digest"
        )
    return ref
