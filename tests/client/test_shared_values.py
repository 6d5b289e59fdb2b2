"""`pool`'s side of the shared values (catalog/units.py): --bwlimit, --since/--until kept
as given and resolved when the query runs, relative bounds making a moving query."""

from __future__ import annotations

import pytest

from pool_client.errors import UsageError
from pool_client.query import Query, checked_when, parse_date
from pool_client.transfer import parse_rate


def test_bwlimit_takes_sizes_like_every_size() -> None:
    assert parse_rate("10M") == parse_rate("10MiB/s") == 10 * 1024 * 1024
    assert parse_rate("500k") == 512_000 and parse_rate(None) is None and parse_rate("0") is None
    with pytest.raises(UsageError, match="--bwlimit 'fast'"):
        parse_rate("fast")


def test_since_until_are_checked_kept_and_moving() -> None:
    assert checked_when(" 30d ", "--since") == "30d"
    with pytest.raises(UsageError, match="--until 'soonish'"):
        checked_when("soonish", "--until")
    assert Query(since="30d").moving() and Query(until="12h").moving()
    assert not Query(since="2026-11-01", until="2026-11-30T12:00").moving()
    assert not Query().moving()
    # an embargo is a date, never "ago"
    assert parse_date("2026-11-01T14:30+03:00", "--embargo") == "2026-11-01T11:30:00+00:00"
    with pytest.raises(UsageError, match="--embargo"):
        parse_date("12h", "--embargo")
