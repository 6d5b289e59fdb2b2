"""Transport details: FTPS data connections reuse the TLS session; a connection reset
is retried and the download still verifies."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pool_client.config import parse_url
from pool_client.transport.ftp import FTPSTransport, _SessionReusingFTP_TLS

from ..helpers import password
from .conftest import Pool
from .proxy import CommandCounter


class _RecordingFTP_TLS(_SessionReusingFTP_TLS):
    reused: list[bool]

    def ntransfercmd(self, cmd, rest=None):  # type: ignore[no-untyped-def]
        conn, size = super().ntransfercmd(cmd, rest)
        self.reused.append(conn.session_reused)
        return conn, size


class _RecordingFTPS(FTPSTransport):
    def _new_client(self):  # type: ignore[no-untyped-def]
        plain = super()._new_client()
        client = _RecordingFTP_TLS(context=plain.context)
        client.reused = self.reused
        return client


def test_ftps_data_connections_reuse_the_tls_session(pool: Pool, tmp_path: Path) -> None:
    pool.upload("/TRT/news/tls.bin", b"t" * 300_000)
    endpoint = parse_url(pool.url("ftps"), "news")
    t = _RecordingFTPS(endpoint, password("news"), tmp_path / "cfg", lambda m: None)
    t.reused = []
    with t:
        t.connect()
        assert t.read_bytes("/TRT/news/tls.bin") == b"t" * 300_000
        assert t.read_bytes("/TRT/news/tls.bin", 299_000) == b"t" * 1000
        assert [e.name for e in t.list("/TRT/news")] == ["tls.bin"]
    assert t.reused == [True, True, True]


def test_a_reset_is_retried(pool: Pool, tmp_path: Path) -> None:
    data = os.urandom(500_000)
    pool.upload("/TRT/news/flaky.mp4", data)
    pool.wait_items(1)
    counter = CommandCounter(pool.server.ftp_port)
    try:
        pool.run("update", port=counter.port)
        [item] = pool.json("search", "flaky", port=counter.port)
        counter.reset()
        counter.drop_on["RETR"] = 1
        result = pool.run(
            "get", item["id"], "--dest", str(tmp_path / "dl"), "--json", port=counter.port
        )
    finally:
        counter.stop()
    assert "retrying in" in result.stderr
    assert (
        hashlib.sha256((tmp_path / "dl" / "flaky.mp4").read_bytes()).digest()
        == hashlib.sha256(data).digest()
    )
    assert sum(v == "RETR" for v in counter.verbs()) == 2
