"""SFTP version 3 on the wire (draft-ietf-secsh-filexfer-02 plus OpenSSH's extensions):
packet types, flags, and the few encoders and a reader the door needs.

Written out here rather than through paramiko's `Message` because every request passes
through it: the hot path (READ/WRITE) builds one bytes object per reply.
"""

from __future__ import annotations

import os
import stat as stat_
import struct
import time
from dataclasses import dataclass

VERSION = 3

INIT, VERSION_REPLY = 1, 2
OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, FSETSTAT = 3, 4, 5, 6, 7, 8, 9, 10
OPENDIR, READDIR, REMOVE, MKDIR, RMDIR, REALPATH, STAT, RENAME = 11, 12, 13, 14, 15, 16, 17, 18
READLINK, SYMLINK = 19, 20
STATUS, HANDLE, DATA, NAME, ATTRS = 101, 102, 103, 104, 105
EXTENDED, EXTENDED_REPLY = 200, 201

# Status codes of version 3 (later versions' "file exists", "no space", "quota" do not
# exist here: those travel as FAILURE with a message, as OpenSSH's sftp-server does).
OK, EOF, NO_SUCH_FILE, PERMISSION_DENIED, FAILURE, BAD_MESSAGE = 0, 1, 2, 3, 4, 5
OP_UNSUPPORTED = 8

# open pflags
FXF_READ, FXF_WRITE, FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_EXCL = 1, 2, 4, 8, 0x10, 0x20

# attribute flags
ATTR_SIZE, ATTR_UIDGID, ATTR_PERMISSIONS, ATTR_ACMODTIME = 1, 2, 4, 8
ATTR_EXTENDED = 0x80000000

MAX_PACKET = 256 * 1024
"""Largest request accepted and advertised (limits@openssh.com), as OpenSSH's server."""
MAX_READ = MAX_WRITE = MAX_PACKET - 1024
"""Per session; with `handles.WRITE_BUFFER` this bounds a session's buffered writes."""

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HEAD = struct.Struct(">IBI")  # length, type, request id
_ATTRS = struct.Struct(">IQIIIII")
_ALL_ATTRS = ATTR_SIZE | ATTR_UIDGID | ATTR_PERMISSIONS | ATTR_ACMODTIME


class BadMessage(Exception):
    """A request that does not parse: answered with BAD_MESSAGE."""


def u32(n: int) -> bytes:
    return _U32.pack(n)


def u64(n: int) -> bytes:
    return _U64.pack(n)


def string(data: bytes | str) -> bytes:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return _U32.pack(len(raw)) + raw


def packet(kind: int, request_id: int, *body: bytes) -> bytes:
    payload = b"".join(body)
    return _HEAD.pack(len(payload) + 5, kind, request_id) + payload


def data_packet(request_id: int, data: bytes) -> bytes:
    return _HEAD.pack(len(data) + 9, DATA, request_id) + _U32.pack(len(data)) + data


def status_packet(request_id: int, code: int, message: str) -> bytes:
    return packet(STATUS, request_id, u32(code), string(message), string("en"))


def version_packet(extensions: list[tuple[str, str]]) -> bytes:
    body = u32(VERSION) + b"".join(string(k) + string(v) for k, v in extensions)
    return _U32.pack(len(body) + 1) + bytes([VERSION_REPLY]) + body


def attrs(st: os.stat_result, size: int | None = None) -> bytes:
    """Size, owner, permissions and times of a stat result (no extended attributes)."""
    return _ATTRS.pack(
        _ALL_ATTRS,
        st.st_size if size is None else size,
        st.st_uid,
        st.st_gid,
        st.st_mode,
        int(st.st_atime) & 0xFFFFFFFF,
        int(st.st_mtime) & 0xFFFFFFFF,
    )


def longname(name: str, st: os.stat_result, size: int | None = None) -> str:
    """The 'ls -l' line OpenSSH's `ls -l` shows (owners are the pool's, not the disk's)."""
    mtime = st.st_mtime
    fmt = "%b %e %H:%M" if abs(time.time() - mtime) < 182 * 86400 else "%b %e  %Y"
    when = time.strftime(fmt, time.localtime(mtime))
    size_ = st.st_size if size is None else size
    return f"{stat_.filemode(st.st_mode)}    1 pool     pool     {size_:>8} {when} {name}"


@dataclass
class Attrs:
    """Attributes a client sent (SETSTAT, OPEN, MKDIR); None where absent."""

    size: int | None = None
    permissions: int | None = None
    uid_gid: tuple[int, int] | None = None
    atime: int | None = None
    mtime: int | None = None


class Reader:
    """Reads a request's fields in order; running past the end is `BadMessage`."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def u32(self) -> int:
        end = self.pos + 4
        if end > len(self.data):
            raise BadMessage("truncated request")
        (n,) = _U32.unpack_from(self.data, self.pos)
        self.pos = end
        return int(n)

    def u64(self) -> int:
        end = self.pos + 8
        if end > len(self.data):
            raise BadMessage("truncated request")
        (n,) = _U64.unpack_from(self.data, self.pos)
        self.pos = end
        return int(n)

    def bytes(self) -> bytes:
        n = self.u32()
        end = self.pos + n
        if end > len(self.data):
            raise BadMessage("truncated request")
        out = bytes(self.data[self.pos : end])
        self.pos = end
        return out

    def text(self) -> str:
        try:
            return self.bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise BadMessage("a path is not valid UTF-8")

    def attrs(self) -> Attrs:
        flags = self.u32()
        out = Attrs()
        if flags & ATTR_SIZE:
            out.size = self.u64()
        if flags & ATTR_UIDGID:
            out.uid_gid = (self.u32(), self.u32())
        if flags & ATTR_PERMISSIONS:
            out.permissions = self.u32()
        if flags & ATTR_ACMODTIME:
            out.atime, out.mtime = self.u32(), self.u32()
        if flags & ATTR_EXTENDED:
            for _ in range(self.u32()):
                self.bytes()
                self.bytes()
        return out
