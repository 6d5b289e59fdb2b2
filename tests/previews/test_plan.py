"""The ffmpeg plan's choices, and a 1080i source through the field path for real."""

from __future__ import annotations

import subprocess
import threading
from fractions import Fraction

from catalog.previews import job, plan
from catalog.previews.tools import Source, find_tools, probe

from .conftest import FF, ffprobe


def _src(height: int, order: str) -> Source:
    return Source(
        duration=10,
        has_video=True,
        width=height * 16 // 9,
        height=height,
        interlaced=order != "progressive",
        field_order=order,
    )


def test_deinterlacing_choice():
    assert plan.deinterlace(_src(1080, "tt"), 360) == ["field=top"]
    assert plan.deinterlace(_src(1080, "bb"), 540) == ["field=bottom"]
    assert plan.deinterlace(_src(1080, "tt"), 720) == [plan.DEINTERLACE]  # field too short
    assert plan.deinterlace(_src(576, "tt"), 360) == [plan.DEINTERLACE]
    assert plan.deinterlace(_src(1080, ""), 360) == [plan.DEINTERLACE]  # undeclared: yadif
    assert plan.deinterlace(_src(1080, "progressive"), 360) == []


def test_sizes_honour_the_display_aspect():
    sd_16_9 = Source(duration=1, has_video=True, width=720, height=576, sar=Fraction(64, 45))
    assert plan.proxy_size(sd_16_9, plan.Options()) == (640, 360)
    sd_4_3 = Source(duration=1, has_video=True, width=720, height=576, sar=Fraction(16, 15))
    assert plan.proxy_size(sd_4_3, plan.Options()) == (480, 360)
    scope = Source(duration=1, has_video=True, width=1998, height=1080)
    assert plan.proxy_size(scope, plan.Options()) == (640, 346)
    strip = plan.strip_layout(
        Source(duration=7200, has_video=True, width=1920, height=1080),
        plan.Options(strip_interval_seconds=10),
    )
    assert (strip.count, strip.interval, strip.columns, strip.rows) == (100, 72.0, 10, 10)


def test_hostile_timecodes_never_reach_the_filter_graph():
    assert plan.valid_timecode("10:00:00:00") == "10:00:00:00"
    assert plan.valid_timecode("01:00:00;02") == "01:00:00;02"
    for bad in ("10:00:00:00',drawtext=text=x", "99:99:99:99", "", None, "1:2:3:4"):
        assert plan.valid_timecode(bad) is None


def test_a_1080i_source_takes_the_field_path(tmp_path):
    clip = tmp_path / "hd.mxf"
    subprocess.run(
        [
            *FF,
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=25:d=1",
            "-c:v",
            "mpeg2video",
            "-pix_fmt",
            "yuv422p",
            "-b:v",
            "20M",
            "-flags",
            "+ildct+ilme",
            "-top",
            "1",
            "-timecode",
            "09:59:59:00",
            "-f",
            "mxf",
            str(clip),
        ],
        check=True,
        timeout=60,
    )
    tools = find_tools()
    src = probe(tools, clip)
    assert src.field_order == "tt"
    cmd, _ = plan.video_command(tools.ffmpeg, clip, src, plan.Options(), tmp_path)
    assert "field=top" in cmd[cmd.index("-filter_complex") + 1]
    work = tmp_path / "work"
    work.mkdir()
    names = job.make(tools, clip, work, job.JobSettings(plan.Options()), threading.Event())
    assert names == list(plan.VIDEO_FILES)
    video = next(s for s in ffprobe(work / "proxy.mp4")["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (640, 360)
    assert video.get("field_order", "progressive") == "progressive"
