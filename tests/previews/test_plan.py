"""The ffmpeg plan's choices, and a 1080i source through the field path for real."""

from __future__ import annotations

import subprocess
import threading
from fractions import Fraction

import pytest

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


@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory):
    """One second of 1080i50 MPEG-2 4:2:2 in MXF, timecode 09:59:59:00."""
    clip = tmp_path_factory.mktemp("hd") / "hd.mxf"
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
    return clip


def test_a_1080i_source_takes_the_field_path(tmp_path, hd_clip):
    clip = hd_clip
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


@pytest.mark.parametrize("height", [1080, 576])
def test_the_one_decode_converts_no_frame_it_does_not_need_to(tmp_path, hd_clip, height):
    """The proxy branch of the one-decode graph is the bare command's: lavfi inserts no
    pixel format converter anywhere (one on the proxy's branch ran on every frame when
    the poster candidates' JPEG encoder could push its full-range format up the split),
    and the shared scale outputs the encoder's yuv420p directly."""
    tools = find_tools()
    clip = hd_clip
    if height != 1080:  # an anamorphic SD source through yadif, poster wider than proxy
        clip = tmp_path / "sd.mxf"
        sd = ["-vf", "scale=720:576,setsar=64/45", "-c:v", "mpeg2video", "-flags", "+ildct"]
        subprocess.run([*FF, "-i", str(hd_clip), *sd, "-f", "mxf", str(clip)], check=True)
    src = probe(tools, clip)
    for opts in (plan.Options(), plan.Options(proxy_height=180, burn_timecode=False)):
        work = tmp_path / f"work-{opts.proxy_height}"
        work.mkdir()
        cmd, _ = plan.video_command(tools.ffmpeg, clip, src, opts, work)
        cmd[cmd.index("-loglevel") + 1] = "verbose"
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr[-2000:]
        assert "auto_scale" not in run.stderr, [
            line for line in run.stderr.splitlines() if "auto_scale" in line
        ]
        if plan.proxy_size(src, opts)[1] == 360:  # the proxy takes the shared picture as is
            shared = next(
                line
                for line in run.stderr.splitlines()
                if "Parsed_scale_1 " in line and "->" in line
            )
            assert "fmt:yuv420p" in shared.split("->")[1], shared
        assert len(list(work.glob("cand-*.jpg"))) == plan.CANDIDATES
        assert (work / plan.STRIP_NAME).stat().st_size > 0
