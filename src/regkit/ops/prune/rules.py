"""Built-in protection: the tags every prune keeps, whatever ``--match``, ``--keep`` or
``--older-than`` say, unless the user names them in an explicit opt-out (``--unprotect TAG``).

- ``latest``;
- exact release tags: semver with or without ``v`` (``v1.2.3``, ``1.2.3``, ``v2.0.0-rc.1``);
- release aliases: ``v1``, ``v1.2``, ``1.2`` (what ``promote --semver-aliases`` writes; a bare
  ``1`` is kept through the digest it shares with its release, see below);
- deploy markers: ``deployed-*`` (written by ``regkit promote SRC deployed-prod`` at deploy time).

Every tag that shares a digest with a protected tag stays too (the plan applies that:
``regkit.ops.prune.plan``). Pure: no I/O.
"""

from __future__ import annotations

import re

LATEST = "latest"
#: ``v1.2.3`` or ``1.2.3``, optionally ``-rc.1``: an exact version, published once.
RELEASE_TAG = re.compile(r"v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?")
#: ``v1``, ``v1.2``, ``1.2``: the moving aliases of a release line. A bare number is left out on
#: purpose: ``1234567`` is as likely a short commit SHA as a version.
RELEASE_ALIAS = re.compile(r"v(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?|(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
#: Deploy marker tags.
DEPLOYED = re.compile(r"deployed-.+")

RULE_LATEST = "latest"
RULE_RELEASE = "release tag"
RULE_ALIAS = "release alias"
RULE_DEPLOYED = "deploy marker"


def is_release_tag(tag: str) -> bool:
    """``v1.2.3`` or ``1.2.3`` (optionally ``-rc.1``): an exact version, published once."""
    return RELEASE_TAG.fullmatch(tag) is not None


def builtin_rule(tag: str) -> str | None:
    """The built-in rule that protects ``tag`` by its name (its REASON), or None."""
    if tag == LATEST:
        return RULE_LATEST
    if is_release_tag(tag):
        return RULE_RELEASE
    if RELEASE_ALIAS.fullmatch(tag):
        return RULE_ALIAS
    if DEPLOYED.fullmatch(tag):
        return RULE_DEPLOYED
    return None


__all__ = [
    "DEPLOYED",
    "LATEST",
    "RELEASE_ALIAS",
    "RELEASE_TAG",
    "RULE_ALIAS",
    "RULE_DEPLOYED",
    "RULE_LATEST",
    "RULE_RELEASE",
    "builtin_rule",
    "is_release_tag",
]
