"""Times in image metadata and durations on the command line. Pure functions, no I/O.

Created times come in two shapes: RFC 3339 (``2026-02-23T22:38:17Z``, what ``docker build``
writes into a config's ``created``, with up to nine fractional digits) and the team's label
form ``2026-02-23 22:38:17`` (the commit time with the ``T`` replaced by a space and the zone
cut off). A time without a zone is read as UTC, and ``CreatedTime.zoneless`` says so, so the
caller can tell the user. The zero time (Go's ``0001-01-01``) and the Unix epoch (what
reproducible builds write) carry no information: ``CreatedTime.meaningless`` is true for them.

Durations: ``30d``, ``12h``, ``90m``, ``2w``, ``45s`` and combinations such as ``1d12h``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from regkit.errors import UsageError

_RFC3339_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?P<frac>\.\d+)?)?"
    r"\s*(?P<zone>[Zz]|[+-]\d{2}:?\d{2}|(?:[+-]\d{4}\s+)?UTC)?$"
)
#: Times at or before this are the epoch (or Go's zero time): builds that erase the time.
EPOCH_LIMIT = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CreatedTime:
    """A parsed creation time, always timezone-aware (UTC)."""

    when: datetime
    zoneless: bool = False  # the text had no zone; read as UTC

    @property
    def meaningless(self) -> bool:
        """The zero time or the Unix epoch: a build that erased its time."""
        return self.when <= EPOCH_LIMIT

    def display(self) -> str:
        """``YYYY-MM-DD HH:MM:SS`` in UTC (the team's form)."""
        return self.when.strftime("%Y-%m-%d %H:%M:%S")


def parse_created_time(text: str | None) -> CreatedTime | None:
    """A creation time from a label, a config or an annotation; None when absent or unreadable."""
    if not isinstance(text, str):
        return None
    value = text.strip()
    match = _RFC3339_RE.match(value)
    if not match:
        return None
    date, clock, frac, zone = match.group("date", "time", "frac", "zone")
    iso = date + "T" + (clock or "00:00")
    if clock and len(clock) == 5:
        iso += ":00"
    if frac:
        iso += frac[:7]  # microseconds at most; Go writes nanoseconds
    offset = ""
    if zone and zone not in ("Z", "z") and not zone.endswith("UTC"):
        offset = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    elif zone:
        offset = "+00:00"
    try:
        when = datetime.fromisoformat(iso + offset)
    except ValueError:
        return None
    zoneless = not zone
    if zoneless:
        when = when.replace(tzinfo=UTC)
    return CreatedTime(when.astimezone(UTC), zoneless=zoneless)


def parse_created(text: str | None) -> datetime | None:
    """The UTC time of ``text`` (RFC 3339 or ``YYYY-MM-DD HH:MM:SS`` read as UTC), else None."""
    parsed = parse_created_time(text)
    return parsed.when if parsed else None


_DURATION_PART_RE = re.compile(r"([0-9]+)([wdhms])")  # ASCII digits only, not any Unicode \d
#: Longer durations are refused: timedelta tops out near 2.7 million years, and a number this
#: long is a typo or hostile input, never a retention period.
_MAX_DURATION = timedelta(days=100 * 366)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_ORDER = "wdhms"


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` or a combination, largest unit first."""
    value = text.strip()
    hint = "use a number and a unit (w, d, h, m, s), e.g. 30d, 12h or 1d12h"
    if not value:
        raise UsageError(f"invalid duration {_shown(text)}: it is empty; {hint}")
    if value.startswith("-"):
        raise UsageError(
            f"invalid duration {_shown(text)}: a duration cannot be negative (it is a time back "
            f"from now); write {_shown(value.lstrip('-').strip() or '30d')}"
        )
    pos = 0
    total = timedelta()
    last_unit = -1
    for match in _DURATION_PART_RE.finditer(value):
        if match.start() != pos:
            break
        unit_index = _ORDER.index(match.group(2))
        if unit_index <= last_unit:
            raise UsageError(
                f"invalid duration {_shown(text)}: units must appear once each, largest first; "
                + hint
            )
        last_unit = unit_index
        digits = match.group(1)
        if len(digits) > 12:
            raise _too_long(text)
        try:
            total += timedelta(**{_UNITS[match.group(2)]: int(digits)})
        except OverflowError:
            raise _too_long(text) from None
        pos = match.end()
    if pos != len(value) or last_unit < 0:
        raise UsageError(f"invalid duration {_shown(text)}; {hint}")
    if total > _MAX_DURATION:
        raise _too_long(text)
    return total


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _too_long(text: str) -> UsageError:
    return UsageError(
        f"invalid duration {_shown(text)}: longer than 100 years; use e.g. 30d or 52w"
    )


def format_duration(delta: timedelta) -> str:
    """The inverse of ``parse_duration`` for display: ``1d12h``, ``90m`` -> ``1h30m``."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


__all__ = [
    "EPOCH_LIMIT",
    "CreatedTime",
    "format_duration",
    "parse_created",
    "parse_created_time",
    "parse_duration",
]
