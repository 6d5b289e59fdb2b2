"""Seeing the pool: watchdog events turned into indexer work, and the full scan."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from .extract import stat_key
from .layout import FEED_DIR, is_catalogued_path, is_internal_name

FILE, GONE_DIR, SCAN_DIR = "file", "gone-dir", "scan-dir"
"""Kinds of work: (re)index or drop one file; drop a folder's files; scan a folder."""


def scan_pool(pool_root: Path, *, top_files: bool = False) -> dict[str, tuple[int, int, int]]:
    """Every catalogued regular file under the pool: {'/TRT/news/a.mxf': stat_key}.

    Files directly in `pool_root` are left out (the pool's root holds only members'
    folders) unless `top_files`, for scanning a folder inside the pool.
    """
    found: dict[str, tuple[int, int, int]] = {}
    stack = [(pool_root, "")]
    while stack:
        folder, rel = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if is_internal_name(name) or (not rel and name == FEED_DIR):
                continue
            child = f"{rel}/{name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), child))
                elif entry.is_file(follow_symlinks=False) and (rel or top_files):
                    found[child] = stat_key(entry.stat(follow_symlinks=False))
            except OSError:
                continue
    return found


class WorkSink(Protocol):
    """What the event handler feeds: the indexer's queue."""

    pool_root: Path

    def submit(self, kind: str, rel: str, size: int | None = None) -> None: ...

    def settle(self, rel: str) -> None: ...

    def rescan_later(self, rel: str) -> None: ...


class EventHandler(FileSystemEventHandler):
    """Turns watchdog events into indexer work; does no I/O of its own."""

    def __init__(self, indexer: WorkSink) -> None:
        self.ix = indexer

    def _rel(self, path: str | bytes) -> str | None:
        text = os.fsdecode(path)
        try:
            rel = Path(text).relative_to(self.ix.pool_root).as_posix()
        except ValueError:
            return None
        return "/" + rel if rel != "." else None

    def on_moved(self, event: FileSystemEvent) -> None:
        src, dest = self._rel(event.src_path), self._rel(event.dest_path)
        if event.is_directory:
            if src:
                self.ix.submit(GONE_DIR, src)
            if dest and is_catalogued_path(dest + "/x"):
                self.ix.submit(SCAN_DIR, dest)
            return
        if src and is_catalogued_path(src):
            self.ix.submit(FILE, src)
        if dest and is_catalogued_path(dest):
            self.ix.submit(FILE, dest)  # the rename is the completion signal

    def on_created(self, event: FileSystemEvent) -> None:
        rel = self._rel(event.src_path)
        if rel is None:
            return
        if event.is_directory:
            if is_catalogued_path(rel + "/x"):
                self.ix.submit(SCAN_DIR, rel)
                # inotify watches a new folder only once told about it: files made in it
                # meanwhile send no event. A second look a moment later finds them.
                self.ix.rescan_later(rel)
        elif is_catalogued_path(rel):
            self.ix.settle(rel)

    on_modified = on_created

    def on_closed(self, event: FileSystemEvent) -> None:
        rel = self._rel(event.src_path)
        if rel and not event.is_directory and is_catalogued_path(rel):
            self.ix.submit(FILE, rel)

    def on_deleted(self, event: FileSystemEvent) -> None:
        rel = self._rel(event.src_path)
        if rel is None:
            return
        if event.is_directory:
            self.ix.submit(GONE_DIR, rel)
        elif is_catalogued_path(rel):
            self.ix.submit(FILE, rel)
