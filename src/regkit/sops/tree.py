"""The in-memory tree of a SOPS document, mirroring sops' ``TreeBranch``.

A mapping is a :class:`Branch`: an ordered list of ``(key, value)`` items where a comment is an
item whose key is a :class:`Comment` and whose value is ``None``. A sequence is a Python
``list`` whose items may be :class:`Comment`. Scalars are ``str``, ``int``, ``float``, ``bool``,
``None``, ``bytes`` or :class:`Timestamp`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Comment:
    """A comment line: ``text`` is what follows the ``#`` (a leading space is kept)."""

    text: str


class Branch(list[tuple[Any, Any]]):
    """A mapping: ordered ``(key, value)`` items, comments as ``(Comment, None)``."""


_TIME_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:([Tt]| +)(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?)?$"
)


def zone_suffix(moment: dt.datetime) -> str:
    """The RFC 3339 zone of ``moment`` as Go writes it: ``Z`` for offset zero, else
    ``+hh:mm`` / ``-hh:mm`` (a naive time counts as UTC)."""
    offset = moment.utcoffset() or dt.timedelta(0)
    if offset == dt.timedelta(0):
        return "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Timestamp:
    """A point in time with Go's nanosecond precision, rendered like ``time.Time.MarshalText``."""

    moment: dt.datetime  # timezone-aware, microsecond precision
    nanos: int  # full fractional second in nanoseconds (0..999_999_999)

    @property
    def text(self) -> str:
        """RFC 3339 with nanoseconds, trailing zeros trimmed, ``Z`` for offset zero."""
        m = self.moment
        out = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        if self.nanos:
            out += "." + f"{self.nanos:09d}".rstrip("0")
        return out + zone_suffix(m)

    @property
    def rfc3339(self) -> str:
        """Go's ``time.RFC3339`` layout: like :attr:`text` without the fraction."""
        text = self.text
        if "." not in text:
            return text
        head, _, rest = text.partition(".")
        zone = rest.lstrip("0123456789")
        return head + zone

    def to_datetime(self) -> dt.datetime:
        return self.moment

    def __str__(self) -> str:
        return self.text


def parse_timestamp(text: str, *, yaml_forms: bool = False) -> Timestamp | None:
    """Parse RFC 3339 (and, with ``yaml_forms``, yaml.v3's extra timestamp forms)."""
    m = _TIME_RE.match(text)
    if not m:
        return None
    year, month, day, sep, hh, mm, ss, frac, zone = m.groups()
    if sep is None:
        if not yaml_forms:
            return None
        hh = mm = ss = "0"
    elif sep.strip() == "":  # space separated: yaml.v3 accepts one space and no zone
        if not yaml_forms or sep != " " or zone is not None:
            return None
    elif zone is None or (not yaml_forms and (len(hh) != 2 or len(mm) != 2 or len(ss) != 2)):
        return None
    if not yaml_forms and (len(month) != 2 or len(day) != 2):
        return None
    if zone is None or zone == "Z":
        tz = dt.UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        delta = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        tz = dt.timezone(sign * delta)
    nanos = int((frac or "0")[:9].ljust(9, "0"))
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hh), int(mm), int(ss), nanos // 1000, tzinfo=tz
        )
    except ValueError:
        return None
    return Timestamp(moment, nanos)


def timestamp_from_datetime(value: dt.datetime) -> Timestamp:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return Timestamp(value, value.microsecond * 1000)


# --- Go number formatting -------------------------------------------------------------------


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits and the decimal point position (Go's ``digs``)."""
    _sign, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    text = "".join(map(str, digits)) or "0"
    assert isinstance(exponent, int)
    return text, len(text) + exponent


def go_format_f(value: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 64)``: what sops hashes and stores for floats."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    neg = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return neg + "0"
    digits, point = _shortest_digits(value)
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return neg + digits + "0" * (point - len(digits))
    return f"{neg}{digits[:point]}.{digits[point:]}"


def _go_format_e(neg: str, digits: str, point: int) -> str:
    exp = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exp < 0 else "+"
    return f"{neg}{mantissa}e{sign}{abs(exp):02d}"


def go_plain_scalar(value: Any) -> str | None:
    """``null``, ``true``, ``false`` or an integer's digits: what sops' JSON and YAML stores
    both write for these values; None for any other value (each store spells it its way)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return None


def go_format_g(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)`` (how yaml.v3 writes floats)."""
    if math.isnan(value) or math.isinf(value):
        return go_format_f(value)
    neg = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return neg + "0"
    digits, point = _shortest_digits(value)
    exp = point - 1
    if exp < -4 or exp >= 6:  # shortest: Go uses precision 6 for this decision
        return _go_format_e(neg, digits, point)
    return go_format_f(value)


def go_json_float(value: float) -> str:
    """How Go's encoding/json writes a float64."""
    if value != 0 and (abs(value) < 1e-6 or abs(value) >= 1e21):
        neg = "-" if value < 0 else ""
        digits, point = _shortest_digits(value)
        text = _go_format_e(neg, digits, point)
        if text[-4:-1] == "e-0":
            text = text[:-2] + text[-1]
        return text
    return go_format_f(value)


def to_plain(value: Any) -> Any:
    """Convert a tree value to plain Python: dicts, lists, scalars; comments dropped."""
    if isinstance(value, Branch):
        return {k: to_plain(v) for k, v in value if not isinstance(k, Comment)}
    if isinstance(value, list):
        return [to_plain(v) for v in value if not isinstance(v, Comment)]
    if isinstance(value, Timestamp):
        return value.to_datetime()
    return value
