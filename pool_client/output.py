"""Turning results into text for people (tables) or JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=1, default=str))


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> None:
    """A readable table (rich when on a terminal, plain aligned text otherwise)."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        t = Table(show_edge=False, header_style="bold")
        for _, title in columns:
            t.add_column(title, overflow="fold")
        for row in rows:
            t.add_row(
                *(str(row.get(key) if row.get(key) is not None else "") for key, _ in columns)
            )
        Console().print(t)
        return
    cells = [[title for _, title in columns]]
    cells += [
        [str(row.get(key) if row.get(key) is not None else "") for key, _ in columns]
        for row in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    for line in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
