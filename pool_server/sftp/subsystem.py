"""The `sftp` subsystem: one thread per channel, reading requests and answering them
through the session core.

paramiko's own `SFTPServer` is not used: it answers errors with bare codes (its errno
mapping knows two), builds whole folder listings in memory, knows no OpenSSH
extensions and parses every packet through `Message`. This loop reads requests out of
one buffer, answers every request that has arrived before it sends, and so keeps up
with pipelining clients (OpenSSH `sftp` keeps 64 requests in flight).
"""

from __future__ import annotations

import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

import paramiko

from ..core import Session
from ..errors import AccessDenied, AlreadyExists, NotFound, PoolError
from . import protocol as p
from .handles import DirHandle, Handle, ReadHandle, UploadHandle
from .status import status_for

if TYPE_CHECKING:
    from .auth import Connection

log = logging.getLogger("ortak.sftp")

EXTENSIONS: list[tuple[str, str]] = [
    ("posix-rename@openssh.com", "1"),
    ("statvfs@openssh.com", "2"),
    ("fstatvfs@openssh.com", "2"),
    ("fsync@openssh.com", "1"),
    ("limits@openssh.com", "1"),
    ("expand-path@openssh.com", "1"),
]

RECV_SIZE = 1024 * 1024
FLUSH_AT = 256 * 1024  # replies gathered beyond this are sent without waiting
_LEN = struct.Struct(">I")
_HEAD = struct.Struct(">BI")
_OK = "OK"

Request = Callable[[int, p.Reader], bytes]


class Closed(Exception):
    """The client went away or broke the protocol: end the session."""


class PoolSFTPSubsystem(paramiko.SubsystemHandler):
    """The thread paramiko starts for an `sftp` subsystem request."""

    def __init__(
        self,
        channel: paramiko.Channel,
        name: str,
        server: Connection,
    ) -> None:
        super().__init__(channel, name, server)
        self.conn = server
        self.sftp = SFTPSession(server)
        self.name = f"sftp-{server.ip}"
        self.daemon = True

    def start_subsystem(
        self, name: str, transport: paramiko.Transport, channel: paramiko.Channel
    ) -> None:
        channel.settimeout(self.sftp.idle_timeout or None)
        try:
            self.sftp.serve(channel)
        except Closed as why:
            log.debug("sftp session of %s ended: %s", self.conn.ip, why)
        except (EOFError, OSError, paramiko.SSHException) as exc:
            kind = "idle timeout" if isinstance(exc, socket.timeout) else exc
            log.debug("sftp session of %s ended: %s", self.conn.ip, kind)

    def finish_subsystem(self) -> None:
        """Connection gone (or the client closed the channel): abandon what is open."""
        try:
            self.sftp.drop_all()
        finally:
            self.conn.pool.store.release()
            super().finish_subsystem()


class SFTPSession:
    """One SFTP session's requests, answered in order through the session core."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.idle_timeout = float(conn.pool.config.get("server", "idle_timeout"))
        self.handles: dict[bytes, Handle] = {}
        self._next_handle = 0
        self._out: list[bytes] = []
        self._out_size = 0
        self._dispatch: dict[int, Request] = {
            p.OPEN: self._open,
            p.CLOSE: self._close,
            p.READ: self._read,
            p.WRITE: self._write,
            p.LSTAT: self._stat,
            p.STAT: self._stat,
            p.FSTAT: self._fstat,
            p.SETSTAT: self._setstat,
            p.FSETSTAT: self._fsetstat,
            p.OPENDIR: self._opendir,
            p.READDIR: self._readdir,
            p.REMOVE: self._remove,
            p.MKDIR: self._mkdir,
            p.RMDIR: self._rmdir,
            p.REALPATH: self._realpath,
            p.RENAME: self._rename,
            p.READLINK: self._no_links,
            p.SYMLINK: self._no_links,
            p.EXTENDED: self._extended,
        }

    @property
    def session(self) -> Session:
        session = self.conn.session
        if session is None:  # paramiko opens channels only after authentication
            raise AccessDenied("not logged in")
        return session

    def drop_all(self) -> None:
        for handle in self.handles.values():
            try:
                handle.drop()
            except Exception:
                log.exception("dropping a handle of %s failed", self.conn.ip)
        if self.handles and self.conn.session is not None:
            self.conn.limits.release(self.conn.session.user.name, len(self.handles))
        self.handles.clear()

    def _recv(self, channel: paramiko.Channel) -> bytes:
        data = channel.recv(RECV_SIZE)
        if not data:
            raise Closed("end of input")
        return data

    def serve(self, channel: paramiko.Channel) -> None:
        buf = bytearray()
        # INIT: the client's version; we speak 3 and name our extensions.
        while len(buf) < 4 or len(buf) < 4 + _LEN.unpack_from(buf)[0]:
            if len(buf) >= 4 and _LEN.unpack_from(buf)[0] > 1024:
                raise Closed("INIT packet too long")
            buf += self._recv(channel)
        if buf[4] != p.INIT:
            raise Closed("the first packet was not INIT")
        del buf[: 4 + _LEN.unpack_from(buf)[0]]
        channel.sendall(p.version_packet(EXTENSIONS))
        while True:
            while len(buf) >= 4:
                (size,) = _LEN.unpack_from(buf)
                if size > p.MAX_PACKET + 1024 or size < 5:
                    raise Closed(f"bad packet length {size}")
                if len(buf) < 4 + size:
                    break
                kind, rid = _HEAD.unpack_from(buf, 4)
                body = bytes(buf[9 : 4 + size]) if kind != p.WRITE else buf[9 : 4 + size]
                del buf[: 4 + size]
                self._reply(channel, self._answer(kind, rid, body))
            self._flush(channel)
            buf += self._recv(channel)

    def _reply(self, channel: paramiko.Channel, data: bytes) -> None:
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size >= FLUSH_AT:
            self._flush(channel)

    def _flush(self, channel: paramiko.Channel) -> None:
        """Send the gathered replies (never `Channel.sendall`, which copies what is left
        of its argument after every packet)."""
        if not self._out:
            return
        out = memoryview(self._out[0] if len(self._out) == 1 else b"".join(self._out))
        self._out.clear()
        self._out_size = 0
        while out:
            sent = channel.send(out)
            if sent <= 0:
                raise Closed("channel closed")
            out = out[sent:]

    def _answer(self, kind: int, rid: int, body: bytes | bytearray) -> bytes:
        handler = self._dispatch.get(kind)
        if handler is None:
            return p.status_packet(rid, p.OP_UNSUPPORTED, f"request type {kind} not supported")
        try:
            return handler(rid, p.Reader(body))
        except (PoolError, OSError, p.BadMessage, NotImplementedError) as err:
            code, message = status_for(err)
            return p.status_packet(rid, code, message)
        except Exception as err:
            log.exception("sftp request %d from %s failed", kind, self.conn.ip)
            code, message = status_for(err)
            return p.status_packet(rid, code, message)

    # --- helpers

    def _path(self, r: p.Reader) -> str:
        """A path from the request: SFTP paths are absolute or relative to the root."""
        path = r.text()
        return "/" + path if path and not path.startswith("/") else path or "/"

    def _handle(self, r: p.Reader) -> Handle:
        name = r.bytes()
        handle = self.handles.get(name)
        if handle is None:
            raise p.BadMessage("invalid handle")
        return handle

    def _new_handle(self, rid: int, handle: Handle) -> bytes:
        try:
            self.conn.limits.acquire(self.session.user.name, len(self.handles))
        except PoolError:
            handle.drop()
            raise
        self._next_handle += 1
        name = str(self._next_handle).encode()
        self.handles[name] = handle
        return p.packet(p.HANDLE, rid, p.string(name))

    def _ok(self, rid: int) -> bytes:
        return p.status_packet(rid, p.OK, _OK)

    # --- requests

    def _open(self, rid: int, r: p.Reader) -> bytes:
        path = self._path(r)
        flags = r.u32()
        r.attrs()  # permissions asked for at creation: the pool decides those
        session = self.session
        if not flags & p.FXF_WRITE:
            reading = session.open_read(path)
            session.transferring(f"download {reading.target.vpath}")
            return self._new_handle(rid, ReadHandle(reading))
        target = session.target(path)
        exists = os.path.lexists(target.real)
        if flags & p.FXF_EXCL and exists:
            raise AlreadyExists(f"{target.vpath} already exists")
        if not flags & p.FXF_CREAT and not exists and session.resume_size(target) is None:
            raise NotFound(f"{target.vpath}: no such file")
        if flags & p.FXF_TRUNC:
            upload = session.open_upload(target)
        else:  # append, or writes at offsets into what is there (resume)
            upload = session.open_upload(target, append=True)
        session.transferring(f"upload {target.vpath}")
        return self._new_handle(
            rid, UploadHandle(session, upload, append=bool(flags & p.FXF_APPEND))
        )

    def _close(self, rid: int, r: p.Reader) -> bytes:
        name = r.bytes()
        handle = self.handles.pop(name, None)
        if handle is None:
            raise p.BadMessage("invalid handle")
        self.conn.limits.release(self.session.user.name)
        if not isinstance(handle, DirHandle):
            self.session.transferring(None)
        handle.close()
        return self._ok(rid)

    def _read(self, rid: int, r: p.Reader) -> bytes:
        handle = self._handle(r)
        offset, length = r.u64(), r.u32()
        if not isinstance(handle, ReadHandle):
            raise PoolError("this handle is not open for reading")
        data = handle.read(offset, length)
        if not data:
            return p.status_packet(rid, p.EOF, "End of file")
        return p.data_packet(rid, data)

    def _write(self, rid: int, r: p.Reader) -> bytes:
        handle = self._handle(r)
        offset = r.u64()
        n = r.u32()
        if r.pos + n > len(r.data):
            raise p.BadMessage("truncated write")
        if not isinstance(handle, UploadHandle):
            raise AccessDenied("this handle is open for reading only")
        handle.write(offset, memoryview(r.data)[r.pos : r.pos + n])
        return self._ok(rid)

    def _attrs_reply(self, rid: int, st: os.stat_result, size: int | None) -> bytes:
        return p.packet(p.ATTRS, rid, p.attrs(st, size))

    def _stat(self, rid: int, r: p.Reader) -> bytes:
        """A path's attributes; to its owner, an interrupted upload shows its size (as
        FTP's SIZE does), so OpenSSH's `reput` and `put -a` continue from there."""
        st = self.session.stat(self._path(r), own_partial=True)
        return self._attrs_reply(rid, st, None)

    def _fstat(self, rid: int, r: p.Reader) -> bytes:
        handle = self._handle(r)
        if isinstance(handle, DirHandle):
            raise PoolError("fstat of a folder handle is not supported")
        st, size = handle.fstat()
        return self._attrs_reply(rid, st, size)

    def _check_attrs(self, attrs: p.Attrs) -> None:
        if attrs.size is not None:
            raise NotImplementedError(
                "changing a file's size in place is not supported; upload it again"
            )

    def _setstat(self, rid: int, r: p.Reader) -> bytes:
        path = self._path(r)
        attrs = r.attrs()
        self._check_attrs(attrs)
        if attrs.mtime is not None:
            self.session.set_mtime(path, attrs.mtime)
        elif attrs.permissions is not None or attrs.uid_gid is not None:
            # Modes and owners are the pool's to decide; accepted (so `put -p` works)
            # where the user could change the file, and otherwise refused.
            self.session.check_change(path)
        return self._ok(rid)

    def _fsetstat(self, rid: int, r: p.Reader) -> bytes:
        handle = self._handle(r)
        attrs = r.attrs()
        self._check_attrs(attrs)
        if isinstance(handle, UploadHandle):
            if attrs.mtime is not None:
                handle.mtime = attrs.mtime  # applied to the file once it is in place
            return self._ok(rid)
        if isinstance(handle, ReadHandle):
            if attrs.mtime is not None:
                self.session.set_mtime(handle.target, attrs.mtime)
            elif attrs.permissions is not None or attrs.uid_gid is not None:
                self.session.check_change(handle.target)
            return self._ok(rid)
        raise PoolError("setstat of a folder handle is not supported")

    def _opendir(self, rid: int, r: p.Reader) -> bytes:
        return self._new_handle(rid, DirHandle(self.session.listdir(self._path(r))))

    def _readdir(self, rid: int, r: p.Reader) -> bytes:
        handle = self._handle(r)
        if not isinstance(handle, DirHandle):
            raise p.BadMessage("not a folder handle")
        entries = handle.batch()
        if not entries:
            return p.status_packet(rid, p.EOF, "End of file")
        body = [p.u32(len(entries))]
        for name, st in entries:
            body.append(p.string(name) + p.string(p.longname(name, st)) + p.attrs(st))
        return p.packet(p.NAME, rid, *body)

    def _remove(self, rid: int, r: p.Reader) -> bytes:
        self.session.remove(self._path(r))
        return self._ok(rid)

    def _mkdir(self, rid: int, r: p.Reader) -> bytes:
        path = self._path(r)
        r.attrs()
        self.session.mkdir(path)
        return self._ok(rid)

    def _rmdir(self, rid: int, r: p.Reader) -> bytes:
        self.session.rmdir(self._path(r))
        return self._ok(rid)

    def _name_reply(self, rid: int, vpath: str) -> bytes:
        return p.packet(p.NAME, rid, p.u32(1), p.string(vpath), p.string(vpath), p.u32(0))

    def _realpath(self, rid: int, r: p.Reader) -> bytes:
        return self._name_reply(rid, self.session.target(self._path(r)).vpath)

    def _rename(self, rid: int, r: p.Reader) -> bytes:
        """Plain RENAME never replaces (draft 02); posix-rename@openssh.com does."""
        src, dst = self._path(r), self._path(r)
        self.session.rename(src, dst, replace=False)
        return self._ok(rid)

    def _no_links(self, rid: int, r: p.Reader) -> bytes:
        raise NotImplementedError("links are not supported by the pool")

    # --- extensions

    def _extended(self, rid: int, r: p.Reader) -> bytes:
        name = r.text()
        if name == "posix-rename@openssh.com":
            src, dst = self._path(r), self._path(r)
            self.session.rename(src, dst)
            return self._ok(rid)
        if name == "statvfs@openssh.com":
            self.session.stat(self._path(r))
            return self._statvfs(rid)
        if name == "fstatvfs@openssh.com":
            self._handle(r)
            return self._statvfs(rid)
        if name == "fsync@openssh.com":
            handle = self._handle(r)
            if isinstance(handle, UploadHandle):
                handle.fsync()
            return self._ok(rid)
        if name == "limits@openssh.com":
            return p.packet(
                p.EXTENDED_REPLY,
                rid,
                p.u64(p.MAX_PACKET),
                p.u64(p.MAX_READ),
                p.u64(p.MAX_WRITE),
                p.u64(self.conn.limits.advertised),
            )
        if name == "expand-path@openssh.com":
            path = r.text()
            if path == "~" or path.startswith("~/"):
                path = "/" + path[1:]
            return self._name_reply(rid, self.session.target("/" + path.lstrip("/")).vpath)
        raise NotImplementedError(f"extension {name!r} is not supported")

    def _statvfs(self, rid: int) -> bytes:
        vfs = self.session.statvfs()
        fields = (
            vfs.f_bsize,
            vfs.f_frsize,
            vfs.f_blocks,
            vfs.f_bfree,
            vfs.f_bavail,
            vfs.f_files,
            vfs.f_ffree,
            vfs.f_favail,
            0,
            0,
            vfs.f_namemax,
        )
        return p.packet(p.EXTENDED_REPLY, rid, *(p.u64(f) for f in fields))
