"""Fixtures of the alert and webhook tests: a short real video made by ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three seconds of H.264 and AAC in MP4, 320x180."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed (apt-get install ffmpeg)"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=3:size=320x180:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=3",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path
