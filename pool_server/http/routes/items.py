"""One item: its page, its JSON, the take (the original over HTTP), its previews,
attachments and subtitles, and withdrawing it."""

from __future__ import annotations

import mimetypes
import re
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from catalog import browse

from ...errors import InvalidPath, NotFound
from ...published import pool_keys, provenance_of
from ..app import door_of, principal, render
from ..auth import Principal, csrf_from, csrf_ok
from ..core import Download
from ..download import FileSend
from ..errors import HttpError
from ..previews import preview_of
from ..views import PREVIEW_NAMES

_ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,80}$")


def check_id(item_id: str) -> str:
    if not _ITEM_ID.match(item_id):
        raise InvalidPath(f"{item_id!r} is not an item id")
    return item_id


def load_item(request: Request) -> dict[str, Any]:
    """The item named in the URL, with its preview state (NotFound if there is none)."""
    door = door_of(request)
    item_id = check_id(request.path_params["item_id"])
    item = browse.get_item(door.pool.store.db, item_id)
    if item is None:
        raise NotFound(f"no item {item_id}")
    item["preview"] = preview_of(door.pool.data.pool_root, item)
    return item


def vpath(path: str) -> str:
    return "/" + path.lstrip("/")


def strong_etag(item: dict[str, Any], sha256: str | None, dl: Download) -> str:
    """The sha256 while the catalog is current for the file; else size and mtime (a
    file replaced since it was indexed must not keep the old version's tag)."""
    indexed = item.get("indexed")
    if sha256 and indexed:
        try:
            fresh = datetime.fromisoformat(indexed).timestamp() >= dl.mtime
        except ValueError:
            fresh = False
        if fresh:
            return f'"{sha256}"'
    return f'"{dl.size:x}-{int(dl.mtime * 1e9):x}"'


def _take(request: Request, who: Principal, item: dict[str, Any], dl: Download, sha: str | None):
    door = door_of(request)

    async def done(nbytes: int, complete: bool, offset: int) -> None:
        await run_in_threadpool(
            door.core.record_download, who.session, dl, nbytes, complete, offset
        )

    media = mimetypes.guess_type(dl.target.name)[0] or "application/octet-stream"
    return FileSend(
        dl.real,
        dl.size,
        strong_etag(item, sha, dl),
        media,
        filename=dl.target.name,
        on_done=done,
        transfers=door.core.transfers,
    )


def item_json(request: Request) -> Response:
    principal(request)
    return JSONResponse(load_item(request))


def item_content(request: Request) -> Any:
    who = principal(request)
    assert who is not None
    item = load_item(request)
    dl = door_of(request).core.open_download(who.session, vpath(item["path"]))
    return _take(request, who, item, dl, item.get("sha256"))


def _attachment(item: dict[str, Any], name: str) -> dict[str, Any]:
    for att in item.get("attachments") or []:
        if att.get("path", "").rsplit("/", 1)[-1] == name:
            return att
    raise NotFound(f"item {item['id']} has no attachment {name!r}")


def item_attachment(request: Request) -> Any:
    who = principal(request)
    assert who is not None
    item = load_item(request)
    att = _attachment(item, request.path_params["name"])
    dl = door_of(request).core.open_download(who.session, vpath(att["path"]))
    return _take(request, who, item, dl, att.get("sha256"))


_SRT_TIME = re.compile(r"(\d\d:\d\d:\d\d),(\d\d\d)")


def srt_to_vtt(text: str) -> str:
    body = _SRT_TIME.sub(r"\1.\2", text.lstrip("\ufeff").replace("\r\n", "\n"))
    return "WEBVTT\n\n" + body


def item_subtitles(request: Request) -> Response:
    """A subtitle attachment as WebVTT, for the player's text tracks."""
    who = principal(request)
    assert who is not None
    item = load_item(request)
    att = _attachment(item, request.path_params["name"])
    if att.get("role") != "subtitle":
        raise InvalidPath(f"{request.path_params['name']} is not a subtitle file")
    door = door_of(request)
    dl = door.core.open_download(who.session, vpath(att["path"]))
    with open(dl.real, "rb") as fh:
        raw = fh.read(8 * 1024 * 1024)
    text = raw.decode("utf-8", "replace")
    if not text.lstrip("\ufeff").startswith("WEBVTT"):
        text = srt_to_vtt(text)
    return Response(text, media_type="text/vtt; charset=utf-8")


def item_preview(request: Request) -> Any:
    who = principal(request)
    assert who is not None
    item_id = check_id(request.path_params["item_id"])
    name = request.path_params["name"]
    if name not in PREVIEW_NAMES:
        raise NotFound(f"no preview called {name!r}")
    door = door_of(request)
    dl = door.core.open_download(who.session, f"/.catalog/previews/{item_id}/{name}")
    etag = f'"{dl.size:x}-{int(dl.mtime * 1e9):x}"'
    return FileSend(
        dl.real,
        dl.size,
        etag,
        PREVIEW_NAMES[name],
        headers={"cache-control": "private, max-age=60"},
    )


def item_page(request: Request) -> Response:
    who = principal(request)
    assert who is not None
    item = load_item(request)
    door = door_of(request)
    subtitles = [a for a in item.get("attachments") or [] if a.get("role") == "subtitle"]
    return render(
        request,
        "item.html",
        {
            "item": item,
            "history": browse.history(door.pool.store.db, item["id"]),
            "subtitles": subtitles,
            "attachments": item.get("attachments") or [],
            "may_withdraw": door.core.may_delete(who.session, vpath(item["path"])),
            "provenance": provenance_of(item, pool_keys(door.pool.data)[0], door.pool.data),
        },
    )


def withdraw(door: Any, who: Principal, item: dict[str, Any]) -> list[str]:
    """Remove the item's files through the core (each checked against the access
    table: a reader is refused at the first)."""
    paths = [vpath(item["path"])] + [vpath(a["path"]) for a in item.get("attachments") or []]
    removed = []
    for path in paths:
        try:
            door.core.remove(who.session, path)
        except NotFound:
            continue
        removed.append(path)
    return removed


async def _writer(request: Request) -> tuple[Principal, dict[str, Any]]:
    who = await run_in_threadpool(principal, request)
    assert who is not None
    if who.via == "cookie" and not csrf_ok(who, await csrf_from(request)):
        raise HttpError(403, "missing or wrong CSRF token")
    item = await run_in_threadpool(load_item, request)
    return who, item


async def api_withdraw(request: Request) -> Response:
    who, item = await _writer(request)
    removed = await run_in_threadpool(withdraw, door_of(request), who, item)
    return JSONResponse({"id": item["id"], "removed": removed})


async def page_withdraw(request: Request) -> Response:
    who, item = await _writer(request)
    await run_in_threadpool(withdraw, door_of(request), who, item)
    return RedirectResponse(f"/search?member={item['member']}", 303)


ROUTES = [
    Route("/items/{item_id}", item_page, methods=["GET", "HEAD"]),
    Route("/items/{item_id}/download", item_content, methods=["GET", "HEAD"]),
    Route("/items/{item_id}/withdraw", page_withdraw, methods=["POST"]),
    Route("/api/v1/items/{item_id}", item_json, methods=["GET", "HEAD"]),
    Route("/api/v1/items/{item_id}", api_withdraw, methods=["DELETE"]),
    Route("/api/v1/items/{item_id}/content", item_content, methods=["GET", "HEAD"]),
    Route("/api/v1/items/{item_id}/previews/{name}", item_preview, methods=["GET", "HEAD"]),
    Route("/api/v1/items/{item_id}/attachments/{name}", item_attachment, methods=["GET", "HEAD"]),
    Route("/api/v1/items/{item_id}/subtitles/{name}", item_subtitles, methods=["GET"]),
]
