"""Previews of real clips made by ffmpeg: every kind of item reaches `ready` with files
ffprobe confirms; hostile files fail without harming the worker; new versions and
deletions follow; news jumps the queue."""

from __future__ import annotations

import json
import re
import sqlite3
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

from catalog.feed_reader import sync_from_folder
from catalog.previews import plan
from catalog.previews.tools import find_tools

from ..catalog.conftest import wait_for
from .conftest import TIMECODE, ffprobe, gray_frame

KEYS = {
    "xdcam.mxf": "/TRT/news/interview",
    "prores.mov": "/TRT/documentaries/nevruz",
    "h264.mp4": "/AZTV/news/flood",
    "audio.wav": "/AZTV/news/radio",
}


def top_level_atoms(path: Path) -> list[str]:
    """The names of an MP4's top-level boxes, in file order."""
    names = []
    with open(path, "rb") as f:
        while header := f.read(8):
            size, name = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0] - 8
            names.append(name.decode("latin-1"))
            f.seek(size - 8, 1)
    return names


def check_proxy(proxy: Path, duration: float) -> dict:
    info = ffprobe(proxy)
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert [s["codec_name"] for s in video] == ["h264"]
    assert [s["codec_name"] for s in audio] == ["aac"] and audio[0]["channels"] == 2
    v = video[0]
    assert v["width"] <= 640 and v["height"] <= 360
    assert v.get("field_order", "progressive") == "progressive"
    assert abs(float(info["format"]["duration"]) - duration) < 0.3
    atoms = top_level_atoms(proxy)
    assert atoms.index("moov") < atoms.index("mdat"), f"not faststart: {atoms}"
    return v


def test_every_kind_of_item_gets_its_previews(rig_factory, media):
    rig = rig_factory()
    for name, key in KEYS.items():
        rig.put(key + Path(name).suffix, media[name])
    for key in KEYS.values():
        state = rig.wait_state(key, "ready", "failed")
        assert state["state"] == "ready", state
        assert state["error"] is None
        assert state["source_sha256"] == rig.item(key)["sha256"]

    # the XDCAM-style MXF: interlaced, anamorphic 16:9 SD, two mono tracks, timecode
    folder = rig.folder(KEYS["xdcam.mxf"])
    files = rig.preview(KEYS["xdcam.mxf"])["files"]
    assert set(files) == set(plan.VIDEO_FILES)
    assert {p.name for p in folder.iterdir()} == set(plan.VIDEO_FILES)
    assert all((folder / n).stat().st_size == size for n, size in files.items())
    v = check_proxy(folder / "proxy.mp4", 3.5)
    assert (v["width"], v["height"]) == (320, 180)  # 16:9 honoured, within proxy_height
    poster = ffprobe(folder / "poster.jpg")["streams"][0]
    assert (poster["codec_name"], poster["width"], poster["height"]) == ("mjpeg", 640, 360)
    strip = ffprobe(folder / "strip.jpg")["streams"][0]
    assert (strip["width"], strip["height"]) == (4 * 160, 90)  # 3.5 s, one every second
    vtt = (folder / "strip.vtt").read_text()
    assert vtt.startswith("WEBVTT\n")
    cues = [line for line in vtt.splitlines() if "#xywh=" in line]
    assert cues == [f"strip.jpg#xywh={i * 160},0,160,90" for i in range(4)]
    assert re.search(r"^00:00:03\.000 --> 00:00:03\.5\d\d$", vtt, re.M), vtt

    # ProRes MOV and H.264 MP4
    v = check_proxy(rig.folder(KEYS["prores.mov"]) / "proxy.mp4", 2.0)
    assert (v["width"], v["height"]) == (240, 180)  # 4:3 kept
    v = check_proxy(rig.folder(KEYS["h264.mp4"]) / "proxy.mp4", 3.0)
    assert (v["width"], v["height"]) == (320, 180)

    # audio only: a waveform and an AAC proxy
    folder = rig.folder(KEYS["audio.wav"])
    assert set(rig.preview(KEYS["audio.wav"])["files"]) == set(plan.AUDIO_FILES)
    wave = ffprobe(folder / "waveform.png")["streams"][0]
    assert (wave["codec_name"], wave["width"], wave["height"]) == ("png", 1280, 240)
    m4a = ffprobe(folder / "proxy.m4a")
    assert [s["codec_name"] for s in m4a["streams"]] == ["aac"]
    assert abs(float(m4a["format"]["duration"]) - 2.0) < 0.2
    atoms = top_level_atoms(folder / "proxy.m4a")
    assert atoms.index("moov") < atoms.index("mdat")


def test_proxy_shows_the_source_timecode_on_its_first_frame(rig_factory, media, tmp_path):
    rig = rig_factory()
    key = KEYS["xdcam.mxf"]
    rig.put(key + ".mxf", media["xdcam.mxf"])
    assert rig.wait_state(key, "ready", "failed")["state"] == "ready"
    w, h = 320, 180
    proxy = gray_frame(rig.folder(key) / "proxy.mp4", w, h)

    def reference(timecode: str) -> bytes:
        """The same drawtext on a grey frame of the proxy's size."""
        out = tmp_path / f"ref-{timecode.replace(':', '')}.png"
        tc_filter = plan.timecode_filter(timecode, Fraction(25), h)
        subprocess.run(
            [
                find_tools().ffmpeg,
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"color=gray:size={w}x{h}:rate=25:d=0.04",
                "-vf",
                tc_filter,
                "-frames:v",
                "1",
                str(out),
            ],
            check=True,
            timeout=30,
        )
        return gray_frame(out, w, h)

    right = reference(TIMECODE)
    # the box of the burnt-in timecode: every pixel the drawtext changed
    background = right[0]  # the top left corner: untouched grey
    box = [i for i, px in enumerate(right) if abs(px - background) > 3]
    assert len(box) > 200, "the reference shows no timecode"
    assert min(box) > w * h // 2, "the timecode is not at the bottom"

    def distance(frame: bytes) -> float:
        return sum(abs(frame[i] - proxy[i]) for i in box) / len(box)

    wrong = reference("10:00:07:13")
    assert distance(right) < 12, f"the proxy's timecode differs: {distance(right):.1f}"
    assert distance(wrong) > 2 * distance(right) + 5, "the comparison cannot tell timecodes"


def test_poster_skips_colour_bars_and_black(rig_factory, media):
    rig = rig_factory()
    key = KEYS["xdcam.mxf"]
    rig.put(key + ".mxf", media["xdcam.mxf"])
    assert rig.wait_state(key, "ready", "failed")["state"] == "ready"
    poster = rig.folder(key) / "poster.jpg"
    head = gray_frame(media["xdcam.mxf"], 64, 36)  # the first frame: colour bars
    shot = gray_frame(poster, 64, 36)
    mean = sum(shot) / len(shot)
    assert mean > 40, f"the poster is black (mean luma {mean:.0f})"
    diff = sum(abs(a - b) for a, b in zip(head, shot, strict=True)) / len(shot)
    assert diff > 20, f"the poster is the colour bars at the head (difference {diff:.1f})"


def test_hostile_files_fail_and_the_worker_goes_on(rig_factory, media):
    rig = rig_factory()
    rig.put("/TRT/news/cut.mxf", media["truncated.mxf"])
    rig.put("/TRT/news/noise.mxf", media["random.mxf"])
    cut = rig.wait_state("/TRT/news/cut", "ready", "failed")
    noise = rig.wait_state("/TRT/news/noise", "ready", "failed")
    assert cut["state"] == "failed" and "ends early" in cut["error"], cut
    assert noise["state"] == "failed" and "not a readable media file" in noise["error"], noise
    assert cut["files"] == {} and not rig.folder("/TRT/news/cut").exists()
    # the same workers take the next job
    rig.put("/TRT/news/good.mp4", media["h264.mp4"])
    assert rig.wait_state("/TRT/news/good", "ready", "failed")["state"] == "ready"
    assert rig.previews.failed == 2 and rig.previews.done == 1
    assert not list((rig.pool / ".catalog" / "previews").glob(".ortak-*")), "work left behind"


def test_new_essence_makes_new_previews_and_deletion_removes_them(rig_factory, media):
    rig = rig_factory()
    key = "/AZTV/news/story"
    rig.put(key + ".mp4", media["h264.mp4"])
    first = rig.wait_state(key, "ready", "failed")
    folder = rig.folder(key)
    old_proxy = (folder / "proxy.mp4").stat()
    rig.put(key + ".mp4", media["prores.mov"])  # a new version under the same name

    def new_version_ready():
        p = rig.preview(key)
        return p.get("state") == "ready" and p["source_sha256"] != first["source_sha256"]

    assert wait_for(new_version_ready, timeout=60), rig.preview(key)
    second = rig.preview(key)
    assert second["source_sha256"] == rig.item(key)["sha256"]
    new_proxy = (folder / "proxy.mp4").stat()
    assert (new_proxy.st_ino, new_proxy.st_size) != (old_proxy.st_ino, old_proxy.st_size)
    assert second["files"]["proxy.mp4"] == new_proxy.st_size
    (rig.pool / key.lstrip("/")).with_suffix(".mp4").unlink()
    assert wait_for(lambda: rig.item(key) is None and not folder.exists(), timeout=20)


def test_news_goes_before_a_long_documentary(rig_factory, media):
    rig = rig_factory(workers=1)
    doc, news = "/TRT/documentaries/epic", "/TRT/news/flash"
    rig.put(doc + ".mp4", media["long.mp4"])

    def running() -> list[str]:
        with rig.previews.lock:
            return [r[0] for r in rig.previews.db.execute("SELECT item_id FROM preview_jobs")]

    doc_id = wait_for(lambda: rig.item(doc), timeout=20)["id"]
    assert wait_for(lambda: doc_id in running(), timeout=20), "the documentary never started"
    rig.put(news + ".mp4", media["h264.mp4"])
    assert rig.wait_state(news, "ready", "failed")["state"] == "ready"
    assert rig.preview(doc)["state"] == "pending", "the news item waited for the documentary"
    assert rig.wait_state(doc, "ready", "failed", timeout=120)["state"] == "ready"


def test_preview_field_reaches_the_feed(rig_factory, media, tmp_path: Path):
    rig = rig_factory()
    key = KEYS["audio.wav"]
    rig.put(key + ".wav", media["audio.wav"])
    ready = rig.wait_state(key, "ready", "failed")
    assert wait_for(lambda: published(rig.pool, key, tmp_path / "client.db") == ready, 30), (
        published(rig.pool, key, tmp_path / "client.db")
    )


def published(pool: Path, key: str, client: Path) -> dict | None:
    """The item's preview in a client's copy of the feed, read as a client reads it:
    the snapshot, then each journal up to the size index.json announces (FEED.md). Under
    load the feed's first snapshot may already hold the item, ready: its journals then
    say nothing of it."""
    feed = pool / ".catalog"
    if not (feed / "index.json").exists():
        return None
    try:
        sync_from_folder(feed, client)
    except FileNotFoundError:  # a snapshot replaced meanwhile: read again next time
        return None
    conn = sqlite3.connect(client)
    try:
        row = conn.execute("SELECT preview FROM items WHERE key = ?", [key]).fetchone()
    finally:
        conn.close()
    return json.loads(row[0]) if row and row[0] else None


def test_start_up_makes_what_is_missing_and_sweeps_what_is_left(rig_factory, media):
    rig = rig_factory(start=False)
    rig.indexer.start()  # the indexer alone: jobs are queued, nothing runs them
    key = "/TRT/news/old"
    rig.put(key + ".mp4", media["h264.mp4"])
    assert wait_for(lambda: rig.preview(key).get("state") == "pending", timeout=20)
    with rig.indexer.lock:  # as catalogued before previews existed
        rig.indexer.db.execute("UPDATE items SET preview = NULL")
    rig.previews.queue.hueys["express"].flush()
    orphan = rig.pool / ".catalog" / "previews" / "TRT-0000000000"
    orphan.mkdir(parents=True)
    (orphan / "poster.jpg").write_bytes(b"left behind")
    work = rig.pool / ".catalog" / "previews" / ".ortak-work-TRT-0000000000-1-1"
    work.mkdir()
    (work / "proxy.mp4").write_bytes(b"half")
    rig.previews.start()
    assert rig.wait_state(key, "ready", "failed")["state"] == "ready"
    assert not orphan.exists() and not work.exists()
