"""Catalog-equals-disk checks shared by the crash and property tests."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from catalog.items import item_id, item_key
from catalog.watch import scan_pool


def disk_state(pool: Path) -> dict[str, str]:
    """{pool path: sha256} of every file the catalog should hold."""
    return {
        rel: hashlib.sha256((pool / rel.lstrip("/")).read_bytes()).hexdigest()
        for rel in scan_pool(pool)
    }


def catalog_problems(db_path: Path, disk: dict[str, str]) -> list[str]:
    """Everything in which the catalog differs from `disk`; [] when equal."""
    con = sqlite3.connect(db_path, timeout=30)
    try:
        files = dict(con.execute("SELECT path, sha256 FROM item_files").fetchall())
        items = con.execute("SELECT id, key, path, sha256 FROM items").fetchall()
        fts = con.execute("SELECT count(*) FROM items_fts").fetchone()[0]
        seqs = [r[0] for r in con.execute("SELECT seq FROM journal ORDER BY seq")]
    finally:
        con.close()
    problems = []
    if files != disk:
        ghosts = sorted(set(files) - set(disk))
        missing = sorted(set(disk) - set(files))
        stale = sorted(p for p in set(files) & set(disk) if files[p] != disk[p])
        problems.append(f"files: ghosts {ghosts[:5]}, missing {missing[:5]}, stale {stale[:5]}")
    keys = {item_key(p) for p in disk}
    if sorted(k for _, k, _, _ in items) != sorted(keys):
        problems.append(f"items: {len(items)} rows for {len(keys)} keys")
    if len({i for i, _, _, _ in items}) != len(items):
        problems.append("duplicate item ids")
    for iid, key, path, sha in items:
        if iid != item_id(key) or disk.get(path) != sha:
            problems.append(f"item {key}: primary {path} does not match the disk")
    if fts != len(items):
        problems.append(f"items_fts has {fts} rows for {len(items)} items")
    if seqs != sorted(set(seqs)):
        problems.append("journal sequence not strictly increasing")
    return problems
