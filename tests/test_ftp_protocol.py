"""FTP protocol features: MLSD/MLST, MDTM, UTF-8 names, REST downloads, limits, sweeps."""

from __future__ import annotations

import ftplib
import io
import json
import os
import time

import pytest

from pool_server.app import Pool
from pool_server.context import DataDir

from .helpers import ftp_login, run_cli, set_setting

NAME = "İstanbul'da Nevruz — Ўзбекистон.mxf"


def test_utf8_names_mlsd_mlst_mdtm(data, ftp_server):
    body = os.urandom(10_000)
    with ftp_login(ftp_server.ftp_port, "trt-up") as ftp:
        ftp.encoding = "utf-8"
        ftp.mkd("/TRT/haber")
        ftp.storbinary(f"STOR /TRT/haber/{NAME}", io.BytesIO(body))
        facts = dict(ftp.mlsd("/TRT/haber", facts=["type", "size"]))
        assert facts[NAME]["type"] == "file" and int(facts[NAME]["size"]) == len(body)
        assert f"size={len(body)}" in ftp.sendcmd(f"MLST /TRT/haber/{NAME}").lower()
        assert ftp.sendcmd(f"MDTM /TRT/haber/{NAME}").startswith("213 20")
        assert ftp.size(f"/TRT/haber/{NAME}") == len(body)
    assert (data / "pool" / "TRT" / "haber" / NAME).read_bytes() == body


def test_rest_download_and_audit_of_takes(data, ftp_server):
    body = os.urandom(300_000)
    (data / "pool" / "TRT" / "clip.mp4").write_bytes(body)
    # Far larger than what loopback socket buffers can hold, so giving up is seen.
    (data / "pool" / "TRT" / "long.mxf").write_bytes(os.urandom(64 << 20))
    with ftp_login(ftp_server.ftp_port, "news") as ftp:
        whole = io.BytesIO()
        ftp.retrbinary("RETR /TRT/clip.mp4", whole.write)
        tail = io.BytesIO()
        ftp.retrbinary("RETR /TRT/clip.mp4", tail.write, rest=200_000)
        conn = ftp.transfercmd("RETR /TRT/long.mxf")
        conn.recv(1000)
        conn.close()  # the reader gives up half way
        with pytest.raises(ftplib.error_temp):
            ftp.voidresp()
    assert whole.getvalue() == body and tail.getvalue() == body[200_000:]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = json.loads(run_cli(data, "audit", "--action", "download", "--json").output)
        if len(rows) == 3:
            break
        time.sleep(0.05)
    assert [(r["user"], r["member"], r["status"]) for r in rows] == [
        ("news", "TRT", "complete"),
        ("news", "TRT", "complete"),
        ("news", "TRT", "partial"),
    ]
    assert rows[0]["bytes"] == len(body) and rows[1]["bytes"] == 100_000
    assert rows[2]["path"] == "/TRT/long.mxf" and rows[2]["bytes"] < 64 << 20


def test_connection_limit_per_address(data, server_factory):
    set_setting(data, "server", "max_connections_per_ip", "2")
    srv = server_factory(sftp=False)
    first, second = ftp_login(srv.ftp_port, "news"), ftp_login(srv.ftp_port, "news")
    third = ftplib.FTP()
    with pytest.raises(ftplib.error_temp, match=r"^421 Too many connections"):
        third.connect("127.0.0.1", srv.ftp_port, timeout=10)
        third.login("news", "x" * 12)
    third.close()
    with ftp_login(srv.ftp_port, "news", source="127.0.0.4") as other:
        assert "TRT" in other.nlst("/")
    first.quit()
    second.quit()


def test_idle_session_is_cut_by_its_timeout(data, server_factory):
    set_setting(data, "server", "idle_timeout", "1")
    srv = server_factory(sftp=False)
    ftp = ftp_login(srv.ftp_port, "news")
    time.sleep(2.5)
    with pytest.raises((ftplib.error_temp, EOFError, OSError)):
        ftp.nlst("/")
    ftp.close()


def test_stale_partials_are_swept_and_fresh_ones_kept(data):
    area = data / "pool" / "TRT"
    stale, fresh = area / ".ortak-part-stale", area / ".ortak-part-fresh"
    stale.write_bytes(b"s" * 1000)
    fresh.write_bytes(b"f" * 1000)
    old = time.time() - 100 * 3600
    os.utime(stale, (old, old))
    pool = Pool.open(DataDir(data))
    try:
        used = pool.quotas.used("TRT")
        assert pool.core.sweep_partials(72 * 3600) == 1
        assert pool.quotas.used("TRT") == used - 1000
    finally:
        pool.close()
    assert not stale.exists() and fresh.exists()
