"""Turning results into text for people (tables) or JSON for scripts.

Everything `pool` prints goes through here, and text from the pool (titles, locations,
file names, error messages naming them) is untrusted: `printable` shows control and
bidi characters as escapes, `table` keeps rich from reading markup in it, `emit_json`
writes them as \\u escapes.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

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


def echo(message: object = "", *, err: bool = False) -> None:
    """Print a line (or lines) for people: what `pool` says, neutralised."""
    click.echo(printable(message, newlines=True), err=err)


def emit_json(value: Any) -> None:
    click.echo(json_text(value))


def cell(value: object) -> str:
    """One value of a table: on one line, neutralised."""
    return "" if value is None else printable(value)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> None:
    """A readable table (rich when on a terminal, plain aligned text otherwise)."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        t = Table(show_edge=False, header_style="bold")
        for _, title in columns:
            t.add_column(title, overflow="fold")
        for row in rows:  # Text, not str: rich reads no markup ([link=…]) in it
            t.add_row(*(Text(cell(row.get(key))) for key, _ in columns))
        Console().print(t)
        return
    cells = [[title for _, title in columns]]
    cells += [[cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    for line in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
