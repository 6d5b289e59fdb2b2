"""Turning results into text for people (tables) or JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=1, default=str))


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


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
