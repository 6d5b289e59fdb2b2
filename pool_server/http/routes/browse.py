"""Browse: member → category → series, with counts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from catalog import browse

from ...errors import InvalidPath, NotFound
from ..app import door_of, principal, render
from ..previews import preview_of


def _name(request: Request, key: str) -> str | None:
    value = request.path_params.get(key)
    if value is None:
        return None
    if value in (".", "..") or "/" in value or "\x00" in value:
        raise InvalidPath(f"{value!r} is not a name")
    return str(value)


def listing(request: Request) -> dict:
    """The level the URL names: its entries with counts, or a series' items."""
    principal(request)
    door = door_of(request)
    db = door.pool.store.db
    member, category, series = _name(request, "member"), _name(request, "category"), None
    if "series" in request.path_params:
        series = _name(request, "series")
    level: dict = {"member": member, "category": category, "series": series}
    if member is not None and category is not None and series is not None:
        real_series = "" if series == "-" else series
        items = browse.series_items(db, member, category, real_series)
        folders = door.preview_folders.names()
        for item in items:
            item["preview"] = preview_of(door.pool.data.pool_root, item, folders)
        level["listing"] = items
    else:
        level["entries"] = [{"name": n, "count": c} for n, c in browse.counts(db, member, category)]
    if member is not None and not (level.get("listing") or level.get("entries")):
        where = "/".join(p for p in (member, category, series) if p is not None)
        raise NotFound(f"nothing catalogued under {where}")
    return level


def browse_page(request: Request) -> Response:
    return render(request, "browse.html", {"level": listing(request)})


def browse_api(request: Request) -> Response:
    return JSONResponse(listing(request))


ROUTES = [
    Route("/browse", browse_page, methods=["GET", "HEAD"]),
    Route("/browse/{member}", browse_page, methods=["GET", "HEAD"]),
    Route("/browse/{member}/{category}", browse_page, methods=["GET", "HEAD"]),
    Route("/browse/{member}/{category}/{series}", browse_page, methods=["GET", "HEAD"]),
    Route("/api/v1/browse", browse_api, methods=["GET"]),
    Route("/api/v1/browse/{member}", browse_api, methods=["GET"]),
    Route("/api/v1/browse/{member}/{category}", browse_api, methods=["GET"]),
    Route("/api/v1/browse/{member}/{category}/{series}", browse_api, methods=["GET"]),
]
