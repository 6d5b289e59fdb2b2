"""What the `pool` commands share: the App of the run, progress, query options."""

from __future__ import annotations

import sys
from typing import Any

import click

from .app import App
from .progress import display
from .query import Query, checked_when, parsed


def app_of(ctx: click.Context) -> App:
    return ctx.ensure_object(App)


def progress_for(json_out: bool):
    return display(sys.stdout.isatty() and not json_out)


def query_options(f):
    for option in reversed(
        [
            click.option("--member", metavar="M", help="Only this member's items."),
            click.option("--category", metavar="C", help="Only this category."),
            click.option("--lang", metavar="L", help="Only items in this language (tr, kk…)."),
            click.option(
                "--since", metavar="D", help="Uploaded at or after: 12h, 30d (ago) or 2026-11-01."
            ),
            click.option(
                "--until", metavar="D", help="Uploaded before: 12h, 30d (ago) or 2026-11-01."
            ),
            click.option(
                "--min-duration", metavar="S", help="At least this long: 90 (seconds), 5m, 1:30."
            ),
            click.option(
                "--max-duration", metavar="S", help="At most this long: 90 (seconds), 5m, 1:30."
            ),
        ]
    ):
        f = option(f)
    return f


def make_query(text: str | tuple[str, ...] | None, kw: dict[str, Any]) -> Query:
    from catalog.units import parse_seconds

    if isinstance(text, tuple):
        text = " ".join(text)
    return Query(
        text=text or "",
        member=kw.get("member"),
        category=kw.get("category"),
        language=kw.get("lang"),
        since=checked_when(kw.get("since"), "--since"),
        until=checked_when(kw.get("until"), "--until"),
        min_duration=parsed(parse_seconds, kw.get("min_duration"), "--min-duration"),
        max_duration=parsed(parse_seconds, kw.get("max_duration"), "--max-duration"),
    )
