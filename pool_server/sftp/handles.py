"""Open SFTP handles: a download, an upload (buffered, atomic, resumable), a folder.

Every handle ends one of two ways: `close()` when the client closes it (an upload is
committed: renamed into place), or `drop()` when the connection goes away first (an
upload is abandoned: it stays hidden and resumable).
"""

from __future__ import annotations

import bisect
import errno
import os
from collections.abc import Iterator
from typing import BinaryIO, cast

from ..errors import PoolError, QuotaExceeded, StorageFull
from ..fs import PoolFS, Session, Upload, os_error
from ..paths import Target
from . import protocol as p

WRITE_BUFFER = 1024 * 1024
"""Contiguous writes are gathered up to this many bytes before they reach the disk."""

READDIR_BATCH = 100
"""Names per READDIR reply (as OpenSSH's sftp-server)."""


class ReadHandle:
    """A file open for reading; one `download` audit event when it closes, complete
    when one contiguous run of reads reached the end of the file."""

    MAX_RANGES = 256  # past this many disjoint runs (random access), stop tracking

    def __init__(self, fs: PoolFS, session: Session, target: Target, fh: BinaryIO) -> None:
        self.fs, self.session, self.target = fs, session, target
        self._fh = fh
        self._fd = fh.fileno()
        self.size = os.fstat(self._fd).st_size
        self.ranges: list[list[int]] = []  # disjoint [start, end) runs read, sorted
        self.nbytes = 0
        self.opened_only = True

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, min(length, p.MAX_READ), offset)
        self.opened_only = False
        self.nbytes += len(data)
        if data and len(self.ranges) <= self.MAX_RANGES:
            self._add(offset, offset + len(data))
        return data

    def _add(self, start: int, end: int) -> None:
        ranges = self.ranges
        if ranges and ranges[-1][0] <= start <= ranges[-1][1]:  # the usual: sequential
            ranges[-1][1] = max(ranges[-1][1], end)
            return
        bisect.insort(ranges, [start, end])
        merged: list[list[int]] = []
        for run in ranges:
            if merged and run[0] <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], run[1])
            else:
                merged.append(run)
        self.ranges = merged

    def fstat(self) -> tuple[os.stat_result, int | None]:
        return os.fstat(self._fd), None

    def _finish(self) -> None:
        if self._fh.closed:
            return
        self._fh.close()
        to_end = [run for run in self.ranges if run[1] >= self.size]
        if self.size == 0:
            complete, offset = not self.opened_only, 0
        elif to_end:
            complete, offset = True, to_end[0][0]
        else:
            complete, offset = False, self.ranges[0][0] if self.ranges else 0
        self.fs.record_download(self.session, self.target, self.nbytes, complete, offset=offset)

    def close(self) -> None:
        self._finish()

    def drop(self) -> None:
        self._finish()


class UploadHandle:
    """An upload through `PoolFS.open_upload`, with contiguous writes buffered.

    In append mode (`put -a`, `reput`) every write goes to the end, whatever offset the
    client sends, as SSH_FXF_APPEND says; otherwise writes land at their offsets.
    """

    def __init__(self, fs: PoolFS, upload: Upload, append: bool) -> None:
        self.fs = fs
        self.upload = upload
        self.append = append
        self._buf = bytearray()
        self._buf_at = upload.tell()
        self._failed: PoolError | None = None
        self.mtime: int | None = None  # set by FSETSTAT, applied after the commit

    @property
    def target(self) -> Target:
        return self.upload.target

    def write(self, offset: int, data: bytes | memoryview) -> None:
        if self._failed is not None:
            raise self._failed
        if not self.append and offset != self._buf_at + len(self._buf):
            self.flush()
            self.upload.seek(offset)
            self._buf_at = offset
        self._buf += data
        if len(self._buf) >= WRITE_BUFFER:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        try:
            self.upload.write(cast(bytes, self._buf))
        except OSError as exc:
            self._buf.clear()
            self._fail(exc)
        self._buf_at += len(self._buf)
        self._buf = bytearray()

    def _fail(self, exc: OSError) -> None:
        """A write failed: a full quota or disk discards the partial (a resume could
        not succeed either); anything else keeps it for a resume."""
        why = exc.strerror or os.strerror(exc.errno or errno.EIO)
        err: PoolError
        if exc.errno == errno.EDQUOT:
            err = QuotaExceeded(f"{why}; upload of {self.target.vpath} cancelled, nothing stored")
            self.upload.discard(why)
        elif exc.errno == errno.ENOSPC:
            err = StorageFull(
                f"the pool's disk is full; upload of {self.target.vpath} cancelled, nothing stored"
            )
            self.upload.discard(why)
        else:
            err = os_error(exc, self.target)
            self.upload.abandon(why)
        self._failed = err
        raise err

    def fsync(self) -> None:
        self.flush()
        with open(self.upload.partial, "rb") as fh:
            os.fsync(fh.fileno())

    def fstat(self) -> tuple[os.stat_result, int | None]:
        st = os.stat(self.upload.partial)
        return st, max(st.st_size, self._buf_at + len(self._buf))

    def close(self) -> None:
        """The client closed the handle: the upload is complete; rename it into place."""
        if self._failed is not None:
            raise self._failed
        self.flush()
        self.upload.commit()
        if self.mtime is not None:
            self.fs.set_mtime(self.upload.session, self.target, self.mtime)

    def drop(self, why: str = "connection closed before the upload was closed") -> None:
        if self._failed is not None:
            return
        try:
            self.flush()
        except PoolError:
            return
        self.upload.abandon(why)


class DirHandle:
    """A folder being listed: entries are read from disk as READDIR asks for them."""

    def __init__(self, entries: Iterator[os.DirEntry[str]]) -> None:
        self._entries = entries
        # Run the generator to its first entry now, so that a missing folder or a
        # refusal is OPENDIR's answer rather than the first READDIR's.
        self._first: os.DirEntry[str] | None = next(entries, None)
        self._done = self._first is None

    def batch(self, limit: int = READDIR_BATCH) -> list[tuple[str, os.stat_result]]:
        out: list[tuple[str, os.stat_result]] = []
        while not self._done and len(out) < limit:
            if self._first is not None:
                entry, self._first = self._first, None
            else:
                entry_ = next(self._entries, None)
                if entry_ is None:
                    self._done = True
                    break
                entry = entry_
            try:
                out.append((entry.name, entry.stat()))
            except OSError:
                continue  # vanished since, or a dangling link: not listed
        return out

    def close(self) -> None:
        close = getattr(self._entries, "close", None)
        if close is not None:
            close()

    def drop(self) -> None:
        self.close()


Handle = ReadHandle | UploadHandle | DirHandle
