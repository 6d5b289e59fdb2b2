"""A full disk under the whole data folder (pool.db included), on a small tmpfs mounted
for the test (the tests run as root, as the other disk-full tests do).

Uploads stop at the reserve (`[storage] min_free`) with a clear error, while logins,
listings, downloads and deletes keep working; and once the disk is really full (filled
by something else), an audit row that cannot be written neither drops a session nor
holds up a reply."""

from __future__ import annotations

import errno
import ftplib
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from .helpers import ServerProcess, ftp_login, password, set_setting, start_server

MiB = 1024 * 1024


@pytest.fixture
def small_disk(template_data: Path, tmp_path: Path) -> Iterator[Path]:
    """The pool's data folder on a 24 MiB filesystem of its own."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        data = mount / "data"
        shutil.copytree(template_data, data, symlinks=True)
        set_setting(data, "storage", "min_free", '"8M"')
        yield data
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def server(small_disk: Path) -> Iterator[ServerProcess]:
    srv = start_server(small_disk, sftp=True)
    yield srv
    srv.stop()


def sftp_login(srv: ServerProcess, user: str) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
    assert srv.sftp_port
    transport = paramiko.Transport(("127.0.0.1", srv.sftp_port))
    transport.connect(username=user, password=password(user))
    client = paramiko.SFTPClient.from_transport(transport)
    assert client is not None
    client.get_channel().settimeout(20)
    return transport, client


def store_until_refused(ftp: ftplib.FTP, path: str, size: int) -> str:
    """Send `size` bytes (or until the server cuts the data connection); the server's
    final reply to the STOR."""
    conn = ftp.transfercmd(f"STOR {path}")
    try:
        block = os.urandom(64 * 1024)
        for _ in range(size // len(block)):
            conn.sendall(block)
    except OSError:
        pass  # the server closed the data connection on us
    finally:
        conn.close()
    try:
        return ftp.voidresp()
    except ftplib.Error as err:
        return str(err)


def free_bytes(path: Path) -> int:
    vfs = os.statvfs(path)
    return vfs.f_bavail * vfs.f_frsize


def fill(path: Path) -> Path:
    """Fill the filesystem of `path` to the last block, as another program would."""
    filler = path / "filler"
    with open(filler, "wb", buffering=0) as fh:
        block = b"\0" * (256 * 1024)
        for _ in range(1000):
            try:
                fh.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        while True:
            try:
                fh.write(b"\0" * 512)
            except OSError:
                break
    return filler


def test_uploads_stop_at_the_reserve_and_everything_else_keeps_working(small_disk, server):
    area = small_disk / "pool" / "TRT"
    body = os.urandom(4 * MiB)
    with ftp_login(server.ftp_port, "trt-up") as ftp:
        ftp.storbinary("STOR /TRT/kept.mxf", io.BytesIO(body))
        # About 19 MiB free, 8 MiB kept in reserve: 14 MiB more cannot be stored.
        reply = store_until_refused(ftp, "/TRT/huge.mxf", 14 * MiB)
        assert reply.startswith("552 ") and "disk is full" in reply and "reserve" in reply
        assert ftp.nlst("/TRT") == ["kept.mxf"]
    transport, sftp = sftp_login(server, "trt-up")
    try:
        with pytest.raises(OSError, match="disk is full"), sftp.open("/TRT/huge2.mxf", "w") as fh:
            fh.write(os.urandom(14 * MiB))
        assert sftp.listdir("/TRT") == ["kept.mxf"]
    finally:
        transport.close()
    assert sorted(os.listdir(area)) == ["kept.mxf"]  # no partial left behind
    assert free_bytes(small_disk) > 6 * MiB  # the reserve held
    with ftp_login(server.ftp_port, "admin") as admin:
        got = bytearray()
        admin.retrbinary("RETR /TRT/kept.mxf", got.extend)
        assert bytes(got) == body
        admin.delete("/TRT/kept.mxf")


def test_a_really_full_disk_keeps_logins_listings_downloads_and_deletes(small_disk, server):
    body = os.urandom(2 * MiB)
    (small_disk / "pool" / "TRT" / "story.mxf").write_bytes(body)
    filler = fill(small_disk)
    assert free_bytes(small_disk) < 64 * 1024
    for user in ("admin", "trt-up"):  # a fresh login, though its audit row is lost
        with ftp_login(server.ftp_port, user) as ftp:
            assert "story.mxf" in ftp.nlst("/TRT")
            got = bytearray()
            ftp.retrbinary("RETR /TRT/story.mxf", got.extend)
            assert bytes(got) == body
            with pytest.raises(ftplib.error_perm, match=r"^552 .*disk is full"):
                ftp.storbinary("STOR /TRT/more.mxf", io.BytesIO(b"x" * 1000))
            ftp.voidcmd("NOOP")  # the session carries on after the refusal
    transport, sftp = sftp_login(server, "trt-up")
    try:
        with pytest.raises(OSError, match="disk is full"), sftp.open("/TRT/more.mxf", "w") as fh:
            fh.write(b"x" * 1000)
        with sftp.open("/TRT/story.mxf") as fh:
            assert fh.read() == body
    finally:
        transport.close()
    with ftp_login(server.ftp_port, "admin") as admin:  # the admin cleans up
        admin.delete("/TRT/story.mxf")
    filler.unlink()
    with ftp_login(server.ftp_port, "trt-up") as ftp:  # and uploads work again
        ftp.storbinary("STOR /TRT/again.mxf", io.BytesIO(b"fine"))
    assert (small_disk / "pool" / "TRT" / "again.mxf").read_bytes() == b"fine"
    assert "Traceback" not in server.log()
