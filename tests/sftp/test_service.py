"""The SFTP service in-process: `stop()` closes every transport and joins every thread
it started, leaving uploads in flight as hidden partials."""

from __future__ import annotations

import threading
from pathlib import Path

import paramiko

from pool_server.app import Pool
from pool_server.context import DataDir
from pool_server.sftp import build_sftp_server

from ..helpers import partials, password


def test_stop_joins_every_thread(data: Path) -> None:
    pool = Pool.open(DataDir(data))
    before = set(threading.enumerate())
    service = build_sftp_server(pool, "127.0.0.1", 0)
    service.start()
    clients: list[paramiko.Transport] = []
    try:
        for _ in range(2):
            transport = paramiko.Transport(("127.0.0.1", service.port))
            transport.connect(username="trt-up", password=password("trt-up"))
            clients.append(transport)
        sftp = paramiko.SFTPClient.from_transport(clients[0])
        assert sftp is not None
        (data / "pool" / "TRT" / "svc").mkdir()
        fh = sftp.open("/TRT/svc/clip.mxf", "w")
        fh.write(b"x" * 100_000)
        fh.flush()
        idle = clients[1].open_session()  # a channel with nothing on it
        assert idle is not None
        service.stop()
    finally:
        for transport in clients:
            transport.close()
            transport.join(10)
        pool.close()  # the pool's own threads (the live-session writer) end with it
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []
    assert not (data / "pool" / "TRT" / "svc" / "clip.mxf").exists()
    [partial] = partials(data / "pool" / "TRT" / "svc")
    assert partial.stat().st_size == 100_000
    pool.close()
