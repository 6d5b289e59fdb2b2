"""Saved searches and event webhooks in the web door: the `/alerts` page (with the
user's latest matches) and the JSON API under `/api/v1/alerts` and `/api/v1/webhooks`.

Every rule is the service layer's (`pool_server.notify.service.Notifications`); these
handlers only read requests and shape answers.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...errors import AlreadyExists, UsageError
from ...notify.service import Notifications
from ..app import door_of, principal, render
from ..auth import Principal, csrf_from, csrf_ok
from ..errors import HttpError

FILTER_FIELDS = (
    ("member", "member"),
    ("category", "category"),
    ("lang", "language"),
    ("since", "since"),
    ("until", "until"),
    ("min_duration", "min_duration"),
    ("max_duration", "max_duration"),
)
"""(form/JSON field, saved-search filter)."""


def _service(request: Request) -> Notifications:
    return door_of(request).notifications


async def _writer(request: Request) -> Principal:
    """The user of a state-changing request; cookie sessions must carry the CSRF token."""
    who = await run_in_threadpool(principal, request)
    assert who is not None
    if who.via == "cookie" and not csrf_ok(who, await csrf_from(request)):
        raise HttpError(403, "missing or wrong CSRF token")
    return who


def _number(name: str, value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} {value!r}: give a number of seconds") from None


def _filters(source: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, key in FILTER_FIELDS:
        value = source.get(field, source.get(key))
        if key in ("min_duration", "max_duration"):
            value = _number(field, value)
        if value not in (None, ""):
            out[key] = value
    return out


def _add(service: Notifications, who: Principal, body: dict[str, Any]) -> dict[str, Any]:
    filters = body.get("filters")
    if filters is not None and not isinstance(filters, dict):
        raise UsageError('filters: an object such as {"member": "TRT"}')
    return service.add_alert(
        who.user,
        str(body.get("name") or ""),
        str(body.get("query") or ""),
        _filters({**body, **(filters or {})}),
        email=str(body["email"]) if body.get("email") else None,
        webhook=str(body["webhook"]) if body.get("webhook") else None,
        mode=str(body.get("digest") or "immediate"),
    )


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise UsageError("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise UsageError("the request body must be a JSON object")
    return body


# -- API ------------------------------------------------------------------------------


def api_list(request: Request) -> Response:
    who = principal(request)
    assert who is not None
    return JSONResponse({"alerts": _service(request).list_alerts(who.user)})


async def api_add(request: Request) -> Response:
    who = await _writer(request)
    body = await _json_body(request)
    alert = await run_in_threadpool(_add, _service(request), who, body)
    return JSONResponse({"alert": alert}, 201)


async def api_remove(request: Request) -> Response:
    who = await _writer(request)
    name = request.path_params["name"]
    removed = await run_in_threadpool(_service(request).remove_alert, who.user, name)
    return JSONResponse({"removed": removed})


def api_matches(request: Request) -> Response:
    who = principal(request)
    assert who is not None
    try:
        limit = max(1, min(500, int(request.query_params.get("limit", "50"))))
    except ValueError:
        raise UsageError("limit: a number from 1 to 500") from None
    unseen = request.query_params.get("unseen") in ("1", "true")
    rows = _service(request).notifications(who.user, limit=limit, unseen=unseen)
    return JSONResponse({"matches": rows})


async def api_seen(request: Request) -> Response:
    who = await _writer(request)
    body = await _json_body(request)
    try:
        up_to = int(body.get("up_to", 0))
    except (TypeError, ValueError):
        raise UsageError("up_to: the id of the newest match seen") from None
    marked = await run_in_threadpool(_service(request).mark_seen, who.user, up_to)
    return JSONResponse({"marked": marked})


def api_webhooks(request: Request) -> Response:
    who = principal(request)
    assert who is not None
    return JSONResponse({"webhooks": _service(request).list_endpoints(who.user)})


async def api_webhook_add(request: Request) -> Response:
    who = await _writer(request)
    body = await _json_body(request)
    events = body.get("events")
    if events is not None and not (
        isinstance(events, list) and all(isinstance(e, str) for e in events)
    ):
        raise UsageError("events: a list of event names")

    def add() -> dict[str, Any]:
        return _service(request).add_endpoint(
            who.user,
            str(body.get("url") or ""),
            events,
            member=body.get("member") or None,
            allow_private=bool(body.get("allow_private")),
            description=body.get("description") or None,
        )

    return JSONResponse({"webhook": await run_in_threadpool(add)}, 201)


def _endpoint_id(request: Request) -> int:
    try:
        return int(request.path_params["endpoint_id"])
    except ValueError:
        raise UsageError("a webhook id is a number") from None


async def api_webhook_remove(request: Request) -> Response:
    who = await _writer(request)
    endpoint_id = _endpoint_id(request)
    removed = await run_in_threadpool(_service(request).remove_endpoint, who.user, endpoint_id)
    return JSONResponse({"removed": removed})


def api_webhook_deliveries(request: Request) -> Response:
    who = principal(request)
    assert who is not None
    rows = _service(request).endpoint_deliveries(who.user, _endpoint_id(request))
    return JSONResponse({"deliveries": rows})


# -- the page -------------------------------------------------------------------------


def _page(request: Request, **extra: Any) -> Response:
    who = principal(request)
    assert who is not None
    service = _service(request)
    return render(
        request,
        "alerts.html",
        {
            "alerts": service.list_alerts(who.user),
            "matches": service.notifications(who.user, limit=30),
            "form": {},
            "error": None,
            "secret": None,
            **extra,
        },
        400 if extra.get("error") else 200,
    )


def alerts_page(request: Request) -> Response:
    return _page(request)


async def page_add(request: Request) -> Response:
    who = await _writer(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        alert = await run_in_threadpool(_add, _service(request), who, form)
    except (UsageError, AlreadyExists) as exc:
        message = str(exc)
        return await run_in_threadpool(lambda: _page(request, form=form, error=message))
    if alert.get("webhook_secret"):  # shown once: on this page, not after a redirect
        return await run_in_threadpool(lambda: _page(request, secret=alert["webhook_secret"]))
    return RedirectResponse("/alerts", 303)


async def page_remove(request: Request) -> Response:
    who = await _writer(request)
    await run_in_threadpool(_service(request).remove_alert, who.user, request.path_params["name"])
    return RedirectResponse("/alerts", 303)


ROUTES = [
    Route("/alerts", alerts_page, methods=["GET", "HEAD"]),
    Route("/alerts", page_add, methods=["POST"]),
    Route("/alerts/{name}/remove", page_remove, methods=["POST"]),
    Route("/api/v1/alerts", api_list, methods=["GET"]),
    Route("/api/v1/alerts", api_add, methods=["POST"]),
    Route("/api/v1/alerts/matches", api_matches, methods=["GET"]),
    Route("/api/v1/alerts/matches/seen", api_seen, methods=["POST"]),
    Route("/api/v1/alerts/{name}", api_remove, methods=["DELETE"]),
    Route("/api/v1/webhooks", api_webhooks, methods=["GET"]),
    Route("/api/v1/webhooks", api_webhook_add, methods=["POST"]),
    Route("/api/v1/webhooks/{endpoint_id}", api_webhook_remove, methods=["DELETE"]),
    Route("/api/v1/webhooks/{endpoint_id}/deliveries", api_webhook_deliveries, methods=["GET"]),
]
