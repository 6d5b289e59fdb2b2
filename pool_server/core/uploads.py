"""Uploads: hidden partial files, who may resume them, and how each one ends.

Bytes go to a hidden partial (`.ortak-part-<key>`) beside the target, whose name is
derived from the user and the file's name (and, for a door that keeps its own upload
ids such as tus, that id): the same user finds it again to resume, no other user can.
One upload of one partial runs at a time (a claim). Every upload ends through
`Upload.end` with one of three outcomes, decided here for every door:

- `Outcome.COMPLETE`: the client finished; the partial is renamed into place.
- `Outcome.CLIENT_GONE`: the connection ended early; the partial stays, resumable.
- `Outcome.FAILED`: a write failed; a full disk or quota (a resume could not succeed
  either) discards the partial, anything else keeps it.

Stale partials are swept by `Uploads.sweep`.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import threading
import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from catalog.layout import PARTIAL_PREFIX, is_partial_name

from ..errors import Busy, InvalidPath, NotFound, PoolError, QuotaExceeded, StorageFull
from ..paths import Target, to_vpath
from ..policy import Action
from .oserror import os_error

if TYPE_CHECKING:
    from .service import Core
    from .session import Session

FICLONE = 0x40049409  # linux/fs.h: share the extents of another file (btrfs, XFS)


class Outcome(Enum):
    COMPLETE = "complete"
    CLIENT_GONE = "client gone"
    FAILED = "failed"


def _discards(err: PoolError) -> bool:
    """A full quota or disk: the partial is discarded, since a resume could not succeed."""
    return isinstance(err, StorageFull | QuotaExceeded)


class Upload:
    """An upload in flight, owned by one door's session. Thread-safe: a door may write on
    one thread and end the upload on another (the end waits for a write under way)."""

    def __init__(
        self,
        uploads: Uploads,
        session: Session,
        target: Target,
        partial: Path,
        fh: BinaryIO,
        size: int,
        length: int | None,
    ) -> None:
        self.uploads = uploads
        self.session = session
        self.target = target
        self.partial = partial
        self.length = length
        """The length the client declared up front (tus), or None."""
        self._fh = fh
        self._size = size  # bytes in the partial now (its high-water mark)
        self._member = target.member_area
        self._limit = uploads.core.accounts.quota_of(self._member) if self._member else 0
        self._lock = threading.Lock()
        self.received = 0
        self.error: PoolError | None = None
        """The error that failed a write, if one did; `end` then discards or keeps."""
        self.outcome: Outcome | None = None

    # --- file-like, for the doors

    @property
    def name(self) -> str:
        return os.fspath(self.partial)

    @property
    def closed(self) -> bool:
        return self._fh.closed

    @property
    def size(self) -> int:
        """Bytes in the partial so far (the offset a resume continues from)."""
        return self._size

    def tell(self) -> int:
        return self._fh.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._fh.seek(offset, whence)

    def fileno(self) -> int:
        return self._fh.fileno()

    def close(self) -> None:
        """pyftpdlib closes the file it was given: that decides nothing (see `end`)."""

    # --- writing

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write at the current position; `PoolError` if the disk, quota or limits refuse
        (the upload then remembers the error: `end` decides what it becomes)."""
        with self._lock:
            if self.error is not None:
                raise self.error
            if self.outcome is not None:
                raise PoolError(f"the upload of {self.target.vpath} has ended")
            try:
                return self._write(data)
            except PoolError as err:
                self.error = err
                raise

    def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> int:
        with self._lock:
            if self._fh.tell() != offset:
                self._check_offset(offset)
                self._fh.seek(offset)
        return self.write(data)

    def _check_offset(self, offset: int) -> None:
        self.check_write(offset, 0)

    def check_write(self, offset: int, n: int, have: int | None = None) -> None:
        """Raise if writing `n` bytes at `offset` would break a limit (the file's size,
        a hole past `have`, by default the bytes written so far). Doors that gather
        writes before they reach `write_at` call it for each, so the refusal answers
        the write that broke the limit."""
        limits = self.uploads.core.limits
        vpath = self.target.vpath
        try:
            limits.check_size(vpath, offset + n)
            limits.check_hole(vpath, max(self._size, have or 0), offset)
            if self.length is not None and offset + n > self.length:
                raise InvalidPath(
                    f"{vpath}: {offset + n} bytes is more than the {self.length} bytes announced"
                )
        except PoolError as err:
            self.error = self.error or err
            raise

    def _write(self, data: bytes | bytearray | memoryview) -> int:
        vpath = self.target.vpath
        start = self._fh.tell()
        end = start + len(data)
        growth = end - self._size
        core = self.uploads.core
        if growth > 0:
            if start > self._size:
                core.limits.check_hole(vpath, self._size, start)
            if self.length is not None and end > self.length:
                raise InvalidPath(
                    f"{vpath}: {end} bytes is more than the {self.length} bytes announced"
                )
            core.limits.check_size(vpath, end)
            core.limits.check_free(self.partial.parent, vpath, growth)
            if self._member:
                core.quotas.charge(self._member, growth, self._limit)
        try:
            self._write_all(data)
        except OSError as exc:
            if growth > 0 and self._member:
                core.quotas.credit(self._member, growth)
            raise os_error(exc, vpath) from None
        self._size = max(self._size, end)
        self.received += len(data)
        return len(data)

    def _write_all(self, data: bytes | bytearray | memoryview) -> None:
        """An unbuffered write may be short (a disk filling up): finish it or fail."""
        # `with`: the view is released even when a write fails, so a caller's bytearray
        # can still be resized (a traceback would otherwise keep the view alive).
        with memoryview(data) as view:
            done = 0
            while done < len(view):
                n = self._fh.write(view[done:])
                if not n:
                    raise OSError(errno.EIO, "write made no progress")
                done += n

    def sync(self) -> None:
        with self._lock:
            os.fsync(self._fh.fileno())

    # --- the one decision at the end

    def end(self, outcome: Outcome, why: str | None = None) -> None:
        """End the upload (once; later calls do nothing).

        COMPLETE renames the partial into place, or raises the `PoolError` that stopped
        it (a refused or failed rename keeps the partial unless space ran out).
        CLIENT_GONE keeps the partial for a resume. FAILED (or any outcome after a write
        failed) discards the partial when the disk or quota is full, else keeps it.
        """
        with self._lock:
            if self.outcome is not None:
                return
            self.outcome = outcome
            self._close_file()
            try:
                if self.error is not None or outcome is Outcome.FAILED:
                    err = self.error or PoolError(why or "upload failed")
                    self._fail(err, why)
                elif outcome is Outcome.CLIENT_GONE:
                    self._keep(why or "connection closed before the end of the upload")
                else:
                    self._commit()
            finally:
                self.uploads.release(self.partial)

    def _close_file(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass  # the bytes are kept or given up as they are on disk

    def _commit(self) -> None:
        """The audit row is written first, so the indexer, woken by the rename, already
        finds who uploaded the file; a rename that then fails is recorded after it."""
        core, target = self.uploads.core, self.target
        final = target.real
        if self.length is not None and self._size != self.length:
            self._keep(f"incomplete: {self._size} of {self.length} bytes")
            raise InvalidPath(
                f"{target.vpath}: only {self._size} of the {self.length} bytes announced "
                "were received; the upload is kept for a resume"
            )
        try:
            if core.fsync_uploads:
                with open(self.partial, "rb") as fh:
                    os.fsync(fh.fileno())
            st = final.lstat() if os.path.lexists(final) else None
            if st is not None and Path(final).is_dir():
                raise InvalidPath(f"{target.vpath} is a folder")
            replaced = st.st_size if st is not None and not Path(final).is_symlink() else 0
        except OSError as exc:
            self._fail(os_error(exc, target.vpath), None)
        except PoolError as err:
            self._fail(err, None)
        core.record(
            self.session,
            "upload",
            path=target.vpath,
            nbytes=self._size,
            status="complete",
            detail=f"received {self.received}",
        )
        try:
            os.replace(self.partial, final)
        except OSError as exc:
            self._fail(os_error(exc, target.vpath), None)
        if replaced and self._member:
            core.quotas.credit(self._member, replaced)

    def _keep(self, why: str) -> None:
        self.uploads.core.record(
            self.session,
            "upload",
            path=self.target.vpath,
            nbytes=self._size,
            status="partial",
            detail=why,
        )

    def _fail(self, err: PoolError, why: str | None) -> None:
        """Discard (space ran out) or keep the partial; then raise `err`."""
        if not _discards(err):
            self._keep(why or str(err))
            raise err
        try:
            os.unlink(self.partial)
        except FileNotFoundError:
            pass
        core = self.uploads.core
        if self._member:
            core.quotas.credit(self._member, self._size)
        core.record(
            self.session,
            "upload",
            path=self.target.vpath,
            nbytes=self._size,
            status="failed",
            detail=why or str(err),
        )
        raise err


class Uploads:
    """Partial naming, claims (one upload of a partial at a time), opening, resuming and
    sweeping. One per pool, shared by every door."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._active: set[Path] = set()
        self._lock = threading.Lock()

    def partial_path(self, user: str, target: Target, key: str = "") -> Path:
        """The hidden name of `user`'s upload of `target`: deterministic, so the same
        user finds it again to resume, and no other user can. `key` keeps a door's own
        uploads apart (tus: its upload id), so only that door resumes them."""
        seed = f"{user}\0{target.name}" + (f"\0{key}" if key else "")
        digest = hashlib.sha256(seed.encode()).hexdigest()[:32]
        return target.real.parent / f"{PARTIAL_PREFIX}{digest}"

    def size_of(self, user: str, target: Target, key: str = "") -> int | None:
        """Bytes of `user`'s interrupted upload of `target`, if there is one."""
        try:
            return self.partial_path(user, target, key).stat().st_size
        except OSError:
            return None

    def busy(self, path: Path) -> bool:
        with self._lock:
            return path in self._active

    def _claim(self, partial: Path) -> None:
        with self._lock:
            if partial in self._active:
                raise Busy("an upload of this file by this user is already in progress")
            self._active.add(partial)

    def release(self, partial: Path) -> None:
        with self._lock:
            self._active.discard(partial)

    def open(
        self,
        session: Session,
        target: Target,
        offset: int = 0,
        append: bool = False,
        length: int | None = None,
        key: str = "",
    ) -> Upload:
        """Start (offset 0) or resume (`offset`, or `append`: at the end) an upload.

        `length`, if the client declares the final size up front, is checked against
        the largest file accepted and the member's remaining quota before any byte.
        May copy the complete file to seed a resume onto it: doors with an event loop
        call this off the loop.
        """
        core = self.core
        if target.is_root:
            raise InvalidPath("/ is a folder")
        real = target.real
        final_exists = os.path.lexists(real)
        if final_exists and real.is_dir():
            raise InvalidPath(f"{target.vpath} is a folder")
        core.authorize(session, Action.OVERWRITE if final_exists else Action.UPLOAD, target)
        if not real.parent.is_dir():
            raise NotFound(f"{os.path.dirname(target.vpath)}: no such folder")
        core.limits.check_size(target.vpath, max(offset, length or 0))
        partial = self.partial_path(session.user.name, target, key)
        if length is not None:
            self._check_length(target, partial, length)
        core.limits.check_free(real.parent, target.vpath, 1)
        self._claim(partial)
        try:
            return self._open_partial(session, target, partial, offset, append, length)
        except BaseException:
            self.release(partial)
            raise

    def _check_length(self, target: Target, partial: Path, length: int) -> None:
        member = target.member_area
        if not member:
            return
        try:
            have = partial.stat().st_size
        except OSError:
            have = 0
        limit = self.core.accounts.quota_of(member)
        quotas = self.core.quotas
        # Charged and given back at once: the check's message is the ledger's own.
        quotas.charge(member, max(0, length - have), limit)
        quotas.credit(member, max(0, length - have))

    def _open_partial(
        self,
        session: Session,
        target: Target,
        partial: Path,
        offset: int,
        append: bool,
        length: int | None,
    ) -> Upload:
        member = target.member_area
        quotas = self.core.quotas
        try:
            have = partial.stat().st_size if partial.exists() else None
            if (append or offset) and have is None and target.real.is_file():
                # Resuming onto a complete file: continue from a copy of it.
                have = self._seed(target, partial)
            start = (have or 0) if append else offset
            if start > (have or 0):
                raise InvalidPath(
                    f"cannot resume {target.vpath} at byte {start}: only {have or 0} received"
                )
            # Unbuffered: every write reaches the disk call, so a full disk is seen
            # at once. The Upload owns and closes the handle.
            fh = open(partial, "r+b" if have is not None else "wb", buffering=0)  # noqa: SIM115
            if have is not None and start < have:
                fh.truncate(start)
                if member:
                    quotas.credit(member, have - start)
            fh.seek(start)
        except OSError as exc:
            raise os_error(exc, target.vpath) from None
        return Upload(self, session, target, partial, fh, start, length)

    def _seed(self, target: Target, partial: Path) -> int:
        """Copy the complete file to the partial (a clone where the filesystem can)."""
        member = target.member_area
        size = target.real.stat().st_size
        self.core.limits.check_free(partial.parent, target.vpath, size)
        if member:
            self.core.quotas.charge(member, size, self.core.accounts.quota_of(member))
        try:
            with open(target.real, "rb") as src, open(partial, "wb") as dst:
                try:
                    fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
                except OSError:
                    left = size
                    while left > 0:
                        n = os.copy_file_range(src.fileno(), dst.fileno(), min(left, 1 << 30))
                        if n == 0:
                            break
                        left -= n
        except OSError:
            partial.unlink(missing_ok=True)
            if member:
                self.core.quotas.credit(member, size)
            raise
        return size

    def discard(self, session: Session, target: Target, key: str = "") -> bool:
        """Delete `session`'s partial of `target` (tus: terminate). False if none."""
        partial = self.partial_path(session.user.name, target, key)
        self._claim(partial)
        try:
            size = partial.stat().st_size
            partial.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise os_error(exc, target.vpath) from None
        finally:
            self.release(partial)
        if target.member_area:
            self.core.quotas.credit(target.member_area, size)
        self.core.record(session, "upload", path=target.vpath, nbytes=size, status="discarded")
        return True

    def sweep(self, max_age_seconds: float) -> int:
        """Delete interrupted uploads untouched for longer than `max_age_seconds`."""
        root = self.core.root
        cutoff = time.time() - max_age_seconds
        removed = 0
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                if not is_partial_name(name):
                    continue
                path = Path(dirpath) / name
                if self.busy(path):
                    continue
                try:
                    st = path.stat()
                    if st.st_mtime >= cutoff:
                        continue
                    path.unlink()
                except OSError:
                    continue
                parts = [p for p in to_vpath(root, dirpath).split("/") if p]
                if parts:
                    self.core.quotas.credit(parts[0], st.st_size)
                removed += 1
        return removed
