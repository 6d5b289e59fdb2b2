"""Which ffmpeg: the system's when there is one, else imageio-ffmpeg's (which has no
ffprobe: the source is then probed by MediaInfo in a child process). Both paths make
the same previews of the same file."""

from __future__ import annotations

import threading
from fractions import Fraction

import pytest

from catalog.errors import PreviewError
from catalog.previews import job, plan
from catalog.previews.tools import find_tools, probe

from .conftest import TIMECODE, ffprobe


def test_the_system_ffmpeg_comes_first():
    tools = find_tools()
    assert tools.source == "system" and tools.ffprobe
    assert tools.version[0].isdigit()


def test_without_a_system_ffmpeg_imageio_ffmpeg_makes_the_previews(media, tmp_path, monkeypatch):
    system = probe(find_tools(), media["xdcam.mxf"])
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no ffmpeg, ffprobe or ionice to be found
    tools = find_tools.__wrapped__("")
    assert tools.source == "imageio-ffmpeg" and tools.ffprobe is None
    src = probe(tools, media["xdcam.mxf"])  # MediaInfo, in a child process
    assert (src.width, src.height, src.sar) == (720, 576, Fraction(64, 45))
    assert src.interlaced and src.timecode == TIMECODE
    assert src.audio_channels == system.audio_channels == [1, 1]
    assert abs(src.duration - system.duration) < 0.1

    work = tmp_path / "work"
    work.mkdir()
    settings = job.JobSettings(plan.Options(proxy_height=180, strip_interval_seconds=1.0))
    names = job.make(tools, media["xdcam.mxf"], work, settings, threading.Event())
    assert names == list(plan.VIDEO_FILES)
    monkeypatch.undo()
    info = ffprobe(work / "proxy.mp4")
    assert [s["codec_name"] for s in info["streams"] if s["codec_type"] != "data"] == [
        "h264",
        "aac",
    ]
    assert abs(float(info["format"]["duration"]) - 3.5) < 0.3


def test_a_file_mediainfo_cannot_read_fails_cleanly_without_ffprobe(media, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    tools = find_tools.__wrapped__("")
    with pytest.raises(PreviewError, match="no video or audio stream"):
        probe(tools, media["random.mxf"])
