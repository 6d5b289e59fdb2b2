"""The permission matrix the issue specifies, written out by hand as the expectation
(independent of pool_server.policy), shared by the FTP and SFTP tests.

Every cell: role x action x area -> allowed? The test users are `admin`, `trt-up`
(contributor of TRT) and `news` (reader); "own" is TRT's area for all three.
"""

from __future__ import annotations

import os
from pathlib import Path

ROLES = {"admin": "admin", "contributor": "trt-up", "reader": "news"}
ACTIONS = ("list", "download", "mkdir", "upload", "overwrite", "rename", "delete")
AREAS = {"own": "/TRT/m", "other": "/AZTV/m", "root": "", "catalog": "/.catalog/m"}

_READ = {"list", "download"}


def expected(role: str, action: str, area: str) -> bool:
    if role == "admin" or action in _READ:
        return True
    if role == "contributor":
        return area == "own"
    return False


CELLS = [(r, a, ar) for r in ROLES for ar in AREAS for a in ACTIONS]

EXISTING = b"existing bytes\n"


def prepare(pool_root: Path) -> None:
    """Lay out every area with an existing file, and nothing else the ops create."""
    for base in AREAS.values():
        folder = pool_root / base.lstrip("/") if base else pool_root
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "existing.bin").write_bytes(EXISTING)
        for leftover in ("new.bin", "renamed.bin"):
            if (folder / leftover).exists():
                os.unlink(folder / leftover)
        if (folder / "newdir").is_dir():
            (folder / "newdir").rmdir()


def effect_seen(pool_root: Path, area: str, action: str) -> bool:
    """Did `action` change the disk in `area` as an allowed operation would have?"""
    base = AREAS[area]
    folder = pool_root / base.lstrip("/") if base else pool_root
    existing = folder / "existing.bin"
    if action == "mkdir":
        return (folder / "newdir").is_dir()
    if action == "upload":
        return (folder / "new.bin").exists()
    if action == "overwrite":
        return existing.read_bytes() != EXISTING
    if action == "rename":
        return (folder / "renamed.bin").exists() and not existing.exists()
    if action == "delete":
        return not existing.exists()
    return False  # list and download change nothing
