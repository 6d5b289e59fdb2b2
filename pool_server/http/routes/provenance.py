"""Provenance on the web door: an item's signed manifest (`GET
/api/v1/items/{id}/manifest`) and the public, no-login `/verify` page, where anyone drops
a file, the browser hashes it (the file is never uploaded) and asks
`/api/v1/verify/{sha256}` whether the pool published it, and by whom."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from catalog.layout import FEED_DIR

from ...published import by_sha256, pool_keys, verdict
from ..app import door_of, principal, render
from .items import _take, load_item


def item_manifest(request: Request) -> Response:
    principal(request)
    item = load_item(request)
    keys, document = pool_keys(door_of(request).pool.data)
    manifest, signature = item.get("manifest"), item.get("manifest_signature")
    return JSONResponse(
        {
            "manifest": manifest,
            "manifest_signature": signature,
            "verified": verdict(manifest, signature, keys),
            "pool_keys": document,
        }
    )


def item_credentialed(request: Request) -> Any:
    """The original with C2PA Content Credentials (an MP4/MOV delivery copy), when the
    pool makes them (`[provenance] c2pa_cert`)."""
    who = principal(request)
    assert who is not None
    item = load_item(request)
    door = door_of(request)
    name = str(item["path"]).rsplit("/", 1)[-1]
    rel = f"/{FEED_DIR}/credentials/{item['id']}/{name}"
    dl = door.core.open_download(who.session, rel)
    return _take(request, who, item, dl, None)


def verify_api(request: Request) -> Response:
    door = door_of(request)
    keys, _ = pool_keys(door.pool.data)
    found = by_sha256(door.pool.store.db, request.path_params["sha256"], keys)
    return JSONResponse(
        {"sha256": request.path_params["sha256"].lower(), "published": bool(found), "items": found}
    )


def verify_page(request: Request) -> Response:
    principal(request, required=False)  # shows who is logged in, if anybody
    keys, _ = pool_keys(door_of(request).pool.data)
    return render(request, "verify.html", {"pool_key": keys[-1].fingerprint if keys else None})


ROUTES = [
    Route("/verify", verify_page, methods=["GET", "HEAD"]),
    Route("/api/v1/verify/{sha256}", verify_api, methods=["GET", "HEAD"]),
    Route("/api/v1/items/{item_id}/manifest", item_manifest, methods=["GET", "HEAD"]),
    Route("/api/v1/items/{item_id}/credentialed", item_credentialed, methods=["GET", "HEAD"]),
]
