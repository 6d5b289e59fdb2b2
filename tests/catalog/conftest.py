"""Fixtures of the catalog tests: real files, real SQLite, real watchdog, real ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.indexer import Indexer
from catalog.settings import SETTINGS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
"""Copies of the sample sidecars of the design notes (shared/examples)."""


def ffmpeg_exe() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, step: float = 0.02) -> Any:
    """Poll `condition` until truthy or `timeout` seconds pass; returns its last value.
    The default bound is generous (a loaded 2-core machine indexes slowly); a hang still
    fails."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One-second clips: MXF OP1a MPEG-2 4:2:2 with timecode, MOV ProRes with a Turkish
    audio track, MP4 H.264 with a Kazakh one."""
    folder = tmp_path_factory.mktemp("media")
    ff = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i"]
    sine = ["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-t", "1"]
    jobs = {
        "mxf": [
            "testsrc=size=720x576:rate=25",
            *sine,
            "-c:v",
            "mpeg2video",
            "-pix_fmt",
            "yuv422p",
            "-b:v",
            "10M",
            "-flags",
            "+ildct+ilme",
            "-vf",
            "setfield=tff",  # top field first (`-top 1` is gone from newer ffmpeg)
            "-c:a",
            "pcm_s24le",
            "-ac",
            "1",
            "-timecode",
            "10:00:00:00",
            "-f",
            "mxf",
        ],
        "mov": [
            "testsrc=size=320x240:rate=25",
            *sine,
            "-c:v",
            "prores_ks",
            "-profile:v",
            "3",
            "-c:a",
            "pcm_s16le",
            "-metadata:s:a:0",
            "language=tur",
            "-metadata",
            "title=Nevruz",
        ],
        "mp4": [
            "testsrc=size=320x240:rate=25",
            *sine,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-metadata:s:a:0",
            "language=kaz",
        ],
    }
    procs = {
        ext: subprocess.Popen([*ff, *args, str(folder / f"clip.{ext}")])
        for ext, args in jobs.items()
    }
    for ext, proc in procs.items():
        assert proc.wait(timeout=60) == 0, f"ffmpeg could not make the {ext} clip"
    return {ext: folder / f"clip.{ext}" for ext in jobs}


@pytest.fixture
def settings() -> dict[str, Any]:
    values = {name: default for name, default, _ in SETTINGS}
    values.update({"settle_seconds": 0.3, "snapshot_every_changes": 50})
    return values


@pytest.fixture
def pool(tmp_path: Path) -> Path:
    root = tmp_path / "pool"
    for member in ("TRT", "AZTV", "QAZAQ", "MTRK", "KTRK", "MTVA"):
        (root / member / "news").mkdir(parents=True)
    return root


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "pool.db"


@pytest.fixture
def indexer(pool: Path, db_path: Path, settings: dict[str, Any]) -> Iterator[Indexer]:
    """A started indexer (watchdog + workers), stopped and joined after the test."""
    ix = Indexer(pool, db_path, settings)
    ix.start()
    try:
        assert ix.wait_idle(30)
        yield ix
    finally:
        ix.stop()


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = wait_for(
        lambda: not [t for t in threading.enumerate() if t not in before and t.is_alive()],
        timeout=5,
    )
    assert leaked, f"threads left running: {set(threading.enumerate()) - before}"


def put(root: Path, rel: str, data: bytes | str) -> Path:
    """Write a file the way uploads land: a hidden partial, then a rename into place."""
    target = root / rel.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.parent / f".ortak-part-{target.name}"
    part.write_bytes(data.encode() if isinstance(data, str) else data)
    part.replace(target)
    return target


def pytest_configure(config: pytest.Config) -> None:
    # watchdog's inotify emitter warns when a new folder's watch is registered twice
    # (a race inside watchdog, harmless: the second registration replaces the first).
    config.addinivalue_line("filterwarnings", "ignore:Callback with id:RuntimeWarning")
