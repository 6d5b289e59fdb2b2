"""Formatting for pages: template filters and the small view-models the routes share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

PREVIEW_NAMES: dict[str, str] = {
    "poster.jpg": "image/jpeg",
    "strip.jpg": "image/jpeg",
    "strip.vtt": "text/vtt; charset=utf-8",
    "proxy.mp4": "video/mp4",
    "waveform.png": "image/png",
    "proxy.m4a": "audio/mp4",
}
"""The preview files an item may have (pool/.catalog/previews/<ID>/<name>)."""


def duration(seconds: Any) -> str:
    if seconds in (None, ""):
        return ""
    total = round(float(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def size(nbytes: Any) -> str:
    if nbytes in (None, ""):
        return ""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def date(text: Any) -> str:
    if not text:
        return ""
    try:
        return datetime.fromisoformat(str(text)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(text)


def basename(path: Any) -> str:
    return str(path or "").rsplit("/", 1)[-1]


def query_with(params: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters changed (None removes one)."""
    merged = {k: v for k, v in params.items() if v not in (None, "")}
    for key, value in changes.items():
        if value in (None, ""):
            merged.pop(key, None)
        else:
            merged[key] = value
    return urlencode(merged)


FILTERS: dict[str, Callable[..., Any]] = {
    "duration": duration,
    "size": size,
    "date": date,
    "basename": basename,
}
