"""The only commands an SSH session may run: `sha256sum`, `sha1sum` and `md5sum`, over
pool paths or standard input, answered in coreutils' format ('<hex>  <name>'), and
`ortak COMMAND [ARG...]`, the control channel (`pool_server.control`).

rclone runs the checksums (after probing them on empty input) to compare checksums
without downloading. No shell is involved: the command line is split like a POSIX shell
would and anything else is refused.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import threading
from typing import TYPE_CHECKING, Any

import paramiko

from .. import control
from ..core import Session
from ..errors import PoolError, UsageError

if TYPE_CHECKING:
    from ..app import Pool

log = logging.getLogger("ortak.sftp")

ALGORITHMS = {"sha256sum": "sha256", "sha1sum": "sha1", "md5sum": "md5"}
CHUNK = 1024 * 1024
REPLY_WAIT = 2.0


def parse_command(command: str) -> tuple[str, list[str]] | None:
    """(hashlib algorithm, paths) for an accepted command line, else None."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if not argv or argv[0] not in ALGORITHMS:
        return None
    paths = argv[1:]
    if paths and paths[0] == "--":
        paths = paths[1:]
    elif any(a.startswith("-") and a != "-" for a in paths):
        return None
    return ALGORITHMS[argv[0]], paths


def _hash_file(algorithm: str, path: Any) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(pool: Pool, real_path: Any) -> str:
    """The sha256 of a pool file. The one place to read it from the catalog once the
    catalog offers a lookup by path; until then it is computed, streamed."""
    return _hash_file("sha256", real_path)


def command_for(
    pool: Pool, session: Session, channel: paramiko.Channel, command_line: str
) -> ChecksumCommand | ControlCommand | None:
    """The thread that answers an exec request, or None to refuse it."""
    line = control.exec_line(command_line)
    if line is not None:
        return ControlCommand(pool, session, channel, line)
    parsed = parse_command(command_line)
    if parsed is None:
        return None
    return ChecksumCommand(pool, session, channel, *parsed)


class ControlCommand(threading.Thread):
    """One control command: its JSON answer on stdout (exit 0) or one line on stderr
    (exit 2 for a usage error: unknown command, bad arguments; 1 for any other)."""

    def __init__(self, pool: Pool, session: Session, channel: paramiko.Channel, line: str) -> None:
        super().__init__(name=f"sftp-control-{session.ip}", daemon=True)
        self.pool, self.session, self.channel, self.line = pool, session, channel, line
        self.replied = threading.Event()

    def run(self) -> None:
        status = 0
        self.replied.wait(REPLY_WAIT)
        try:
            try:
                answer = control.encode(control.run(self.pool, self.session, self.line)) + "\n"
            except PoolError as err:
                status = 2 if isinstance(err, UsageError) else 1
                self.channel.sendall_stderr(f"ortak: {err}\n".encode())
            else:
                self.channel.sendall(answer.encode())
        except (OSError, EOFError, paramiko.SSHException) as exc:
            log.debug("control command for %s ended: %s", self.session.ip, exc)
            status = 1
        finally:
            _finish(self.channel, status)
            self.pool.store.release()


def _finish(channel: paramiko.Channel, status: int) -> None:
    try:
        channel.send_exit_status(status)
        channel.shutdown_write()
        channel.close()
    except (OSError, EOFError, paramiko.SSHException):
        pass


class ChecksumCommand(threading.Thread):
    """Runs one accepted command on its own thread and closes the channel."""

    def __init__(
        self,
        pool: Pool,
        session: Session,
        channel: paramiko.Channel,
        algorithm: str,
        paths: list[str],
    ) -> None:
        super().__init__(name=f"sftp-exec-{session.ip}", daemon=True)
        self.pool, self.session, self.channel = pool, session, channel
        self.algorithm, self.paths = algorithm, paths
        self.replied = threading.Event()
        """Set once paramiko has answered the exec request: output sent before that
        reaches some clients (Go's x/crypto/ssh, so rclone) ahead of the reply."""

    def run(self) -> None:
        status = 0
        self.replied.wait(REPLY_WAIT)
        try:
            if not self.paths or self.paths == ["-"]:
                self.channel.sendall(f"{self._hash_stdin()}  -\n".encode())
            for path in self.paths:
                if path == "-":
                    continue
                try:
                    line = f"{self._hash_path(path)}  {path}\n"
                except (PoolError, OSError) as err:
                    status = 1
                    text = str(err) if isinstance(err, PoolError) else err.strerror
                    self.channel.sendall_stderr(f"{self.algorithm}sum: {path}: {text}\n".encode())
                    continue
                self.channel.sendall(line.encode())
        except (OSError, EOFError, paramiko.SSHException) as exc:
            log.debug("exec for %s ended: %s", self.session.ip, exc)
            status = 1
        finally:
            _finish(self.channel, status)
            self.pool.store.release()

    def _hash_stdin(self) -> str:
        digest = hashlib.new(self.algorithm)
        while data := self.channel.recv(CHUNK):
            digest.update(data)
        return digest.hexdigest()

    def _hash_path(self, path: str) -> str:
        download = self.session.open_read("/" + path.lstrip("/"))
        try:
            if self.algorithm == "sha256":
                return sha256_of(self.pool, download.target.real)
            return _hash_file(self.algorithm, download.target.real)
        finally:
            download.file.close()  # a checksum is not a take: nothing recorded
