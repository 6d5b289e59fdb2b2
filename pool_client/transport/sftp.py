"""SFTP over paramiko: pipelined writes, prefetched reads, host key pinned on first use."""

from __future__ import annotations

import contextlib
import errno
import json
import shlex
import socket
import stat as statmod
from collections.abc import Iterator
from typing import Any, BinaryIO

import paramiko

from ..errors import (
    AuthError,
    ClientError,
    NotFound,
    PermissionDenied,
    TransientError,
    Unsupported,
    UsageError,
)
from ..trust import check_host_key
from .base import CHUNK, CONTROL_SSH_EXEC, READ_CHUNK, Progress, RemoteEntry, Transport

WINDOW = 8 * 1024 * 1024


def _translate(exc: BaseException, what: str) -> ClientError:
    """The one place paramiko and socket errors become client errors."""
    if isinstance(exc, ClientError):
        return exc
    if isinstance(exc, paramiko.AuthenticationException):
        return AuthError("login refused by the server: check the user name and password")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TransientError(f"{what}: timed out")
    if isinstance(exc, ConnectionRefusedError):
        return TransientError(f"{what}: connection refused (is the server running?)")
    if isinstance(exc, (paramiko.SSHException, EOFError, ConnectionError)):
        return TransientError(f"{what}: connection failed ({exc or type(exc).__name__})")
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOENT:
            return NotFound(f"{what}: not on the server")
        if exc.errno == errno.EACCES:
            return PermissionDenied(f"{what}: refused by the server ({exc.strerror or exc})")
        if exc.errno is None and isinstance(exc, IOError) and str(exc):
            return ClientError(f"{what}: {exc}")
        return TransientError(f"{what}: connection failed ({exc})")
    return ClientError(f"{what}: {exc}")


def _entry(path: str, attr: paramiko.SFTPAttributes) -> RemoteEntry:
    mode = attr.st_mode or 0
    return RemoteEntry(
        name=path.rstrip("/").rsplit("/", 1)[-1] or "/",
        path=path,
        is_dir=statmod.S_ISDIR(mode),
        size=attr.st_size,
        mtime=float(attr.st_mtime) if attr.st_mtime is not None else None,
    )


class SFTPTransport(Transport):
    scheme = "sftp"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transport: paramiko.Transport | None = None
        self.sftp: paramiko.SFTPClient | None = None

    def connect(self) -> None:
        self.close()
        where = self.endpoint.url
        t = None
        try:
            sock = socket.create_connection(
                (self.endpoint.host, self.endpoint.port), timeout=self.timeout
            )
            t = paramiko.Transport(sock, default_window_size=WINDOW)
            t.banner_timeout = t.auth_timeout = self.timeout
            t.start_client(timeout=self.timeout)
            check_host_key(
                self.config_folder,
                self.endpoint.host,
                self.endpoint.port,
                t.get_remote_server_key(),
                self.notify,
            )
            t.auth_password(self.endpoint.user, self._password)
            sftp = paramiko.SFTPClient.from_transport(t, window_size=WINDOW)
            assert sftp is not None
            sftp.get_channel().settimeout(self.timeout)
        except BaseException as exc:
            if t is not None:
                with contextlib.suppress(Exception):
                    t.close()
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise _translate(exc, where) from exc
        self.transport, self.sftp = t, sftp

    def close(self) -> None:
        sftp, t = self.sftp, self.transport
        self.sftp = self.transport = None
        with contextlib.suppress(Exception):
            if sftp is not None:
                sftp.close()
        with contextlib.suppress(Exception):
            if t is not None:
                t.close()

    def _client(self) -> paramiko.SFTPClient:
        if self.sftp is None:
            self.connect()
        assert self.sftp is not None
        return self.sftp

    def _fail(self, exc: BaseException, what: str) -> ClientError:
        err = _translate(exc, what)
        if isinstance(err, TransientError):
            self.close()  # the next call reconnects
        return err

    def list(self, path: str) -> list[RemoteEntry]:
        self.ops["list"] += 1
        try:
            attrs = self._client().listdir_attr(path)
        except Exception as exc:
            raise self._fail(exc, path) from exc
        base = path.rstrip("/")
        return sorted((_entry(f"{base}/{a.filename}", a) for a in attrs), key=lambda e: e.name)

    def stat(self, path: str) -> RemoteEntry:
        self.ops["stat"] += 1
        try:
            return _entry(path, self._client().stat(path))
        except Exception as exc:
            raise self._fail(exc, path) from exc

    def read(self, path: str, offset: int = 0) -> Iterator[bytes]:
        self.ops["read"] += 1
        try:
            f = self._client().open(path, "rb")
        except Exception as exc:
            raise self._fail(exc, path) from exc
        try:
            try:
                size = f.stat().st_size or 0
                f.seek(offset)
                if size > offset:
                    f.prefetch(size)
            except Exception as exc:
                raise self._fail(exc, path) from exc
            remaining = size - offset
            while remaining > 0:
                try:
                    data = f.read(min(READ_CHUNK, remaining))
                except Exception as exc:
                    raise self._fail(exc, path) from exc
                if not data:
                    break
                remaining -= len(data)
                self.bytes_in += len(data)
                yield data
        finally:
            with contextlib.suppress(Exception):
                f.close()

    def resume_offset(self, path: str) -> int:
        try:
            resumable = self.stat(path).size or 0
        except NotFound:
            return 0
        if not resumable:
            return 0
        parent, _, name = path.rpartition("/")
        try:
            existing = {e.name: e.size for e in self.list(parent or "/")}.get(name)
        except NotFound:
            existing = None
        # stat shows our interrupted upload when there is one, else the file itself
        return 0 if existing == resumable else resumable

    def write(self, path: str, src: BinaryIO, offset: int, progress: Progress | None) -> int:
        self.ops["write"] += 1
        src.seek(offset)
        sent = 0
        try:
            with self._client().open(path, "ab" if offset else "wb") as f:
                f.set_pipelined(True)
                while chunk := src.read(CHUNK):
                    f.write(chunk)
                    sent += len(chunk)
                    self.bytes_out += len(chunk)
                    if progress:
                        progress(len(chunk))
        except ClientError:
            raise
        except Exception as exc:
            raise self._fail(exc, path) from exc
        return sent

    def mkdirs(self, path: str) -> None:
        current = ""
        for part in [p for p in path.strip("/").split("/") if p]:
            current += "/" + part
            try:
                entry = self.stat(current)
            except NotFound:
                self.ops["mkdir"] += 1
                try:
                    self._client().mkdir(current)
                except Exception as exc:
                    raise self._fail(exc, current) from exc
                continue
            if not entry.is_dir:
                raise ClientError(f"{current} is a file, not a folder")

    def remote_sha256(self, path: str) -> str | None:
        self.ops["hash"] += 1
        self._client()
        assert self.transport is not None
        try:
            chan = self.transport.open_session(timeout=self.timeout)
            chan.settimeout(None)
            chan.exec_command(f"sha256sum -- {shlex.quote(path)}")
            out = b""
            while data := chan.recv(4096):
                out += data
            status = chan.recv_exit_status()
            chan.close()
        except Exception as exc:
            raise self._fail(exc, path) from exc
        if status != 0 or not out:
            return None
        digest = out.split()[0].decode("ascii", "replace").lower()
        return digest if len(digest) == 64 else None

    def control(self, command: str, *args: str) -> dict[str, Any]:
        self.ops["control"] += 1
        self._client()
        assert self.transport is not None
        try:
            chan = self.transport.open_session(timeout=self.timeout)
        except Exception as exc:
            raise self._fail(exc, command) from exc
        try:
            chan.settimeout(self.timeout)
            try:
                chan.exec_command(f"{CONTROL_SSH_EXEC} {shlex.join([command, *args])}")
            except paramiko.SSHException as exc:
                raise Unsupported(
                    f"{self.endpoint.url} has no control channel (not an Ortak pool, "
                    f"or an older one): {exc}"
                )
            out = bytearray()
            while data := chan.recv(65536):
                out += data
            err = chan.makefile_stderr("rb").read()
            status = chan.recv_exit_status()
        except ClientError:
            raise
        except Exception as exc:
            raise self._fail(exc, command) from exc
        finally:
            chan.close()
        if status != 0:
            text = err.decode("utf-8", "replace").strip().removeprefix("ortak: ")
            text = f"{command}: {text or f'failed (exit status {status})'}"
            raise UsageError(text) if status == 2 else PermissionDenied(text)
        try:
            answer = json.loads(out)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ClientError(f"{command}: the server's answer is not a JSON object")
        return answer
