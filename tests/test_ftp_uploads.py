"""Atomic, resumable uploads over FTP, driven by ftplib, curl and lftp."""

from __future__ import annotations

import ftplib
import io
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
from pathlib import Path

import pytest

from .helpers import partials, password, payload, run_cli, set_setting, wait_for

USER = "trt-up"


def login(port: int, user: str = USER) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=10)
    ftp.login(user, password(user))
    ftp.voidcmd("TYPE I")
    return ftp


def drop(ftp: ftplib.FTP, data_conn) -> None:
    """The client dies: its sockets close without a word, in the order the kernel
    closes a killed process's descriptors (control first, it is the older one)."""
    ftp.file.close()
    ftp.sock.close()
    data_conn.close()


@pytest.fixture
def area(ftp_server) -> Path:
    folder = ftp_server.data / "pool" / "TRT" / "news"
    folder.mkdir()
    return folder


def test_upload_in_flight_is_invisible_until_complete(ftp_server, area: Path) -> None:
    body = payload(3 * 1024 * 1024)
    up = login(ftp_server.ftp_port)
    conn = up.transfercmd("STOR /TRT/news/story.mxf")
    conn.sendall(body[: 1024 * 1024])
    wait_for(lambda: partials(area) and partials(area)[0].stat().st_size > 0, what="partial")
    with login(ftp_server.ftp_port, "news") as other:
        assert other.nlst("/TRT/news") == []
        listing: list[str] = []
        other.retrlines("LIST -a /TRT/news", listing.append)
        assert listing == []
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            other.retrbinary("RETR /TRT/news/story.mxf", io.BytesIO().write)
        with pytest.raises(ftplib.error_perm, match=r"^553"):
            other.retrbinary(f"RETR /TRT/news/{partials(area)[0].name}", io.BytesIO().write)
    assert not (area / "story.mxf").exists()
    conn.sendall(body[1024 * 1024 :])
    conn.close()
    assert up.voidresp().startswith("226")
    assert (area / "story.mxf").read_bytes() == body
    assert partials(area) == []
    up.quit()


def test_overwrite_is_atomic_for_a_reader_already_downloading(ftp_server, area: Path) -> None:
    old, new = payload(4 * 1024 * 1024, 1), payload(1024 * 1024, 2)
    (area / "clip.mp4").write_bytes(old)
    reader = login(ftp_server.ftp_port, "news")
    reader.sendcmd("OPTS UTF8 ON")
    conn = reader.transfercmd("RETR /TRT/news/clip.mp4")
    first = conn.recv(65536)
    with login(ftp_server.ftp_port) as writer:
        writer.storbinary("STOR /TRT/news/clip.mp4", io.BytesIO(new))
    got = bytearray(first)
    while chunk := conn.recv(1 << 20):
        got += chunk
    conn.close()
    reader.voidresp()
    reader.quit()
    assert bytes(got) == old
    assert (area / "clip.mp4").read_bytes() == new


def upload_partly(port: int, area: Path, name: str, body: bytes, sent: int):
    """Start a STOR of `body` into TRT/news, send its first `sent` bytes and wait until
    the server holds them; returns the session and its open data connection."""
    up = login(port)
    conn = up.transfercmd(f"STOR /TRT/news/{name}")
    conn.sendall(body[:sent])
    wait_for(
        lambda: partials(area) and partials(area)[0].stat().st_size == sent,
        what=f"{sent} bytes received",
    )
    return up, conn


def test_dropped_connection_leaves_nothing_visible_and_ftplib_resumes(ftp_server, area):
    body = payload(2 * 1024 * 1024)
    up, conn = upload_partly(ftp_server.ftp_port, area, "drop.mov", body, 700_000)
    drop(up, conn)
    wait_for(
        lambda: audit_statuses(ftp_server.data, "drop.mov") == ["partial"],
        what="the server to record the partial upload",
    )
    assert not (area / "drop.mov").exists()
    with login(ftp_server.ftp_port) as again:
        assert again.nlst("/TRT/news") == []
        again.voidcmd("TYPE I")
        assert again.size("/TRT/news/drop.mov") == 700_000  # SIZE tells the owner
        again.storbinary("STOR /TRT/news/drop.mov", io.BytesIO(body[700_000:]), rest=700_000)
    assert (area / "drop.mov").read_bytes() == body
    assert partials(area) == []


def _kill_when_partial(proc: subprocess.Popen, area: Path, name: str, at_least: int) -> int:
    """SIGKILL the client uploading `name` once `at_least` bytes arrived; the size of the
    partial once the server has ended that upload (it drains what was in flight first)."""
    wait_for(
        lambda: partials(area) and partials(area)[0].stat().st_size >= at_least,
        timeout=20,
        what=f"{at_least} bytes of the upload",
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(5)
    wait_for(
        lambda: audit_statuses(area.parents[2], name) == ["partial"],
        timeout=30,
        what="the server to end the killed upload",
    )
    return partials(area)[0].stat().st_size


def _upload_bytes(data: Path, name: str) -> list[int]:
    """Bytes received per completed upload of `name`, from the audit trail."""
    rows = json.loads(run_cli(data, "audit", "--action", "upload", "--json").output)
    return [
        int(r["detail"].split()[-1])
        for r in rows
        if r["path"].endswith(name) and r["status"] == "complete"
    ]


def audit_statuses(data: Path, name: str) -> list[str]:
    with sqlite3.connect(data / "pool.db") as db:
        return [
            r[0]
            for r in db.execute(
                "SELECT status FROM audit WHERE action = 'upload' AND path LIKE ? ORDER BY id",
                [f"%/{name}"],
            )
        ]


def test_curl_killed_mid_upload_then_resumes_byte_identical(ftp_server, area, tmp_path):
    body = payload(6 * 1024 * 1024, 3)
    src = tmp_path / "interview.mxf"
    src.write_bytes(body)
    url = f"ftp://127.0.0.1:{ftp_server.ftp_port}/TRT/news/interview.mxf"
    auth = ["-u", f"{USER}:{password(USER)}"]
    proc = subprocess.Popen(["curl", "-sS", "--limit-rate", "1M", *auth, "-T", str(src), url])
    have = _kill_when_partial(proc, area, "interview.mxf", 1024 * 1024)
    assert 0 < have < len(body)
    assert not (area / "interview.mxf").exists()
    subprocess.run(["curl", "-sS", "-C", "-", *auth, "-T", str(src), url], check=True, timeout=60)
    assert (area / "interview.mxf").read_bytes() == body
    assert partials(area) == []
    assert _upload_bytes(ftp_server.data, "interview.mxf") == [len(body) - have]


def test_lftp_killed_mid_upload_then_put_c_resumes(ftp_server, area, tmp_path):
    body = payload(6 * 1024 * 1024, 4)
    src = tmp_path / "doc.mov"
    src.write_bytes(body)

    def lftp(commands: str) -> list[str]:
        return [
            "lftp",
            "-c",
            "set ftp:ssl-allow no; set net:max-retries 1; set cmd:fail-exit yes; "
            f"open -u {USER},{password(USER)} -p {ftp_server.ftp_port} 127.0.0.1; " + commands,
        ]

    proc = subprocess.Popen(lftp(f"set net:limit-rate 1000000; put -O /TRT/news {src}"))
    have = _kill_when_partial(proc, area, "doc.mov", 1024 * 1024)
    assert 0 < have < len(body)
    assert not (area / "doc.mov").exists()
    subprocess.run(lftp(f"put -c -O /TRT/news {src}"), check=True, timeout=60)
    assert (area / "doc.mov").read_bytes() == body
    assert partials(area) == []
    assert _upload_bytes(ftp_server.data, "doc.mov") == [len(body) - have]


def test_appe_continues_a_partial(ftp_server, area):
    body = payload(300_000, 5)
    up = login(ftp_server.ftp_port)
    conn = up.transfercmd("STOR /TRT/news/a.ts")
    conn.sendall(body[:100_000])
    wait_for(
        lambda: partials(area) and partials(area)[0].stat().st_size == 100_000, what="first part"
    )
    drop(up, conn)
    wait_for(lambda: audit_statuses(ftp_server.data, "a.ts") == ["partial"], what="partial")
    with login(ftp_server.ftp_port) as again:
        again.storbinary("APPE /TRT/news/a.ts", io.BytesIO(body[100_000:]))
    assert (area / "a.ts").read_bytes() == body


def test_another_user_does_not_see_or_resume_my_partial(ftp_server, area):
    up = login(ftp_server.ftp_port)
    conn = up.transfercmd("STOR /TRT/news/mine.mxf")
    conn.sendall(b"x" * 50_000)
    wait_for(lambda: partials(area) and partials(area)[0].stat().st_size == 50_000, what="partial")
    with login(ftp_server.ftp_port, "admin") as admin:
        admin.voidcmd("TYPE I")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            admin.size("/TRT/news/mine.mxf")
    conn.close()
    up.voidresp()
    up.quit()


def _reset(conn) -> None:
    """Close the data connection with a reset (SO_LINGER 0), as a crashing client's
    network stack or a middlebox might, rather than ending it."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def test_a_reset_data_connection_never_completes_an_upload(ftp_server, area):
    body = payload(3 * 1024 * 1024)
    up, conn = upload_partly(ftp_server.ftp_port, area, "reset.mov", body, 1_000_000)
    _reset(conn)
    with pytest.raises(ftplib.error_temp, match=r"^426"):
        up.voidresp()
    assert up.nlst("/TRT/news") == []  # the same session goes on
    assert up.size("/TRT/news/reset.mov") == 1_000_000
    up.storbinary("STOR /TRT/news/reset.mov", io.BytesIO(body[1_000_000:]), rest=1_000_000)
    up.quit()
    assert (area / "reset.mov").read_bytes() == body
    assert audit_statuses(ftp_server.data, "reset.mov") == ["partial", "complete"]


def test_abor_during_an_upload_keeps_a_resumable_partial(ftp_server, area):
    body = payload(2 * 1024 * 1024)
    up, conn = upload_partly(ftp_server.ftp_port, area, "abor.mov", body, 500_000)
    up.sock.sendall(b"ABOR\r\n")
    assert up.getline().startswith("426 ")
    assert up.getline().startswith("226 ")
    conn.close()
    assert up.nlst("/TRT/news") == []
    assert up.size("/TRT/news/abor.mov") == 500_000
    up.storbinary("APPE /TRT/news/abor.mov", io.BytesIO(body[500_000:]))
    up.quit()
    assert (area / "abor.mov").read_bytes() == body


def test_abor_replies_once_the_upload_has_ended_so_the_next_command_resumes(ftp_server, area):
    """ABOR, PASV and APPE in one packet: the APPE is read only after ABOR's 226, and by
    then the aborted upload has ended (its partial is free to resume). A loop run saw a
    450 "already in progress" when the APPE came right after the 226."""
    body = payload(2 * 1024 * 1024)
    for attempt in range(5):
        name = f"abor-{attempt}.mov"
        up, conn = upload_partly(ftp_server.ftp_port, area, name, body, 500_000)
        up.sock.sendall(f"ABOR\r\nPASV\r\nAPPE /TRT/news/{name}\r\n".encode())
        assert up.getline().startswith("426 ")
        assert up.getline().startswith("226 ")
        conn.close()
        host, port = ftplib.parse227(up.getresp())
        assert up.getresp().startswith("150 ")
        with socket.create_connection((host, port), timeout=10) as data:
            data.sendall(body[500_000:])
        assert up.voidresp().startswith("226")
        up.quit()
        assert (area / name).read_bytes() == body
    assert partials(area) == []


def test_uploads_from_the_event_loop_when_data_threads_is_off(data, server_factory):
    set_setting(data, "ftp", "data_threads", "false")
    srv = server_factory(sftp=False)
    body = payload(5 * 1024 * 1024 + 3)
    with login(srv.ftp_port) as up:
        up.storbinary("STOR /TRT/loop.mov", io.BytesIO(body))
        got = io.BytesIO()
        up.retrbinary("RETR /TRT/loop.mov", got.write)
    assert got.getvalue() == body == (data / "pool" / "TRT" / "loop.mov").read_bytes()
