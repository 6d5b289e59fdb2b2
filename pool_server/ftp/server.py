"""Build a configured FTP/FTPS server for a pool (a handler subclass per server)."""

from __future__ import annotations

import os
from typing import Any

from pyftpdlib.servers import FTPServer

from ..app import Pool
from ..errors import ConfigError
from .handler import PoolAuthorizer, PoolDTPHandler, PoolFTPHandler
from .workers import Workers

# With `data_threads` off (the event loop moves the data): bytes taken from the socket
# per read of an upload (one read at a time on the event loop, the buffer is freed once
# written, so this costs no memory per connection), and the most one sendfile() call may
# send of a download (the socket's send buffer bounds what one call really sends).
# Fewer, larger steps of the event loop per GiB: uploads used ~30% less server CPU than
# with 256 KiB. (The data threads' own sizes are in workers.py.)
RECV_CHUNK = 1024 * 1024
SENDFILE_CHUNK = 4 * 1024 * 1024


class PoolFTPServer(FTPServer):
    """pyftpdlib's server with `serve_forever(blocking=False)` that never sleeps past a
    scheduled call, its worker threads (`Workers`) stopped on close, and their inbox's
    pipe left out of the connection count.

    `pool-server serve` drives the loop one poll at a time with a 0.5 s cap (to notice
    SIGTERM). pyftpdlib's non-blocking loop polls for the whole cap even when a timer is
    due sooner, so every timer ran up to 0.5 s late: the end-of-upload decision
    (`upload_end_grace_ms`, 20 ms) delayed each STOR's reply by ~0.5 s. Here the poll
    waits at most until the next scheduled call. (It also skips the "starting server"
    log line pyftpdlib formats on every call.)
    """

    workers: Workers | None = None

    def _map_len(self) -> int:
        # Counted against max_connections: the workers' wake-up pipe is in the IOLoop's
        # map but is no connection.
        workers = self.workers
        return len(self.ioloop.socket_map) - (1 if workers and workers.inbox.registered else 0)

    def close_all(self) -> None:
        if self.workers is not None:
            self.workers.close()  # the downloads in flight are not in the IOLoop's map
        super().close_all()

    def serve_forever(
        self,
        timeout: float | None = None,
        blocking: bool = True,
        handle_exit: bool = True,
        worker_processes: int = 1,
    ) -> float | None:
        if blocking or worker_processes != 1:
            return super().serve_forever(timeout, blocking, handle_exit, worker_processes)
        try:
            ioloop = self.ioloop
            soonest = ioloop.sched.poll()  # run what is due; seconds until the next timer
            if soonest is not None:
                timeout = soonest if timeout is None else min(timeout, soonest)
            if ioloop.socket_map:
                ioloop.poll(timeout)
            return ioloop.sched.poll()
        except (KeyboardInterrupt, SystemExit):
            if not handle_exit:
                raise
            return None


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
) -> PoolFTPServer:
    cfg = pool.config
    ftp = cfg.section("ftp")
    cert = pool.data.path / ftp["tls_cert"]
    key = pool.data.path / ftp["tls_key"]
    for path in (cert, key):
        if not path.is_file():
            raise ConfigError(f"{path} not found: run `pool-server init` to make a certificate")
    dtp = type(
        "OrtakDTPHandler",
        (PoolDTPHandler,),
        {
            "timeout": ftp["data_timeout"],
            "data_threads": ftp["data_threads"],
            "eof_grace": ftp["upload_end_grace_ms"] / 1000.0,
            "ac_in_buffer_size": RECV_CHUNK,
            "ac_out_buffer_size": SENDFILE_CHUNK,
        },
    )
    attrs: dict[str, Any] = {
        "authorizer": PoolAuthorizer(pool.fs, pool.defender),
        "pool": pool,
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
    server = PoolFTPServer((host, port), handler)
    # Password checks (scrypt) on worker threads, off the event loop: see workers.py.
    # Half the cores (the event loop and the kernel's network work need the rest); each
    # worker keeps scrypt's 16 MiB in its malloc arena, so no more than 4.
    workers = Workers(server.ioloop, max(1, min(4, (os.cpu_count() or 1) // 2)))
    handler.workers = server.workers = workers
    server.max_cons = cfg.get("server", "max_connections")
    server.max_cons_per_ip = cfg.get("server", "max_connections_per_ip")
    return server
