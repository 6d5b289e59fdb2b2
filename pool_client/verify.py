"""`pool verify`: files on disk against what the pool signed, offline.

`verify_folder` re-hashes every file of a folder and finds, by sha256, the published item
version that holds it (the local catalog keeps every manifest), checking that manifest's
pool signature with the pool's keys as pinned. A file that a folder kept by `pool sync`
(``.pool-sync.db``) or its name says is an item's, but whose bytes no published manifest
names, is a ``mismatch``; other strangers are ``unknown``. ``*.manifest.json`` files
(`pool get --manifest`) are checked too. `identify_file` says what one loose file is.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .provenance import MANIFEST_SUFFIX, Checker, Origin, check_bundle, origins
from .sync import STATE_NAME
from .transfer import PART_SUFFIX, sha256_file

if TYPE_CHECKING:
    import sqlite_utils

BAD = frozenset({"mismatch", "signature invalid"})


@dataclass
class Checked:
    name: str
    status: str
    """'ok', 'mismatch', 'signature invalid' or 'unknown' (never published)."""
    item: str | None = None
    version: int | None = None
    expected: str | None = None
    actual: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _catalog_names(db: sqlite_utils.Database) -> dict[str, list[tuple[str, str]]]:
    """name → [(item id, sha256)] over every file of every current item."""
    out: dict[str, list[tuple[str, str]]] = {}
    for item_id, path, sha in db.execute(
        "SELECT item_id, path, sha256 FROM manifest_files"
        " WHERE (item_id, version) IN (SELECT id, json_extract(manifest, '$.version')"
        " FROM items)"
    ).fetchall():
        out.setdefault(PurePosixPath(path).name, []).append((item_id, sha))
    for item_id, path, sha in db.execute(
        "SELECT id, path, sha256 FROM items WHERE coalesce(manifest, 'null') = 'null'"
    ).fetchall():
        out.setdefault(PurePosixPath(path).name, []).append((item_id, sha))
    return out


def _synced(folder: Path) -> dict[str, str]:
    state = folder / STATE_NAME
    if not state.exists():
        return {}
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT name, item_id FROM files").fetchall())
    finally:
        conn.close()


def verify_folder(db: sqlite_utils.Database, folder: Path, checker: Checker) -> list[Checked]:
    by_name = _catalog_names(db)
    synced = _synced(folder)
    out: list[Checked] = []
    for path in sorted(folder.rglob("*")):
        if (
            not path.is_file()
            or path.name.startswith(STATE_NAME)
            or path.name.endswith(PART_SUFFIX)
        ):
            continue
        rel = str(path.relative_to(folder))
        if path.name.endswith(MANIFEST_SUFFIX):
            verdict = check_bundle(path, checker)
            status = "ok" if verdict == "ok" else "signature invalid"
            out.append(Checked(rel, status, detail=None if verdict == "ok" else verdict))
            continue
        actual, _ = sha256_file(path)
        found = origins(db, actual, checker)
        if found:
            best = found[0]
            ok = best.pool_signature == "verified" or (
                best.pool_key is None and not checker.required
            )
            out.append(
                Checked(
                    rel,
                    "ok" if ok else "signature invalid",
                    best.item,
                    best.version,
                    actual=actual,
                    detail=None if ok else best.pool_signature,
                )
            )
            continue
        candidates = by_name.get(path.name, [])
        if rel in synced:
            candidates = [c for c in candidates if c[0] == synced[rel]] or [(synced[rel], "")]
        same = next((c for c in candidates if c[1] == actual), None)
        if same is not None:  # an item of a pool that signs nothing
            out.append(Checked(rel, "ok", same[0], expected=same[1], actual=actual))
        elif candidates:
            item_id, expected = candidates[0]
            out.append(Checked(rel, "mismatch", item_id, expected=expected, actual=actual))
        else:
            out.append(Checked(rel, "unknown", actual=actual))
    return out


def identify_file(
    db: sqlite_utils.Database, path: Path, checker: Checker
) -> tuple[str, list[Origin]]:
    """(sha256, the published item versions holding these bytes) of a loose file."""
    actual, _ = sha256_file(path)
    return actual, origins(db, actual, checker)
