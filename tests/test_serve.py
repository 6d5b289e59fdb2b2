"""`pool-server serve`: serve.json, clean shutdown, uploads in flight left resumable."""

from __future__ import annotations

import io
import json
import signal

from .helpers import ftp_login, wait_for


def test_serve_json_and_clean_shutdown_keeps_inflight_upload_resumable(data, server_factory):
    srv = server_factory(sftp=False)
    info = json.loads((data / "serve.json").read_text())
    assert info == {"pid": srv.pid, "ftp": srv.ftp_port, "sftp": None, "http": None}
    assert srv.ftp_port > 0
    ftp = ftp_login(srv.ftp_port, "trt-up")
    conn = ftp.transfercmd("STOR /TRT/inflight.mxf")
    conn.sendall(b"z" * 500_000)
    area = data / "pool" / "TRT"
    wait_for(
        lambda: any(p.stat().st_size == 500_000 for p in area.iterdir()),
        what="500000 bytes received",
    )
    assert srv.stop(signal.SIGTERM) == 0
    conn.close()
    ftp.close()
    assert not (data / "serve.json").exists()
    assert not (area / "inflight.mxf").exists()
    [partial] = list(area.iterdir())
    assert partial.name.startswith(".ortak-part-") and partial.stat().st_size == 500_000
    assert "listening on 127.0.0.1" in srv.log()
    again = server_factory(sftp=False)
    with ftp_login(again.ftp_port, "trt-up") as ftp2:
        assert ftp2.size("/TRT/inflight.mxf") == 500_000
        ftp2.storbinary("APPE /TRT/inflight.mxf", io.BytesIO(b"z" * 100))
    assert (area / "inflight.mxf").stat().st_size == 500_100
