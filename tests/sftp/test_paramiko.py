"""paramiko's client against the pool: operations, status codes, audit, streaming."""

from __future__ import annotations

import errno
import hashlib
import io
import re

import paramiko
import pytest

from ..helpers import partials, payload, run_cli, wait_for
from .util import SftpEnv, audit_rows, paramiko_sftp, paramiko_transport


def test_operations_and_audit(sftp_env: SftpEnv) -> None:
    data = payload(1_000_000, seed=11)
    with paramiko_sftp(sftp_env, "trt-up") as sftp:
        assert sftp.normalize(".") == "/"
        sftp.mkdir("/TRT/pm")
        sftp.putfo(io.BytesIO(data), "/TRT/pm/clip.mxf")
        assert sftp.stat("/TRT/pm/clip.mxf").st_size == len(data)
        assert sftp.listdir("/TRT/pm") == ["clip.mxf"]
        out = io.BytesIO()
        sftp.getfo("/TRT/pm/clip.mxf", out)
        assert out.getvalue() == data
        with sftp.open("/TRT/pm/clip.mxf") as fh:  # a partial read is not a "take"
            fh.seek(1000)
            assert fh.read(10) == data[1000:1010]
        sftp.rename("/TRT/pm/clip.mxf", "/TRT/pm/moved.mxf")
        sftp.utime("/TRT/pm/moved.mxf", (1_600_000_000, 1_600_000_000))
        assert sftp.stat("/TRT/pm/moved.mxf").st_mtime == 1_600_000_000
        sftp.remove("/TRT/pm/moved.mxf")
        sftp.rmdir("/TRT/pm")
    downloads = [
        (r["status"], r["bytes"])
        for r in audit_rows(sftp_env, "download")
        if r["path"] == "/TRT/pm/clip.mxf"
    ]
    assert downloads == [("complete", len(data)), ("partial", 10)]
    actions = {r["action"] for r in run_audit(sftp_env) if r["path"] and "/TRT/pm" in r["path"]}
    assert {"mkdir", "upload", "download", "rename", "setstat", "delete", "rmdir"} <= actions


def test_a_range_read_twice_is_counted_once(sftp_env: SftpEnv) -> None:
    """paramiko's prefetch can read a range again; the audit counts the file's bytes
    the client got, once, and says how much was read in all."""
    data = payload(300_000, seed=12)
    (sftp_env.root / "TRT" / "twice.mxf").write_bytes(data)
    with paramiko_sftp(sftp_env, "trt-up") as sftp:
        with sftp.open("/TRT/twice.mxf") as fh:
            assert fh.read() == data
            fh.seek(0)
            assert fh.read(50_000) == data[:50_000]
        with sftp.open("/TRT/twice.mxf") as fh:  # overlapping ranges, not to the end
            assert [bytes(b) for b in fh.readv([(0, 1000), (500, 1000), (5000, 10)])] == [
                data[:1000],
                data[500:1500],
                data[5000:5010],
            ]
    downloads = [
        (r["status"], r["bytes"], r["detail"])
        for r in audit_rows(sftp_env, "download")
        if r["path"] == "/TRT/twice.mxf"
    ]
    assert [(status, nbytes) for status, nbytes, _ in downloads] == [
        ("complete", len(data)),
        ("partial", 1510),
    ]
    # What was read in all depends on the client (readv prefetches, and may ask twice).
    for (_, _, detail), least in zip(downloads, (len(data) + 50_000, 2010), strict=True):
        read = re.fullmatch(r"(\d+) bytes read, some more than once", detail or "")
        assert read and int(read[1]) >= least, detail


def run_audit(env: SftpEnv) -> list[dict]:
    import json

    return [
        r
        for r in json.loads(run_cli(env.data, "audit", "--json").output)
        if r["protocol"] == "sftp"
    ]


def test_status_codes(sftp_env: SftpEnv) -> None:
    (sftp_env.root / "TRT" / "codes").mkdir()
    (sftp_env.root / "TRT" / "codes" / "a.bin").write_bytes(b"a")
    (sftp_env.root / "TRT" / "codes" / "b.bin").write_bytes(b"b")
    with paramiko_sftp(sftp_env, "trt-up") as sftp:
        with pytest.raises(FileNotFoundError):
            sftp.stat("/TRT/codes/none.bin")
        with pytest.raises(FileNotFoundError):
            sftp.remove("/TRT/codes/none.bin")
        with pytest.raises(PermissionError):
            sftp.mkdir("/AZTV/not-mine")
        with pytest.raises(PermissionError):
            sftp.normalize("/../../etc")
        with pytest.raises(OSError, match="already exists"):
            sftp.mkdir("/TRT/codes")
        with pytest.raises(OSError, match="not empty"):
            sftp.rmdir("/TRT/codes")
        with pytest.raises(OSError, match="already exists"):
            sftp.rename("/TRT/codes/a.bin", "/TRT/codes/b.bin")
        sftp.posix_rename("/TRT/codes/a.bin", "/TRT/codes/b.bin")  # replaces
        assert sftp.open("/TRT/codes/b.bin").read() == b"a"
        with pytest.raises(OSError, match="reserved"):
            sftp.open("/TRT/codes/.ortak-part-x", "w")
        with pytest.raises(OSError) as exc:
            sftp.symlink("/TRT/codes/b.bin", "/TRT/codes/link")
        assert exc.value.errno in (None, errno.EOPNOTSUPP) or "not supported" in str(exc.value)
        with pytest.raises(OSError, match="already exists"):
            sftp.open("/TRT/codes/b.bin", "wx")


def test_quota_exceeded_stores_nothing(sftp_env: SftpEnv) -> None:
    run_cli(sftp_env.data, "quota", "set", "QAZAQ", "2M")
    (sftp_env.root / "QAZAQ" / "q").mkdir()
    with paramiko_sftp(sftp_env, "admin") as sftp, pytest.raises(OSError, match=r"[Qq]uota"):
        sftp.putfo(io.BytesIO(payload(5 * 1024 * 1024)), "/QAZAQ/q/too-big.mxf")
    assert list((sftp_env.root / "QAZAQ" / "q").iterdir()) == []


def test_large_folder_listing(sftp_env: SftpEnv) -> None:
    folder = sftp_env.root / "AZTV" / "many"
    folder.mkdir()
    names = {f"item-{i:05d}.mxf" for i in range(3000)}
    for name in names:
        (folder / name).write_bytes(b"")
    (folder / ".ortak-part-hidden").write_bytes(b"x")
    with paramiko_sftp(sftp_env, "news") as sftp:
        assert set(sftp.listdir("/AZTV/many")) == names
        assert {a.filename for a in sftp.listdir_iter("/AZTV/many")} == names


def test_dropped_connection_leaves_a_resumable_partial(sftp_env: SftpEnv) -> None:
    folder = sftp_env.root / "TRT" / "drop"
    folder.mkdir()
    data = payload(3 * 1024 * 1024, seed=12)
    with paramiko_transport(sftp_env, "trt-up") as transport:
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        fh = sftp.open("/TRT/drop/clip.mxf", "w")
        fh.write(data[: 2 * 1024 * 1024])
        fh.flush()
        # the transport closes here, without the file being closed
    wait_for(
        lambda: any(
            r["status"] == "partial"
            for r in audit_rows(sftp_env, "upload")
            if r["path"] == "/TRT/drop/clip.mxf"
        ),
        what="the server to abandon the upload",
    )
    assert not (folder / "clip.mxf").exists()
    [partial] = partials(folder)
    assert partial.stat().st_size == 2 * 1024 * 1024
    with paramiko_sftp(sftp_env, "aztv-up") as other, pytest.raises(FileNotFoundError):
        other.stat("/TRT/drop/clip.mxf")  # not someone else's to see
    with paramiko_sftp(sftp_env, "trt-up") as sftp:
        have = sftp.stat("/TRT/drop/clip.mxf").st_size  # the owner sees what arrived
        assert have == 2 * 1024 * 1024
        with sftp.open("/TRT/drop/clip.mxf", "a") as fh:
            fh.write(data[have:])
    assert (
        hashlib.sha256((folder / "clip.mxf").read_bytes()).digest() == hashlib.sha256(data).digest()
    )
    assert partials(folder) == []


def test_exec_checksum_and_refused_channels(sftp_env: SftpEnv) -> None:
    data = payload(100_000, seed=13)
    (sftp_env.root / "AZTV" / "x.mxf").write_bytes(data)
    with paramiko_transport(sftp_env, "news", key="news") as transport:
        chan = transport.open_session(timeout=10)
        chan.settimeout(10)
        chan.exec_command("sha256sum /AZTV/x.mxf")
        out = b""
        while chunk := chan.recv(65536):
            out += chunk
        assert out.decode() == f"{hashlib.sha256(data).hexdigest()}  /AZTV/x.mxf\n"
        assert chan.recv_exit_status() == 0
        for request in ("invoke_shell", "get_pty"):
            chan = transport.open_session(timeout=10)
            with pytest.raises(paramiko.SSHException):
                getattr(chan, request)()
            chan.close()
        chan = transport.open_session(timeout=10)
        with pytest.raises(paramiko.SSHException):
            chan.exec_command("cat /etc/passwd")
        with pytest.raises(paramiko.ChannelException):
            transport.open_channel(
                "direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 5555), timeout=10
            )
        with pytest.raises(paramiko.SSHException):
            transport.request_port_forward("127.0.0.1", 0)
