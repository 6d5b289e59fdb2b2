"""rclone's sftp backend (Debian's rclone) with a config file written here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ..helpers import payload
from .util import SftpEnv


def rclone(env: SftpEnv, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "rclone",
            "--config",
            str(config),
            "--low-level-retries",
            "1",
            "--retries",
            "1",
            "--contimeout",
            "10s",
            "--timeout",
            "30s",
            *args,
        ],
        text=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def config(sftp_env: SftpEnv, tmp_path: Path) -> Path:
    path = tmp_path / "rclone.conf"
    path.write_text(
        "[pool]\n"
        "type = sftp\n"
        "host = 127.0.0.1\n"
        f"port = {sftp_env.port}\n"
        "user = trt-up\n"
        f"key_file = {sftp_env.keys['trt-up']}\n"
        f"known_hosts_file = {sftp_env.known_hosts}\n"
    )  # no shell_type or *sum_command: rclone finds out on its own, and saves it here
    return path


def test_copy_both_ways_and_check_checksums(
    sftp_env: SftpEnv, config: Path, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "series").mkdir(parents=True)
    files = {
        "a.mxf": payload(1_500_000, 1),
        "b.json": b'{"title": "b"}\n',
        "series/ep 1 (İstanbul).mxf": payload(700_000, 2),
        "empty.txt": b"",
    }
    for name, data in files.items():
        (src / name).write_bytes(data)

    up = rclone(sftp_env, config, "copy", str(src), "pool:/TRT/rc")
    assert up.returncode == 0, up.stderr
    for name, data in files.items():
        assert (sftp_env.root / "TRT" / "rc" / name).read_bytes() == data

    down = rclone(sftp_env, config, "copy", "pool:/TRT/rc", str(tmp_path / "back"))
    assert down.returncode == 0, down.stderr
    for name, data in files.items():
        assert (tmp_path / "back" / name).read_bytes() == data

    assert "md5sum_command = md5sum" in config.read_text()  # rclone's detection worked
    check = rclone(sftp_env, config, "check", "--checksum", str(src), "pool:/TRT/rc")
    assert check.returncode == 0, check.stderr
    assert "0 differences found" in check.stderr
    assert "hashes in common" not in check.stderr

    # Same size, different bytes: only a checksum tells them apart.
    (sftp_env.root / "TRT" / "rc" / "a.mxf").write_bytes(payload(1_500_000, 9))
    differ = rclone(sftp_env, config, "check", "--checksum", str(src), "pool:/TRT/rc")
    assert differ.returncode != 0
    assert "1 differences found" in differ.stderr
