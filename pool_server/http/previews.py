"""An item's previews as the pages need them: state and which files exist.

The catalog's previews record them in the item's `preview` field ({state, files, error,
source_sha256}); an item catalogued before previews existed has none, and then the
files published under `pool/.catalog/previews/<ITEM-ID>/` are what there is.

A page of such items would list one folder per row; `PublishedFolders` instead lists the
previews folder once and keeps the names until the folder changes (its mtime), so only
the rows that do have a folder cost a listing.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from catalog.layout import FEED_DIR

from .views import PREVIEW_NAMES

RACY_NS = 2_000_000_000
"""A folder changed this recently may change again within its mtime's granularity
(the kernel's clock tick) without the mtime moving: its listing is not kept."""


def root_of(pool_root: Path) -> Path:
    return pool_root / FEED_DIR / "previews"


def folder(pool_root: Path, item_id: str) -> Path:
    return root_of(pool_root) / item_id


class PublishedFolders:
    """The names of the item folders under `pool/.catalog/previews/`, listed again only
    when the folder's mtime, ctime or inode moves: adding or removing an item's folder
    changes them. One per door; safe to share between threads."""

    def __init__(self, pool_root: Path) -> None:
        self.root = root_of(pool_root)
        self._lock = threading.Lock()
        self._key: tuple[int, int, int] | None = None
        self._names: frozenset[str] = frozenset()

    def names(self) -> frozenset[str]:
        try:
            st = os.stat(self.root)
        except OSError:
            return frozenset()
        key = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)  # ctime: an mtime set back
        with self._lock:
            if self._key == key:
                return self._names
        try:
            names = frozenset(os.listdir(self.root))
        except OSError:
            return frozenset()
        if time.time_ns() - st.st_mtime_ns > RACY_NS:
            with self._lock:
                self._key, self._names = key, names
        return names


def preview_of(
    pool_root: Path, item: dict[str, Any], folders: frozenset[str] | None = None
) -> dict[str, Any]:
    """The item's preview state and files. `folders` (from `PublishedFolders.names`, for
    a page of items) saves listing the folder of an item that has none."""
    record = item.get("preview")
    if isinstance(record, dict) and record.get("state"):
        files = record.get("files") or {}
        names = sorted(n for n in files if n in PREVIEW_NAMES)
        return {
            "state": record["state"],
            "files": names,
            "error": record.get("error"),
            "source_sha256": record.get("source_sha256"),
        }
    item_id = str(item["id"])
    present: list[str] = []
    if folders is None or item_id in folders:
        try:
            present = sorted(
                n for n in os.listdir(folder(pool_root, item_id)) if n in PREVIEW_NAMES
            )
        except OSError:
            present = []
    return {
        "state": "ready" if present else "none",
        "files": present,
        "error": None,
        "source_sha256": None,
    }
