"""Build a configured FTP/FTPS server for a pool (a handler subclass per server)."""

from __future__ import annotations

import errno
import logging
import os
from typing import Any

from pyftpdlib.servers import FTPServer

from ..app import Pool
from ..errors import ConfigError
from ..listening import (
    RESOURCE_ERRNOS,
    AcceptBackoff,
    Admission,
    address_group,
    admit_prelogin,
    client_ip,
)
from ..tls import ReloadingContext
from .handler import PoolAuthorizer, PoolDTPHandler, PoolFTPHandler, PoolPassiveDTP
from .workers import Workers

# With `data_threads` off (the event loop moves the data): bytes taken from the socket
# per read of an upload (one read at a time on the event loop, the buffer is freed once
# written, so this costs no memory per connection), and the most one sendfile() call may
# send of a download (the socket's send buffer bounds what one call really sends).
# Fewer, larger steps of the event loop per GiB: uploads used ~30% less server CPU than
# with 256 KiB. (The data threads' own sizes are in workers.py.)
RECV_CHUNK = 1024 * 1024
SENDFILE_CHUNK = 4 * 1024 * 1024


log = logging.getLogger("ortak.ftp")


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
    prelogin_max = 0
    prelogin_max_per_ip = 0
    backoff: AcceptBackoff | None = None
    _paused: Any = None  # the scheduled resume, while accepting is paused

    def __init__(self, address: tuple[str, int], handler: type[PoolFTPHandler]) -> None:
        super().__init__(address, handler)
        # Control connections not logged in yet, oldest first, with their address.
        self.prelogin: dict[PoolFTPHandler, str] = {}

    # --- accepting: never given up for lack of descriptors

    def handle_accept(self) -> None:
        """pyftpdlib's accept, except that running out of descriptors (EMFILE) pauses
        accepting for a while (`AcceptBackoff`) instead of closing the listener for good;
        clients wait in the kernel's backlog meanwhile. Dual-stack IPv4 clients are
        known by their IPv4 address."""
        try:
            pair = self.accept()
        except OSError as err:
            if err.errno in (errno.ECONNABORTED, errno.EAGAIN):
                return
            if self.backoff is None:
                raise
            if err.errno not in RESOURCE_ERRNOS:
                log.error("accepting an FTP connection failed: %s", err)
            self._pause(self.backoff.exhausted(err))
            return
        if pair is None:
            return
        if self.backoff is not None:
            self.backoff.accepted()
        sock, addr = pair
        self.handle_accepted(sock, (client_ip(addr[0]), *addr[1:]))

    def _pause(self, delay: float) -> None:
        if self._paused is not None or self.socket is None:
            return
        self.ioloop.modify(self._fileno, 0)  # stop polling: a level-triggered busy loop
        self._paused = self.ioloop.call_later(delay, self._resume, _errback=self.handle_error)

    def _resume(self) -> None:
        self._paused = None
        if self.socket is not None and self._fileno in self.ioloop.socket_map:
            self.ioloop.modify(self._fileno, self.ioloop.READ)

    def handle_error(self) -> None:
        """Log, never close the listener: one failed accept is no reason to stop."""
        log.exception("accepting an FTP connection failed")

    # --- connections that have not logged in

    def admit_prelogin(self, handler: PoolFTPHandler) -> Admission:
        """A new control connection asks for a pre-login slot (see `admit_prelogin`);
        the oldest connection of an address holding too many may be dropped for it."""
        waiting = self.prelogin
        group = address_group(handler.remote_ip)
        decision = admit_prelogin(
            waiting.values(), group, self.prelogin_max, self.prelogin_max_per_ip
        )
        if decision.evict is not None:
            victim = next(h for h, ip in waiting.items() if ip == decision.evict)
            victim.drop_prelogin("421 Too many connections are logging in; try again.")
        if decision.accept:
            waiting[handler] = group
        return decision

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
    passive = type("OrtakPassiveDTP", (PoolPassiveDTP,), {"timeout": ftp["data_timeout"]})
    security = cfg.section("security")
    attrs: dict[str, Any] = {
        "passive_dtp": passive,
        "prelogin_timeout": security["prelogin_timeout"],
        "authorizer": PoolAuthorizer(pool.core),
        "pool": pool,
        "core": pool.core,
        "dtp_handler": dtp,
        "banner": cfg.get("server", "banner"),
        "timeout": cfg.get("server", "idle_timeout"),
        "passive_ports": _passive_ports(ftp["passive_ports"]),
        "masquerade_address": ftp["masquerade_address"] or None,
        "use_sendfile": ftp["use_sendfile"] and hasattr(os, "sendfile"),
        "certfile": os.fspath(cert),
        "keyfile": os.fspath(key),
        "ssl_context": None,
        "tls": ReloadingContext(cert, key),
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
    handler: type[PoolFTPHandler] = type("OrtakFTPHandler", (PoolFTPHandler,), attrs)
    server = PoolFTPServer((host, port), handler)
    # Password checks (scrypt) and upload opens on worker threads, off the event loop:
    # see workers.py.
    # Half the cores (the event loop and the kernel's network work need the rest); each
    # worker keeps scrypt's 16 MiB in its malloc arena, so no more than 4.
    workers = Workers(server.ioloop, max(1, min(4, (os.cpu_count() or 1) // 2)))
    handler.workers = server.workers = workers
    server.max_cons = cfg.get("server", "max_connections")
    server.max_cons_per_ip = cfg.get("server", "max_connections_per_ip")
    server.prelogin_max = security["prelogin_max_connections"]
    server.prelogin_max_per_ip = security["prelogin_max_per_ip"]
    server.backoff = AcceptBackoff(log, "FTP", cfg.get("server", "accept_backoff_ms") / 1000)
    return server
