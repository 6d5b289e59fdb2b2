"""Make the demo pool's sample items (`demo_samples.SAMPLES`) at `init --demo` time.

Each sample is a few seconds of generated picture and tone, small and quick to make,
with its sidecar rendered from the same row. Nothing large is checked in.

ffmpeg is the system's when there is one, else imageio-ffmpeg's bundled binary. A
build that cannot write MXF makes the MXF samples as MOV instead and says so; a sample
that fails is reported and skipped. Making samples never fails `init`.

Files are made in a scratch folder beside the pool and moved into the member's area
(same file system: a rename), sidecar first, so the indexer never sees half a file.
Existing files are never replaced.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import sidecar_render
from .demo_samples import SAMPLES, Sample

SECONDS = 3
FFMPEG_TIMEOUT = 60.0
ISO639_2 = {"tr": "tur", "az": "aze", "kk": "kaz", "uz": "uzb", "ky": "kir", "hu": "hun"}
ESSENCE_EXT = {"mp4": ".mp4", "mxf": ".mxf", "mov": ".mov", "audio": ".m4a"}


@dataclass
class SamplesResult:
    ffmpeg: str | None = None
    """Which ffmpeg made them ('system: /usr/bin/ffmpeg', 'imageio-ffmpeg: ...')."""
    made: list[str] = field(default_factory=list)
    """Pool paths of the files made."""
    notes: list[str] = field(default_factory=list)
    """What the user should know: a container substituted, a sample skipped."""


def find_ffmpeg() -> tuple[str, str] | None:
    """(path, where it comes from), or None when there is no ffmpeg at all."""
    system = shutil.which("ffmpeg")
    if system:
        return system, "system"
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe()), "imageio-ffmpeg"
    except (ImportError, RuntimeError):
        return None


def _inputs(sample: Sample, size: str) -> list[str]:
    tone = f"sine=frequency={sample.tone}:sample_rate=48000:duration={SECONDS}"
    if sample.kind == "audio":
        return ["-f", "lavfi", "-i", tone]
    picture = f"{sample.source}=size={size}:rate=25"
    return ["-f", "lavfi", "-i", picture, "-f", "lavfi", "-i", tone, "-t", str(SECONDS)]


def encode_args(sample: Sample, out: Path, mxf_as_mov: bool = False) -> list[str]:
    """ffmpeg's arguments (after the binary) for one sample's essence."""
    lang = ISO639_2.get(sample.language, "und")
    tags = ["-metadata", f"title={sample.title}", "-metadata:s:a:0", f"language={lang}"]
    common = ["-v", "error", "-nostdin", "-y"]
    if sample.kind == "mp4":
        codec = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        codec += ["-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart"]
        return [*common, *_inputs(sample, "320x180"), *codec, *tags, str(out)]
    if sample.kind == "mov":
        codec = ["-c:v", "prores_ks", "-profile:v", "0", "-c:a", "pcm_s16le"]
        return [*common, *_inputs(sample, "320x180"), *codec, *tags, str(out)]
    if sample.kind == "mxf":
        # XDCAM-style: MPEG-2 4:2:2 interlaced (top field first), 24-bit PCM, timecode
        codec = ["-vf", "setfield=tff", "-c:v", "mpeg2video", "-pix_fmt", "yuv422p"]
        codec += ["-b:v", "4M", "-flags", "+ildct+ilme", "-c:a", "pcm_s24le", "-ac", "1"]
        codec += ["-timecode", "10:00:00:00"]
        container = ["-f", "mov"] if mxf_as_mov else ["-f", "mxf"]
        return [*common, *_inputs(sample, "720x576"), *codec, *tags, *container, str(out)]
    if sample.kind == "audio":
        codec = ["-c:a", "aac", "-b:a", "96k"]
        return [*common, *_inputs(sample, ""), *codec, *tags, str(out)]
    raise ValueError(f"unknown sample kind {sample.kind!r}")


def _encode(ffmpeg: str, sample: Sample, out: Path, mxf_as_mov: bool) -> str | None:
    """Run ffmpeg; None on success, else its complaint."""
    try:
        done = subprocess.run(
            [ffmpeg, *encode_args(sample, out, mxf_as_mov)],
            capture_output=True,
            timeout=FFMPEG_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else f"exit status {done.returncode}"
    return None


def _srt(cues: tuple[tuple[float, float, str], ...]) -> str:
    def stamp(t: float) -> str:
        ms = round(t * 1000)
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "".join(
        f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, 1)
    )


def _make_one(
    ffmpeg: str, sample: Sample, scratch: Path, pool_root: Path
) -> tuple[list[str], list[str]]:
    """(pool paths made, notes) for one sample."""
    folder = pool_root / sample.member / sample.folder
    ext = ESSENCE_EXT[sample.kind]
    if any(folder.glob(f"{glob_escape(sample.stem)}.*")):
        return [], []  # made before (init run again): never replaced
    work = scratch / f"{sample.member}-{sample.stem}"
    work.mkdir()
    notes: list[str] = []
    essence = work / f"{sample.stem}{ext}"
    error = _encode(ffmpeg, sample, essence, mxf_as_mov=False)
    if error and sample.kind == "mxf":
        essence = work / f"{sample.stem}.mov"
        if _encode(ffmpeg, sample, essence, mxf_as_mov=True) is None:
            notes.append(
                f"this ffmpeg cannot write MXF ({error[:200]}): "
                f"{sample.member}/{sample.folder}/{sample.stem} is a MOV instead"
            )
            error = None
    if error:
        return [], [f"sample {sample.member}/{sample.folder}/{sample.stem} skipped: {error}"]
    files: list[Path] = []
    side_name, side_text = sidecar_render.render(sample, essence.suffix)
    (work / side_name).write_text(side_text, encoding="utf-8")
    files.append(work / side_name)
    if sample.subtitles:
        srt = work / f"{sample.stem}.{sample.language}.srt"
        srt.write_text(_srt(sample.subtitles), encoding="utf-8")
        files.append(srt)
    files.append(essence)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for f in files:  # sidecar and subtitles first, essence last
        os.replace(f, folder / f.name)
        made.append(f"/{sample.member}/{sample.folder}/{f.name}")
    return made, notes


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


def make_samples(
    data_path: Path,
    pool_root: Path,
    workers: int | None = None,
    samples: Sequence[Sample] = SAMPLES,
) -> SamplesResult:
    """Make every sample not already there; never raises for a media problem."""
    result = SamplesResult()
    found = find_ffmpeg()
    if found is None:
        result.notes.append(
            "no ffmpeg (neither on PATH nor from imageio-ffmpeg): no sample items made; "
            "install ffmpeg and run `pool-server init --demo` again"
        )
        return result
    ffmpeg, origin = found
    result.ffmpeg = f"{origin}: {ffmpeg}"
    jobs = workers or max(1, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix=".demo-samples-", dir=data_path) as tmp:
        scratch = Path(tmp)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_make_one, ffmpeg, s, scratch, pool_root) for s in samples]
            for future in futures:
                made, notes = future.result()
                result.made += made
                result.notes += notes
    return result
