"""The API's own routes: who am I, and the OpenAPI document describing every route."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ... import __version__
from ..app import door_of, principal


def me(request: Request) -> Response:
    who = principal(request)
    assert who is not None
    user = who.user
    return JSONResponse(
        {"user": user.name, "role": str(user.role), "member": user.member, "auth": who.via}
    )


async def control_command(request: Request) -> Response:
    """The control channel (pool_server/control.py) over HTTP: POST {"line": "whoami"}."""
    from starlette.concurrency import run_in_threadpool

    from ... import control
    from ...errors import UsageError
    from ..auth import csrf_from, csrf_ok
    from ..errors import HttpError

    who = await run_in_threadpool(principal, request)
    assert who is not None
    if who.via == "cookie" and not csrf_ok(who, await csrf_from(request)):
        raise HttpError(403, "missing or wrong CSRF token")
    try:
        line = str((await request.json())["line"])
    except (ValueError, KeyError, TypeError):
        raise UsageError('send {"line": "COMMAND [ARG...]"} as JSON')
    pool = door_of(request).pool
    return JSONResponse(await run_in_threadpool(control.run, pool, who.session, line))


def _param(name: str, where: str = "query", kind: str = "string", doc: str = "") -> dict:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": {"type": kind},
        "description": doc,
    }


_ID = _param("item_id", "path", doc="item id, e.g. TRT-1a2b3c4d5e")
_RANGE = {
    "name": "Range",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "one byte range, e.g. bytes=1048576-",
}
_IF_RANGE = {
    "name": "If-Range",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "the ETag the client holds",
}
_FILE = {
    "200": {"description": "the whole file; ETag is the sha256 in quotes"},
    "206": {"description": "the requested range"},
    "416": {"description": "range not satisfiable"},
}
_ERR = {
    "401": {"description": "no or bad credentials"},
    "403": {"description": "refused by the access rules"},
    "404": {"description": "not found"},
}


def _get(summary: str, params: list, responses: dict | None = None) -> dict:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {**(responses or {"200": {"description": "JSON"}}), **_ERR},
        }
    }


def openapi_document() -> dict[str, Any]:
    search_params = [
        _param("q", doc='words (ANDed; word* prefix, "a phrase", -exclude), folded'),
        _param("member"),
        _param("category"),
        _param("lang", doc="language code, e.g. tr"),
        _param("since", doc="uploaded on or after (ISO date)"),
        _param("until", doc="uploaded up to (ISO date, inclusive for a day)"),
        _param("min_duration", kind="number", doc="seconds"),
        _param("max_duration", kind="number", doc="seconds"),
        _param("has_subtitles", kind="boolean"),
        _param("preview", doc="ready, pending, failed or none"),
        _param("limit", kind="integer", doc="1..200"),
        _param("cursor", doc="the `next` of the previous page"),
    ]
    paths = {
        "/api/v1/search": _get(
            "search the catalog; {items: [...], next: cursor|null}", search_params
        ),
        "/api/v1/items/{item_id}": {
            **_get("one item", [_ID]),
            "delete": {
                "summary": "withdraw an item (its files); contributors in their own "
                "area and admins",
                "parameters": [_ID],
                "responses": {"200": {"description": "removed paths"}, **_ERR},
            },
        },
        "/api/v1/items/{item_id}/content": _get(
            "the original (a take)", [_ID, _RANGE, _IF_RANGE], _FILE
        ),
        "/api/v1/items/{item_id}/previews/{name}": _get(
            "a preview file",
            [
                _ID,
                _param(
                    "name",
                    "path",
                    doc="poster.jpg, strip.jpg, strip.vtt, proxy.mp4, waveform.png or proxy.m4a",
                ),
                _RANGE,
            ],
            _FILE,
        ),
        "/api/v1/items/{item_id}/attachments/{name}": _get(
            "an attachment (sidecar, subtitles, script...)",
            [_ID, _param("name", "path"), _RANGE],
            _FILE,
        ),
        "/api/v1/items/{item_id}/subtitles/{name}": _get(
            "a subtitle attachment as WebVTT", [_ID, _param("name", "path")]
        ),
        "/api/v1/browse": _get("members with item counts", []),
        "/api/v1/browse/{member}/{category}/{series}": _get(
            "categories, series or a series' items",
            [_param("member", "path"), _param("category", "path"), _param("series", "path")],
        ),
        "/api/v1/feed/{path}": _get(
            "a file of the published feed (pool/.catalog/)", [_param("path", "path"), _RANGE], _FILE
        ),
        "/api/v1/files/{path}": _get(
            "a pool file (Range) or a folder's JSON listing; ?stat for metadata only",
            [_param("path", "path"), _RANGE],
            _FILE,
        ),
        "/api/v1/me": _get("the authenticated user", []),
        "/api/v1/login": {
            "post": {
                "summary": "log in: JSON {username, password} → session cookie and {user, csrf}",
                "responses": {"200": {"description": "logged in"}, **_ERR},
            }
        },
        "/api/v1/logout": {
            "post": {
                "summary": "end the session (X-CSRF-Token)",
                "responses": {"303": {"description": "logged out"}},
            }
        },
        "/api/v1/control": {
            "post": {
                "summary": "a control-channel command: JSON {line} → its JSON answer",
                "responses": {"200": {"description": "the command's answer"}, **_ERR},
            }
        },
        "/api/v1/alerts": {
            **_get("your saved searches with their delivery health", []),
            "post": {
                "summary": "save a search: {name, query, filters: {member, category, lang, "
                "since, until, min_duration, max_duration}, email, webhook, digest}",
                "responses": {"201": {"description": "the alert (webhook_secret shown once)"}},
            },
        },
        "/api/v1/alerts/{name}": {
            "delete": {
                "summary": "remove one of your saved searches",
                "parameters": [_param("name", "path")],
                "responses": {"200": {"description": "the removed alert"}, **_ERR},
            }
        },
        "/api/v1/alerts/matches": _get(
            "your alerts' latest matches, newest first",
            [_param("limit", kind="integer", doc="1..500"), _param("unseen", kind="boolean")],
        ),
        "/api/v1/alerts/matches/seen": {
            "post": {
                "summary": "mark matches up to {up_to: id} as seen",
                "responses": {"200": {"description": "{marked: n}"}},
            }
        },
        "/api/v1/webhooks": {
            **_get("event webhooks you may see (admins: all; contributors: their member's)", []),
            "post": {
                "summary": "register {url, events, member, allow_private (admins), description}",
                "responses": {"201": {"description": "the endpoint (secret shown once)"}},
            },
        },
        "/api/v1/webhooks/{endpoint_id}": {
            "delete": {
                "summary": "remove an endpoint",
                "parameters": [_param("endpoint_id", "path")],
                "responses": {"200": {"description": "the removed endpoint"}, **_ERR},
            }
        },
        "/api/v1/webhooks/{endpoint_id}/deliveries": _get(
            "an endpoint's recent deliveries", [_param("endpoint_id", "path")]
        ),
        "/api/v1/items/{item_id}/manifest": _get(
            "the item's signed manifest, whether its signature verifies, and the pool's key "
            "list (docs/provenance.md)",
            [_ID],
        ),
        "/api/v1/items/{item_id}/credentialed": _get(
            "the original with C2PA Content Credentials (MP4/MOV, when the pool makes them)",
            [_ID, _RANGE],
            _FILE,
        ),
        "/api/v1/verify/{sha256}": {
            "get": {
                "summary": "public, no login: which published item versions hold a file with "
                "this sha256, who contributed and who signed them",
                "parameters": [_param("sha256", "path", doc="64 hexadecimal digits")],
                "security": [],
                "responses": {"200": {"description": "JSON"}, **_ERR},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ortak pool API", "version": __version__},
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token from `pool-server token create USER`",
                },
                "basic": {"type": "http", "scheme": "basic", "description": "over TLS only"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "ortak_session"},
            }
        },
        "security": [{"bearer": []}, {"basic": []}, {"cookie": []}],
        "paths": paths,
    }


def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


ROUTES = [
    Route("/api/v1/me", me, methods=["GET"]),
    Route("/api/v1/openapi.json", openapi, methods=["GET"]),
    Route("/api/v1/control", control_command, methods=["POST"]),
]
