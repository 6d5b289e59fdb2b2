"""What the preview queue is doing, and asking for previews again (the operator's
`pool-server previews status | retry | rebuild`)."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from ..items import new_preview, next_preview
from ..store import get_item_row, set_preview, transaction
from .queue import PreviewQueue


def status(db: sqlite_utils.Database, queue: PreviewQueue) -> dict[str, Any]:
    """Queue length per lane, the jobs running, the items whose previews failed, and
    how many items are in each preview state."""
    queued = queue.queued_ids()
    running = [
        {"id": r[0], "sha256": r[1], "host": r[2], "pid": r[3], "started": r[4]}
        for r in db.execute(
            "SELECT item_id, sha256, host, pid, started FROM preview_jobs ORDER BY started"
        ).fetchall()
    ]
    failed = [
        {"id": r[0], "path": r[1], "error": r[2]}
        for r in db.execute(
            "SELECT id, path, json_extract(preview, '$.error') FROM items"
            " WHERE json_extract(preview, '$.state') = 'failed' ORDER BY id"
        ).fetchall()
    ]
    states = {
        str(r[0] or "unknown"): int(r[1])
        for r in db.execute(
            "SELECT json_extract(preview, '$.state'), count(*) FROM items GROUP BY 1"
        ).fetchall()
    }
    return {
        "queued": sum(len(v) for v in queued.values()),
        "lanes": {lane: len(ids) for lane, ids in queued.items()},
        "queue": queued,
        "running": running,
        "failed": failed,
        "states": states,
    }


def request(db: sqlite_utils.Database, item_ids: list[str], *, force: bool) -> list[str]:
    """Mark items' previews wanted again ("pending" for their current essence); returns
    the ids that now need a job. Without `force`, only failed or never-made previews
    (a retry); with it, ready ones too (a rebuild). Items without an essence are left."""
    wanted = []
    with transaction(db):
        for item_id in item_ids:
            row = get_item_row(db, item_id=item_id)
            if row is None:
                continue
            old = row.get("preview") or {}
            if not force and old.get("state") not in (None, "failed", "pending"):
                continue
            fresh, needed = next_preview({**row, "preview": None}, row)
            if not needed:
                if not old:  # catalogued before previews: record that there are none
                    set_preview(db, item_id, new_preview("none", None), source_sha256=None)
                continue
            fresh["files"] = dict(old.get("files") or {})
            row["preview"] = fresh
            set_preview(db, item_id, fresh, source_sha256=old.get("source_sha256"))
            wanted.append(item_id)
    return wanted


def requeue(
    db: sqlite_utils.Database,
    queue: PreviewQueue,
    item_ids: list[str],
    *,
    force: bool,
    express_max: float,
) -> list[tuple[str, str]]:
    """Ask for the items' previews again (`request`) and queue a job for each that needs
    one; returns (item id, lane) per job queued. The operator's one way in, for
    `pool-server previews retry | rebuild` and the console alike."""
    queued = []
    for item_id in request(db, item_ids, force=force):
        row = get_item_row(db, item_id=item_id)
        if row is not None:
            queued.append((item_id, queue.enqueue(item_id, row, express_max)))
    return queued


def failed_ids(db: sqlite_utils.Database) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "SELECT id FROM items WHERE json_extract(preview, '$.state') = 'failed' ORDER BY rid"
        ).fetchall()
    ]


def all_ids(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT id FROM items ORDER BY rid").fetchall()]


def never_made_ids(db: sqlite_utils.Database) -> list[str]:
    """Items catalogued before previews existed (no `preview` record yet)."""
    return [r[0] for r in db.execute("SELECT id FROM items WHERE preview IS NULL").fetchall()]
