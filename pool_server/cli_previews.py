"""`pool-server previews status | retry | rebuild`: thin click commands over
catalog.previews (the queue is read and fed directly: the server need not run; queued
jobs wait for the next `serve` or `index`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from catalog.errors import CatalogError
from catalog.previews import status as preview_status
from catalog.previews.queue import PreviewQueue
from catalog.store import get_item_row

from .cli import echo, json_option, print_json, print_table
from .cli_catalog import _open_db


@contextmanager
def _queue(obj: Any) -> Iterator[PreviewQueue]:
    settings = obj.preview_settings()
    try:
        queue = PreviewQueue(obj.data.path, str(settings["broker"]))
    except Exception as exc:  # a bad broker URL, Redis down, no redis package
        raise click.ClickException(f"cannot open the preview queue: {exc}") from None
    try:
        yield queue
    finally:
        queue.close()


def _requeue(obj: Any, db: Any, queue: PreviewQueue, ids: list[str], force: bool) -> list[str]:
    express_max = float(obj.preview_settings()["express_max_seconds"])
    queued = preview_status.requeue(db, queue, ids, force=force, express_max=express_max)
    for item_id, lane in queued:
        echo(f"{item_id}: queued ({lane} lane)")
    return [item_id for item_id, _ in queued]


@click.group("previews")
def previews_group() -> None:
    """The preview queue: what it is doing, retrying failures, rebuilding previews."""


@previews_group.command("status")
@json_option
@click.pass_obj
def status_command(obj: Any, as_json: bool) -> None:
    """Jobs queued (per lane), running, and the items whose previews failed, with why."""
    with _open_db(obj) as db, _queue(obj) as queue:
        try:
            report = preview_status.status(db, queue)
        except CatalogError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        print_json(report)
        return
    lanes = ", ".join(f"{n} {lane}" for lane, n in report["lanes"].items())
    echo(f"queued: {report['queued']} ({lanes})")
    states = ", ".join(f"{n} {state}" for state, n in sorted(report["states"].items()))
    echo(f"items: {states or 'none'}")
    echo(f"running: {len(report['running'])}")
    if report["running"]:
        print_table(report["running"], ["id", "host", "pid", "started"])
    echo(f"failed: {len(report['failed'])}")
    if report["failed"]:
        print_table(report["failed"], ["id", "path", "error"])


@previews_group.command("retry")
@click.argument("item", required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Every item whose previews failed.")
@click.pass_obj
def retry_command(obj: Any, item: str | None, all_failed: bool) -> None:
    """Try the previews of ITEM (or of every failed item) again."""
    if bool(item) == all_failed:
        raise click.UsageError("give one ITEM or --failed")
    with _open_db(obj) as db, _queue(obj) as queue:
        if item and get_item_row(db, item_id=item) is None:
            raise click.ClickException(f"{item}: no such item")
        ids = preview_status.failed_ids(db) if all_failed else [str(item)]
        wanted = _requeue(obj, db, queue, ids, force=False)
        if item and not wanted:
            raise click.ClickException(
                f"{item}: its previews have not failed (use `previews rebuild {item}`)"
            )
    if not wanted:
        echo("no failed previews")


@previews_group.command("rebuild")
@click.argument("item", required=False)
@click.option("--all", "everything", is_flag=True, help="Every item of the catalog.")
@click.pass_obj
def rebuild_command(obj: Any, item: str | None, everything: bool) -> None:
    """Make the previews of ITEM (or of every item) again, even if they are ready."""
    if bool(item) == everything:
        raise click.UsageError("give one ITEM or --all")
    with _open_db(obj) as db, _queue(obj) as queue:
        if item and get_item_row(db, item_id=item) is None:
            raise click.ClickException(f"{item}: no such item")
        ids = preview_status.all_ids(db) if everything else [str(item)]
        wanted = _requeue(obj, db, queue, ids, force=True)
        if item and not wanted:
            raise click.ClickException(f"{item}: has no video or audio to preview")
    echo(f"{len(wanted)} item(s) queued")


@previews_group.command("work")
@click.pass_obj
def work_command(obj: Any) -> None:
    """Run preview workers alone, until SIGINT or SIGTERM: another machine sharing the
    pool's storage, pool.db and the queue's broker (`[previews] broker`) takes jobs."""
    import signal
    import threading

    from catalog.previews.service import PreviewService

    settings = obj.preview_settings()
    try:
        service = PreviewService(obj.data.pool_root, obj.data.db_path, obj.data.path, settings)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service.start()
    click.echo(
        f"preview workers: {settings['workers']} + express, ffmpeg {service.tools.version} "
        f"({service.tools.source}); Ctrl-C to stop",
        err=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        service.stop()


COMMANDS: list[click.Command] = [previews_group]
"""Registered on the `pool-server` group by pool_server.cli."""
