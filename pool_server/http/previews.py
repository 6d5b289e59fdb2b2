"""An item's previews as the pages need them: state and which files exist.

The catalog's previews record them in the item's `preview` field ({state, files, error,
source_sha256}); an item catalogued before previews existed has none, and then the
files published under `pool/.catalog/previews/<ITEM-ID>/` are what there is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from catalog.layout import FEED_DIR

from .views import PREVIEW_NAMES


def folder(pool_root: Path, item_id: str) -> Path:
    return pool_root / FEED_DIR / "previews" / item_id


def preview_of(pool_root: Path, item: dict[str, Any]) -> dict[str, Any]:
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
    where = folder(pool_root, str(item["id"]))
    try:
        present = sorted(n for n in os.listdir(where) if n in PREVIEW_NAMES)
    except OSError:
        present = []
    return {
        "state": "ready" if present else "none",
        "files": present,
        "error": None,
        "source_sha256": None,
    }
