"""The ffmpeg plan's choices, and a 1080i source through the field path for real."""

from __future__ import annotations

import math
import re
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
        assert (work / plan.THUMBS_RAW).stat().st_size > 0


def _strip(count: int, interval: float = 10.0) -> plan.Strip:
    return plan.Strip(interval, count, min(10, count), 1, 160, 90)


def test_strip_tiles_follow_the_cuts():
    rate = Fraction(25)
    strip = _strip(5)
    # no cut: one tile at each interval's start
    assert [t.time for t in plan.strip_choice(strip, 5, [], rate)] == [0, 10, 20, 30, 40]
    # a cut at 26 s: the tile of [20, 30) shows the new shot, not more of the old one
    tiles = plan.strip_choice(strip, 5, [26.0], rate)
    assert [(t.cut, t.index, t.time) for t in tiles][2] == (True, 0, 26.0)
    assert [t.time for t in tiles] == [0, 10, 26.0, 30, 40]
    # cuts at 3 s and 17 s: the tiles at 10 s and 20 s are already of new shots, so
    # they stay, and the shot from 27 s (after the one from 17 s) is not shown
    tiles = plan.strip_choice(strip, 5, [3.0, 17.0, 27.0], rate)
    assert [t.time for t in tiles] == [0, 10, 20, 30, 40]
    assert not any(t.cut for t in tiles)
    # one shot a tile: a cut at 15 s is the tile of [10, 20); the same shot is still on
    # at 20 s, so the cut at 27 s shows next
    tiles = plan.strip_choice(strip, 5, [15.0, 27.0], rate)
    assert [(t.cut, t.index, t.time) for t in tiles][1:3] == [(True, 0, 15.0), (True, 1, 27.0)]
    # a cut on an interval's start is that tile's own frame
    assert [t.time for t in plan.strip_choice(strip, 5, [30.0], rate)] == [0, 10, 20, 30, 40]
    # only as many tiles as the decode made thumbnails for
    assert len(plan.strip_choice(strip, 3, [], rate)) == 3
    vtt = plan.strip_vtt(strip, 45.0, times=[0, 10, 26.0, 30, 40])
    assert "00:00:10.000 --> 00:00:26.000\nstrip.jpg#xywh=160,0,160,90" in vtt
    assert "00:00:26.000 --> 00:00:30.000\nstrip.jpg#xywh=320,0,160,90" in vtt
    assert "00:00:40.000 --> 00:00:45.000\nstrip.jpg#xywh=640,0,160,90" in vtt


def test_a_cut_gets_its_own_thumbnail_from_the_same_decode(tmp_path):
    """2.6 s of a test pattern, then a red shot: with a thumbnail a second, the tile of
    [2 s, 3 s) is the first red frame (2.6 s), and its cue starts there."""
    clip = tmp_path / "cut.mp4"
    subprocess.run(
        [
            *FF,
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25:d=2.6",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:size=320x180:rate=25:d=2.4",
            "-filter_complex",
            "[0:v][1:v]concat=n=2:v=1:a=0[v]",
            "-map",
            "[v]",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(clip),
        ],
        check=True,
        timeout=60,
    )
    tools = find_tools()
    opts = plan.Options(proxy_height=180, strip_interval_seconds=1.0, burn_timecode=False)
    work = tmp_path / "work"
    work.mkdir()
    names = job.make(tools, clip, work, job.JobSettings(opts, nice=0), threading.Event())
    assert plan.STRIP_NAME in names
    cues = re.findall(
        r"^(\S+) --> (\S+)\nstrip\.jpg#xywh=(\d+),", (work / plan.VTT_NAME).read_text(), re.M
    )
    assert cues == [
        ("00:00:00.000", "00:00:01.000", "0"),
        ("00:00:01.000", "00:00:02.600", "160"),
        ("00:00:02.600", "00:00:03.000", "320"),
        ("00:00:03.000", "00:00:04.000", "480"),
        ("00:00:04.000", "00:00:05.000", "640"),
    ]
    tiles = [_mean_rgb(work / plan.STRIP_NAME, 160 * i, 0, 160, 90) for i in range(5)]
    red = [r > 180 and g < 60 and b < 60 for r, g, b in tiles]
    assert red == [False, False, True, True, True], tiles


def _mean_rgb(image, x: int, y: int, w: int, h: int) -> tuple[float, float, float]:
    """The mean colour of a rectangle of a picture (decoded by ffmpeg)."""
    crop = ["-vf", f"crop={w}:{h}:{x}:{y}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(
        [*FF, "-i", str(image), *crop],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    n = len(raw) // 3
    return tuple(sum(raw[c::3]) / n for c in range(3))  # type: ignore[return-value]


def test_a_work_folder_with_filtergraph_characters(tmp_path):
    """The cut log's path goes into the filter graph: a data folder named with the
    graph's separators and quotes still works."""
    clip = tmp_path / "small.mp4"
    subprocess.run(
        [*FF, "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:d=1", str(clip)],
        check=True,
        timeout=60,
    )
    tools = find_tools()
    work = tmp_path / "a,b;[c]'d:e\\f"
    work.mkdir()
    opts = plan.Options(proxy_height=90, strip_interval_seconds=1.0)
    names = job.make(tools, clip, work, job.JobSettings(opts, nice=0), threading.Event())
    assert (work / plan.CUTS_LOG).exists()
    assert all((work / n).stat().st_size > 0 for n in names)


def test_cut_times_keep_one_place_a_frame():
    log = (
        "frame:0    pts:NOPTS   pts_time:NOPTS\nlavfi.scene_score=0.5\n"
        "frame:1    pts:200     pts_time:8\nlavfi.scene_score=0.6\n"
        "frame:2    pts:290     pts_time:11.6\nlavfi.scene_score=0.812\n"
    )
    times = plan.cut_times(log)
    assert math.isnan(times[0]) and times[1:] == [8.0, 11.6]
    tiles = plan.strip_choice(_strip(3, 5.0), 3, times, Fraction(25))
    assert [(t.cut, t.index, t.time) for t in tiles] == [
        (False, 0, 0.0),
        (True, 1, 8.0),  # the second cut frame, not the first (which has no time)
        (True, 2, 11.6),
    ]
