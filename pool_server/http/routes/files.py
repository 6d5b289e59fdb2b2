"""Files by pool path: the published feed (`/api/v1/feed/...`) and any file or folder
the user may read (`/api/v1/files/...`), which the `pool` client's HTTP transport uses
like FTP's LIST/RETR and SFTP's readdir/read. Folders answer with a JSON listing."""

from __future__ import annotations

import mimetypes
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from catalog.layout import FEED_DIR

from ...errors import InvalidPath
from ..app import door_of, principal
from ..download import FileSend


def _serve(request: Request, path: str) -> Any:
    who = principal(request)
    assert who is not None
    core = door_of(request).core
    info = core.stat(who.session, path)
    if info["is_dir"]:
        if request.query_params.get("stat") is not None:
            return JSONResponse(info)
        return JSONResponse({**info, "entries": core.listdir(who.session, path)})
    if request.query_params.get("stat") is not None:
        return JSONResponse(info)
    dl = core.open_download(who.session, path)
    etag = f'"{dl.size:x}-{int(dl.mtime * 1e9):x}"'
    media = mimetypes.guess_type(dl.target.name)[0] or "application/octet-stream"
    if dl.target.in_feed:
        return FileSend(dl.real, dl.size, etag, media, headers={"cache-control": "no-cache"})

    async def done(nbytes: int, complete: bool, offset: int) -> None:
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(core.record_download, who.session, dl, nbytes, complete, offset)

    return FileSend(
        dl.real,
        dl.size,
        etag,
        media,
        filename=dl.target.name,
        on_done=done,
        transfers=core.transfers,
    )


def _plain(path: str) -> str:
    """Paths here are spelled out in full: no '.' or '..' steps at all."""
    if any(part in (".", "..") for part in path.split("/")):
        raise InvalidPath(f"{path!r}: give the path without '.' or '..' steps")
    return path


def feed(request: Request) -> Any:
    return _serve(request, f"/{FEED_DIR}/{_plain(request.path_params['path'])}")


def files(request: Request) -> Any:
    return _serve(request, "/" + _plain(request.path_params["path"]))


ROUTES = [
    Route("/api/v1/feed/{path:path}", feed, methods=["GET", "HEAD"]),
    Route("/api/v1/files/{path:path}", files, methods=["GET", "HEAD"]),
]
