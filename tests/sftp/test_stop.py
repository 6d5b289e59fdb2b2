"""Stopping the server mid-upload leaves a hidden partial that resumes after a restart;
the server's SFTP threads all end."""

from __future__ import annotations

import hashlib

import paramiko

from ..helpers import partials, payload, start_server
from .util import SftpEnv, audit_rows, paramiko_sftp, paramiko_transport, write_known_hosts


def test_stop_abandons_uploads_in_flight(fresh_env: SftpEnv) -> None:
    folder = fresh_env.root / "TRT" / "stop"
    folder.mkdir()
    data = payload(2 * 1024 * 1024, seed=21)
    with paramiko_transport(fresh_env, "trt-up", key="trt-up") as transport:
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        fh = sftp.open("/TRT/stop/clip.mxf", "w")
        fh.write(data[: 1024 * 1024 + 5])
        fh.flush()
        assert fresh_env.server.stop() == 0
    assert not (folder / "clip.mxf").exists()
    [partial] = partials(folder)
    assert partial.stat().st_size == 1024 * 1024 + 5
    assert [r["status"] for r in audit_rows(fresh_env, "upload")] == ["partial"]

    fresh_env.server = start_server(fresh_env.data, sftp=True)
    write_known_hosts(fresh_env.known_hosts, fresh_env.data, fresh_env.port)
    try:
        with paramiko_sftp(fresh_env, "trt-up", key="trt-up") as sftp:
            have = sftp.stat("/TRT/stop/clip.mxf").st_size
            with sftp.open("/TRT/stop/clip.mxf", "a") as fh:
                fh.write(data[have:])
    finally:
        assert fresh_env.server.stop() == 0
    assert (
        hashlib.sha256((folder / "clip.mxf").read_bytes()).digest() == hashlib.sha256(data).digest()
    )
    assert partials(folder) == []
