"""One meaning for the values both command lines share: points in time (`--since`,
`--until`, `audit --since`, `report usage --since`), sizes (`quota set`, `--bwlimit`),
durations (`--min-duration`, `--max-duration`) — parsed by one function each and
formatted by one function each, for `pool` and `pool-server` alike.

Parsers raise `QueryError`; each CLI turns it into its own usage message.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from .errors import QueryError

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?(?:/s)?$", re.IGNORECASE)
_POWERS = " kmgtp"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$")
_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def parse_when(
    text: str, now: datetime | None = None, *, ago: bool = True, end_of_day: bool = False
) -> datetime:
    """A point in time: '90m', '12h', '30d', '2w' before `now` (when `ago`), or an ISO
    8601 date or date-time ('2026-11-01', '2026-11-01T14:30', with an offset or not:
    none means UTC). Always timezone-aware. With `end_of_day` (what `--until` uses), a
    date alone means the end of that day, so `--since D --until D` is day D."""
    value = text.strip()
    m = _AGO.match(value.lower()) if ago else None
    if m:
        return (now or datetime.now(UTC)) - timedelta(
            seconds=float(m.group(1)) * _SECONDS[m.group(2)]
        )
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        hint = "a duration ago like 12h or 30d, or " if ago else ""
        raise QueryError(f"{text!r}: give {hint}a date like 2026-11-01 or 2026-11-01T14:30")
    if end_of_day and _DATE_ONLY.match(value):
        when += timedelta(days=1)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_until(text: str, now: datetime | None = None) -> datetime:
    """`--until`'s reading: `parse_when` with a date alone meaning the end of that day."""
    return parse_when(text, now, end_of_day=True)


def iso_utc(when: datetime) -> str:
    """The form the catalog stores times in: ISO 8601, UTC."""
    return when.astimezone(UTC).isoformat()


def parse_size(text: str) -> int:
    """Bytes from '500G', '2T', '10M', '500k', '1.5MB', '2MiB', '10M/s' or '4096'. Units
    are binary (k = 1024), whatever the spelling."""
    m = _SIZE.match(text.strip())
    if not m:
        raise QueryError(f"{text!r}: use a number with an optional unit, e.g. 500k, 10M or 2T")
    return int(float(m.group(1)) * 1024 ** _POWERS.index(m.group(2).lower() or " "))


def parse_seconds(text: str) -> float:
    """Seconds from '90', '90s', '1.5m', '2h', '1:30' or '1:02:03'."""
    value = text.strip().lower()
    m = _AGO.match(value) if value and value[-1] in "smh" else None
    if m:
        return float(m.group(1)) * _SECONDS[m.group(2)]
    clock = _CLOCK.match(value)
    if clock:
        hours, minutes, seconds = clock.groups()
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise QueryError(f"{text!r}: give seconds (90), a duration (90s, 5m, 1h) or 1:30")
    return seconds


def format_size(n: int | float | None) -> str:
    """'512 B', '1.5 KiB', '2.0 GiB'; '-' when unknown."""
    if n is None:
        return "-"
    value = float(n)
    for unit in _SIZE_UNITS:
        if abs(value) < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float | None) -> str:
    """'0:05', '12:34', '1:02:03' (hours only when there are some); '-' when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"
