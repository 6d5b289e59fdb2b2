"""`/metrics` in Prometheus text format, for admins (a bearer token or a console session).

The figures are the whole pool's, read from pool.db (`pool_server/metrics.py`), so any
door process answers for all of them. `[http] metrics_bind` serves the same registry
without authentication on a separate address, for a Prometheus on a private network.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...metrics import render
from ...policy import may_administer
from ..app import door_of, principal
from ..errors import HttpError


async def metrics(request: Request) -> Response:
    who = principal(request)
    assert who is not None
    if not may_administer(who.session.user):
        raise HttpError(403, "metrics are for the pool's operators")
    body, content_type = await run_in_threadpool(render, door_of(request).metrics)
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


ROUTES = [Route("/metrics", metrics, methods=["GET"])]
