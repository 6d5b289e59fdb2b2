"""Values from untrusted files made safe to store and publish.

Whatever a sidecar or a media file claims, what reaches the catalog is finite numbers in
a plausible range, integers SQLite can hold, and text that is valid Unicode (a lone
surrogate such as JSON's ``"\\ud800"`` cannot be encoded as UTF-8, so SQLite, the journal
and every client would fail on it). A value that cannot be kept is dropped and a warning
says why; the item is catalogued with the rest.
"""

from __future__ import annotations

import math
import re
from typing import Any

INT64 = (-(2**63), 2**63 - 1)

_SURROGATE = re.compile("[\ud800-\udfff]")

RANGES: dict[str, tuple[float, float]] = {
    "width": (1, 100_000),
    "height": (1, 100_000),
    "frame_rate": (0.001, 10_000),
    "duration": (0, 10**9),  # seconds: about 31 years
    "bit_rate": (0, 10**12),
    "channels": (0, 1024),
    "sample_rate": (0, 10**7),
    "bit_depth": (0, 256),
}
"""Plausible bounds of the numeric technical fields; outside them a value is dropped."""


def clean_text(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD (valid Unicode, encodable as UTF-8)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def clean_number(name: str, value: Any) -> tuple[int | float | None, str | None]:
    """(value, None) if `value` is a finite number in range for field `name`, else
    (None, why)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"{name}: expected a number"
    if isinstance(value, float) and not math.isfinite(value):
        return None, f"{name}: {value} is not a finite number"
    low, high = RANGES.get(name, INT64)
    if not low <= value <= high:
        shown = str(value) if isinstance(value, float) or abs(value) < 10**30 else "huge"
        return None, f"{name}: {shown} is out of range ({low:g}..{high:g})"
    return value, None


def clean_value(value: Any, path: str = "", warnings: list[str] | None = None) -> Any:
    """A copy of a JSON-like value that is safe to store: numbers checked (by their key's
    range when it has one), text made valid Unicode. Dropped values become None (in a
    dict: the key is left out) and are noted in `warnings`."""
    if warnings is None:
        warnings = []
    if isinstance(value, str):
        text = clean_text(value)
        if text is not value:
            warnings.append(f"{path or 'text'}: invalid Unicode replaced by U+FFFD")
        return text
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        name = path.rsplit(".", 1)[-1]
        number, why = clean_number(name if name in RANGES else "", value)
        if why:
            warnings.append(f"{path}: {why.split(': ', 1)[1]}" if path else why)
        return number
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            key = clean_text(str(key))
            cleaned = clean_value(item, f"{path}.{key}" if path else key, warnings)
            if cleaned is not None or item is None:
                out[key] = cleaned
        return out
    if isinstance(value, (list, tuple)):
        items = [clean_value(item, path, warnings) for item in value]
        return [v for v, item in zip(items, value, strict=True) if v is not None or item is None]
    warnings.append(f"{path}: {type(value).__name__} is not a JSON value")
    return None
