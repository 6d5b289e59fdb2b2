"""catalog.units: the one meaning of --since/--until, sizes and durations in `pool` and
`pool-server` alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from catalog.errors import QueryError
from catalog.units import (
    format_duration,
    format_size,
    iso_utc,
    parse_seconds,
    parse_size,
    parse_until,
    parse_when,
)

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def test_parse_when() -> None:
    assert parse_when("30d", NOW) == datetime(2026, 10, 23, tzinfo=UTC)
    assert parse_when("12h", NOW) == datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert parse_when(" 90m ", NOW) == NOW - timedelta(minutes=90)
    assert parse_when("2w", NOW) == datetime(2026, 11, 8, tzinfo=UTC)
    assert parse_when("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_when("2026-11-01T14:30+03:00") == datetime(
        2026, 11, 1, 14, 30, tzinfo=timezone(timedelta(hours=3))
    )
    assert iso_utc(parse_when("2026-11-01T14:30+03:00")) == "2026-11-01T11:30:00+00:00"
    # --until: a date alone is the whole day; a time or a duration ago is exact
    assert parse_until("2026-11-01") == datetime(2026, 11, 2, tzinfo=UTC)
    assert parse_until("2026-11-01T14:30") == datetime(2026, 11, 1, 14, 30, tzinfo=UTC)
    assert parse_until("12h", NOW) == parse_when("12h", NOW)
    with pytest.raises(QueryError, match="30d"):
        parse_when("last week")
    with pytest.raises(QueryError):
        parse_when("30d", ago=False)  # an embargo is a date, never "ago"


def test_parse_size_and_seconds() -> None:
    assert parse_size("500G") == 500 * 1024**3
    assert parse_size("10M") == parse_size("10MiB") == parse_size("10mb/s") == 10 * 1024**2
    assert parse_size("500k") == 512_000 and parse_size("4096") == 4096
    assert parse_size("1.5K") == 1536
    for bad in ("", "ten", "5X", "-1"):
        with pytest.raises(QueryError):
            parse_size(bad)
    assert parse_seconds("90") == parse_seconds("90s") == parse_seconds("1.5m") == 90
    assert parse_seconds("1:30") == 90 and parse_seconds("1:02:03") == 3723
    assert parse_seconds("2h") == 7200
    for bad in ("", "-5", "nan", "inf", "soon", "1:2:3:4"):
        with pytest.raises(QueryError):
            parse_seconds(bad)


def test_formatting() -> None:
    assert [format_size(n) for n in (None, 0, 1023, 1024, 1536, 5 * 1024**4, 3 * 1024**5)] == [
        "-",
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "5.0 TiB",
        "3.0 PiB",
    ]
    assert [format_duration(s) for s in (None, 0, 5.4, 754, 3723, float("nan"))] == [
        "-",
        "0:00",
        "0:05",
        "12:34",
        "1:02:03",
        "-",
    ]
