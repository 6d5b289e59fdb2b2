"""Which ffmpeg the previews use, and what a source file holds (ffprobe).

The system's ffmpeg when there is one (Debian's in tests and CI), else the static binary
that imageio-ffmpeg ships, so a fresh install still makes previews. A configured path
(`[previews] ffmpeg`) wins over both. ffprobe is taken from beside the chosen ffmpeg or
the PATH; without one (imageio-ffmpeg ships none) the source is probed by MediaInfo in
a child process (`python -m catalog.previews.probe`), so a hostile file can crash no
more than that child either way.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import PreviewError

PROBE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Tools:
    ffmpeg: str
    ffprobe: str | None
    source: str
    """"configured", "system" or "imageio-ffmpeg"."""
    version: str


def _version(exe: str) -> str:
    try:
        out = subprocess.run(
            [exe, "-hide_banner", "-version"], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise PreviewError(f"cannot run {exe}: {exc}") from exc
    match = re.match(r"\S+ version (\S+)", out)
    return match.group(1) if match else "unknown"


@functools.cache
def find_tools(configured: str = "") -> Tools:
    """The ffmpeg (and ffprobe) to use: `configured` path, system, or imageio-ffmpeg's."""
    if configured:
        exe = shutil.which(configured) or configured
        if not os.access(exe, os.X_OK):
            raise PreviewError(f"[previews] ffmpeg = {configured!r} is not an executable")
        source = "configured"
    elif found := shutil.which("ffmpeg"):
        exe, source = found, "system"
    else:
        try:
            import imageio_ffmpeg

            exe, source = str(imageio_ffmpeg.get_ffmpeg_exe()), "imageio-ffmpeg"
        except (ImportError, RuntimeError) as exc:
            raise PreviewError(f"no ffmpeg on the PATH and none from imageio-ffmpeg: {exc}")
    beside = Path(exe).with_name("ffprobe")
    probe = str(beside) if beside.is_file() else None
    if probe is None and source != "imageio-ffmpeg":
        probe = shutil.which("ffprobe")
    return Tools(exe, probe, source, _version(exe))


@dataclass
class Source:
    """What a preview is made from: the first video stream and the audio streams."""

    duration: float
    has_video: bool
    width: int = 0
    height: int = 0
    sar: Fraction = Fraction(1)
    interlaced: bool = False
    """Possibly interlaced: not declared progressive."""
    field_order: str = ""
    """As declared: "tt"/"tb" (top field first), "bb"/"bt", "progressive" or ""."""
    frame_rate: Fraction = Fraction(25)
    timecode: str | None = None
    audio_channels: list[int] = field(default_factory=list)
    """Channels of each audio stream, in ffmpeg's order (0:a:0, 0:a:1...)."""

    @property
    def display_aspect(self) -> Fraction:
        return Fraction(self.width * self.sar, self.height) if self.height else Fraction(16, 9)


def _fraction(text: Any, default: Fraction) -> Fraction:
    try:
        value = Fraction(str(text).replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        return default
    return value if value > 0 else default


def _float(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value == value and value > 0 else None  # not NaN, positive


def source_from_ffprobe(doc: dict[str, Any]) -> Source:
    streams = doc.get("streams") or []
    fmt = doc.get("format") or {}
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video"
            and not (s.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    duration = _float(fmt.get("duration")) or max(
        (_float(s.get("duration")) or 0.0 for s in streams), default=0.0
    )
    timecode = (fmt.get("tags") or {}).get("timecode")
    for s in streams:
        timecode = timecode or (s.get("tags") or {}).get("timecode")
    src = Source(
        duration=duration,
        has_video=video is not None,
        timecode=timecode,
        audio_channels=[int(s.get("channels") or 0) for s in audio],
    )
    if video is not None:
        src.width, src.height = int(video.get("width") or 0), int(video.get("height") or 0)
        src.sar = _fraction(video.get("sample_aspect_ratio"), Fraction(1))
        # deinterlace unless the stream says it is progressive: the filter touches only
        # frames flagged interlaced, so an unlabelled progressive file loses nothing
        src.field_order = str(video.get("field_order") or "")
        src.interlaced = src.field_order != "progressive"
        src.frame_rate = _fraction(video.get("r_frame_rate"), Fraction(25))
        if src.frame_rate > 120:
            src.frame_rate = _fraction(video.get("avg_frame_rate"), Fraction(25))
    return src


def probe(tools: Tools, path: Path) -> Source:
    """Probe `path` in a child process; PreviewError when it holds nothing to preview."""
    if tools.ffprobe:
        cmd = [
            tools.ffprobe,
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ]
    else:
        cmd = [sys.executable, "-m", "catalog.previews.probe", str(path)]
    try:
        done = subprocess.run(
            cmd, capture_output=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise PreviewError(f"probing {path.name} took more than {PROBE_TIMEOUT:.0f} s")
    except OSError as exc:
        raise PreviewError(f"cannot probe {path.name}: {exc}") from exc
    if done.returncode != 0:
        raise PreviewError(f"not a readable media file: {last_line(done.stderr)}")
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        raise PreviewError(f"probing {path.name} gave no answer") from None
    src = source_from_ffprobe(doc)
    if not src.has_video and not src.audio_channels:
        raise PreviewError("no video or audio stream found")
    if src.has_video and (src.width <= 0 or src.height <= 0):
        raise PreviewError("the video stream has no picture size")
    return src


def last_line(stderr: bytes | str, limit: int = 300) -> str:
    """The last non-empty line of a tool's error output, shortened: the error shown."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else "no error output"
    return line if len(line) <= limit else line[: limit - 1] + "…"
