"""Created times (RFC 3339 and the team's zone-less label form) and durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regkit.errors import UsageError
from regkit.timeparse import (
    format_duration,
    parse_created,
    parse_created_time,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "expected", "zoneless"),
    [
        ("2026-02-23T22:38:17Z", datetime(2026, 2, 23, 22, 38, 17, tzinfo=UTC), False),
        ("2026-02-23 22:38:17", datetime(2026, 2, 23, 22, 38, 17, tzinfo=UTC), True),
        ("2026-02-23T22:38:17", datetime(2026, 2, 23, 22, 38, 17, tzinfo=UTC), True),
        ("2026-02-23T23:38:17+01:00", datetime(2026, 2, 23, 22, 38, 17, tzinfo=UTC), False),
        ("2026-02-23T20:38:17-0200", datetime(2026, 2, 23, 22, 38, 17, tzinfo=UTC), False),
        # docker build writes nanoseconds; Python keeps microseconds
        (
            "2026-02-23T22:38:17.123456789Z",
            datetime(2026, 2, 23, 22, 38, 17, 123456, tzinfo=UTC),
            False,
        ),
        # Go's time.String() form, seen in some labels
        ("2026-02-23 22:38:17 +0000 UTC", datetime(2026, 2, 23, 22, 38, 17, tzinfo=UTC), False),
        ("  2026-02-23 22:38:17\n", datetime(2026, 2, 23, 22, 38, 17, tzinfo=UTC), True),
        ("2026-02-23", datetime(2026, 2, 23, tzinfo=UTC), True),
    ],
)
def test_parse_created_forms(text: str, expected: datetime, zoneless: bool) -> None:
    parsed = parse_created_time(text)
    assert parsed is not None
    assert parsed.when == expected
    assert parsed.when.tzinfo == UTC
    assert parsed.zoneless is zoneless
    assert parse_created(text) == expected


@pytest.mark.parametrize(
    "text",
    [None, "", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30 10:00:00", "1a2b3c4", "12:00"],
)
def test_parse_created_unreadable_is_none(text: str | None) -> None:
    assert parse_created_time(text) is None
    assert parse_created(text) is None


@pytest.mark.parametrize(
    "text", ["1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1970-01-01T00:00:01Z"]
)
def test_epoch_and_zero_time_are_meaningless(text: str) -> None:
    parsed = parse_created_time(text)
    assert parsed is not None and parsed.meaningless


def test_real_time_is_not_meaningless() -> None:
    parsed = parse_created_time("2026-02-23 22:38:17")
    assert parsed is not None and not parsed.meaningless
    assert parsed.display() == "2026-02-23 22:38:17"


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1)))
def test_team_form_round_trips_as_utc(dt: datetime) -> None:
    dt = dt.replace(microsecond=0)
    assert parse_created(dt.strftime("%Y-%m-%d %H:%M:%S")) == dt.replace(tzinfo=UTC)
    assert parse_created(dt.strftime("%Y-%m-%dT%H:%M:%SZ")) == dt.replace(tzinfo=UTC)


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(9000, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    )
)
def test_rfc3339_with_offset_is_the_same_instant(dt: datetime) -> None:
    text = dt.isoformat()
    assert parse_created(text) == dt


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        (" 7d ", timedelta(days=7)),
        ("0d", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "30", "d", "30x", "1.5d", "-1d", "12h1d", "1d1d", "30 d", "30D", "1d 12h", "d30"]
)
def test_parse_duration_errors_name_the_input(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_duration(text)
    assert repr(text) in str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


@given(st.integers(min_value=1, max_value=10**8))
def test_format_duration_round_trips(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    assert parse_duration(format_duration(delta)) == delta
