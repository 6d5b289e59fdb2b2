"""The operators' console: the preview queue (lanes, running jobs, failures with their
errors, retry) and the indexer (items with indexing errors, lag). The same library calls
as `pool-server previews status | retry`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalog.previews import status as preview_status
from catalog.previews.queue import PreviewQueue

from ...admin import Admin
from ...errors import UsageError
from ..app import door_of
from ..console import act, admin_principal, field, page


@contextmanager
def _queue(pool: Any) -> Iterator[PreviewQueue]:
    queue = PreviewQueue(pool.data.path, str(pool.preview_settings()["broker"]))
    try:
        yield queue
    finally:
        queue.close()


def _overview(request: Request) -> dict[str, Any]:
    pool = door_of(request).pool
    db = pool.store.db
    with _queue(pool) as queue:
        report = preview_status.status(db, queue)
    errors = [
        {"id": r[0], "path": r[1], "errors": r[2]}
        for r in db.execute(
            "SELECT id, path, errors FROM items WHERE errors IS NOT NULL AND errors NOT IN "
            "('', '[]') ORDER BY rid DESC LIMIT 200"
        ).fetchall()
    ]
    return {"report": report, "index_errors": errors, "section": "previews"}


async def previews_page(request: Request) -> Response:
    admin_principal(request)
    ctx = await run_in_threadpool(_overview, request)
    return page(request, "console/previews.html", ctx)


async def retry(request: Request) -> Response:
    def run(admin: Admin, form: FormData) -> str:
        pool = admin.pool
        db = pool.store.db
        express = float(cast(Any, pool.preview_settings()["express_max_seconds"]))
        item = field(form, "item")
        with _queue(pool) as queue:
            ids = [item] if item else preview_status.failed_ids(db)
            queued = preview_status.requeue(db, queue, ids, force=False, express_max=express)
        if item and not queued:
            raise UsageError(f"{item}: its previews have not failed")
        admin.record(f"previews retry {item or '--failed'} ({len(queued)})")
        return f"{len(queued)} item(s) queued again"

    return await act(request, "/console/previews", run)


ROUTES = [
    Route("/console/previews", previews_page, methods=["GET"]),
    Route("/console/previews/retry", retry, methods=["POST"]),
]
