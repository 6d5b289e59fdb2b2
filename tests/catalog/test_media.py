"""Technical metadata from real clips made by ffmpeg, and the streamed sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from catalog.errors import MediaError
from catalog.media import sha256_file, technical_metadata


def test_mxf_op1a_mpeg2_422_with_timecode(media: dict[str, Path]):
    t = technical_metadata(media["mxf"])
    assert t["container"] == "MXF" and t["operational_pattern"] == "OP-1a"
    assert t["video_codec"] == "MPEG Video" and t["video_profile"] == "4:2:2@Main"
    assert (t["width"], t["height"], t["frame_rate"]) == (720, 576, 25.0)
    assert t["scan_type"] == "Interlaced"
    assert t["start_timecode"] == "10:00:00:00"
    assert t["duration"] == pytest.approx(1.0, abs=0.05)
    assert t["audio"] == [
        {"codec": "PCM", "channels": 1, "sample_rate": 48000, "bit_depth": 24, "language": None}
    ]


def test_mov_prores_with_language_tagged_audio(media: dict[str, Path]):
    t = technical_metadata(media["mov"])
    assert t["container"] == "QuickTime"
    assert t["video_codec"] == "ProRes" and t["commercial_name"] == "ProRes 422 HQ"
    assert (t["width"], t["height"]) == (320, 240) and t["aspect_ratio"] == "4:3"
    assert t["audio"][0]["language"] == "tr" and t["audio"][0]["bit_depth"] == 16
    assert t["tags"] == {"title": "Nevruz", "languages": ["tr"]}


def test_mp4_h264(media: dict[str, Path]):
    t = technical_metadata(media["mp4"])
    assert t["container"] == "MPEG-4" and t["video_codec"] == "AVC"
    assert t["scan_type"] == "Progressive" and t["frame_rate"] == 25.0
    assert t["audio"][0]["codec"] == "AAC" and t["audio"][0]["language"] == "kk"


def test_not_media(tmp_path: Path):
    (tmp_path / "x.mxf").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(MediaError):
        technical_metadata(tmp_path / "x.mxf")


@pytest.mark.parametrize("size", [0, 1, 4 * 1024 * 1024, 4 * 1024 * 1024 + 17])
def test_sha256_streams_exactly(tmp_path: Path, size: int):
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f", buffer_size=1 << 20) == hashlib.sha256(data).hexdigest()
