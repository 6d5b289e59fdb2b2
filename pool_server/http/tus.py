"""tus 1.0.0 resumable uploads: the protocol's bookkeeping, apart from HTTP plumbing.

An upload is a row in pool.db (`tus_uploads`: id, owner, target path, declared length,
metadata, expiry) and a hidden partial in the session core, keyed by the upload id, so
an upload started over tus is finished over tus only, by the same user, and its offset
after any crash is simply the partial's size on disk. Extensions: creation, termination,
checksum (sha256, sha1, md5 of each PATCH body) and expiration.

The routes (`routes/uploads.py`) translate requests to `TusUploads` calls and the core's
errors to statuses; nothing here knows Starlette.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, UsageError
from .errors import HttpError

if TYPE_CHECKING:
    from ..store import Store

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
CHECKSUMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1, "md5": hashlib.md5}
_META_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_METADATA = 64 * 1024

# Form fields that become our JSON sidecar (catalog/SIDECAR_JSON.md).
SIDECAR_FIELDS = (
    "title",
    "description",
    "shotlist",
    "series",
    "episode",
    "location",
    "restrictions",
    "embargo",
    "category",
)


def parse_metadata(header: str | None) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs (value optional)."""
    if not header:
        return {}
    if len(header) > MAX_METADATA:
        raise HttpError(400, "Upload-Metadata is too long")
    out: dict[str, str] = {}
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        if not _META_KEY.match(key) or key in out:
            raise HttpError(400, f"Upload-Metadata: bad or repeated key {key[:64]!r}")
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise HttpError(400, f"Upload-Metadata: the value of {key!r} is not base64 UTF-8")
    return out


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """`Upload-Checksum: <algorithm> <base64 digest>` → (algorithm, digest)."""
    if not header:
        return None
    algo, _, value = header.strip().partition(" ")
    algo = algo.lower()
    if algo not in CHECKSUMS:
        raise HttpError(400, f"Upload-Checksum: unsupported algorithm {algo[:16]!r}")
    try:
        return algo, base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        raise HttpError(400, "Upload-Checksum: the digest is not base64")


def parse_int_header(value: str | None, name: str) -> int:
    if value is None or not value.isdigit() or len(value) > 19:
        raise HttpError(400, f"{name} must be a non-negative integer")
    return int(value)


def sidecar_from(meta: dict[str, str]) -> bytes | None:
    """Our JSON sidecar from the form's metadata, or None when no field was filled."""
    doc: dict[str, Any] = {k: meta[k].strip() for k in SIDECAR_FIELDS if meta.get(k, "").strip()}
    langs = meta.get("languages") or meta.get("language") or ""
    if langs.strip():
        doc["languages"] = [v.strip() for v in langs.split(",") if v.strip()]
    if meta.get("nosidecar") or not any(
        k in doc for k in ("title", "description", "shotlist", "languages")
    ):
        return None
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


@dataclass
class TusUpload:
    id: str
    user: str
    vpath: str
    length: int
    metadata: dict[str, str]
    created: float
    expires: float
    done: bool = False

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TusUpload:
        return cls(
            row["id"],
            row["user"],
            row["vpath"],
            int(row["length"]),
            json.loads(row["metadata"] or "{}"),
            float(row["created"]),
            float(row["expires"]),
            bool(row.get("done")),
        )

    def expires_http(self) -> str:
        from email.utils import formatdate

        return formatdate(self.expires, usegmt=True)


class TusUploads:
    """The tus uploads in flight, in pool.db (every door process sees the same)."""

    def __init__(self, store: Store, expire_hours: float) -> None:
        self.store = store
        self.lifetime = expire_hours * 3600

    def create_schema(self) -> None:
        self.store.db["tus_uploads"].create(
            {
                "id": str,
                "user": str,
                "vpath": str,
                "length": int,
                "metadata": str,
                "created": float,
                "expires": float,
                "done": int,
            },
            pk="id",
            if_not_exists=True,
            defaults={"done": 0},
        )
        self.store.db["tus_uploads"].create_index(["expires"], if_not_exists=True)

    def add(self, user: str, vpath: str, length: int, metadata: dict[str, str]) -> TusUpload:
        now = time.time()
        up = TusUpload(
            secrets.token_urlsafe(18), user, vpath, length, metadata, now, now + self.lifetime
        )
        self.store.db["tus_uploads"].insert(
            {
                "id": up.id,
                "user": up.user,
                "vpath": up.vpath,
                "length": up.length,
                "metadata": json.dumps(up.metadata, ensure_ascii=False),
                "created": up.created,
                "expires": up.expires,
            }
        )
        return up

    def get(self, upload_id: str, user: str) -> TusUpload:
        """The caller's own upload; anyone else's (or none) is simply not found."""
        rows = list(
            self.store.db["tus_uploads"].rows_where("id = ? AND user = ?", [upload_id, user])
        )
        if not rows:
            raise NotFound("no such upload")
        up = TusUpload.from_row(rows[0])
        if up.expires < time.time():
            raise HttpError(410, "this upload has expired; start it again")
        return up

    def touch(self, up: TusUpload) -> None:
        """Each PATCH pushes the expiry back: an upload expires when left alone."""
        up.expires = time.time() + self.lifetime
        self.store.db["tus_uploads"].update(up.id, {"expires": up.expires})

    def finish(self, up: TusUpload) -> None:
        """The last byte arrived and the file is in place: kept until it expires, so a
        HEAD still answers (offset = length) and the page can find the new item."""
        up.done = True
        self.store.db["tus_uploads"].update(up.id, {"done": 1})

    def remove(self, upload_id: str) -> None:
        self.store.db["tus_uploads"].delete_where("id = ?", [upload_id])

    def expired(self, now: float | None = None) -> list[TusUpload]:
        rows = self.store.db["tus_uploads"].rows_where("expires < ?", [now or time.time()])
        return [TusUpload.from_row(r) for r in rows]

    def sweep(self, discard: Callable[[TusUpload], None], now: float | None = None) -> int:
        """Remove uploads left alone past their expiry: the partial through `discard`
        (the core, as the upload's owner), then the row. Returns how many went."""
        gone = 0
        for up in self.expired(now):
            if not up.done:
                discard(up)
            self.remove(up.id)
            gone += 1
        return gone

    def for_user(self, user: str) -> list[TusUpload]:
        rows = self.store.db["tus_uploads"].rows_where(
            "user = ? AND done = 0", [user], order_by="created"
        )
        return [TusUpload.from_row(r) for r in rows]


def target_path(meta: dict[str, str], member: str | None, is_admin: bool) -> str:
    """Where an upload goes: `path` (a pool path, as `pool put` sends it), or the page's
    form: /<MEMBER>/<category>/[<series>/][<folder of a dropped folder>/]<filename>."""
    if meta.get("path"):
        path = meta["path"]
        if not path.startswith("/"):
            raise UsageError("metadata 'path' must be a pool path starting with /")
        return path
    name = meta.get("filename") or meta.get("name")
    if not name:
        raise UsageError("metadata 'filename' (or 'path') is required")
    area = meta.get("member") if is_admin and meta.get("member") else member
    if not area:
        raise UsageError("which member's area? choose a member")
    category = (meta.get("category") or "").strip()
    if not category:
        raise UsageError("choose a category")
    parts = [area, category]
    if meta.get("series", "").strip():
        parts.append(meta["series"].strip())
    rel = (meta.get("relativePath") or "").strip("/")
    if "/" in rel:  # a folder of episodes: keep its sub-folders
        parts.extend(p for p in rel.split("/")[:-1] if p)
    parts.append(name)
    return "/" + "/".join(parts)


__all__ = [
    "CHECKSUMS",
    "EXTENSIONS",
    "VERSION",
    "TusUpload",
    "TusUploads",
    "parse_checksum",
    "parse_int_header",
    "parse_metadata",
    "sidecar_from",
    "target_path",
]
