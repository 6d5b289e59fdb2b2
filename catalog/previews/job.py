"""One preview job: probe the essence, run ffmpeg once into a work folder, check what it
made, choose the poster, then publish into ``pool/.catalog/previews/<ITEM-ID>/``.

Publishing renames each finished file over its old version (so a reader always finds a
complete file under every published name, the new or the old one) and then removes
names the new set lacks. Nothing half-written is ever under a published name: ffmpeg
writes into a hidden work folder (``.ortak-work-...``) beside the item folders.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import PreviewError
from ..layout import FEED_DIR, INTERNAL_PREFIX
from . import plan, runner
from .tools import Source, Tools, probe

PREVIEWS_DIR = "previews"
MIN_TIMEOUT = 60.0
UNKNOWN_DURATION_BYTES_PER_S = 5e6
"""The time limit of a file that declares no duration: this many bytes a second."""
SHORT_BY = 0.9
"""A decode that ends before this share of the declared duration (less one second) is a
truncated or damaged file: failed, not published."""


def previews_root(pool_root: Path) -> Path:
    return pool_root / FEED_DIR / PREVIEWS_DIR


def item_folder(pool_root: Path, item_id: str) -> Path:
    if not item_id or "/" in item_id or item_id.startswith("."):
        raise PreviewError(f"bad item id {item_id!r}")
    return previews_root(pool_root) / item_id


@dataclass
class JobSettings:
    options: plan.Options
    nice: int = 10
    timeout_factor: float = 4.0


def _nonempty(path: Path) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise PreviewError(f"ffmpeg made no {path.name}") from None
    if size == 0:
        raise PreviewError(f"ffmpeg made an empty {path.name}")
    return size


def _check_complete(work: Path, src: Source) -> None:
    duration = src.duration
    if src.has_video:
        got: float | None = len(list(work.glob("cand-*.jpg"))) * duration / plan.CANDIDATES
    else:
        try:
            got = plan.decoded_seconds((work / plan.PROGRESS).read_text("utf-8", "replace"))
        except FileNotFoundError:
            return
    if got is not None and duration > 0 and got < duration * SHORT_BY - 1.0:
        raise PreviewError(
            f"the file ends early: {got:.1f} s of {duration:.1f} s could be decoded "
            "(truncated or damaged?)"
        )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _lay_out_strip(
    tools: Tools,
    strip: plan.Strip,
    src: Source,
    work: Path,
    settings: JobSettings,
    stop: threading.Event,
) -> list[float]:
    """Choose the strip's tiles among the thumbnails the decode made (one an interval,
    one at each cut), lay them out in strip.jpg (a small ffmpeg run over a few hundred
    KB); returns the tiles' times."""
    size = strip.thumb_w * strip.thumb_h * 3 // 2
    regular = _read(work / plan.THUMBS_RAW)
    cut_frames = _read(work / plan.CUTS_RAW)
    cuts = plan.cut_times(_read(work / plan.CUTS_LOG).decode("utf-8", "replace"))
    cuts = cuts[: len(cut_frames) // size]
    tiles = plan.strip_choice(strip, len(regular) // size, cuts, src.frame_rate)
    if not tiles:
        raise PreviewError("ffmpeg made no strip thumbnail")
    with open(work / plan.CHOSEN_RAW, "wb") as out:
        for tile in tiles:
            frames = cut_frames if tile.cut else regular
            out.write(frames[tile.index * size : (tile.index + 1) * size])
    cmd = plan.strip_command(tools.ffmpeg, strip, work)
    log = work / "strip.log"
    runner.run(cmd, timeout=MIN_TIMEOUT, nice=settings.nice, log_path=log, stop=stop)
    _nonempty(work / plan.STRIP_NAME)
    return [tile.time for tile in tiles]


def make(
    tools: Tools,
    source: Path,
    work: Path,
    settings: JobSettings,
    stop: threading.Event,
    gate: runner.Gate | None = None,
) -> list[str]:
    """Make the previews of `source` in `work`; returns the names made (VIDEO_FILES or
    AUDIO_FILES). PreviewError when the file cannot be previewed."""
    src = probe(tools, source)
    timeout = max(MIN_TIMEOUT, src.duration * settings.timeout_factor)
    if src.duration <= 0:  # no duration declared: allow a slow decode of its bytes
        timeout = max(timeout, source.stat().st_size / UNKNOWN_DURATION_BYTES_PER_S)
    log = work / "ffmpeg.log"
    if src.has_video:
        cmd, strip = plan.video_command(tools.ffmpeg, source, src, settings.options, work)
        runner.run(cmd, timeout=timeout, nice=settings.nice, log_path=log, stop=stop, gate=gate)
        _check_complete(work, src)
        _nonempty(work / plan.PROXY_NAME)
        raw = _read(work / plan.CANDIDATE_RAW)
        made = sorted(work.glob("cand-*.jpg"))
        if not made:
            raise PreviewError("ffmpeg decoded no picture")
        pick = plan.choose_poster(raw, len(made), src.duration)
        os.replace(made[min(pick, len(made) - 1)], work / plan.POSTER_NAME)
        times = _lay_out_strip(tools, strip, src, work, settings, stop)
        (work / plan.VTT_NAME).write_text(plan.strip_vtt(strip, src.duration, times=times), "utf-8")
        return list(plan.VIDEO_FILES)
    cmd = plan.audio_command(tools.ffmpeg, source, src, work)
    runner.run(cmd, timeout=timeout, nice=settings.nice, log_path=log, stop=stop, gate=gate)
    _check_complete(work, src)
    for name in plan.AUDIO_FILES:
        _nonempty(work / name)
    return list(plan.AUDIO_FILES)


def work_folder(pool_root: Path, item_id: str) -> Path:
    """A fresh hidden folder for one job, on the same file system as the published one."""
    root = previews_root(pool_root)
    root.mkdir(parents=True, exist_ok=True)
    work = root / f"{INTERNAL_PREFIX}work-{item_id}-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    return work


def sweep_work_folders(pool_root: Path) -> int:
    """Remove the work folders of jobs that died (called before any job starts)."""
    root = previews_root(pool_root)
    if not root.is_dir():
        return 0
    gone = 0
    for entry in root.iterdir():
        if entry.name.startswith(INTERNAL_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
            gone += 1
    return gone


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(work: Path, dest: Path, names: list[str]) -> dict[str, int]:
    """Move the finished files into `dest` (each by one rename over its old version),
    then drop preview files the new set lacks. Returns {name: size}."""
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[str, int] = {}
    for name in names:
        _fsync(work / name)
        files[name] = (work / name).stat().st_size
    # the proxy last: a reader seeing the new proxy finds the new poster and strip too
    for name in sorted(names, key=lambda n: n in (plan.PROXY_NAME, plan.AUDIO_PROXY_NAME)):
        os.replace(work / name, dest / name)
    for stale in plan.ALL_FILES - set(names):
        with contextlib.suppress(FileNotFoundError):
            (dest / stale).unlink()
    _fsync(dest)
    return files


def remove(pool_root: Path, item_id: str) -> bool:
    """Remove an item's published previews; True if there were any."""
    folder = item_folder(pool_root, item_id)
    if not folder.exists():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True
