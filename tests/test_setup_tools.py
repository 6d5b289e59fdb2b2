"""tools/setup_test_tools.py: the check `make test` runs before pytest.

Run here with `--no-install` (the tests never call apt-get) against a PATH we build, so
what it finds is what we put there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tools" / "setup_test_tools.py"


def run(path: str, *args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, **env_vars}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--no-install", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_all_tools_present_on_this_machine() -> None:
    done = run(os.environ["PATH"])
    assert done.returncode == 0, done.stderr
    assert "tools the tests use are there" in done.stderr


def test_missing_tools_are_named_with_the_command_that_installs_them(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = run(str(empty))
    assert done.returncode == 2
    for tool, package in (("ffmpeg", "ffmpeg"), ("lftp", "lftp"), ("sftp", "openssh-client")):
        assert f"{tool} ({package}): not found" in done.stderr
    assert "apt-get install -y curl ffmpeg lftp openssh-client rclone" in done.stderr


def test_an_ffmpeg_without_the_mxf_muxer_is_refused(tmp_path: Path) -> None:
    """A build that runs but lists no MXF muxer (as some static builds) is not enough."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("ffprobe", "curl", "lftp", "sftp", "ssh-keygen", "rclone"):
        real = shutil.which(name)
        assert real is not None, f"{name} is a tool the tests use"
        (bin_dir / name).symlink_to(real)
    fake = bin_dir / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$2" in\n'
        '  -muxers) printf " E  mp4   MP4\\n E  mov  MOV\\n" ;;\n'
        '  -encoders) printf " V....D libx264  H.264\\n" ;;\n'
        "esac\n"
    )
    fake.chmod(0o755)
    done = run(str(bin_dir))
    assert done.returncode == 2
    assert "ffmpeg (ffmpeg): lacks the mxf muxer" in done.stderr
    assert "the prores_ks encoder" in done.stderr
    assert "curl (curl)" not in done.stderr


def test_making_the_venv_needs_ensurepip(tmp_path: Path) -> None:
    """Debian's python3 has no ensurepip without python3-venv: `python3 -m venv` fails.
    A module that refuses to import stands in for the missing package."""
    assert run(os.environ["PATH"], "--stage", "venv").returncode == 0
    (tmp_path / "ensurepip.py").write_text("raise ImportError('not installed')\n")
    done = run(os.environ["PATH"], "--stage", "venv", PYTHONPATH=str(tmp_path))
    assert done.returncode == 2
    assert "cannot make the virtualenv" in done.stderr
    assert "python3-venv (python3-venv): lacks" in done.stderr
    assert "apt-get install -y python3-venv" in done.stderr
