"""Uploads over HTTP: the tus 1.0.0 endpoint at /api/v1/uploads/ and the upload page.

Each request is translated to session-core calls: creating an upload opens the core's
hidden partial (keyed by the tus id) with the declared length, which the core refuses
past `[uploads] max_file_size` or the member's remaining quota before any byte is
stored; a PATCH appends at the partial's size; the last byte renames it into place. The
core decides, audits (protocol http/https) and enforces the access table, exactly as for
FTP and SFTP. Errors become statuses through the door's one table (`http/errors.py`).
"""

from __future__ import annotations

import hmac
import tempfile
from base64 import b64encode
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from catalog.items import item_id, item_key, role_by_extension, split_name

from ...core import Outcome, Session, Upload
from ...errors import NotFound, PoolError
from ...policy import may_upload
from ..app import door_of, principal, render
from ..auth import Principal, csrf_ok
from ..errors import HttpError
from ..tus import (
    CHECKSUMS,
    EXTENSIONS,
    VERSION,
    TusUpload,
    TusUploads,
    parse_checksum,
    parse_int_header,
    parse_metadata,
    sidecar_from,
    target_path,
)

OFFSET_TYPE = "application/offset+octet-stream"
WRITE_BATCH = 4 << 20  # bytes gathered from the request before one write on a thread
SPOOL_MAX = 16 << 20  # a PATCH with a checksum is held in memory up to this, then on disk


def _tus(request: Request) -> TusUploads:
    store: TusUploads = door_of(request).tus
    return store


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Tus-Resumable": VERSION, "Cache-Control": "no-store", **(extra or {})}


def _who(request: Request) -> Principal:
    """The uploader, with the CSRF token checked for cookie sessions (Uppy sends it as a
    header); a bearer token or Basic credentials need none."""
    who = principal(request)
    assert who is not None
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
    if unsafe and who.via == "cookie" and not csrf_ok(who, request.headers.get("x-csrf-token")):
        raise HttpError(403, "missing or wrong CSRF token: reload the page")
    if request.method != "OPTIONS" and request.headers.get("tus-resumable") != VERSION:
        raise HttpError(412, f"Tus-Resumable: {VERSION} is required")
    return who


def _item_of(vpath: str) -> str | None:
    if role_by_extension(vpath.rsplit("/", 1)[-1]) != "essence":
        return None
    return item_id(item_key(vpath))


async def options(request: Request) -> Response:
    door = door_of(request)
    max_size = door.pool.core.limits.max_file_size
    headers = {
        "Tus-Version": VERSION,
        "Tus-Extension": EXTENSIONS,
        "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
    }
    if max_size:
        headers["Tus-Max-Size"] = str(max_size)
    return Response(status_code=204, headers=_headers(headers))


async def create(request: Request) -> Response:
    who = _who(request)
    if request.headers.get("upload-defer-length"):
        raise HttpError(400, "Upload-Defer-Length is not supported: send Upload-Length")
    length = parse_int_header(request.headers.get("upload-length"), "Upload-Length")
    meta = parse_metadata(request.headers.get("upload-metadata"))
    user = who.session.user
    vpath = target_path(meta, user.member, user.role == "admin")
    tus = _tus(request)
    await run_in_threadpool(_make_folders, who.session, vpath)
    up = await run_in_threadpool(tus.add, user.name, vpath, length, meta)
    try:
        upload: Upload = await run_in_threadpool(
            who.session.open_upload, vpath, 0, False, length, up.id
        )
    except BaseException:
        await run_in_threadpool(tus.remove, up.id)
        raise
    body_offset = 0
    if request.headers.get("content-type", "").startswith(OFFSET_TYPE):
        body_offset = await _receive(request, upload, up, None)
    else:
        await _end(request, upload, up, complete=length == 0)
    location = str(request.url_for("tus_upload", upload_id=up.id).path)
    headers = {"Location": location, "Upload-Expires": up.expires_http()}
    if body_offset:
        headers["Upload-Offset"] = str(body_offset)
    item = _item_of(vpath)
    headers["Ortak-Path"] = _ascii(vpath)
    if item:
        headers["Ortak-Item"] = item
    return Response(status_code=201, headers=_headers(headers))


def _make_folders(session: Session, vpath: str) -> None:
    """The folders above a new upload, as `pool put` makes them (through the core: the
    access table decides, and an existing folder is fine)."""
    parts = [p for p in vpath.split("/")[:-1] if p]
    for depth in range(1, len(parts) + 1):
        folder = "/" + "/".join(parts[:depth])
        try:
            session.stat(folder)
        except NotFound:
            session.mkdir(folder)


def _ascii(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


async def head(request: Request) -> Response:
    who = _who(request)
    tus = _tus(request)
    up = await run_in_threadpool(tus.get, request.path_params["upload_id"], who.session.user.name)
    offset = await _offset(who, up)
    meta = ",".join(f"{k} {b64encode(v.encode()).decode()}" for k, v in up.metadata.items())
    headers = {
        "Upload-Offset": str(offset),
        "Upload-Length": str(up.length),
        "Upload-Expires": up.expires_http(),
    }
    if meta:
        headers["Upload-Metadata"] = meta
    return Response(status_code=200, headers=_headers(headers))


async def _offset(who: Principal, up: TusUpload) -> int:
    """Bytes stored so far: the partial's size, or the length once the file is in place."""
    if up.done:
        return up.length
    offset = await run_in_threadpool(who.session.resume_size, up.vpath, up.id)
    if offset is None:
        raise HttpError(404, "no such upload (its partial is gone)")
    return offset


async def status(request: Request) -> Response:
    """GET on an upload's URL: where it goes, how far it got, and the item it makes."""
    who = principal(request)
    assert who is not None
    up = await run_in_threadpool(
        _tus(request).get, request.path_params["upload_id"], who.session.user.name
    )
    offset = await _offset(who, up)
    return JSONResponse(
        {
            "id": up.id,
            "path": up.vpath,
            "length": up.length,
            "offset": offset,
            "done": up.done,
            "item": _item_of(up.vpath),
        },
        headers=_headers(),
    )


async def patch(request: Request) -> Response:
    who = _who(request)
    if not request.headers.get("content-type", "").startswith(OFFSET_TYPE):
        raise HttpError(415, f"Content-Type: {OFFSET_TYPE} is required")
    offset = parse_int_header(request.headers.get("upload-offset"), "Upload-Offset")
    checksum = parse_checksum(request.headers.get("upload-checksum"))
    tus = _tus(request)
    up = await run_in_threadpool(tus.get, request.path_params["upload_id"], who.session.user.name)
    current = await _offset(who, up)
    if offset != current:
        raise HttpError(409, f"Upload-Offset {offset} does not match the upload's {current}")
    if up.done:  # nothing more to send: tus answers with the final offset
        return Response(status_code=204, headers=_headers({"Upload-Offset": str(up.length)}))
    upload: Upload = await run_in_threadpool(
        who.session.open_upload, up.vpath, offset, False, up.length, up.id
    )
    with door_of(request).core.transfers.running():
        new_offset = await _receive(request, upload, up, checksum)
    headers = {"Upload-Offset": str(new_offset), "Upload-Expires": up.expires_http()}
    item = _item_of(up.vpath)
    if item and new_offset == up.length:
        headers["Ortak-Item"] = item
    return Response(status_code=204, headers=_headers(headers))


async def _receive(
    request: Request, upload: Upload, up: TusUpload, checksum: tuple[str, bytes] | None
) -> int:
    """The request body into the upload; ends it (complete, kept, or failed)."""
    try:
        if checksum is None:
            await _stream(request, upload)
        else:
            await _checked(request, upload, checksum)
    except ClientDisconnect:
        await run_in_threadpool(upload.end, Outcome.CLIENT_GONE)
        raise
    except BaseException:
        await run_in_threadpool(upload.end, Outcome.FAILED, "the request failed")
        raise
    await _end(request, upload, up, complete=upload.size == up.length)
    return upload.size


async def _stream(request: Request, upload: Upload) -> None:
    batch = bytearray()
    try:
        async for chunk in request.stream():
            batch += chunk
            if len(batch) >= WRITE_BATCH:
                await run_in_threadpool(upload.write, batch)
                batch = bytearray()  # the written one is not copied, nor reused
    finally:  # a client gone mid-request keeps every byte that arrived
        if batch:
            await run_in_threadpool(upload.write, batch)


async def _checked(request: Request, upload: Upload, checksum: tuple[str, bytes]) -> None:
    """A PATCH with Upload-Checksum is held aside and written only if its digest
    matches (460 otherwise, nothing written: the client sends the chunk again)."""
    algo, want = checksum
    digest = CHECKSUMS[algo]()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX) as spool:
        async for chunk in request.stream():
            digest.update(chunk)
            spool.write(chunk)
        if not hmac.compare_digest(digest.digest(), want):
            await run_in_threadpool(upload.end, Outcome.CLIENT_GONE)
            raise HttpError(460, "Upload-Checksum mismatch: the chunk was not stored")
        spool.seek(0)
        while block := await run_in_threadpool(spool.read, WRITE_BATCH):
            await run_in_threadpool(upload.write, block)


async def _end(request: Request, upload: Upload, up: TusUpload, complete: bool) -> None:
    tus = _tus(request)
    if not complete:
        await run_in_threadpool(upload.end, Outcome.CLIENT_GONE)
        await run_in_threadpool(tus.touch, up)
        return
    sidecar = sidecar_from(up.metadata)
    if sidecar is not None and role_by_extension(up.vpath.rsplit("/", 1)[-1]) == "essence":
        await run_in_threadpool(_write_sidecar, upload, up, sidecar)
    await run_in_threadpool(upload.end, Outcome.COMPLETE)
    await run_in_threadpool(tus.finish, up)


def _write_sidecar(upload: Upload, up: TusUpload, body: bytes) -> None:
    """Our JSON sidecar from the form, written before the essence lands so the indexer
    catalogues the item with its metadata at once; through the core like any upload."""
    folder, name = up.vpath.rsplit("/", 1)
    stem, _, _ = split_name(name)
    side = upload.session.open_upload(f"{folder}/{stem}.json", 0, False, len(body), "")
    try:
        side.write(body)
    except PoolError:
        side.end(Outcome.FAILED, "sidecar write failed")
        raise
    side.end(Outcome.COMPLETE)


async def delete(request: Request) -> Response:
    who = _who(request)
    tus = _tus(request)
    up = await run_in_threadpool(tus.get, request.path_params["upload_id"], who.session.user.name)
    await run_in_threadpool(who.session.discard_upload, up.vpath, up.id)
    await run_in_threadpool(tus.remove, up.id)
    return Response(status_code=204, headers=_headers())


async def mine(request: Request) -> Response:
    """The caller's unfinished uploads (GET /api/v1/uploads/)."""
    who = principal(request)
    assert who is not None
    ups = await run_in_threadpool(_tus(request).for_user, who.session.user.name)
    out: list[dict[str, Any]] = []
    for up in ups:
        offset = await run_in_threadpool(who.session.resume_size, up.vpath, up.id)
        out.append({"id": up.id, "path": up.vpath, "length": up.length, "offset": offset or 0})
    return JSONResponse({"uploads": out})


async def page(request: Request) -> Response:
    who = principal(request)
    assert who is not None
    user = who.session.user
    if not may_upload(user):
        raise HttpError(403, "your account may not upload")
    door = door_of(request)
    members = door.pool.accounts.list_members() if user.role == "admin" else []
    return render(
        request,
        "upload.html",
        {"member": user.member, "members": members, "categories": CATEGORIES},
    )


CATEGORIES = ("news", "documentaries", "serials", "sports", "culture", "music", "archive")

ROUTES = [
    Route("/upload", page, methods=["GET"]),
    Route("/api/v1/uploads", options, methods=["OPTIONS"]),
    Route("/api/v1/uploads/", options, methods=["OPTIONS"]),
    Route("/api/v1/uploads", create, methods=["POST"]),
    Route("/api/v1/uploads/", create, methods=["POST"]),
    Route("/api/v1/uploads/", mine, methods=["GET"]),
    Route("/api/v1/uploads/{upload_id}", head, methods=["HEAD"], name="tus_upload"),
    Route("/api/v1/uploads/{upload_id}", status, methods=["GET"]),
    Route("/api/v1/uploads/{upload_id}", patch, methods=["PATCH"]),
    Route("/api/v1/uploads/{upload_id}", delete, methods=["DELETE"]),
    Route("/api/v1/uploads/{upload_id}", options, methods=["OPTIONS"]),
]
