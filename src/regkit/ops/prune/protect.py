"""Protections read from the team's deploy files (``deploy-info.yml``, ``deploy-history.yml``).

A deploy writes ``image.tag`` and ``image.digest`` of what runs; both are protected. The
history file is a list of the same ``image:`` blocks; every entry is protected, and an entry
that is not such a block (an ``image:`` string, other keys, ``{}``, ``null``) refuses the whole
file, naming the entry: a silently dropped entry would let its image be pruned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent

from regkit.errors import InvalidReferenceError, UsageError
from regkit.reference import validate_digest, validate_tag


@dataclass(frozen=True, slots=True)
class Protection:
    """Tags and digests to keep, with why (by tag or digest; a plan's REASON shows it)."""

    tags: frozenset[str] = frozenset()
    digests: frozenset[str] = frozenset()
    reasons: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __or__(self, other: Protection) -> Protection:
        return Protection(
            self.tags | other.tags, self.digests | other.digests, {**self.reasons, **other.reasons}
        )

    def because(self, source: str) -> Protection:
        """The same protection, each tag and digest kept 'because' of ``source`` (e.g.
        ``deploy file hello-world/deploy-info.yml``)."""
        return Protection(
            self.tags, self.digests, {name: source for name in self.tags | self.digests}
        )


def parse_deploy_info(text: str, source: str = "deploy-info.yml") -> Protection:
    """The tags and digests named by a deploy-info (or deploy-history) document (at most
    ``MAX_DEPLOY_FILE_BYTES``, ``MAX_DEPLOY_DEPTH`` levels deep, no anchors or aliases)."""
    try:
        _check_shape(text, source)
        data: Any = YAML(typ="base", pure=True).load(text)
    except YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else "not YAML"
        raise UsageError(f"cannot read {source}: {first}") from None
    except RecursionError:  # past _check_shape, only a parser change could get here
        raise UsageError(f"cannot read {source}: nested too deeply") from None
    history = isinstance(data, list)
    blocks = data if history else [data]
    tags: set[str] = set()
    digests: set[str] = set()
    for number, block in enumerate(blocks, 1):
        image = _image_block(block)
        if image is None:
            if not history:
                continue  # a deploy-info without image: refused below, naming what it lacks
            raise UsageError(
                f"{source}: entry {number} is not an image block ({_describe(block)}); "
                "each entry must be 'image:' with 'tag:' and/or 'digest:'; refusing to prune "
                "without the protection it was meant to give"
            )
        tag, digest = image.get("tag"), image.get("digest")
        try:
            if tag not in (None, ""):
                tags.add(validate_tag(str(tag)))
            if digest not in (None, ""):
                digests.add(validate_digest(str(digest)))
        except InvalidReferenceError as err:
            raise UsageError(f"{source}: {err}") from None
    if not tags and not digests:
        raise UsageError(
            f"{source} names no image.tag or image.digest; is it a deploy-info.yml? "
            "refusing to prune without the protection it was meant to give"
        )
    return Protection(frozenset(tags), frozenset(digests))


def _image_block(block: object) -> dict[Any, Any] | None:
    """The ``image:`` mapping of an entry (or the entry itself, written without ``image:``),
    when it names a tag or a digest; else None."""
    if not isinstance(block, dict):
        return None
    image = block.get("image")
    if image is None and ("digest" in block or "tag" in block):
        image = block  # a history entry written without the image: key
    if not isinstance(image, dict):
        return None
    if image.get("tag") in (None, "") and image.get("digest") in (None, ""):
        return None
    return image


def _describe(block: object) -> str:
    """What an entry is, in a few words (no values: a deploy file is not ours to echo)."""
    if block is None or block in ("", "~", "null", "Null", "NULL"):  # the base loader: strings
        return "it is empty (null)"
    if isinstance(block, dict):
        if not block:
            return "it is an empty mapping {}"
        image = block.get("image")
        if image is not None and not isinstance(image, dict):
            return f"its image: is a {_kind(image)}, not a mapping"
        if isinstance(image, dict):
            return "its image: names no tag: or digest:"
        keys = ", ".join(sorted(str(k) for k in block)[:5])
        return f"it has keys {keys} but no image:"
    return f"it is a {_kind(block)}"


def _kind(value: object) -> str:
    return {str: "string", list: "list", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


#: Largest deploy file read (``--protect-file``, ``--protect-dir``'s deploy-*.yml), in bytes.
MAX_DEPLOY_FILE_BYTES = 1 << 20
#: Deepest nesting of mappings and sequences in a deploy file (a real one has 2 or 3).
MAX_DEPLOY_DEPTH = 32


class DeployFileError(ValueError):
    """A deploy file that is not read at all: too large, or not UTF-8 (one line, no content)."""


def read_deploy_file(path: str | Path) -> str:
    """The text of a deploy file, reading at most ``MAX_DEPLOY_FILE_BYTES`` + 1 bytes (a pipe
    or ``/dev/zero`` ends there too). ``OSError`` as the system says it; ``DeployFileError``
    when it is larger than the cap or not UTF-8."""
    with open(path, "rb") as handle:
        raw = handle.read(MAX_DEPLOY_FILE_BYTES + 1)
    if len(raw) > MAX_DEPLOY_FILE_BYTES:
        raise DeployFileError(
            f"larger than {MAX_DEPLOY_FILE_BYTES >> 20} MiB, too large for a deploy file"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DeployFileError(f"not UTF-8 (byte {err.start})") from None


def _check_shape(text: str, source: str) -> None:
    """Refuse, from the parser's events (no document is built), a deploy file that is larger
    than the cap, nested deeper than ``MAX_DEPLOY_DEPTH`` or uses anchors and aliases (an
    alias bomb expands into billions of values; a deploy file has no need for them)."""
    if len(text) > MAX_DEPLOY_FILE_BYTES or len(text.encode()) > MAX_DEPLOY_FILE_BYTES:
        raise UsageError(
            f"cannot read {source}: larger than {MAX_DEPLOY_FILE_BYTES >> 20} MiB, too large "
            "for a deploy file"
        )
    depth = 0
    for event in YAML(typ="base", pure=True).parse(text):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
            raise UsageError(
                f"cannot read {source}: it uses YAML anchors and aliases (line {line}), which "
                "a deploy file does not need; write the values out"
            )
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPLOY_DEPTH:
                raise UsageError(
                    f"cannot read {source}: nested deeper than {MAX_DEPLOY_DEPTH} levels "
                    f"(line {line}); is it a deploy-info.yml?"
                )
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def load_protect_file(path: str) -> Protection:
    try:
        text = read_deploy_file(path)
    except (OSError, DeployFileError) as err:
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise UsageError(
            f"cannot read protect file {path}: {why}; "
            "pass the deploy-info.yml of the running deployment"
        ) from None
    return parse_deploy_info(text, path)


__all__ = [
    "MAX_DEPLOY_DEPTH",
    "MAX_DEPLOY_FILE_BYTES",
    "DeployFileError",
    "Protection",
    "load_protect_file",
    "parse_deploy_info",
    "read_deploy_file",
]
