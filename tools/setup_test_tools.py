#!/usr/bin/env python3
"""Check (and, as root on Debian, install) every tool the test suite uses.

`make test` and `.ci/run` (through `make test`) run this before pytest, and the
Makefile runs it with `--stage venv` (with the system's Python) before it makes .venv
for `make run` and `make test` alike:

    python tools/setup_test_tools.py [--stage venv|test] [--no-install] [--quiet]

Every tool is a row of `TOOLS` below: what to look for, which Debian package brings it
and why the tests need it. To need another tool (a browser, a font, a server), add one
row; nothing else changes. A tool is checked by a command that must succeed, or by a
file that must be executable, plus (for ffmpeg) the features it must have.

Run as root on a Debian-like machine (apt-get present), it runs `apt-get update` once
and installs each missing package on its own (one failure does not hide another), then
checks again. Otherwise, or if something is still missing, it prints what is missing
and the one command that installs it, and exits 2 — before pytest starts, so no test is
ever skipped for a missing tool.

Standard library only: it runs before anything else is known to work.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

EXIT_MISSING = 2
DATA_FILES = (".ttf", ".otf", ".ttc")
"""Rows whose path ends so are files to read (fonts), not programs to run."""


@dataclass(frozen=True)
class Tool:
    name: str
    """What is looked for: a command on PATH, or an absolute path."""
    package: str
    """The Debian package that provides it."""
    why: str
    check: Callable[[str], list[str]] = field(default=lambda path: [])
    """Given the tool's path, the features it lacks (empty: all there)."""
    stage: str = "test"
    """'venv': needed to make the virtualenv (checked by the Makefile first, with the
    system's Python); 'test': needed by the tests (checked before pytest)."""


FFMPEG_MUXERS = ("mxf", "mov", "mp4", "matroska", "mpegts", "wav", "ipod")
FFMPEG_ENCODERS = (
    "mpeg2video",
    "prores_ks",
    "libx264",
    "aac",
    "pcm_s16le",
    "pcm_s24le",
    "mjpeg",
    "png",
)
FFMPEG_FILTERS = (
    "testsrc",
    "sine",
    "drawtext",
    # what the previews use, and the test clips made for them
    "testsrc2",
    "smptebars",
    "yadif",
    "tile",
    "showwavespic",
    "amerge",
)


def _listed(path: str, what: str) -> set[str]:
    """The names `ffmpeg -muxers` / `-encoders` / `-filters` lists."""
    out = subprocess.run(
        [path, "-hide_banner", f"-{what}"], capture_output=True, text=True, timeout=30
    ).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith(" ="):
            names.add(parts[1])
    return names


def writes_xdcam_mxf(path: str) -> bool:
    """Two frames of the fixtures' XDCAM-style MXF (MPEG-2 4:2:2 interlaced, 24-bit PCM,
    timecode): listing the muxer is not enough, some builds refuse these options."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [
                *(path, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=720x576:rate=25"),
                *("-f", "lavfi", "-i", "sine=sample_rate=48000", "-frames:v", "2", "-t", "0.08"),
                *("-vf", "setfield=tff", "-c:v", "mpeg2video", "-pix_fmt", "yuv422p"),
                *("-b:v", "10M", "-flags", "+ildct+ilme", "-c:a", "pcm_s24le", "-ac", "1"),
                *("-timecode", "10:00:00:00", "-f", "mxf", os.path.join(tmp, "probe.mxf")),
            ],
            capture_output=True,
            timeout=60,
        )
        return done.returncode == 0


def ffmpeg_lacks(path: str) -> list[str]:
    muxers, encoders = _listed(path, "muxers"), _listed(path, "encoders")
    filters = _listed(path, "filters")
    lacks = (
        [f"the {m} muxer" for m in FFMPEG_MUXERS if m not in muxers]
        + [f"the {e} encoder" for e in FFMPEG_ENCODERS if e not in encoders]
        + [f"the {f} filter" for f in FFMPEG_FILTERS if f not in filters]
    )
    if not lacks and not writes_xdcam_mxf(path):
        lacks.append("the ability to write an XDCAM-style MXF")
    return lacks


def python_module(code: str) -> Callable[[str], list[str]]:
    """A check run by the Python that runs the tests (the venv's, under `make test`)."""

    def lacks(path: str) -> list[str]:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
        return [] if done.returncode == 0 else [f"`{code}` fails"]

    return lacks


# The one table. Add a row for every tool a test starts or a library loads. (Peers only
# the benchmarks start — nginx, vsftpd, pure-ftpd, sshd's sftp-server — are the
# benchmarks' business: `make test` does not need them.)
TOOLS: tuple[Tool, ...] = (
    Tool(
        "python3-venv",
        "python3-venv",
        "making .venv (`python3 -m venv`; Debian ships ensurepip apart)",
        python_module("import ensurepip, venv"),
        stage="venv",
    ),
    Tool("ffmpeg", "ffmpeg", "test media (MXF, ProRes, H.264, AAC), demo samples", ffmpeg_lacks),
    Tool("ffprobe", "ffmpeg", "reading back generated media"),
    Tool("curl", "curl", "FTP/FTPS client tests"),
    Tool("lftp", "lftp", "FTP/FTPS client tests"),
    Tool("sftp", "openssh-client", "OpenSSH sftp client tests"),
    Tool("ssh-keygen", "openssh-client", "key fingerprints in the key tests"),
    Tool("/usr/sbin/sshd", "openssh-server", "OpenSSH server peer (sftp-server)"),
    Tool("rclone", "rclone", "rclone sftp tests (checksums over exec)"),
    Tool("/usr/bin/chromium", "chromium", "browser tests (Playwright drives Debian's chromium)"),
    Tool(
        "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
        "fonts-dejavu-core",
        "the timecode burnt into preview proxies (catalog/previews/plan.py)",
    ),
    Tool("redis-server", "redis-server", "the preview queue's networked broker (huey on Redis)"),
    Tool(
        "libmediainfo",
        "libmediainfo0v5",
        "technical metadata (pymediainfo)",
        python_module("import sys, pymediainfo; sys.exit(not pymediainfo.MediaInfo.can_parse())"),
    ),
)


def locate(tool: Tool) -> str | None:
    if tool.name.startswith("/"):
        wanted = os.R_OK if tool.name.endswith(DATA_FILES) else os.X_OK
        return tool.name if os.access(tool.name, wanted) else None
    if tool.name in ("libmediainfo", "python3-venv"):
        return sys.executable  # checked through Python
    return shutil.which(tool.name)


def problems(stage: str = "test") -> list[tuple[Tool, str]]:
    """(tool, what is wrong) for every tool of `stage` that is missing or lacks a
    feature."""
    found: list[tuple[Tool, str]] = []
    for tool in TOOLS:
        if tool.stage != stage:
            continue
        path = locate(tool)
        if path is None:
            found.append((tool, "not found"))
            continue
        try:
            lacks = tool.check(path)
        except (OSError, subprocess.SubprocessError) as exc:
            lacks = [f"cannot run: {exc}"]
        if lacks:
            found.append((tool, "lacks " + ", ".join(lacks)))
    return found


def can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def install(packages: list[str], say: Callable[[str], None]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say("apt-get update")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    for package in packages:
        say(f"apt-get install {package}")
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
            env=env,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        if done.returncode != 0:
            say(f"apt-get could not install {package} (exit {done.returncode})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-install", action="store_true", help="only check, even as root on Debian"
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing when all is there")
    parser.add_argument(
        "--stage",
        choices=("venv", "test"),
        default="test",
        help="what to check: making the venv (system Python), or running the tests",
    )
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        print(f"setup-test-tools: {text}", file=sys.stderr, flush=True)

    missing = problems(args.stage)
    if missing and not args.no_install and can_install():
        install(sorted({tool.package for tool, _ in missing}), say)
        missing = problems(args.stage)
    if not missing:
        if not args.quiet:
            count = sum(tool.stage == args.stage for tool in TOOLS)
            what = "making the venv needs" if args.stage == "venv" else "the tests use"
            say(f"all {count} tools {what} are there")
        return 0
    if args.stage == "venv":
        say("cannot make the virtualenv; nothing was installed:")
    else:
        say("the test suite needs tools that are missing; no test ran:")
    for tool, what in missing:
        say(f"  {tool.name} ({tool.package}): {what} - for {tool.why}")
    packages = " ".join(sorted({tool.package for tool, _ in missing}))
    sudo = "" if os.geteuid() == 0 else "sudo "
    say("install them with:")
    say(f"  {sudo}apt-get update && {sudo}apt-get install -y {packages}")
    return EXIT_MISSING


if __name__ == "__main__":
    sys.exit(main())
