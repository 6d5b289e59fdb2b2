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

from ..helpers import password
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
        assert first["uploader"] == USER and first["video_codec"] == "AVC"
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
    assert ix.wait_idle(5)
    with ix.lock:
        paths = [p for (p,) in ix.db.execute("SELECT path FROM item_files")]
    assert paths == ["/TRT/news/ok.json"]
