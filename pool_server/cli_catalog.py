"""`pool-server index`, `search` and `report usage`: thin click commands over `catalog`.

Each command gets ``ctx.obj`` with ``.data`` (a DataDir) and ``.catalog_settings()``.
Catalog errors become one line on stderr (click.ClickException), never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import sqlite_utils

from catalog.errors import CatalogError
from catalog.indexer import Indexer
from catalog.report import as_csv, as_dicts, as_table, usage_report
from catalog.schema import open_catalog
from catalog.search import search as search_catalog
from catalog.units import format_duration, parse_seconds, parse_until, parse_when

from .cli import parsed
from .terminal import echo, json_text, printable


@contextmanager
def _catalog_errors() -> Iterator[None]:
    try:
        yield
    except CatalogError as exc:
        raise click.ClickException(printable(exc, newlines=True)) from None


@contextmanager
def _open_db(obj: Any) -> Iterator[sqlite_utils.Database]:
    db_path = obj.data.db_path
    if not db_path.exists():
        raise click.ClickException(
            f"no pool database at {db_path}: run `pool-server init` first (or pass --data)"
        )
    with _catalog_errors():
        db = open_catalog(db_path)
    try:
        yield db
    finally:
        db.conn.close()


def _previews(obj: Any) -> Any:
    from catalog.previews.service import PreviewService

    settings = obj.preview_settings()
    if not settings["enabled"]:
        return None
    return PreviewService(
        obj.data.pool_root,
        obj.data.db_path,
        obj.data.path,
        settings,
        credentials=obj.pool.content_credentials(),
    )


def _signing_dir(obj: Any) -> Any:
    """The pool's signing key folder, made if the data folder has none yet."""
    from catalog.signing import PoolSigner

    PoolSigner(obj.data.signing_dir).ensure()
    return obj.data.signing_dir


def index_once(obj: Any) -> dict[str, int]:
    """One reconciliation pass and a published feed (`index --once`, and `init --demo`
    for its samples); preview jobs are queued for the next `serve` or `index`."""
    with _catalog_errors():
        previews = _previews(obj)
        indexer = Indexer(
            obj.data.pool_root,
            obj.data.db_path,
            obj.catalog_settings(),
            previews=previews,
            signing_dir=_signing_dir(obj),
        )
        try:
            stats: dict[str, int] = indexer.run_once()
        finally:
            if previews is not None:
                previews.stop()
    return stats


@click.command("index")
@click.option("--once", is_flag=True, help="One reconciliation pass, publish the feed, exit.")
@click.pass_obj
def index_command(obj: Any, once: bool) -> None:
    """Run the catalog indexer alone (pool-server serve runs it too).

    Watches the pool, indexes completed uploads, makes previews and publishes the feed
    in pool/.catalog/ until interrupted. With --once: one pass over the pool, then exit
    (preview jobs are queued for the next `serve` or `index`).
    """
    if once:
        stats = index_once(obj)
        echo(
            f"{stats['files']} files, {stats['processed']} indexed, "
            f"{stats['removed']} removed, {stats['errors']} errors"
        )
        return
    with _catalog_errors():
        previews = _previews(obj)
        indexer = Indexer(
            obj.data.pool_root,
            obj.data.db_path,
            obj.catalog_settings(),
            previews=previews,
            signing_dir=_signing_dir(obj),
        )
        echo(f"indexing {obj.data.pool_root} (Ctrl-C to stop)", err=True)
        if previews is not None:
            previews.start()
        try:
            indexer.run_forever()
        finally:
            if previews is not None:
                previews.stop()


@click.command("search")
@click.argument("query", required=False, default="")
@click.option("--member", help="Only this member's items (code, e.g. TRT).")
@click.option("--category", help="Only this category (e.g. news).")
@click.option("--lang", "language", help="Only items in this language (tr, kk, uz, ru...).")
@click.option("--since", help="Uploaded at or after: 12h, 30d (ago) or 2026-11-01.")
@click.option("--until", help="Uploaded before: 12h, 30d (ago) or 2026-11-01.")
@click.option("--min-duration", help="At least this long: 90 (seconds), 90s, 5m, 1:30.")
@click.option("--max-duration", help="At most this long: 90 (seconds), 90s, 5m, 1:30.")
@click.option(
    "--subtitles/--no-subtitles",
    "has_subtitles",
    default=None,
    help="Only items with (or without) subtitles.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 10000),
    default=50,
    show_default=True,
    help="At most this many items.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON.")
@click.pass_obj
def search_command(
    obj: Any,
    query: str,
    member: str | None,
    category: str | None,
    language: str | None,
    since: str | None,
    until: str | None,
    min_duration: str | None,
    max_duration: str | None,
    has_subtitles: bool | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search the catalog. Words match in any script (Қазақстан = qazaqstan);
    word* matches a prefix, "two words" a phrase, -word excludes."""
    with _open_db(obj) as db, _catalog_errors():
        results = search_catalog(
            db,
            query,
            member=member,
            category=category,
            language=language,
            since=parsed(parse_when, since, "--since"),
            until=parsed(parse_until, until, "--until"),
            min_duration=parsed(parse_seconds, min_duration, "--min-duration"),
            max_duration=parsed(parse_seconds, max_duration, "--max-duration"),
            has_subtitles=has_subtitles,
            limit=limit,
        )
    if as_json:
        click.echo(json_text(results, indent=2))
        return
    if not results:
        echo("no items found", err=True)
        return
    for item in results:
        title = printable(item["title"] or "")  # one line each, whatever the title holds
        echo(f"{item['id']:<16} {format_duration(item['duration']):>8}  {title}")
        echo(f"{'':<16} {'':>8}  {printable(item['path'])}")


@click.group("report")
def report_group() -> None:
    """Reports for the pool's operator."""


@report_group.command("usage")
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="Period start: 12h, 30d (ago) or 2026-11-01.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv_", is_flag=True, help="Print CSV.")
@click.pass_obj
def usage_command(obj: Any, since: str, as_json: bool, as_csv_: bool) -> None:
    """Per member: items and hours contributed, takes of its items by other members,
    items it took from others."""
    if as_json and as_csv_:
        raise click.UsageError("choose one of --json and --csv")
    start = parsed(parse_when, since, "--since")
    assert start is not None  # the option has a default
    with _open_db(obj) as db, _catalog_errors():
        report = usage_report(db, start)
    if as_json:
        click.echo(json_text(as_dicts(report), indent=2))
    elif as_csv_:
        echo(as_csv(report), nl=False)
    else:
        echo(as_table(report))


COMMANDS: list[click.Command] = [index_command, search_command, report_group]
"""Registered on the `pool-server` group by pool_server.cli."""
