"""One SSH connection's view of the pool: who logged in (password or public key, through
the session core) and which channels and requests it may open.

Only "session" channels are accepted, and on them only the `sftp` subsystem and the
checksum and control commands of `exec.py`. Shells, ptys, other commands, port
forwarding, agent and X11 forwarding are refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import paramiko

from ..accounts import User
from ..core import KeyOffers, Session
from ..errors import AuthenticationFailed
from ..userkeys import fingerprint
from .limits import HandleLimits

if TYPE_CHECKING:
    from ..app import Pool

log = logging.getLogger("ortak.sftp")

PROTOCOL = "sftp"


class Connection(paramiko.ServerInterface):
    """Created per accepted socket; paramiko calls it from the transport's thread."""

    def __init__(
        self,
        pool: Pool,
        ip: str,
        open_channels: Callable[[], int] | None = None,
        limits: HandleLimits | None = None,
    ) -> None:
        self.pool = pool
        self.ip = ip
        sftp = pool.config.section("sftp")
        self._open_channels = open_channels
        self.max_channels = int(sftp["max_channels"])
        self.limits = limits or HandleLimits(
            sftp["max_open_handles"], sftp["max_open_handles_per_user"]
        )
        self.session: Session | None = None
        self.accepted = time.monotonic()
        self._pending: tuple[User, str] | None = None
        self._key_offers = KeyOffers()
        self._threads: list[threading.Thread] = []
        self._awaiting_reply: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    # --- authentication

    def get_allowed_auths(self, username: str) -> str:
        return "publickey,password"

    def check_auth_password(self, username: str, password: str) -> int:
        try:
            self.session = self.pool.core.login_password(
                username, password, self.ip, PROTOCOL, self._key_offers
            )
        except AuthenticationFailed:
            return paramiko.AUTH_FAILED
        return paramiko.AUTH_SUCCESSFUL

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        """Called for the client's "would this key do?" query and again with the
        signature; paramiko verifies the signature after we accept the key, then calls
        `logged_in`."""
        blob = key.asbytes()
        try:
            user = self.pool.core.check_key(
                username, key.get_name(), blob, self.ip, PROTOCOL, self._key_offers
            )
        except AuthenticationFailed:
            return paramiko.AUTH_FAILED
        self._pending = (user, f"publickey {fingerprint(blob)}")
        return paramiko.AUTH_SUCCESSFUL

    def logged_in(self) -> None:
        """paramiko has sent USERAUTH_SUCCESS (signature verified, for keys)."""
        if self._pending is None or self.session is not None:
            return
        user, how = self._pending
        self.session = self.pool.core.start(user, self.ip, PROTOCOL, how)

    # --- channels

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind != "session":
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        limit = self.max_channels
        if limit and self._open_channels is not None and self._open_channels() >= limit:
            log.info("refused a channel of %s: %d open already", self.ip, self.max_channels)
            return int(paramiko.OPEN_FAILED_RESOURCE_SHORTAGE)
        return paramiko.OPEN_SUCCEEDED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "sftp" or self.session is None:
            return False
        from .subsystem import PoolSFTPSubsystem

        self._start(PoolSFTPSubsystem(channel, name, self))
        return True

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        from .exec import command_for

        if self.session is None:
            return False
        text = command.decode("utf-8", "replace")
        command_thread = command_for(self.pool, self.session, channel, text)
        if command_thread is None:
            log.info("refused exec %r from %s", text[:200], self.ip)
            return False
        with self._lock:
            self._awaiting_reply[channel.remote_chanid] = command_thread.replied
        self._start(command_thread)
        return True

    def request_answered(self, remote_chanid: int) -> None:
        """paramiko has sent CHANNEL_SUCCESS for a request on this channel."""
        with self._lock:
            event = self._awaiting_reply.pop(remote_chanid, None)
        if event is not None:
            event.set()

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        return False

    def check_channel_pty_request(self, *args: object) -> bool:
        return False

    def check_channel_x11_request(self, *args: object) -> bool:
        return False

    def check_channel_forward_agent_request(self, channel: paramiko.Channel) -> bool:
        return False

    def check_port_forward_request(self, address: str, port: int) -> int | bool:
        return False

    def check_channel_direct_tcpip_request(
        self, chanid: int, origin: object, destination: object
    ) -> int:
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_global_request(self, kind: str, msg: paramiko.Message) -> bool:
        return False

    # --- threads started for this connection

    def _start(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def join(self, timeout: float) -> None:
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
