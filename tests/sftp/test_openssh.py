"""OpenSSH's `sftp -b` and `ssh` (key auth, strict host key checking) against the pool."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
from pathlib import Path

from ..helpers import partials, payload, wait_for
from .util import SftpEnv, audit_rows, openssh_exec, openssh_sftp, ssh_options


def test_upload_list_download_rename_delete(sftp_env: SftpEnv, tmp_path: Path) -> None:
    data = payload(3_000_000)
    (tmp_path / "story.mxf").write_bytes(data)
    result = openssh_sftp(
        sftp_env,
        "trt-up",
        [
            "mkdir /TRT/ossh",
            "put story.mxf /TRT/ossh/story.mxf",
            "ls -l /TRT/ossh",
            "get /TRT/ossh/story.mxf back.mxf",
            "rename /TRT/ossh/story.mxf /TRT/ossh/renamed.mxf",
            "ls /TRT/ossh",
            "df /TRT",
            "rm /TRT/ossh/renamed.mxf",
            "rmdir /TRT/ossh",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "3000000" in result.stdout and "story.mxf" in result.stdout
    assert "/TRT/ossh/renamed.mxf" in result.stdout
    assert "%Capacity" in result.stdout  # statvfs@openssh.com
    assert (tmp_path / "back.mxf").read_bytes() == data
    assert not (sftp_env.root / "TRT" / "ossh").exists()
    uploads = [r for r in audit_rows(sftp_env, "upload") if r["path"] == "/TRT/ossh/story.mxf"]
    assert [(r["status"], r["bytes"]) for r in uploads] == [("complete", 3_000_000)]
    takes = [r for r in audit_rows(sftp_env, "download") if r["path"] == "/TRT/ossh/story.mxf"]
    assert [(r["status"], r["bytes"], r["user"]) for r in takes] == [
        ("complete", 3_000_000, "trt-up")
    ]


def test_refusals_are_reported(sftp_env: SftpEnv, tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"x")
    denied = openssh_sftp(sftp_env, "news", ["put x.bin /TRT/x.bin"], cwd=tmp_path)
    assert denied.returncode != 0
    assert "ermission denied" in denied.stderr
    missing = openssh_sftp(sftp_env, "news", ["get /TRT/nothing-here.bin"], cwd=tmp_path)
    assert missing.returncode != 0
    assert "not found" in missing.stderr or "No such file" in missing.stderr


def test_interrupted_upload_stays_hidden_and_reput_completes(
    sftp_env: SftpEnv, tmp_path: Path
) -> None:
    data = payload(6 * 1024 * 1024, seed=7)
    (tmp_path / "big.mxf").write_bytes(data)
    folder = sftp_env.root / "TRT" / "resume"
    folder.mkdir()
    args = [
        "sftp",
        "-b",
        "-",
        "-l",
        "16000",
        *ssh_options(sftp_env, "trt-up"),
        "-P",
        str(sftp_env.port),
        "trt-up@127.0.0.1",
    ]
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"put big.mxf /TRT/resume/big.mxf\n")
        proc.stdin.close()
        wait_for(
            lambda: any(p.stat().st_size >= 1024 * 1024 for p in partials(folder)),
            timeout=20,
            what="the upload to reach 1 MiB",
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    wait_for(
        lambda: any(
            r["status"] == "partial"
            for r in audit_rows(sftp_env, "upload")
            if r["path"] == "/TRT/resume/big.mxf"
        ),
        what="the server to abandon the upload",
    )
    # Invisible under its name: to its owner, to others, on disk.
    assert not (folder / "big.mxf").exists()
    for user in ("trt-up", "admin"):
        listing = openssh_sftp(sftp_env, user, ["ls -a /TRT/resume"], cwd=tmp_path)
        assert listing.returncode == 0, listing.stderr
        assert "big.mxf" not in listing.stdout and ".ortak" not in listing.stdout
    [partial] = partials(folder)
    assert 0 < partial.stat().st_size < len(data)

    result = openssh_sftp(sftp_env, "trt-up", ["reput big.mxf /TRT/resume/big.mxf"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        hashlib.sha256((folder / "big.mxf").read_bytes()).digest() == hashlib.sha256(data).digest()
    )
    assert partials(folder) == []


def test_put_preserving_times(sftp_env: SftpEnv, tmp_path: Path) -> None:
    local = tmp_path / "old.mxf"
    local.write_bytes(payload(100_000, seed=8))
    os.utime(local, (1_500_000_000, 1_500_000_000))
    result = openssh_sftp(sftp_env, "trt-up", ["put -p old.mxf /TRT/old.mxf"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (sftp_env.root / "TRT" / "old.mxf").stat().st_mtime == 1_500_000_000
    denied = openssh_sftp(sftp_env, "news", ["chmod 600 /TRT/old.mxf"], cwd=tmp_path)
    assert denied.returncode != 0 and "ermission denied" in denied.stderr


def test_put_append_continues_a_partial(sftp_env: SftpEnv, tmp_path: Path) -> None:
    data = payload(300_000, seed=3)
    folder = sftp_env.root / "TRT" / "append"
    folder.mkdir()
    (tmp_path / "a.bin").write_bytes(data)
    first = openssh_sftp(sftp_env, "trt-up", ["put a.bin /TRT/append/a.bin"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    # A complete file plus `put -a` of the longer version: continues it in place.
    longer = data + payload(200_000, seed=4)
    (tmp_path / "a.bin").write_bytes(longer)
    second = openssh_sftp(sftp_env, "trt-up", ["put -a a.bin /TRT/append/a.bin"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert (folder / "a.bin").read_bytes() == longer


def test_checksum_commands(sftp_env: SftpEnv) -> None:
    data = payload(2_500_000, seed=5)
    path = sftp_env.root / "AZTV" / "sum.mxf"
    path.write_bytes(data)
    for command, algorithm in (("sha256sum", "sha256"), ("sha1sum", "sha1"), ("md5sum", "md5")):
        result = openssh_exec(sftp_env, "news", f"{command} /AZTV/sum.mxf")
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"{hashlib.new(algorithm, data).hexdigest()}  /AZTV/sum.mxf\n"
    probe = openssh_exec(sftp_env, "news", "md5sum", stdin="")
    assert probe.stdout == "d41d8cd98f00b204e9800998ecf8427e  -\n"
    missing = openssh_exec(sftp_env, "news", "sha256sum '/AZTV/no such.mxf'")
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_shell_and_other_commands_refused(sftp_env: SftpEnv) -> None:
    for command in ("ls /", "sh -c 'sha256sum /etc/passwd'", "echo ${ShellId}%ComSpec%"):
        result = openssh_exec(sftp_env, "admin", command)
        assert result.returncode != 0
        assert "exec request failed" in result.stderr
    shell = subprocess.run(
        ["ssh", *ssh_options(sftp_env, "admin"), "-p", str(sftp_env.port), "-T", "admin@127.0.0.1"],
        input="",
        text=True,
        capture_output=True,
        timeout=30,
    )
    assert shell.returncode != 0
    assert "shell request failed" in shell.stderr


def test_wrong_key_refused(sftp_env: SftpEnv, tmp_path: Path) -> None:
    result = openssh_sftp(sftp_env, "trt-up", ["ls /"], cwd=tmp_path, key="stranger")
    assert result.returncode != 0
    assert "Permission denied" in result.stderr
    disabled = openssh_sftp(sftp_env, "disabled-user", ["ls /"], cwd=tmp_path)
    assert disabled.returncode != 0
    assert "Permission denied" in disabled.stderr
