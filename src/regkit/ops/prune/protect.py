"""Protections read from the team's deploy files (``deploy-info.yml``, ``deploy-history.yml``).

A deploy writes ``image.tag`` and ``image.digest`` of what runs; both are protected. The
history file is a list of the same ``image:`` blocks; every entry is protected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from regkit.errors import InvalidReferenceError, UsageError
from regkit.reference import validate_digest, validate_tag


@dataclass(frozen=True, slots=True)
class Protection:
    tags: frozenset[str] = frozenset()
    digests: frozenset[str] = frozenset()

    def __or__(self, other: Protection) -> Protection:
        return Protection(self.tags | other.tags, self.digests | other.digests)


def parse_deploy_info(text: str, source: str = "deploy-info.yml") -> Protection:
    """The tags and digests named by a deploy-info (or deploy-history) document."""
    try:
        data: Any = YAML(typ="base", pure=True).load(text)
    except YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else "not YAML"
        raise UsageError(f"cannot read {source}: {first}") from None
    blocks = data if isinstance(data, list) else [data]
    tags: set[str] = set()
    digests: set[str] = set()
    for block in blocks:
        image = block.get("image") if isinstance(block, dict) else None
        if image is None and isinstance(block, dict) and ("digest" in block or "tag" in block):
            image = block  # a history entry written without the image: key
        if not isinstance(image, dict):
            continue
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


def load_protect_file(path: str) -> Protection:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(
            f"cannot read protect file {path}: {err.strerror or err}; "
            "pass the deploy-info.yml of the running deployment"
        ) from None
    return parse_deploy_info(text, path)


__all__ = ["Protection", "load_protect_file", "parse_deploy_info"]
