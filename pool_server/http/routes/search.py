"""Search: the page (`/search`) and the API (`/api/v1/search`), one handler for both."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from catalog.errors import QueryError
from catalog.search import search as catalog_search
from catalog.units import iso_utc, parse_seconds, parse_when

from ...errors import UsageError
from ..app import door_of, principal, render
from ..previews import preview_of
from ..views import query_with

MAX_LIMIT = 200
MAX_OFFSET = 5000
PREVIEW_STATES = ("ready", "pending", "failed", "none")


@dataclass
class SearchQuery:
    """A search as the URL holds it (page and API use the same parameter names)."""

    q: str = ""
    member: str | None = None
    category: str | None = None
    lang: str | None = None
    since: str | None = None
    until: str | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    has_subtitles: bool | None = None
    preview: str | None = None
    limit: int = 24
    offset: int = 0
    raw: dict[str, str] = field(default_factory=dict)


def _number(params: Any, name: str) -> float | None:
    """Seconds as `pool` and `pool-server` read them (catalog.units): 90, 90s, 5m, 1:30."""
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return parse_seconds(text)
    except QueryError as err:
        raise UsageError(f"{name}={err}")


def _date(params: Any, name: str, end_of_day: bool = False) -> str | None:
    """A time as `pool` and `pool-server` read --since/--until (catalog.units): 30d,
    12h or an ISO date; `until` a date alone includes that day."""
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return iso_utc(parse_when(text, end_of_day=end_of_day))
    except QueryError as err:
        raise UsageError(f"{name}={err}")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise UsageError("cursor: not a cursor this server gave out")
    if not 0 <= offset <= MAX_OFFSET:
        raise UsageError("cursor: out of range")
    return offset


def parse_query(params: Any, default_limit: int) -> SearchQuery:
    limit_text = (params.get("limit") or "").strip()
    try:
        limit = int(limit_text) if limit_text else default_limit
    except ValueError:
        raise UsageError(f"limit={limit_text!r}: give a whole number")
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be between 1 and {MAX_LIMIT}")
    offset = 0
    if params.get("cursor"):
        offset = decode_cursor(params["cursor"])
    elif params.get("page"):
        try:
            offset = (max(1, int(params["page"])) - 1) * limit
        except ValueError:
            raise UsageError("page: give a whole number")
        if offset > MAX_OFFSET:
            raise UsageError("page: too far; narrow the search")
    subs = (params.get("has_subtitles") or "").strip().lower()
    preview = (params.get("preview") or "").strip() or None
    if preview is not None and preview not in PREVIEW_STATES:
        raise UsageError(f"preview={preview!r}: one of {', '.join(PREVIEW_STATES)}")
    return SearchQuery(
        q=(params.get("q") or "").strip(),
        member=(params.get("member") or "").strip() or None,
        category=(params.get("category") or "").strip() or None,
        lang=(params.get("lang") or "").strip() or None,
        since=_date(params, "since"),
        until=_date(params, "until", end_of_day=True),
        min_duration=_number(params, "min_duration"),
        max_duration=_number(params, "max_duration"),
        has_subtitles={"1": True, "true": True, "yes": True, "0": False, "false": False}.get(subs),
        preview=preview,
        limit=limit,
        offset=offset,
        raw={k: v for k, v in params.items() if v and k not in ("cursor", "page")},
    )


def run_search(request: Request, query: SearchQuery) -> dict[str, Any]:
    """The one search handler: items with their preview state, and the next cursor."""
    door = door_of(request)
    db = door.pool.store.db
    want = query.offset + query.limit + 1
    fetch = want if query.preview is None else min(MAX_OFFSET, want * 4)
    rows = catalog_search(
        db,
        query.q,
        member=query.member,
        category=query.category,
        language=query.lang,
        since=query.since,
        until=query.until,
        min_duration=query.min_duration,
        max_duration=query.max_duration,
        has_subtitles=query.has_subtitles,
        limit=fetch,
    )
    root = door.pool.data.pool_root
    folders = door.preview_folders.names()
    for row in rows:
        row["preview"] = preview_of(root, row, folders)
    if query.preview is not None:
        rows = [r for r in rows if r["preview"]["state"] == query.preview]
    page = rows[query.offset : query.offset + query.limit]
    more = len(rows) > query.offset + query.limit
    return {
        "items": page,
        "next": encode_cursor(query.offset + query.limit) if more else None,
    }


def api_search(request: Request) -> Response:
    principal(request)
    query = parse_query(request.query_params, door_of(request).settings["page_size"])
    return JSONResponse(run_search(request, query))


def search_page(request: Request) -> Response:
    principal(request)
    door = door_of(request)
    query = parse_query(request.query_params, door.settings["page_size"])
    result = run_search(request, query)
    page_no = query.offset // query.limit + 1
    facets = door.facets.get(door.pool.store.db)
    return render(
        request,
        "search.html",
        {
            "query": query,
            "result": result,
            "members": facets["members"],
            "categories": facets["categories"],
            "languages_found": facets["languages"],
            "preview_states": PREVIEW_STATES,
            "page_no": page_no,
            "prev_qs": query_with(query.raw, page=page_no - 1) if page_no > 1 else None,
            "next_qs": query_with(query.raw, page=page_no + 1) if result["next"] else None,
        },
    )


ROUTES = [
    Route("/search", search_page, methods=["GET", "HEAD"]),
    Route("/api/v1/search", api_search, methods=["GET", "HEAD"]),
]
