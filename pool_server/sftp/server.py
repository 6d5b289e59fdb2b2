"""The SFTP listener: accepts sockets on its own thread and gives each a paramiko
transport tuned for throughput (large window and packets, AES-GCM/CTR only).

`stop()` closes the listener and every transport and joins every thread it started;
uploads in flight are abandoned, i.e. left as hidden resumable partials.
"""

from __future__ import annotations

import hmac
import logging
import socket
import threading
import time
from pathlib import Path

import paramiko

from ..app import Pool
from ..errors import AuthenticationFailed, ConfigError
from ..listening import (
    RESOURCE_ERRNOS,
    AcceptBackoff,
    address_group,
    admit_prelogin,
    client_ip,
    listening_socket,
    quiet_flood,
)
from .auth import Connection
from .limits import HandleLimits

log = logging.getLogger("ortak.sftp")

WINDOW_SIZE = 8 * 1024 * 1024
"""Per-channel receive window: room for 32 of OpenSSH's 255 KiB writes in flight (as
fast as 64 MiB in the benchmark) while bounding what one client can park in memory."""
MAX_PACKET = 256 * 1024
"""Largest SSH packet we accept: fewer, bigger packets cost less per byte in Python."""
SOCKET_BUFFER = 4 * 1024 * 1024

_CHANNEL_SUCCESS = paramiko.common.MSG_CHANNEL_SUCCESS

CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)
MACS = (
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
)


# paramiko compares every packet's MAC in a Python loop over its bytes; the standard
# library's constant-time comparison does the same job in C (~10% of the transport
# thread's time on uploads). Same semantics, so it is swapped in process-wide.
paramiko.util.constant_time_bytes_eq = hmac.compare_digest


def load_host_keys(pool: Pool) -> list[paramiko.PKey]:
    keys = []
    for rel in pool.config.get("sftp", "host_keys").split(","):
        if not rel.strip():
            continue
        path = pool.data.path / rel.strip()
        if not path.is_file():
            raise ConfigError(f"{path} not found: run `pool-server init` to make host keys")
        try:
            keys.append(paramiko.PKey.from_path(Path(path)))
        except (paramiko.SSHException, OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the SSH host key: {exc}")
    if not keys:
        raise ConfigError(f"{pool.config.source}: [sftp] host_keys names no key")
    return keys


class PoolTransport(paramiko.Transport):
    """A transport that tells its `Connection` when authentication has succeeded and
    gives back its thread's database connection when it ends."""

    pool: Pool

    def _auth_trigger(self) -> None:
        super()._auth_trigger()
        server = self.server_object
        if isinstance(server, Connection):
            try:
                server.logged_in()
                if server.session is not None:  # listed in the console, which may end it
                    server.session.connected(self.close)
            except Exception:
                log.exception("recording the login of %s failed", server.ip)

    def _send_user_message(self, data: paramiko.Message) -> None:
        super()._send_user_message(data)
        with data.packet.getbuffer() as raw:  # a view: channel data is not copied here
            if raw[0] != _CHANNEL_SUCCESS or len(raw) < 5:
                return
            chanid = int.from_bytes(raw[1:5], "big")
        if isinstance(self.server_object, Connection):
            self.server_object.request_answered(chanid)

    def open_channels(self) -> int:
        """Channels open on this connection now (paramiko keeps no public count)."""
        return len(self._channels)

    def run(self) -> None:
        try:
            super().run()
        finally:
            server = self.server_object
            if isinstance(server, Connection) and server.session is not None:
                server.session.disconnected()
            self.pool.store.release()


class SFTPService:
    """What `serve` starts and stops: a listener, an accept thread, the transports."""

    def __init__(self, pool: Pool, host: str, port: int) -> None:
        self.pool = pool
        self.host_keys = load_host_keys(pool)
        cfg = pool.config
        self.max_connections = int(cfg.get("server", "max_connections"))
        self.max_per_ip = int(cfg.get("server", "max_connections_per_ip"))
        security = cfg.section("security")
        self.login_grace = float(security["prelogin_timeout"])
        self.prelogin_max = int(security["prelogin_max_connections"])
        self.prelogin_max_per_ip = int(security["prelogin_max_per_ip"])
        sftp = cfg.section("sftp")
        self.handle_limits = HandleLimits(
            int(sftp["max_open_handles"]), int(sftp["max_open_handles_per_user"])
        )
        self.backoff = AcceptBackoff(log, "SFTP", cfg.get("server", "accept_backoff_ms") / 1000)
        self._listener = listening_socket(host, port)
        # paramiko logs every connection that ends before or during the handshake as an
        # ERROR with a traceback, a line per record: anyone could fill the log that way.
        quiet_flood(logging.getLogger("paramiko.transport"))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._live: list[tuple[PoolTransport, Connection]] = []

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept_loop, name="sftp-accept", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        self._listener.close()
        with self._lock:
            live, self._live = self._live, []
        for transport, _conn in live:
            transport.close()
        for transport, conn in live:
            transport.join(10)
            conn.join(10)

    # --- accepting

    def _accept_loop(self) -> None:
        try:
            self._accept_until_stopped()
        finally:
            self.pool.store.release()

    def _accept_until_stopped(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, addr = self._listener.accept()
            except TimeoutError:
                self._prune()
                continue
            except OSError as err:
                if self._stopping.is_set():
                    break
                if err.errno not in RESOURCE_ERRNOS:
                    log.error("accepting an SFTP connection failed: %s", err)
                # Out of descriptors (EMFILE): keep the listener, wait for some to free.
                self._stopping.wait(self.backoff.exhausted(err))
                self._prune()
                continue
            self.backoff.accepted()
            ip = client_ip(addr[0])
            try:
                self._admit(sock, ip)
            except OSError as err:
                sock.close()
                if err.errno not in RESOURCE_ERRNOS:
                    log.exception("setting up the SFTP connection from %s failed", ip)
                else:
                    self._stopping.wait(self.backoff.exhausted(err))
            except Exception:
                log.exception("setting up the SFTP connection from %s failed", ip)
                sock.close()

    def _prune(self) -> None:
        """Forget ended connections; end those that have not logged in in time."""
        late = time.monotonic() - self.login_grace
        with self._lock:
            self._live = [(t, c) for t, c in self._live if t.is_alive()]
            slow = [t for t, c in self._live if c.accepted < late and c.session is None]
        for transport in slow:
            transport.close()

    def _admit(self, sock: socket.socket, ip: str) -> None:
        try:
            self.pool.defender.check(ip)
        except AuthenticationFailed as err:
            log.info("refused SFTP connection from %s: %s", ip, err)
            sock.close()
            return
        self._prune()
        with self._lock:
            total = len(self._live)
            from_ip = sum(1 for _t, c in self._live if c.ip == ip)
            waiting = [(t, c) for t, c in self._live if c.session is None]
        if total >= self.max_connections or from_ip >= self.max_per_ip:
            log.warning("refused SFTP connection from %s: too many connections", ip)
            sock.close()
            return
        admission = admit_prelogin(
            (address_group(c.ip) for _t, c in waiting),
            address_group(ip),
            self.prelogin_max,
            self.prelogin_max_per_ip,
        )
        if admission.evict is not None:  # the oldest of the address holding the most
            victim = next((t, c) for t, c in waiting if address_group(c.ip) == admission.evict)
            log.info("dropped a pre-login SFTP connection of %s for a newcomer", admission.evict)
            with self._lock:  # forgotten now: its thread notices the close only shortly
                if victim in self._live:
                    self._live.remove(victim)
            victim[0].close()
        if not admission.accept:
            log.info("refused SFTP connection from %s: %s", ip, admission.reason)
            sock.close()
            return
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        transport = PoolTransport(
            sock, default_window_size=WINDOW_SIZE, default_max_packet_size=MAX_PACKET
        )
        transport.pool = self.pool
        options = transport.get_security_options()
        options.ciphers = CIPHERS
        options.digests = MACS
        for key in self.host_keys:
            transport.add_server_key(key)
        conn = Connection(self.pool, ip, transport.open_channels, self.handle_limits)
        with self._lock:
            if self._stopping.is_set():
                sock.close()
                return
            self._live.append((transport, conn))
        transport.start_server(event=threading.Event(), server=conn)


def build_sftp_server(pool: Pool, host: str, port: int) -> SFTPService:
    """The SFTP door, bound to (host, port) but not yet accepting: `start()` does."""
    return SFTPService(pool, host, port)
