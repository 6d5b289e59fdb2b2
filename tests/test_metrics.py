"""Pool metrics from pool.db after real FTP transfers, parsed by prometheus-client's parser."""

from __future__ import annotations

import io
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from pool_server.app import Pool
from pool_server.context import DataDir
from pool_server.metrics import registry_for, render

from .helpers import ftp_login, wait_for


def _scrape(data: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    pool = Pool.open(DataDir(data))
    try:
        body, ctype = render(registry_for(pool.store, pool.quotas.used))
    finally:
        pool.close()
    assert ctype.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counters_move_with_real_transfers(ftp_server, data: Path) -> None:
    before = _scrape(data)
    up_key = ("ortak_transfer_bytes_total", (("direction", "in"), ("door", "ftp")))
    down_key = ("ortak_transfer_bytes_total", (("direction", "out"), ("door", "ftp")))
    ok_key = ("ortak_logins_total", (("door", "ftp"), ("result", "ok")))
    body = b"x" * 300_000
    ftp = ftp_login(ftp_server.ftp_port, "trt-up")
    ftp.storbinary("STOR /TRT/metrics.bin", io.BytesIO(body))
    got = bytearray()
    ftp.retrbinary("RETR /TRT/metrics.bin", got.extend)
    ftp.quit()
    assert bytes(got) == body

    def moved() -> bool:
        now = _scrape(data)
        return now.get(up_key, 0) - before.get(up_key, 0) == len(body) and now.get(
            down_key, 0
        ) - before.get(down_key, 0) == len(body)

    wait_for(moved, timeout=10, what="transfer counters to move by the bytes sent")
    after = _scrape(data)
    assert after[ok_key] >= before.get(ok_key, 0) + 1
    assert after[("ortak_quota_used_bytes", (("member", "TRT"),))] >= len(body)
    assert ("ortak_catalog_items", ()) in after
    assert ("ortak_feed_seq", ()) in after


def test_failed_logins_are_counted(ftp_server, data: Path) -> None:
    import ftplib

    key = ("ortak_logins_total", (("door", "ftp"), ("result", "failed")))
    before = _scrape(data).get(key, 0)
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", ftp_server.ftp_port, timeout=10)
    try:
        ftp.login("trt-up", "not-the-password")
    except ftplib.error_perm:
        pass
    else:
        raise AssertionError("a wrong password logged in")
    ftp.close()
    wait_for(lambda: _scrape(data).get(key, 0) == before + 1, what="a failed login counted")
