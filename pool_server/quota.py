"""Quota accounting per member area: bytes used (final files and partials alike),
computed once by a walk and then kept by the deltas of the pool's own operations."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from catalog.errors import QueryError
from catalog.units import format_size as format_size  # re-exported for the doors
from catalog.units import parse_size as parse_bytes

from .errors import QuotaExceeded, UsageError


def parse_size(text: str) -> int:
    """'500G' -> bytes (binary units: K = 1024; catalog.units.parse_size); '0' means
    unlimited."""
    try:
        return parse_bytes(text)
    except QueryError as err:
        raise UsageError(f"size {err}")


def tree_size(path: Path) -> int:
    """Bytes in regular files below `path` (links not followed)."""
    total = 0
    stack = [os.fspath(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue
        except (FileNotFoundError, NotADirectoryError):
            continue
    return total


class QuotaLedger:
    """Bytes used per member area, safe across front-door threads."""

    def __init__(self, pool_root: Path, limit_of: Callable[[str], int]) -> None:
        self.pool_root = pool_root
        self.limit_of = limit_of
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def used(self, member: str) -> int:
        with self._lock:
            if member not in self._used:
                self._used[member] = tree_size(self.pool_root / member)
            return self._used[member]

    def charge(self, member: str, nbytes: int, limit: int) -> None:
        """Count `nbytes` more against `member`, or raise `QuotaExceeded` (nothing counted)."""
        used = self.used(member)
        with self._lock:
            if limit and used + nbytes > limit:
                raise QuotaExceeded(
                    f"quota of member {member} exceeded ({format_size(used)} of "
                    f"{format_size(limit)} used)"
                )
            self._used[member] = used + nbytes

    def credit(self, member: str, nbytes: int) -> None:
        """Give back `nbytes` (a deleted file, a discarded partial, a replaced version)."""
        with self._lock:
            if member in self._used:
                self._used[member] = max(0, self._used[member] - nbytes)

    def forget(self) -> None:
        """Drop the running totals; the next use walks the disk again (corrects drift)."""
        with self._lock:
            self._used.clear()
