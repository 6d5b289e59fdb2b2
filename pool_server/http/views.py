"""Formatting for pages: template filters and the small view-models the routes share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from catalog.units import format_duration, format_size

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
    """The pool's one duration format (catalog.units), empty when unknown."""
    return "" if seconds in (None, "") else format_duration(float(seconds))


def size(nbytes: Any) -> str:
    """The pool's one size format (catalog.units), empty when unknown."""
    return "" if nbytes in (None, "") else format_size(float(nbytes))


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
