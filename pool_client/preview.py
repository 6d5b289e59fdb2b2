"""`pool preview`: an item's previews from ``/.catalog/previews/<ITEM-ID>/``, and
opening the proxy in the desktop's player.

The files and their sizes come from the item's `preview` record in the local catalog;
each download is resumable (``NAME.part``) and size-checked by `transfer.fetch`. A file
already here with the right size, made from the same essence (the `source_sha256`
noted in ``.preview-source``), is not fetched again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .downloads import Job, Outcome, run_downloads
from .errors import NotFound, UsageError
from .feedpath import FEED
from .progress import Display
from .remote import Remote
from .transfer import RateLimiter

ORDER = ("poster.jpg", "strip.jpg", "strip.vtt", "waveform.png", "proxy.mp4", "proxy.m4a")
PROXIES = ("proxy.mp4", "proxy.m4a")
SOURCE_NOTE = ".preview-source"


@dataclass
class PreviewResult:
    item_id: str
    state: str
    folder: Path
    outcomes: list[Outcome]
    skipped: list[str]

    @property
    def proxy(self) -> Path | None:
        for name in PROXIES:
            path = self.folder / name
            if path.exists():
                return path
        return None


def preview_files(item: dict[str, Any]) -> dict[str, int]:
    """{name: size} the item's preview record lists; NotFound with the reason if none."""
    record = item.get("preview") or {}
    files = {n: int(s) for n, s in (record.get("files") or {}).items() if n in ORDER}
    if files:
        return dict(sorted(files.items(), key=lambda kv: ORDER.index(kv[0])))
    state = record.get("state") or "unknown"
    if state == "failed":
        raise NotFound(f"{item['id']}: no previews: making them failed: {record.get('error')}")
    if state == "pending":
        raise NotFound(f"{item['id']}: previews are being made; try again in a moment")
    raise NotFound(f"{item['id']}: has no previews (no video or audio)")


def fetch_previews(
    remote: Remote,
    item: dict[str, Any],
    dest: Path,
    *,
    display: Display,
    on_retry: Callable[[Exception, float], None] | None = None,
) -> PreviewResult:
    files = preview_files(item)
    record = item.get("preview") or {}
    folder = dest / item["id"]
    folder.mkdir(parents=True, exist_ok=True)
    note = folder / SOURCE_NOTE
    source = str(record.get("source_sha256") or "")
    same_source = note.exists() and note.read_text("utf-8").strip() == source
    jobs, skipped = [], []
    for name, size in files.items():
        local = folder / name
        if same_source and local.exists() and local.stat().st_size == size:
            skipped.append(name)
            continue
        remote_path = f"{FEED}/previews/{item['id']}/{name}"
        jobs.append(Job(remote_path, local, None, size, f"{item['id']}/{name}", tag=name))
    outcomes = run_downloads(
        remote,
        jobs,
        parallel=1,
        limiter=RateLimiter(None),
        display=display,
        on_retry=on_retry,
    )
    if all(o.error is None for o in outcomes):
        note.write_text(source + "\n", "utf-8")
    return PreviewResult(item["id"], str(record.get("state")), folder, outcomes, skipped)


def open_in_player(path: Path) -> None:
    """Open `path` with the desktop's opener: $POOL_OPENER, else xdg-open (Linux and
    BSDs), open (macOS) or the associated program (Windows)."""
    opener = os.environ.get("POOL_OPENER")
    if not opener:
        if sys.platform == "darwin":
            opener = "open"
        elif sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined]
            return
        else:
            opener = "xdg-open"
    exe = shutil.which(opener)
    if exe is None:
        raise UsageError(f"cannot open {path}: no `{opener}` here (set POOL_OPENER to your player)")
    subprocess.Popen(
        [exe, str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
