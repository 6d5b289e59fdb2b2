"""Turning results into text for people (tables) or JSON for scripts.

Everything `pool` prints goes through here, and text from the pool (titles, locations,
file names, error messages naming them) is untrusted: `printable` shows control and
bidi characters as escapes, `table` keeps rich from reading markup in it, `emit_json`
writes them as \\u escapes.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from catalog.textsafe import json_text, printable

__all__ = ["cell", "echo", "emit_json", "json_text", "printable", "table"]


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
