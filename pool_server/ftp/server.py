"""Build a configured FTP/FTPS server for a pool (a handler subclass per server)."""

from __future__ import annotations

import os
from typing import Any

from pyftpdlib.servers import FTPServer

from ..app import Pool
from ..errors import ConfigError
from .handler import AtomicUploadDTPHandler, PoolAuthorizer, PoolFTPHandler

BUFFER = 256 * 1024


def _passive_ports(text: str) -> list[int] | None:
    if not text.strip():
        return None
    try:
        low, high = (int(x) for x in text.split("-", 1))
    except ValueError:
        raise ConfigError(f"[ftp] passive_ports {text!r}: use a range like '60000-60999'")
    if not 1024 <= low <= high <= 65535:
        raise ConfigError(f"[ftp] passive_ports {text!r} is not a range within 1024-65535")
    return list(range(low, high + 1))


def build_ftp_server(
    pool: Pool, host: str, port: int, auth_failed_delay: float = 1.0
) -> FTPServer:
    cfg = pool.config
    ftp = cfg.section("ftp")
    cert = pool.data.path / ftp["tls_cert"]
    key = pool.data.path / ftp["tls_key"]
    for path in (cert, key):
        if not path.is_file():
            raise ConfigError(f"{path} not found: run `pool-server init` to make a certificate")
    dtp = type("OrtakDTPHandler", (AtomicUploadDTPHandler,), {
        "timeout": ftp["data_timeout"],
        "eof_grace": ftp["upload_end_grace_ms"] / 1000.0,
        "ac_in_buffer_size": BUFFER,
        "ac_out_buffer_size": BUFFER,
    })
    attrs: dict[str, Any] = {
        "authorizer": PoolAuthorizer(pool.fs, pool.defender),
        "pool_fs": pool.fs,
        "defender": pool.defender,
        "dtp_handler": dtp,
        "banner": cfg.get("server", "banner"),
        "timeout": cfg.get("server", "idle_timeout"),
        "passive_ports": _passive_ports(ftp["passive_ports"]),
        "masquerade_address": ftp["masquerade_address"] or None,
        "use_sendfile": ftp["use_sendfile"] and hasattr(os, "sendfile"),
        "certfile": os.fspath(cert),
        "keyfile": os.fspath(key),
        "ssl_context": None,
        "tls_control_required": ftp["require_tls"],
        "tls_data_required": ftp["require_tls"],
        "auth_failed_timeout": auth_failed_delay,
        "max_login_attempts": 3,
        "max_command_line": ftp["max_command_line"],
        "encoding": "utf8",
        "unicode_errors": "strict",
        "permit_foreign_addresses": False,
        "permit_privileged_ports": False,
    }
    handler = type("OrtakFTPHandler", (PoolFTPHandler,), attrs)
    handler.get_ssl_context()
    server = FTPServer((host, port), handler)
    server.max_cons = cfg.get("server", "max_connections")
    server.max_cons_per_ip = cfg.get("server", "max_connections_per_ip")
    return server
