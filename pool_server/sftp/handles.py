"""Open SFTP handles: a download, an upload (buffered, atomic, resumable), a folder.

Every handle ends one of two ways: `close()` when the client closes it (an upload is
complete: the core renames it into place), or `drop()` when the connection goes away
first (an upload is kept, hidden and resumable). What an upload becomes is decided by
the core (`Upload.end`); a handle only says how it ended.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from ..core import Download, Outcome, Session, Upload
from ..errors import PoolError
from ..paths import Target
from . import protocol as p

WRITE_BUFFER = 1024 * 1024
"""Contiguous writes are gathered up to this many bytes before they reach the disk."""

READDIR_BATCH = 100
"""Names per READDIR reply (as OpenSSH's sftp-server)."""


class ReadHandle:
    """A file open for reading; one `download` audit event when it closes (the core's
    `Download` decides whether it was a complete take)."""

    def __init__(self, download: Download) -> None:
        self.download = download
        self.target = download.target

    def read(self, offset: int, length: int) -> bytes:
        return self.download.read_at(offset, min(length, p.MAX_READ))

    def fstat(self) -> tuple[os.stat_result, int | None]:
        return self.download.fstat(), None

    def close(self) -> None:
        self.download.finish()

    def drop(self) -> None:
        self.download.finish()


class UploadHandle:
    """An upload through the core, with contiguous writes buffered.

    In append mode (`put -a`, `reput`) every write goes to the end, whatever offset the
    client sends, as SSH_FXF_APPEND says; otherwise writes land at their offsets.
    """

    def __init__(self, session: Session, upload: Upload, append: bool) -> None:
        self.session = session
        self.upload = upload
        self.append = append
        self._buf = bytearray()
        self._buf_at = upload.tell()
        self.mtime: int | None = None  # set by FSETSTAT, applied after the commit

    @property
    def target(self) -> Target:
        return self.upload.target

    def write(self, offset: int, data: bytes | memoryview) -> None:
        if self.upload.error is not None:
            raise self.upload.error
        end = self._buf_at + len(self._buf)
        if not self.append:
            self._refuse_unless(self.upload.check_write, offset, len(data), end)
            if offset != end:
                self.flush()
                self._buf_at = offset
        else:
            self._refuse_unless(self.upload.check_write, end, len(data), end)
        self._buf += data
        if len(self._buf) >= WRITE_BUFFER:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered. A refused write (full disk or quota, a limit) ends
        the upload at once through the core, which discards or keeps the partial."""
        if not self._buf:
            return
        buf, self._buf = self._buf, bytearray()
        try:
            if self.append:
                self.upload.write(buf)
            else:
                self.upload.write_at(self._buf_at, buf)
        except PoolError as err:
            try:
                self.upload.end(Outcome.FAILED, str(err))
            except PoolError:
                pass
            raise
        self._buf_at += len(buf)

    def _refuse_unless(self, check: Callable[..., None], *args: int) -> None:
        try:
            check(*args)
        except PoolError as err:
            self._buf.clear()
            try:
                self.upload.end(Outcome.FAILED, str(err))
            except PoolError:
                pass
            raise

    def fsync(self) -> None:
        self.flush()
        self.upload.sync()

    def fstat(self) -> tuple[os.stat_result, int | None]:
        st = os.stat(self.upload.partial)
        return st, max(st.st_size, self._buf_at + len(self._buf))

    def close(self) -> None:
        """The client closed the handle: the upload is complete; rename it into place."""
        if self.upload.error is not None:
            raise self.upload.error
        self.flush()
        self.upload.end(Outcome.COMPLETE)
        if self.mtime is not None:
            self.session.set_mtime(self.target, self.mtime)

    def drop(self, why: str = "connection closed before the upload was closed") -> None:
        try:
            self.flush()
        except PoolError:
            return
        try:
            self.upload.end(Outcome.CLIENT_GONE, why)
        except PoolError:
            pass


class DirHandle:
    """A folder being listed: entries are read from disk as READDIR asks for them."""

    def __init__(self, entries: Iterator[os.DirEntry[str]]) -> None:
        self._entries = entries
        self._done = False

    def batch(self, limit: int = READDIR_BATCH) -> list[tuple[str, os.stat_result]]:
        out: list[tuple[str, os.stat_result]] = []
        while not self._done and len(out) < limit:
            entry = next(self._entries, None)
            if entry is None:
                self._done = True
                break
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
