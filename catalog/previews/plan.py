"""The ffmpeg commands that make an item's previews, and what is read back from them.

Pure functions: a probed `Source` and the settings in, an argument list out. A video
item is decoded once: one filter graph deinterlaces and scales the picture, then splits
it into the proxy (timecode burnt in), the strip's thumbnails (one an interval, and the
first frame after each scene cut, laid out in a sprite afterwards by a small ffmpeg run
over them) and the poster candidates (640-wide JPEGs plus tiny raw frames for choosing
among them). An audio item gets its AAC proxy and waveform from one decode too.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import PreviewError
from .tools import Source

PROXY_NAME = "proxy.mp4"
AUDIO_PROXY_NAME = "proxy.m4a"
POSTER_NAME = "poster.jpg"
STRIP_NAME = "strip.jpg"
VTT_NAME = "strip.vtt"
WAVEFORM_NAME = "waveform.png"
VIDEO_FILES = (POSTER_NAME, STRIP_NAME, VTT_NAME, PROXY_NAME)
AUDIO_FILES = (WAVEFORM_NAME, AUDIO_PROXY_NAME)
ALL_FILES = frozenset(VIDEO_FILES + AUDIO_FILES)

POSTER_WIDTH = 640
THUMB_WIDTH = 160
STRIP_COLUMNS = 10
MAX_THUMBS = 100
CANDIDATES = 12
"""Poster candidates sampled evenly over the item."""
PROBE_W, PROBE_H = 32, 18
"""Size of the raw copy of each candidate the poster is chosen by."""
CANDIDATE_PATTERN = "cand-%03d.jpg"
CANDIDATE_RAW = "cand.rgb"
THUMBS_RAW = "thumbs.yuv"
"""The strip's thumbnails one every interval (raw yuv420p), from the one decode."""
CUTS_RAW = "cuts.yuv"
CUTS_LOG = "cuts.txt"
"""Thumbnails of the first frame after each scene cut, and their times."""
CHOSEN_RAW = "chosen.yuv"
SCENE_THRESHOLD = 0.35
"""lavfi's scene score (0-1, luma difference with the previous frame) that is a cut."""
PROGRESS = "progress.txt"
"""ffmpeg's -progress output: how far the decode really got (a truncated file stops short)."""
WAVEFORM_SIZE = "1280x240"

DEINTERLACE = "yadif=mode=send_frame:deint=interlaced"
"""One frame per frame (50i → 25p), and only frames flagged interlaced are touched."""


def deinterlace(src: Source, out_height: int) -> list[str]:
    """How to make progressive pictures `out_height` high from the source.

    A source declared interlaced whose fields are at least that tall (1080i for a 360-
    or 540-line proxy) keeps its first field alone: nothing of the field is lost at
    that size, and it costs a fraction of yadif at full size (the proxy of a 1080i
    news clip comes out twice as soon). Shorter fields (576i at 360 lines) and sources
    that may or may not be interlaced (undeclared) go through yadif, which touches
    only the frames flagged interlaced.
    """
    if not src.interlaced:
        return []
    if src.field_order in ("tt", "tb", "bb", "bt") and src.height // 2 >= out_height:
        return ["field=" + ("top" if src.field_order in ("tt", "tb") else "bottom")]
    return [DEINTERLACE]


_TIMECODE = re.compile(r"^\d{2}:[0-5]\d:[0-5]\d[:;.,]\d{2}$")
_BITRATE = re.compile(r"^\d+(\.\d+)?[kKmM]?$")


@dataclass(frozen=True)
class Options:
    proxy_height: int = 360
    proxy_video_bitrate: str = "700k"
    strip_interval_seconds: float = 10.0
    burn_timecode: bool = True

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Options:
        bitrate = str(settings.get("proxy_video_bitrate", cls.proxy_video_bitrate))
        if not _BITRATE.match(bitrate):
            raise PreviewError(f"[previews] proxy_video_bitrate {bitrate!r}: use e.g. 700k or 2M")
        return cls(
            proxy_height=max(64, min(1080, int(settings.get("proxy_height", 360)))),
            proxy_video_bitrate=bitrate,
            strip_interval_seconds=max(1.0, float(settings.get("strip_interval_seconds", 10.0))),
            burn_timecode=bool(settings.get("burn_timecode", True)),
        )


def _even(x: float | Fraction) -> int:
    return max(2, 2 * round(x / 2))


def fit(dar: Fraction, box_w: int, box_h: int) -> tuple[int, int]:
    """The largest even size of aspect `dar` inside box_w x box_h (square pixels)."""
    if dar >= Fraction(box_w, box_h):
        return _even(box_w), _even(box_w / dar)
    return _even(box_h * dar), _even(box_h)


def proxy_size(src: Source, opts: Options) -> tuple[int, int]:
    """At most 16:9 of proxy_height (640x360 by default), the display aspect honoured."""
    return fit(src.display_aspect, _even(opts.proxy_height * 16 / 9), opts.proxy_height)


@dataclass(frozen=True)
class Strip:
    interval: float
    count: int
    columns: int
    rows: int
    thumb_w: int
    thumb_h: int


def strip_layout(src: Source, opts: Options) -> Strip:
    """One thumbnail every `interval` seconds (widened so there are at most 100)."""
    duration = max(src.duration, 0.04)
    interval = max(opts.strip_interval_seconds, duration / MAX_THUMBS)
    count = max(1, min(MAX_THUMBS, math.ceil(duration / interval - 1e-9)))
    columns = min(STRIP_COLUMNS, count)
    w = THUMB_WIDTH
    h = _even(THUMB_WIDTH / src.display_aspect)
    return Strip(interval, count, columns, math.ceil(count / columns), w, h)


def valid_timecode(tc: str | None) -> str | None:
    """The timecode when it looks like one (HH:MM:SS:FF, ';' for drop frame), else None:
    nothing read from a file reaches the filter graph unchecked."""
    return tc if tc and _TIMECODE.match(tc.strip()) else None


def _font() -> str:
    """A monospaced font for the burnt-in timecode: a file when one can be found."""
    for candidate in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
        "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
        "/System/Library/Fonts/Menlo.ttc",
        "/Library/Fonts/Courier New.ttf",
    ):
        if Path(candidate).is_file():
            return f"fontfile={escape_filter_value(candidate)}"
    if shutil.which("fc-match"):
        try:
            found = subprocess.run(
                ["fc-match", "-f", "%{file}", "monospace"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            found = ""
        if found and Path(found).is_file():
            return f"fontfile={escape_filter_value(found)}"
    return "font=Mono"


def escape_filter_value(value: str) -> str:
    """Escape a value for a filter option inside a filtergraph (two levels of quoting)."""
    value = value.replace("\\", "\\\\\\\\").replace("'", "\\\\\\'").replace(":", "\\\\:")
    for special in ",;[]":  # the filtergraph's own separators
        value = value.replace(special, "\\" + special)
    return value


def timecode_filter(timecode: str, rate: Fraction, height: int) -> str:
    """drawtext of a running timecode from `timecode` at `rate`, bottom centre, on an
    opaque box (so the box shows the same pixels whatever the picture under it: the
    tests compare it with a frame rendered by this same filter)."""
    tc = timecode.strip().replace(".", ":").replace(",", ";")
    tc_escaped = tc.replace(":", "\\:").replace(";", "\\;")
    size = max(10, height // 16)
    return (
        f"drawtext={_font()}:timecode='{tc_escaped}':rate={rate.numerator}/{rate.denominator}"
        f":fontsize={size}:fontcolor=white:box=1:boxcolor=black:boxborderw={max(2, size // 5)}"
        f":x=(w-tw)/2:y=h-th-{max(4, height // 30)}"
    )


def _audio_chain(src: Source) -> str | None:
    """The first audio pair as stereo: channels 1+2 of the first stream, or the first
    channels of the first two (mono) streams, or one mono channel on both sides."""
    ch = src.audio_channels
    if not ch or ch[0] <= 0:
        return None
    if ch[0] >= 2:
        return "[0:a:0]pan=stereo|c0=c0|c1=c1"
    if len(ch) >= 2 and ch[1] >= 1:
        return f"[0:a:0][0:a:1]amerge=inputs=2,pan=stereo|c0=c0|c1=c{ch[0]}"
    return "[0:a:0]pan=stereo|c0=c0|c1=c0"


def proxy_video_chain(src: Source, opts: Options, width: int, height: int) -> str:
    """The proxy's own picture chain from the decoded video (what a bare proxy run does
    too): deinterlace, scale to the display aspect, square pixels, timecode."""
    chain = deinterlace(src, height)
    chain.append(f"scale={width}:{height}:flags=bilinear")
    chain.append("setsar=1")
    tc = valid_timecode(src.timecode) if opts.burn_timecode else None
    if tc:
        chain.append(timecode_filter(tc, src.frame_rate, height))
    return ",".join(chain)


def x264_args(opts: Options, src: Source) -> list[str]:
    rate = src.frame_rate
    gop = max(1, round(2 * rate))
    return [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        opts.proxy_video_bitrate,
        "-maxrate",
        opts.proxy_video_bitrate,
        "-bufsize",
        opts.proxy_video_bitrate,
        "-g",
        str(gop),
    ]


AAC_ARGS = ["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"]


def video_command(
    ffmpeg: str, source: Path, src: Source, opts: Options, work: Path
) -> tuple[list[str], Strip]:
    """One decode → proxy.mp4, strip.jpg, poster candidates (JPEG and raw RGB)."""
    pw, ph = POSTER_WIDTH, _even(POSTER_WIDTH / src.display_aspect)
    vw, vh = proxy_size(src, opts)
    strip = strip_layout(src, opts)
    every = max(src.duration, 0.04) / CANDIDATES
    bw, bh = (pw, ph) if ph >= vh else (vw, vh)  # the larger: scaled once, then down
    thumb = f"scale={strip.thumb_w}:{strip.thumb_h}:flags=bilinear,format=yuv420p"
    head = deinterlace(src, bh)
    head += [f"scale={bw}:{bh}:flags=bilinear", "setsar=1", "split=3[base_p][base_s][base_c]"]

    def resize(w: int, h: int) -> str:
        return f"scale={w}:{h}:flags=bilinear" if (w, h) != (bw, bh) else "null"

    # Every sparse branch starts with its frame selection, then a scale of its own, even
    # to the same size: a scale filter separates pixel format negotiation, so the JPEG
    # encoder's full-range formats stay in its branch. Without it lavfi negotiates one
    # format for the whole split (yuvj422p) and inserts a converter on the proxy's
    # branch that runs on every frame (+18 % CPU on a 1080i MXF).
    proxy_chain = ["[base_p]" + resize(vw, vh)]
    tc = valid_timecode(src.timecode) if opts.burn_timecode else None
    if tc:
        proxy_chain.append(timecode_filter(tc, src.frame_rate, vh))
    graph = [
        "[0:v:0]" + ",".join(head),
        ",".join(proxy_chain) + "[proxy_v]",
        # the strip: a thumbnail every interval, and one at each scene cut (at most two
        # an interval); strip_choice() picks the tiles, strip_command() lays them out.
        # eof_action=pass: a thumbnail due in the last, partial interval is kept (the
        # candidates do without: they tell how far the decode got, see job.py)
        "[base_s]split=2[s_reg][s_cut]",
        f"[s_reg]fps=1/{strip.interval:.6f}:eof_action=pass,{thumb}[strip_reg]",
        # the scene score is a SAD of the luma with the previous frame: cheap at this size
        f"[s_cut]select='gt(scene\\,{SCENE_THRESHOLD})"
        f"*(isnan(prev_selected_t)+gte(t-prev_selected_t\\,{strip.interval / 2:.6f}))',"
        f"metadata=mode=print:file={escape_filter_value(str(work / CUTS_LOG))},"
        f"{thumb}[strip_cut]",
        f"[base_c]fps=1/{every:.6f},scale={pw}:{ph}:flags=bilinear,split=2[cand_j][cand_r0]",
        f"[cand_r0]scale={PROBE_W}:{PROBE_H}:flags=area,format=rgb24[cand_r]",
    ]
    audio = _audio_chain(src)
    if audio:
        graph.append(audio + "[proxy_a]")
    cmd = [*_start(ffmpeg, work), "-i", str(source), "-filter_complex", ";".join(graph)]
    cmd += ["-map", "[proxy_v]"] + (["-map", "[proxy_a]"] if audio else [])
    cmd += x264_args(opts, src) + (AAC_ARGS if audio else [])
    cmd += ["-movflags", "+faststart", "-f", "mp4", str(work / PROXY_NAME)]
    passthrough = ["-fps_mode", "passthrough", "-f", "rawvideo"]  # the frames as they come
    cmd += ["-map", "[strip_reg]", *passthrough, str(work / THUMBS_RAW)]
    cmd += ["-map", "[strip_cut]", *passthrough, str(work / CUTS_RAW)]
    cmd += ["-map", "[cand_j]", "-q:v", "3", "-f", "image2", str(work / CANDIDATE_PATTERN)]
    cmd += ["-map", "[cand_r]", "-f", "rawvideo", str(work / CANDIDATE_RAW)]
    return cmd, strip


def cut_times(log: str) -> list[float]:
    """The times of the scene cuts, from the `metadata=mode=print` log of the cut branch:
    one a frame, in order (NaN for a frame without a time: never chosen, and the frames
    after it keep their places)."""
    times = []
    for line in log.splitlines():
        if line.startswith("frame:"):
            m = re.search(r"pts_time:(\S+)", line)
            try:
                times.append(float(m.group(1)) if m else math.nan)
            except ValueError:
                times.append(math.nan)
    return times


@dataclass(frozen=True)
class Tile:
    cut: bool
    """From the cut thumbnails (else the regular ones)."""
    index: int
    time: float
    """When the thumbnail's frame is in the item: where its cue starts."""


def strip_choice(strip: Strip, regular: int, cuts: list[float], rate: Fraction) -> list[Tile]:
    """The strip's tiles, one an interval: the frame at the interval's start, unless that
    frame is of the same shot as the tile before (no cut in between) and a new shot
    starts within the interval: then the first frame of that shot. So a strip shows
    every shot that lasts past an interval's start or starts inside one, and no tile
    repeats a shot when a new one was there to show."""
    half_frame = 0.5 / float(rate) if rate > 0 else 0.02
    tiles: list[Tile] = []
    for i in range(min(strip.count, regular)):
        start = i * strip.interval
        end = start + strip.interval
        tile = Tile(False, i, start)
        if tiles:
            before = tiles[-1].time
            new_shot = any(before + half_frame < c <= start + half_frame for c in cuts)
            inside = [j for j, c in enumerate(cuts) if start + half_frame < c < end - half_frame]
            if not new_shot and inside:
                tile = Tile(True, inside[0], cuts[inside[0]])
        tiles.append(tile)
    return tiles


def strip_command(ffmpeg: str, strip: Strip, work: Path) -> list[str]:
    """The chosen thumbnails (CHOSEN_RAW) laid out as the sprite."""
    return [
        *_start(ffmpeg, work, progress=False),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        "-video_size",
        f"{strip.thumb_w}x{strip.thumb_h}",
        "-framerate",
        "1",
        "-i",
        str(work / CHOSEN_RAW),
        "-vf",
        f"tile={strip.columns}x{strip.rows}",
        "-frames:v",
        "1",
        "-q:v",
        "4",
        "-f",
        "image2",
        "-update",
        "1",
        str(work / STRIP_NAME),
    ]


def bare_proxy_command(
    ffmpeg: str, source: Path, src: Source, opts: Options, out: Path
) -> list[str]:
    """The proxy alone, as one would write it by hand: the benchmark's yardstick."""
    vw, vh = proxy_size(src, opts)
    audio = _audio_chain(src)
    graph = ["[0:v:0]" + proxy_video_chain(src, opts, vw, vh) + "[proxy_v]"]
    if audio:
        graph.append(audio + "[proxy_a]")
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]
    cmd += ["-i", str(source), "-filter_complex", ";".join(graph)]
    cmd += ["-map", "[proxy_v]"] + (["-map", "[proxy_a]"] if audio else [])
    cmd += x264_args(opts, src) + (AAC_ARGS if audio else [])
    cmd += ["-movflags", "+faststart", "-f", "mp4", str(out)]
    return cmd


def audio_command(ffmpeg: str, source: Path, src: Source, work: Path) -> list[str]:
    """One decode → proxy.m4a and waveform.png."""
    audio = _audio_chain(src)
    if audio is None:
        raise PreviewError("no audio channel to preview")
    graph = [
        audio + ",asplit=2[proxy_a][wave_in]",
        "[wave_in]aformat=channel_layouts=mono,"
        f"showwavespic=s={WAVEFORM_SIZE}:colors=0x2f7fd0[wave]",
    ]
    cmd = [*_start(ffmpeg, work), "-i", str(source), "-filter_complex", ";".join(graph)]
    cmd += ["-map", "[proxy_a]", *AAC_ARGS, "-movflags", "+faststart", "-f", "mp4"]
    cmd += [str(work / AUDIO_PROXY_NAME)]
    cmd += ["-map", "[wave]", "-frames:v", "1", "-f", "image2", "-update", "1"]
    cmd += [str(work / WAVEFORM_NAME)]
    return cmd


def _start(ffmpeg: str, work: Path, progress: bool = True) -> list[str]:
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]
    return [*cmd, "-progress", str(work / PROGRESS)] if progress else cmd


def decoded_seconds(progress: str) -> float | None:
    """How far an audio decode got: the last `out_time_us` ffmpeg reported. (For video
    the poster candidates, one every twelfth of the duration, tell it instead: the time
    ffmpeg reports is that of the furthest output, which the strip's sparse frames
    overshoot, and a frame count needs a frame rate some files misreport.)"""
    last = None
    for line in progress.splitlines():
        key, _, value = line.partition("=")
        value = value.strip()
        if key == "out_time_us" and value.lstrip("-").isdigit():
            last = int(value) / 1e6
    return last


def _ts(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def strip_vtt(
    strip: Strip, duration: float, image: str = STRIP_NAME, times: list[float] | None = None
) -> str:
    """The WebVTT thumbnails track: one cue per tile, `strip.jpg#xywh=x,y,w,h`, from
    the tile's time (`times`, default one every interval) to the next tile's."""
    lines = ["WEBVTT", ""]
    end_all = max(duration, strip.interval * (strip.count - 1) + 0.04)
    starts = [i * strip.interval for i in range(strip.count)]
    for i, t in enumerate((times or [])[: strip.count]):
        starts[i] = 0.0 if i == 0 else t
    for i in range(strip.count):
        start = starts[i]
        end = min(starts[i + 1] if i + 1 < strip.count else end_all, end_all)
        x, y = (i % strip.columns) * strip.thumb_w, (i // strip.columns) * strip.thumb_h
        lines += [
            f"{_ts(start)} --> {_ts(end)}",
            f"{image}#xywh={x},{y},{strip.thumb_w},{strip.thumb_h}",
            "",
        ]
    return "\n".join(lines)


@dataclass(frozen=True)
class FrameStats:
    mean: float
    """Mean luma, 0-255."""
    spread: float
    """Standard deviation of luma: a flat frame (black, grey, a plain slate card) is low."""
    columnar: float
    """How much the top two thirds vary down each column, against across: colour bars ~0."""
    saturation: float


def frame_stats(rgb: bytes, width: int = PROBE_W, height: int = PROBE_H) -> FrameStats:
    luma = [0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2] for i in range(0, len(rgb), 3)]
    n = len(luma)
    mean = sum(luma) / n
    spread = math.sqrt(sum((v - mean) ** 2 for v in luma) / n)
    sat = sum(max(rgb[i : i + 3]) - min(rgb[i : i + 3]) for i in range(0, len(rgb), 3)) / n
    top = height * 2 // 3
    down = 0.0
    col_means = []
    for x in range(width):
        col = [luma[y * width + x] for y in range(top)]
        m = sum(col) / top
        col_means.append(m)
        down += math.sqrt(sum((v - m) ** 2 for v in col) / top)
    down /= width
    cm = sum(col_means) / width
    across = math.sqrt(sum((v - cm) ** 2 for v in col_means) / width)
    return FrameStats(mean, spread, down / across if across > 1 else 1.0, sat)


def is_black(s: FrameStats) -> bool:
    return s.mean < 28 and s.spread < 20


def is_flat(s: FrameStats) -> bool:
    return s.spread < 6


def is_bars(s: FrameStats) -> bool:
    """Vertical colour bars: columns uniform top to bottom, strongly different across."""
    return s.columnar < 0.02 and s.saturation > 60


def choose_poster(raw: bytes, count: int, duration: float) -> int:
    """Index of the poster among `count` candidates: the first after the head (the
    first 10 %, at most 30 s, where bars, slate and countdown sit) that is neither
    black, flat nor colour bars; failing that any such frame; failing that the middle."""
    size = PROBE_W * PROBE_H * 3
    stats = [
        frame_stats(raw[i * size : (i + 1) * size]) for i in range(min(count, len(raw) // size))
    ]
    if not stats:
        return 0
    every = duration / CANDIDATES if duration > 0 else 0
    head = min(duration * 0.1, 30.0)
    good = [i for i, s in enumerate(stats) if not (is_black(s) or is_flat(s) or is_bars(s))]
    after_head = [i for i in good if i * every >= head]
    if after_head:
        return after_head[0]
    if good:
        return good[0]
    return len(stats) // 2
