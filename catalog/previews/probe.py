"""`python -m catalog.previews.probe FILE`: an ffprobe-shaped JSON document from MediaInfo.

Used when the chosen ffmpeg comes without ffprobe (imageio-ffmpeg's static binary). Run
as a child process: a file that crashes libmediainfo ends this process, not the worker.
Only the fields `tools.source_from_ffprobe` reads are filled in.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from typing import Any


def _scan_order(video: Any) -> str:
    if str(video.scan_type or "").lower() in ("interlaced", "mbaff"):
        return "bb" if str(video.scan_order or "").upper().startswith("B") else "tt"
    return "progressive"


def _sar(video: Any) -> str:
    """The sample aspect ratio as "a:b". MediaInfo rounds its ratios to three decimals
    (1.422 for 64:45), so it is worked out from the display aspect ratio, which is a
    simple fraction (16:9, 4:3) once the rounding is undone."""
    try:
        width, height = int(video.width), int(video.height)
        dar = Fraction(str(video.display_aspect_ratio)).limit_denominator(20)
        sar = dar * height / width
    except (TypeError, ValueError, ZeroDivisionError):
        try:
            sar = Fraction(str(video.pixel_aspect_ratio)).limit_denominator(100)
        except (TypeError, ValueError, ZeroDivisionError):
            sar = Fraction(1)
    return f"{sar.numerator}:{sar.denominator}"


def document(path: str) -> dict[str, Any]:
    from pymediainfo import MediaInfo

    info = MediaInfo.parse(path)
    general = info.general_tracks[0] if info.general_tracks else None
    streams: list[dict[str, Any]] = []
    timecode = None
    for track in info.tracks:
        timecode = timecode or track.time_code_of_first_frame
    for video in info.video_tracks[:1]:
        streams.append(
            {
                "codec_type": "video",
                "width": video.width,
                "height": video.height,
                "sample_aspect_ratio": _sar(video),
                "field_order": _scan_order(video),
                "r_frame_rate": str(video.frame_rate or 25),
            }
        )
    for audio in info.audio_tracks:
        streams.append({"codec_type": "audio", "channels": audio.channel_s or 0})
    duration = (float(general.duration) / 1000.0) if general and general.duration else None
    return {
        "format": {"duration": duration, "tags": {"timecode": timecode} if timecode else {}},
        "streams": streams,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m catalog.previews.probe FILE", file=sys.stderr)
        return 2
    try:
        doc = document(argv[0])
    except Exception as exc:  # MediaInfo raises whatever it likes; the parent reads stderr
        print(f"{argv[0]}: {exc}", file=sys.stderr)
        return 1
    json.dump(doc, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
