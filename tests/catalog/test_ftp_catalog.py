"""Uploads through the real FTP server (a `pool-server serve` subprocess) while the
indexer runs on its data folder: searchable, overwritten, deleted, never partial."""

from __future__ import annotations

import ftplib
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.indexer import Indexer
from catalog.search import search
from catalog.store import get_item_row

from ..helpers import password, run_cli
from .conftest import FIXTURES, wait_for

USER = "trt-up"


def login(port: int) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=10)
    ftp.login(USER, password(USER))
    ftp.voidcmd("TYPE I")
    return ftp


@pytest.fixture
def served(ftp_server, settings) -> Iterator[tuple[Any, Indexer]]:
    (ftp_server.data / "pool" / "TRT" / "news").mkdir(parents=True, exist_ok=True)
    ix = Indexer(ftp_server.data / "pool", ftp_server.data / "pool.db", settings)
    ix.start()
    try:
        yield ftp_server, ix
    finally:
        ix.stop()


def item(ix: Indexer, key: str) -> dict[str, Any] | None:
    with ix.lock:
        return get_item_row(ix.db, key=key)


def find(ix: Indexer, query: str) -> list[dict[str, Any]]:
    with ix.lock:
        return search(ix.db, query)


def test_upload_overwrite_delete_over_ftp(served, media: dict[str, Path]):
    server, ix = served
    with login(server.ftp_port) as ftp:
        ftp.storbinary(
            "STOR /TRT/news/TRT-0042.xml", io.BytesIO((FIXTURES / "newsml_video.xml").read_bytes())
        )
        ftp.storbinary("STOR /TRT/news/TRT-0042.mp4", io.BytesIO(media["mp4"].read_bytes()))
        first = wait_for(
            lambda: (
                (r := item(ix, "/TRT/news/TRT-0042"))
                and r["path"].endswith(".mp4")
                and r["uploader"]
                and r
            )
        )
        assert first["uploader"] == "TRT" and first["video_codec"] == "AVC"  # member's name
        assert [r["id"] for r in find(ix, "istanbul")] == [first["id"]]

        ftp.storbinary("STOR /TRT/news/TRT-0042.mp4", io.BytesIO(media["mov"].read_bytes()))
        second = wait_for(
            lambda: (r := item(ix, "/TRT/news/TRT-0042")) and r["sha256"] != first["sha256"] and r
        )
        assert second["video_codec"] == "ProRes" and second["rid"] > first["rid"]

        ftp.delete("/TRT/news/TRT-0042.mp4")
        ftp.delete("/TRT/news/TRT-0042.xml")
        assert wait_for(lambda: item(ix, "/TRT/news/TRT-0042") is None)
        assert find(ix, "istanbul") == []
    with ix.lock:
        ops = ix.db.execute(
            "SELECT op FROM journal WHERE item_id = ? ORDER BY seq", [first["id"]]
        ).fetchall()
    assert [o for (o,) in ops][-1] == "delete" and ops.count(("upsert",)) >= 3


def test_partial_upload_never_appears(served, media: dict[str, Path]):
    server, ix = served
    ftp = login(server.ftp_port)
    conn = ftp.transfercmd("STOR /TRT/news/drop.mxf")
    conn.sendall(media["mxf"].read_bytes()[:100_000])
    area = server.data / "pool" / "TRT" / "news"
    assert wait_for(lambda: [p for p in area.iterdir() if p.name.startswith(".ortak-part-")])
    ftp.file.close()  # the client dies mid-upload
    ftp.sock.close()
    conn.close()
    con = sqlite3.connect(server.data / "pool.db", timeout=30)
    try:
        assert wait_for(
            lambda: con.execute("SELECT status FROM audit WHERE path LIKE '%drop.mxf'").fetchall(),
            timeout=10,
        )
    finally:
        con.close()
    with login(server.ftp_port) as again:
        again.storbinary("STOR /TRT/news/ok.json", io.BytesIO(b'{"title": "sonra"}'))
    assert wait_for(lambda: item(ix, "/TRT/news/ok"))
    assert ix.wait_idle(30)
    with ix.lock:
        paths = [p for (p,) in ix.db.execute("SELECT path FROM item_files")]
    assert paths == ["/TRT/news/ok.json"]


def feed_bytes(pool: Path) -> bytes:
    """Every byte a reader of the feed can fetch: index, snapshots, journals."""
    return b"".join(p.read_bytes() for p in sorted((pool / ".catalog").iterdir()) if p.is_file())


def test_the_feed_never_names_a_login(served):
    """Issue 10, privacy of the feed: the published uploader is the display name the
    operator chose (or the member's name), never the login; the audit keeps the login."""
    server, ix = served
    pool, login_name = server.data / "pool", "ayse.yilmaz@trt.net.tr"
    run_cli(
        server.data,
        "user",
        "add",
        login_name,
        "--role",
        "contributor",
        "--member",
        "TRT",
        "--password-stdin",
        input="ayse-secret-pw\n",
    )
    run_cli(server.data, "user", "set", USER, "--display-name", "TRT Haber masası")
    with login(server.ftp_port) as ftp:
        ftp.storbinary("STOR /TRT/news/desk.json", io.BytesIO(b'{"title": "masa"}'))
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", server.ftp_port, timeout=10)
    ftp.login(login_name, "ayse-secret-pw")
    ftp.storbinary("STOR /TRT/news/ayse.json", io.BytesIO(b'{"title": "ayse"}'))
    ftp.quit()
    desk = wait_for(lambda: (r := item(ix, "/TRT/news/desk")) and r["uploader"] and r)
    ayse = wait_for(lambda: (r := item(ix, "/TRT/news/ayse")) and r["uploader"] and r)
    assert desk["uploader"] == "TRT Haber masası"
    assert ayse["uploader"] == "TRT"  # no display name: the member's name
    # the operator names the account: its items are published again under that name
    run_cli(server.data, "user", "set", login_name, "--display-name", "Ayşe (TRT Ankara)")
    assert wait_for(lambda: item(ix, "/TRT/news/ayse")["uploader"] == "Ayşe (TRT Ankara)")
    assert wait_for(lambda: ix.wait_idle(0.2) and ix.feed.publish() is False, timeout=20)
    published = feed_bytes(pool)
    assert "Ayşe (TRT Ankara)".encode() in published and "TRT Haber masası".encode() in published
    assert b"ayse.yilmaz" not in published and USER.encode() not in published
    con = sqlite3.connect(server.data / "pool.db", timeout=30)
    try:
        users = {u for (u,) in con.execute("SELECT user FROM audit WHERE action = 'upload'")}
    finally:
        con.close()
    assert {USER, login_name} <= users  # the audit keeps who it was
