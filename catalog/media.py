"""Essence files: technical metadata (pymediainfo) and streamed sha256 (hashlib)."""

from __future__ import annotations

import hashlib
import math
import os
import threading
from pathlib import Path
from typing import Any

from .errors import Cancelled, MediaError

HASH_BUFFER = 4 * 1024 * 1024
"""Bytes read per call when hashing; large reads into one reused buffer keep the hash,
not the Python loop, the bottleneck."""


PARSE_SPEED = 0.1
"""MediaInfo's ParseSpeed: headers and a little of the essence. Every field we keep is
in the headers of real files (0.5, MediaInfo's default, reads 20x more of a 100 MB MXF)."""


def sha256_file(
    path: Path, buffer_size: int = HASH_BUFFER, cancel: threading.Event | None = None
) -> str:
    """Hex sha256 of a file, streamed with `readinto` into one preallocated buffer.

    Raises Cancelled as soon as `cancel` is set (a 50 GB file must not hold up a stop).
    """
    digest = hashlib.sha256()
    buf = bytearray(buffer_size)
    view = memoryview(buf)
    try:
        with open(path, "rb", buffering=0) as f:
            try:
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except (AttributeError, OSError):
                pass
            while n := f.readinto(buf):
                digest.update(view[:n])
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"hashing {path.name} stopped")
    except OSError as exc:
        raise MediaError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def _float(value: Any) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None


def _commercial_name(general: Any, video: Any) -> str | None:
    """XDCAM HD422, AVC-Intra 100, ProRes 422 HQ...: what broadcasters call the format."""
    if video is not None:
        name = video.commercial_name
        if video.format == "ProRes" and video.format_profile:
            return f"ProRes {video.format_profile}"
        if name and name != video.format:
            return str(name)
        if name:
            return str(name)
    return str(general.commercial_name) if general is not None and general.commercial_name else None


def technical_metadata(path: Path) -> dict[str, Any]:
    """Technical fields of an essence file, plus embedded descriptive tags under `tags`.

    Raises MediaError when MediaInfo cannot read the file at all.
    """
    from pymediainfo import MediaInfo  # imported late: loading libmediainfo takes time

    try:
        info = MediaInfo.parse(str(path), parse_speed=PARSE_SPEED)
    except Exception as exc:  # pymediainfo raises bare RuntimeError/OSError/etc.
        raise MediaError(f"MediaInfo cannot read {path.name}: {exc}") from exc
    general = info.general_tracks[0] if info.general_tracks else None
    videos = info.video_tracks
    video = videos[0] if videos else None
    if general is None or (not videos and not info.audio_tracks):
        raise MediaError(f"{path.name}: no audio or video stream found")
    out: dict[str, Any] = {
        "container": "QuickTime"
        if general.format == "MPEG-4" and general.format_profile == "QuickTime"
        else general.format,
        "operational_pattern": general.format_profile if general.format == "MXF" else None,
        "commercial_name": _commercial_name(general, video),
        "duration": round(d / 1000.0, 3) if (d := _float(general.duration)) else None,
        "bit_rate": _int(general.overall_bit_rate),
    }
    timecode = None
    for track in info.tracks:
        timecode = timecode or track.time_code_of_first_frame
    out["start_timecode"] = timecode
    if video is not None:
        out.update(
            {
                "video_codec": video.format,
                "video_profile": video.format_profile,
                "width": _int(video.width),
                "height": _int(video.height),
                "frame_rate": _float(video.frame_rate),
                "scan_type": video.scan_type,
                "aspect_ratio": video.other_display_aspect_ratio[0]
                if video.other_display_aspect_ratio
                else video.display_aspect_ratio,
            }
        )
        out["bit_rate"] = _int(video.bit_rate) or out["bit_rate"]
    out["audio"] = [
        {
            "codec": a.format,
            "channels": _int(a.channel_s),
            "sample_rate": _int(a.sampling_rate),
            "bit_depth": _int(a.bit_depth),
            "language": a.language,
        }
        for a in info.audio_tracks
    ]
    tags = {
        "title": general.title or general.movie_name,
        "description": general.description or general.comment,
        "keywords": general.keywords,
        "languages": sorted({a["language"] for a in out["audio"] if a["language"]}),
    }
    out["tags"] = {k: v for k, v in tags.items() if v}
    return {k: v for k, v in out.items() if v not in (None, "", [])}
