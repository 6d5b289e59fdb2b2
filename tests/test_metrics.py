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


def _token(data: Path, user: str) -> str:
    from .helpers import run_cli

    return run_cli(data, "token", "create", user).output.strip().splitlines()[-1].strip()


def test_metrics_over_http_for_admin_tokens_and_on_metrics_bind(data: Path, server_factory):
    import re

    import httpx

    from .helpers import set_setting

    # port 0: the kernel's pick, as the server says in its log (a port found free by the
    # test and bound later by the server could be taken by anyone in between)
    set_setting(data, "http", "metrics_bind", '"127.0.0.1:0"')
    srv = server_factory(sftp=False, http=True)
    said = re.search(r"metrics on 127\.0\.0\.1:(\d+)", srv.log())
    assert said, srv.log()
    side_port = int(said.group(1))
    base = f"http://127.0.0.1:{srv.http_port}"
    admin = {"Authorization": f"Bearer {_token(data, 'admin')}"}
    reader = {"Authorization": f"Bearer {_token(data, 'news')}"}
    assert httpx.get(f"{base}/metrics", headers=reader).status_code == 403
    assert httpx.get(f"{base}/metrics").status_code == 401
    body = b"y" * 123_456
    ftp = ftp_login(srv.ftp_port, "trt-up")
    ftp.storbinary("STOR /TRT/m2.bin", io.BytesIO(body))
    ftp.quit()

    def families(text: str) -> dict[str, float]:
        out = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                out[s.name + str(sorted(s.labels.items()))] = s.value
        return out

    key = "ortak_transfer_bytes_total[('direction', 'in'), ('door', 'ftp')]"
    wait_for(
        lambda: families(httpx.get(f"{base}/metrics", headers=admin).text).get(key) == len(body),
        what="the upload counted on /metrics",
    )
    r = httpx.get(f"{base}/metrics", headers=admin)
    assert r.headers["content-type"].startswith("text/plain")
    side = httpx.get(f"http://127.0.0.1:{side_port}/metrics")
    assert side.status_code == 200 and families(side.text)[key] == len(body)
