"""The ``sops`` metadata block: options, key groups, MAC (``stores/stores.go``, ``metadata.go``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from regkit.sops.errors import SopsFormatError
from regkit.sops.tree import parse_timestamp, zone_suffix

OTHER_KEY_TYPES = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms")
RULE_OPTIONS = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)


@dataclass(frozen=True)
class AgeKey:
    recipient: str
    enc: str


@dataclass
class KeyGroup:
    age: list[AgeKey] = field(default_factory=list)
    others: dict[str, int] = field(default_factory=dict)  # key type -> count

    def describe(self) -> str:
        parts = [k.recipient for k in self.age]
        parts += [f"{n} {kind} key{'s' if n > 1 else ''}" for kind, n in self.others.items()]
        return ", ".join(parts) or "no keys"


@dataclass
class Metadata:
    lastmodified: str
    mac: str
    version: str
    groups: list[KeyGroup]
    threshold: int
    rule: tuple[str, str]  # (option name, value)
    mac_only_encrypted: bool

    @property
    def has_age(self) -> bool:
        return any(group.age for group in self.groups)

    def mac_aad(self) -> str:
        """``lastmodified`` re-formatted as sops does (RFC 3339, seconds, ``Z`` or offset)."""
        stamp = parse_timestamp(self.lastmodified.strip())
        if stamp is None:
            raise SopsFormatError(
                "sops.lastmodified is not an RFC 3339 time; the metadata is damaged"
            )
        return stamp.moment.strftime("%Y-%m-%dT%H:%M:%S") + zone_suffix(stamp.moment)


def _as_list(value: Any, name: str) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    raise SopsFormatError(f"sops.{name} must be a list; the metadata is damaged")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _group(source: dict[str, Any], where: str) -> KeyGroup:
    group = KeyGroup()
    for entry in _as_list(source.get("age"), f"{where}age"):
        if not isinstance(entry, dict):
            raise SopsFormatError(f"sops.{where}age entries must be mappings")
        recipient = _text(entry.get("recipient"))
        enc = _text(entry.get("enc"))
        if not enc:
            raise SopsFormatError(f"sops.{where}age entry for {recipient} has no enc value")
        group.age.append(AgeKey(recipient, enc))
    for kind in OTHER_KEY_TYPES:
        count = len(_as_list(source.get(kind), f"{where}{kind}"))
        if count:
            group.others[kind] = count
    return group


def parse_metadata(raw: Any) -> Metadata:
    """Build :class:`Metadata` from the plain ``sops`` mapping (loosely, as sops accepts it)."""
    if not isinstance(raw, dict):
        raise SopsFormatError("sops metadata not found: this is not a SOPS-encrypted file")
    lastmodified = _text(raw.get("lastmodified"))
    if not lastmodified:
        raise SopsFormatError("sops.lastmodified is missing; the metadata is damaged")
    top = _group(raw, "")
    if top.age or top.others:
        groups = [top]
    else:
        groups = []
        for index, entry in enumerate(_as_list(raw.get("key_groups"), "key_groups")):
            if not isinstance(entry, dict):
                raise SopsFormatError("sops.key_groups entries must be mappings")
            groups.append(_group(entry, f"key_groups[{index}]."))
    if not groups:
        raise SopsFormatError("No keys found in file: the sops metadata lists no keys")
    threshold_raw = raw.get("shamir_threshold")
    try:
        threshold = int(_text(threshold_raw) or "0")
    except ValueError:
        raise SopsFormatError("sops.shamir_threshold is not a number") from None
    if threshold <= 0:
        threshold = len(groups)
    rules = [(name, _text(raw.get(name))) for name in RULE_OPTIONS if _text(raw.get(name))]
    if len(rules) > 1:
        raise SopsFormatError(
            "the sops metadata sets more than one of " + ", ".join(name for name, _ in rules)
        )
    mac_only = raw.get("mac_only_encrypted")
    return Metadata(
        lastmodified=lastmodified,
        mac=_text(raw.get("mac")),
        version=_text(raw.get("version")),
        groups=groups,
        threshold=threshold,
        rule=rules[0] if rules else ("unencrypted_suffix", "_unencrypted"),
        mac_only_encrypted=mac_only is True or _text(mac_only).lower() == "true",
    )
