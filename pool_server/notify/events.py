"""Event names, payloads (docs/events.md) and who receives them.

Every webhook body is one JSON object: ``{"type", "version", "timestamp", "data"}``;
``version`` is `EVENT_VERSION` and grows only when a field changes meaning or goes away
(new fields may appear at any time).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

EVENT_VERSION = 1

ITEM_PUBLISHED = "item.published"
ITEM_UPDATED = "item.updated"
ITEM_WITHDRAWN = "item.withdrawn"
PREVIEW_READY = "preview.ready"
UPLOAD_COMPLETED = "upload.completed"
TAKE_COMPLETED = "take.completed"
QUOTA_WARNING = "quota.warning"
ALERT_MATCHED = "alert.matched"
WEBHOOK_TEST = "webhook.test"

EVENTS = (
    ITEM_PUBLISHED,
    ITEM_UPDATED,
    ITEM_WITHDRAWN,
    PREVIEW_READY,
    UPLOAD_COMPLETED,
    TAKE_COMPLETED,
    QUOTA_WARNING,
)
"""What endpoints subscribe to. `alert.matched` goes to saved searches' webhooks and
`webhook.test` to the endpoint being tested."""

_VERSION_IGNORE = frozenset({"rid", "indexed", "uploader", "uploaded", "preview"})
EXCERPT_CHARS = 280


def item_version(item: dict[str, Any]) -> str:
    """A digest of what an item says (its files' hashes, its metadata): a new version is
    a change a reader would notice, not a re-index or the uploader filled in later."""
    kept = {k: v for k, v in sorted(item.items()) if k not in _VERSION_IGNORE}
    blob = json.dumps(kept, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def preview_key(item: dict[str, Any]) -> str | None:
    """'ready:<essence sha256>' once the item's previews are made, else its preview
    state (None before previews existed): a change to 'ready:…' is a preview.ready."""
    preview = item.get("preview")
    if not isinstance(preview, dict) or not preview.get("state"):
        return None
    state = str(preview["state"])
    return f"ready:{preview.get('source_sha256')}" if state == "ready" else state


def preview_data(item: dict[str, Any], public_url: str, version: str) -> dict[str, Any]:
    """The data of a preview.ready event: the item and its preview files with links."""
    preview = item.get("preview") or {}
    files = dict(preview.get("files") or {})
    base = public_url.rstrip("/")
    return {
        "item": item_summary(item, public_url, version),
        "files": files,
        "links": (
            {n: f"{base}/api/v1/items/{item['id']}/previews/{n}" for n in files} if base else {}
        ),
    }


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


def links(public_url: str, item_id: str) -> dict[str, str]:
    """The web item page, the API record and the poster of an item (empty without a
    public URL)."""
    if not public_url:
        return {}
    base = public_url.rstrip("/")
    return {
        "page": f"{base}/items/{item_id}",
        "api": f"{base}/api/v1/items/{item_id}",
        "poster": f"{base}/api/v1/items/{item_id}/previews/poster.jpg",
    }


def item_summary(item: dict[str, Any], public_url: str, version: str) -> dict[str, Any]:
    """An item as alerts and events show it."""
    return {
        "id": item["id"],
        "version": version,
        "seq": item.get("rid"),
        "title": item.get("title"),
        "member": item.get("member"),
        "category": item.get("category"),
        "series": item.get("series"),
        "path": item.get("path"),
        "excerpt": excerpt(item.get("description") or item.get("shotlist")),
        "duration": item.get("duration"),
        "languages": item.get("languages") or [],
        "location": item.get("location"),
        "embargo": item.get("embargo"),
        "restrictions": item.get("restrictions"),
        "uploaded": item.get("uploaded"),
        "size": item.get("size"),
        "sha256": item.get("sha256"),
        "has_video": bool(item.get("video_codec")),
        "links": links(public_url, item["id"]),
    }


def envelope(event: str, data: dict[str, Any], when: datetime | None = None) -> dict[str, Any]:
    return {
        "type": event,
        "version": EVENT_VERSION,
        "timestamp": (when or datetime.now(UTC)).isoformat(timespec="seconds"),
        "data": data,
    }


def endpoints_for(
    conn: sqlite3.Connection, event: str, member: str | None
) -> list[tuple[int, str]]:
    """(id, url) of the enabled endpoints that receive `event` about `member`: the
    admins' (no member: every event) and that member's own."""
    out = []
    for eid, url, events, owner in conn.execute(
        "SELECT id, url, events, member FROM endpoints WHERE disabled = 0 ORDER BY id"
    ).fetchall():
        wanted = json.loads(events)
        if "*" not in wanted and event not in wanted:
            continue
        if owner is not None and owner != member:
            continue
        out.append((int(eid), str(url)))
    return out
