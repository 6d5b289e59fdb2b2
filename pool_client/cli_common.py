"""What the `pool` commands share: the App of the run, progress, query options."""

from __future__ import annotations

import sys
from typing import Any

import click

from .app import App
from .progress import display
from .query import Query, parse_date


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
            click.option("--since", metavar="D", help="Uploaded at or after (2026-11-01)."),
            click.option("--until", metavar="D", help="Uploaded before."),
            click.option("--min-duration", type=float, metavar="S", help="At least S seconds."),
            click.option("--max-duration", type=float, metavar="S", help="At most S seconds."),
        ]
    ):
        f = option(f)
    return f


def make_query(text: str | tuple[str, ...] | None, kw: dict[str, Any]) -> Query:
    if isinstance(text, tuple):
        text = " ".join(text)
    return Query(
        text=text or "",
        member=kw.get("member"),
        category=kw.get("category"),
        language=kw.get("lang"),
        since=parse_date(kw.get("since"), "--since"),
        until=parse_date(kw.get("until"), "--until"),
        min_duration=kw.get("min_duration"),
        max_duration=kw.get("max_duration"),
    )
