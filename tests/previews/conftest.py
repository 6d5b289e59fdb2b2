"""Fixtures of the preview tests: real clips made by ffmpeg (short, small), a real
indexer and preview service on a real pool folder and SQLite catalog."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.indexer import Indexer
from catalog.previews.service import PreviewService
from catalog.previews.tools import find_tools
from catalog.settings import SETTINGS
from catalog.store import get_item_row

from ..catalog.conftest import put, wait_for

TOOLS = find_tools()
FF = [TOOLS.ffmpeg, "-v", "error", "-y"]

PREVIEW_SETTINGS: dict[str, Any] = {
    "proxy_height": 180,
    "proxy_video_bitrate": "300k",
    "strip_interval_seconds": 1.0,
    "nice": 5,
    "express_max_seconds": 10.0,
}
"""Small and fast: the suite runs on two cores."""

TIMECODE = "10:00:00:00"


def _lavfi(spec: str) -> list[str]:
    return ["-f", "lavfi", "-i", spec]


def xdcam_args(seconds_of_picture: float) -> list[str]:
    """Interlaced MPEG-2 4:2:2 in MXF OP1a, anamorphic 16:9 SD (SAR 64:45), two mono
    PCM tracks, start timecode 10:00:00:00; 1 s of colour bars and 0.5 s of black at
    the head, then picture."""
    total = 1.5 + seconds_of_picture
    return [
        *_lavfi("smptebars=size=720x576:rate=25:d=1"),
        *_lavfi("color=black:size=720x576:rate=25:d=0.5"),
        *_lavfi(f"testsrc2=size=720x576:rate=25:d={seconds_of_picture}"),
        *_lavfi(f"sine=frequency=1000:sample_rate=48000:d={total}"),
        *_lavfi(f"sine=frequency=500:sample_rate=48000:d={total}"),
        "-filter_complex",
        "[0:v][1:v][2:v]concat=n=3:v=1:a=0,setsar=64/45[v]",
        "-map",
        "[v]",
        "-map",
        "3:a",
        "-map",
        "4:a",
        "-c:v",
        "mpeg2video",
        "-pix_fmt",
        "yuv422p",
        "-b:v",
        "8M",
        "-flags",
        "+ildct+ilme",
        "-top",
        "1",
        "-c:a",
        "pcm_s24le",
        "-timecode",
        TIMECODE,
        "-f",
        "mxf",
    ]


def make_media(folder: Path) -> dict[str, Path]:
    jobs: dict[str, list[str]] = {
        "xdcam.mxf": xdcam_args(2.0),
        "prores.mov": [
            *_lavfi("testsrc2=size=320x240:rate=25:d=2"),
            *_lavfi("sine=frequency=700:sample_rate=48000:d=2"),
            "-c:v",
            "prores_ks",
            "-profile:v",
            "0",
            "-c:a",
            "pcm_s16le",
            "-ac",
            "2",
        ],
        "h264.mp4": [
            *_lavfi("testsrc2=size=480x270:rate=25:d=3"),
            *_lavfi("sine=frequency=300:sample_rate=48000:d=3"),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            "2",
        ],
        "audio.wav": [
            *_lavfi("sine=frequency=440:sample_rate=48000:d=2"),
            "-ac",
            "2",
            "-c:a",
            "pcm_s16le",
        ],
        "long.mp4": [  # the "documentary": long enough to still be transcoding
            *_lavfi("testsrc2=size=640x360:rate=25:d=40"),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ],
    }
    procs = {
        name: subprocess.Popen([*FF, *args, str(folder / name)]) for name, args in jobs.items()
    }
    for name, proc in procs.items():
        assert proc.wait(timeout=120) == 0, f"ffmpeg could not make {name}"
    made = {name: folder / name for name in jobs}
    data = made["xdcam.mxf"].read_bytes()
    made["truncated.mxf"] = folder / "truncated.mxf"
    made["truncated.mxf"].write_bytes(data[: len(data) * 2 // 5])
    made["random.mxf"] = folder / "random.mxf"
    made["random.mxf"].write_bytes(bytes((i * 7919 + 13) % 251 for i in range(200_000)))
    return made


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_media(tmp_path_factory.mktemp("preview-media"))


def ffprobe(path: Path) -> dict[str, Any]:
    assert TOOLS.ffprobe, "the tests need ffprobe (Debian's ffmpeg package has it)"
    out = subprocess.run(
        [
            TOOLS.ffprobe,
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return json.loads(out)


def gray_frame(path: Path, width: int, height: int, *extra: str) -> bytes:
    """The first frame of `path` as raw 8-bit grey pixels."""
    return subprocess.run(
        [
            *FF,
            "-i",
            str(path),
            *extra,
            "-frames:v",
            "1",
            "-s",
            f"{width}x{height}",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout


class Rig:
    """An indexer feeding a preview service, on `pool` and `db_path`."""

    def __init__(self, pool: Path, db_path: Path, data_dir: Path, settings: dict[str, Any]):
        self.pool, self.db_path, self.data_dir = pool, db_path, data_dir
        self.preview_settings = {**PREVIEW_SETTINGS, **settings}
        catalog = {name: default for name, default, _ in SETTINGS}
        catalog.update({"settle_seconds": 0.3})
        self.previews = PreviewService(pool, db_path, data_dir, self.preview_settings)
        self.indexer = Indexer(pool, db_path, catalog, previews=self.previews)

    def start(self, previews: bool = True) -> None:
        if previews:
            self.previews.start()
        self.indexer.start()

    def stop(self) -> None:
        self.indexer.stop()
        self.previews.stop()

    def item(self, key: str) -> dict[str, Any] | None:
        with self.indexer.lock:
            return get_item_row(self.indexer.db, key=key)

    def preview(self, key: str) -> dict[str, Any]:
        row = self.item(key)
        return (row or {}).get("preview") or {}

    def wait_state(self, key: str, *states: str, timeout: float = 60) -> dict[str, Any]:
        got = wait_for(lambda: self.preview(key).get("state") in states, timeout=timeout)
        assert got, f"{key}: preview {self.preview(key)} never reached {states}"
        return self.preview(key)

    def folder(self, key: str) -> Path:
        row = self.item(key)
        assert row is not None, f"{key} is not catalogued"
        return self.pool / ".catalog" / "previews" / row["id"]

    def put(self, rel: str, source: Path) -> Path:
        return put(self.pool, rel, source.read_bytes())


@pytest.fixture
def rig_factory(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def factory(start: bool = True, **settings: Any) -> Rig:
        pool = tmp_path / "pool"
        for member in ("TRT", "AZTV"):
            for category in ("news", "documentaries"):
                (pool / member / category).mkdir(parents=True, exist_ok=True)
        rig = Rig(pool, tmp_path / "pool.db", tmp_path, settings)
        made.append(rig)
        if start:
            rig.start()
        return rig

    yield factory
    for rig in made:
        rig.stop()


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = wait_for(
        lambda: not [t for t in threading.enumerate() if t not in before and t.is_alive()],
        timeout=5,
    )
    assert leaked, f"threads left running: {set(threading.enumerate()) - before}"
