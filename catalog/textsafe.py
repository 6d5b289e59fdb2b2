"""Text from the pool made safe for a terminal, and JSON made safe for one too.

Titles, locations, file names and login names are untrusted: `printable` shows control
and bidi characters as escapes, `json_text` writes them as \\u escapes (the same string
to a JSON reader). One definition for both command lines (`pool_client.output`,
`pool_server.terminal`), here because both packages may use the catalog's.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Characters that must not reach a terminal as they are: C0 and C1 controls and DEL (ESC
# starts CSI/OSC sequences; 0x9b is CSI on its own), lone surrogates, line and paragraph
# separators, and the format characters (bidi overrides and isolates such as U+202E, the
# BOM, invisible operators and tags). ZWNJ and ZWJ (U+200C, U+200D) are left alone:
# Persian words and emoji need them. `tests` check this class against unicodedata.
_OTHER = (
    "\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_UNSAFE = re.compile(f"[\x00-\x1f{_OTHER}]")
_UNSAFE_IN_JSON = re.compile(f"[{_OTHER}]")  # json.dumps escapes C0 controls itself


def _visible(match: re.Match[str]) -> str:
    cp = ord(match.group())
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def printable(value: object, *, newlines: bool = False) -> str:
    """`value` as text that is safe on a terminal: every control or format character is
    shown as an escape (ESC as ``\\x1b``, U+202E as ``\\u202e``); with `newlines`, line
    breaks and tabs of a message are kept."""
    text = str(value)
    if not _UNSAFE.search(text):
        return text
    if newlines:
        return "\n".join(
            "\t".join(_UNSAFE.sub(_visible, part) for part in line.split("\t"))
            for line in text.split("\n")
        )
    return _UNSAFE.sub(_visible, text)


def _json_escape(match: re.Match[str]) -> str:
    cp = ord(match.group())
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    cp -= 0x10000
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def json_text(value: Any, indent: int | None = 1) -> str:
    """JSON for scripts, readable (UTF-8 text kept) yet safe: json.dumps escapes C0
    controls, and every other character `printable` would escape (DEL, C1, bidi, lone
    surrogates) is written as a \\\\u escape too — the same string to a JSON reader."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, default=str)
    return _UNSAFE_IN_JSON.sub(_json_escape, text)
