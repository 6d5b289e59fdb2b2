"""`pool verify DIR`: re-hash local files against the catalog's sha256.

A folder kept by `pool sync` knows which item each file is (``.pool-sync.db``); other
files are matched by name against the catalog's files (main files and attachments).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .sync import STATE_NAME
from .transfer import PART_SUFFIX, sha256_file

if TYPE_CHECKING:
    import sqlite_utils


@dataclass
class Checked:
    name: str
    status: str
    """'ok', 'mismatch' or 'unknown' (not in the catalog)."""
    item: str | None = None
    expected: str | None = None
    actual: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _catalog_files(db: sqlite_utils.Database) -> dict[str, list[tuple[str, str, int]]]:
    """name → [(item id, sha256, size)] over every main file and attachment."""
    import json

    out: dict[str, list[tuple[str, str, int]]] = {}
    for item_id, path, sha, size, atts in db.execute(
        "SELECT id, path, sha256, size, attachments FROM items"
    ).fetchall():
        out.setdefault(PurePosixPath(path).name, []).append((item_id, sha, size))
        for att in json.loads(atts or "[]"):
            if att.get("sha256"):
                out.setdefault(PurePosixPath(att["path"]).name, []).append(
                    (item_id, att["sha256"], att.get("size"))
                )
    return out


def verify_folder(db: sqlite_utils.Database, folder: Path) -> list[Checked]:
    by_name = _catalog_files(db)
    synced: dict[str, str] = {}
    state = folder / STATE_NAME
    if state.exists():
        conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
        try:
            synced = dict(conn.execute("SELECT name, item_id FROM files").fetchall())
        finally:
            conn.close()
    ids = {}
    if synced:
        for item_id, sha, _ in db.execute("SELECT id, sha256, size FROM items").fetchall():
            ids[item_id] = sha
    out: list[Checked] = []
    for path in sorted(folder.rglob("*")):
        if (
            not path.is_file()
            or path.name.startswith(STATE_NAME)
            or path.name.endswith(PART_SUFFIX)
        ):
            continue
        rel = str(path.relative_to(folder))
        actual, _ = sha256_file(path)
        if rel in synced and synced[rel] in ids:
            expected = ids[synced[rel]]
            out.append(
                Checked(
                    rel, "ok" if actual == expected else "mismatch", synced[rel], expected, actual
                )
            )
            continue
        candidates = by_name.get(path.name, [])
        match = next((c for c in candidates if c[1] == actual), None)
        if match:
            out.append(Checked(rel, "ok", match[0], match[1], actual))
        elif candidates:
            out.append(Checked(rel, "mismatch", candidates[0][0], candidates[0][1], actual))
        else:
            out.append(Checked(rel, "unknown", actual=actual))
    return out
