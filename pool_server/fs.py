"""The pool's filesystem policy: the one object both front doors act through.

Every operation takes a `Session` (who, from where, over what) and a confined `Target`,
checks the access table, does the work and writes the audit row. FTP and SFTP only
translate their protocol to these calls and the package's errors back to replies.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat as stat_
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NoReturn

from catalog.layout import PARTIAL_PREFIX, is_internal_name, is_partial_name

from .accounts import Accounts, User
from .audit import Actor, Audit
from .errors import (
    AccessDenied,
    AlreadyExists,
    Busy,
    InvalidPath,
    NotFound,
    PoolError,
    QuotaExceeded,
    StorageFull,
)
from .paths import Target, confine, to_vpath
from .policy import Action, authorize
from .quota import QuotaLedger, tree_size


@dataclass
class Session:
    """A logged-in user on one connection."""

    user: User
    ip: str
    protocol: str
    cwd: str = "/"
    actor: Actor = field(init=False)

    def __post_init__(self) -> None:
        self.actor = Actor(self.user.name, self.user.member, self.ip, self.protocol)


def os_error(exc: OSError, target: Target) -> PoolError:
    """An OSError from the disk as the package's error, naming the virtual path only."""
    where = target.vpath
    if exc.errno == errno.ENOENT:
        return NotFound(f"{where}: no such file or folder")
    if exc.errno == errno.EEXIST:
        return AlreadyExists(f"{where} already exists")
    if exc.errno in (errno.ENOSPC,):
        return StorageFull(f"{where}: the pool's disk is full")
    if exc.errno == errno.EDQUOT:
        return QuotaExceeded(f"{where}: disk quota exceeded")
    if exc.errno in (errno.ENOTEMPTY,):
        return PoolError(f"{where}: folder is not empty")
    if exc.errno == errno.EISDIR:
        return InvalidPath(f"{where} is a folder")
    if exc.errno == errno.ENOTDIR:
        return InvalidPath(f"{where}: not a folder")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return AccessDenied(f"{where}: permission denied on the server's disk")
    return PoolError(f"{where}: {os.strerror(exc.errno or errno.EIO)}")


class Upload:
    """An upload in flight: bytes go to a hidden partial beside the target, which
    `commit()` renames into place; `abandon()` keeps it for a resume."""

    def __init__(
        self,
        fs: PoolFS,
        session: Session,
        target: Target,
        partial: Path,
        fh: BinaryIO,
        size: int,
        limit: int,
    ) -> None:
        self.fs, self.session, self.target = fs, session, target
        self.partial = partial
        self._fh = fh
        self._size = size  # bytes in the partial file now (its high-water mark)
        self._limit = limit
        self._member = target.member_area
        self.received = 0
        self._done = False

    @property
    def name(self) -> str:
        return os.fspath(self.partial)

    @property
    def closed(self) -> bool:
        return self._fh.closed

    def tell(self) -> int:
        return self._fh.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._fh.seek(offset, whence)

    def write(self, data: bytes) -> int:
        end = self._fh.tell() + len(data)
        growth = end - self._size
        if growth > 0 and self._member:
            try:
                self.fs.quotas.charge(self._member, growth, self._limit)
            except QuotaExceeded as exc:
                raise OSError(errno.EDQUOT, str(exc)) from exc
        try:
            self._write_all(data)
        except OSError:
            if growth > 0 and self._member:
                self.fs.quotas.credit(self._member, growth)
            raise
        self._size = max(self._size, end)
        self.received += len(data)
        return len(data)

    def _write_all(self, data: bytes) -> None:
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

    def close(self) -> None:
        """Close the file handle only; what happens to the bytes is commit/abandon's job."""
        if not self._fh.closed:
            self._fh.close()

    def _close_quietly(self) -> None:
        try:
            self.close()
        except OSError:
            pass  # the bytes are given up or kept as they are on disk

    def _finish(self) -> None:
        self._close_quietly()
        self._done = True
        self.fs._release(self.partial)

    def commit(self) -> None:
        """Rename the partial into place, atomically replacing any older version.

        The audit row is written first, so the indexer, woken by the rename, already
        finds who uploaded the file; a rename that then fails is recorded after it.
        """
        if self._done:
            return
        final = self.target.real
        try:
            self.close()
            if self.fs.fsync_uploads:
                with open(self.partial, "rb") as fh:
                    os.fsync(fh.fileno())
            if final.is_dir():
                raise InvalidPath(f"{self.target.vpath} is a folder")
            replaced = final.stat().st_size if final.is_file() else 0
        except OSError as exc:
            self._give_up(os_error(exc, self.target))
        except PoolError as err:
            self._give_up(err)
        self.fs.audit.record(
            self.session.actor,
            "upload",
            path=self.target.vpath,
            nbytes=self._size,
            status="complete",
            detail=f"received {self.received}",
        )
        try:
            os.replace(self.partial, final)
        except OSError as exc:
            self._give_up(os_error(exc, self.target))
        self._finish()
        if replaced and self._member:
            self.fs.quotas.credit(self._member, replaced)

    def _give_up(self, err: PoolError) -> NoReturn:
        """A commit that cannot complete: discard when space ran out (a resume could not
        succeed either), else keep the partial for a resume; then raise `err`."""
        if isinstance(err, StorageFull | QuotaExceeded):
            self.discard(str(err))
        else:
            self.abandon(str(err))
        raise err

    def abandon(self, why: str | None = None) -> None:
        """Keep the partial, hidden, for the same user to resume."""
        if self._done:
            return
        self._finish()
        self.fs.audit.record(
            self.session.actor,
            "upload",
            path=self.target.vpath,
            nbytes=self._size,
            status="partial",
            detail=why,
        )

    def discard(self, why: str) -> None:
        """Delete the partial (quota or disk full: resuming could not succeed)."""
        if self._done:
            return
        self._finish()
        try:
            os.unlink(self.partial)
        except FileNotFoundError:
            pass
        if self._member:
            self.fs.quotas.credit(self._member, self._size)
        self.fs.audit.record(
            self.session.actor,
            "upload",
            path=self.target.vpath,
            nbytes=self._size,
            status="failed",
            detail=why,
        )


class PoolFS:
    def __init__(
        self,
        root: Path,
        accounts: Accounts,
        audit: Audit,
        quotas: QuotaLedger,
        max_depth: int = 16,
        fsync_uploads: bool = False,
    ) -> None:
        self.root = root
        self.accounts = accounts
        self.audit = audit
        self.quotas = quotas
        self.max_depth = max_depth
        self.fsync_uploads = fsync_uploads
        self._active: set[Path] = set()
        self._active_lock = threading.Lock()

    # --- paths and rules

    def target(self, path: str, cwd: str = "/") -> Target:
        return confine(self.root, path, cwd, self.max_depth)

    def target_of_real(self, real: str | os.PathLike[str]) -> Target:
        return self.target(to_vpath(self.root, real))

    def authorize(self, session: Session, action: Action, target: Target) -> None:
        authorize(session.user, action, target)

    # --- reading

    def stat(self, session: Session, target: Target) -> os.stat_result:
        self.authorize(session, Action.LIST, target)
        try:
            return os.stat(target.real)
        except OSError as exc:
            raise os_error(exc, target)

    def listdir(self, session: Session, target: Target) -> Iterator[os.DirEntry[str]]:
        """The folder's entries as they are read (never built in memory), internal
        names (partial uploads, feed temporaries) left out."""
        self.authorize(session, Action.LIST, target)
        try:
            it = os.scandir(target.real)
        except OSError as exc:
            raise os_error(exc, target)
        with it:
            for entry in it:
                if not is_internal_name(entry.name):
                    yield entry

    def open_read(self, session: Session, target: Target) -> BinaryIO:
        self.authorize(session, Action.DOWNLOAD, target)
        try:
            if target.real.is_dir():
                raise InvalidPath(f"{target.vpath} is a folder")
            return open(target.real, "rb")
        except OSError as exc:
            raise os_error(exc, target)

    def record_download(
        self, session: Session, target: Target, nbytes: int, complete: bool, offset: int = 0
    ) -> None:
        """A complete download is a "take" (counted in the usage report)."""
        self.audit.record(
            session.actor,
            "download",
            path=target.vpath,
            nbytes=nbytes,
            status="complete" if complete else "partial",
            detail=f"from offset {offset}" if offset else None,
        )

    # --- uploads

    def partial_path(self, session: Session, target: Target) -> Path:
        """The hidden name of `session.user`'s upload of `target`: deterministic, so the
        same user finds it again to resume, and no other user can."""
        key = hashlib.sha256(f"{session.user.name}\0{target.name}".encode()).hexdigest()[:32]
        return target.real.parent / f"{PARTIAL_PREFIX}{key}"

    def resume_size(self, session: Session, target: Target) -> int | None:
        """Bytes of this user's interrupted upload of `target`, if there is one."""
        try:
            return self.partial_path(session, target).stat().st_size
        except OSError:
            return None

    def _claim(self, partial: Path) -> None:
        with self._active_lock:
            if partial in self._active:
                raise Busy("an upload of this file by this user is already in progress")
            self._active.add(partial)

    def _release(self, partial: Path) -> None:
        with self._active_lock:
            self._active.discard(partial)

    def open_upload(
        self, session: Session, target: Target, offset: int = 0, append: bool = False
    ) -> Upload:
        """Start (offset 0), resume (REST offset / append) an upload of `target`."""
        final_exists = target.real.exists()
        if final_exists and target.real.is_dir():
            raise InvalidPath(f"{target.vpath} is a folder")
        self.authorize(session, Action.OVERWRITE if final_exists else Action.UPLOAD, target)
        if not target.real.parent.is_dir():
            raise NotFound(f"{os.path.dirname(target.vpath)}: no such folder")
        partial = self.partial_path(session, target)
        self._claim(partial)
        try:
            return self._open_partial(session, target, partial, offset, append)
        except BaseException:
            self._release(partial)
            raise

    def _open_partial(
        self, session: Session, target: Target, partial: Path, offset: int, append: bool
    ) -> Upload:
        member = target.member_area
        limit = self.accounts.quota_of(member) if member else 0
        try:
            have = partial.stat().st_size if partial.exists() else None
            if (append or offset) and have is None and target.real.is_file():
                # Resuming onto a complete file: continue from a copy of it.
                have = self._seed_partial(target, partial, member, limit)
            start = (have or 0) if append else offset
            if start > (have or 0):
                raise InvalidPath(
                    f"cannot resume {target.vpath} at byte {start}: only {have or 0} received"
                )
            # Unbuffered: every write reaches the disk call, so a full disk is seen
            # at once. Upload owns and closes the handle.
            fh = open(partial, "r+b" if have is not None else "wb", buffering=0)  # noqa: SIM115
            if have is not None and start < have:
                fh.truncate(start)
                if member:
                    self.quotas.credit(member, have - start)
            fh.seek(start)
        except OSError as exc:
            raise os_error(exc, target)
        return Upload(self, session, target, partial, fh, start, limit)

    def _seed_partial(self, target: Target, partial: Path, member: str | None, limit: int) -> int:
        size = target.real.stat().st_size
        if member:
            self.quotas.charge(member, size, limit)
        shutil.copyfile(target.real, partial)
        return size

    def sweep_partials(self, max_age_seconds: float) -> int:
        """Delete interrupted uploads untouched for longer than `max_age_seconds`."""
        cutoff = time.time() - max_age_seconds
        removed = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if not is_partial_name(name):
                    continue
                path = Path(dirpath) / name
                with self._active_lock:
                    if path in self._active:
                        continue
                try:
                    st = path.stat()
                    if st.st_mtime >= cutoff:
                        continue
                    path.unlink()
                except OSError:
                    continue
                member = self.target_of_real(dirpath).member_area
                if member:
                    self.quotas.credit(member, st.st_size)
                removed += 1
        return removed

    # --- changing the tree

    def mkdir(self, session: Session, target: Target) -> None:
        self.authorize(session, Action.MKDIR, target)
        try:
            target.real.mkdir()
        except OSError as exc:
            raise os_error(exc, target)
        self.audit.record(session.actor, "mkdir", path=target.vpath)

    def remove(self, session: Session, target: Target) -> None:
        self.authorize(session, Action.DELETE, target)
        try:
            if target.real.is_dir() and not target.real.is_symlink():
                raise InvalidPath(f"{target.vpath} is a folder: remove it with rmdir")
            size = target.real.lstat().st_size
            target.real.unlink()
        except OSError as exc:
            raise os_error(exc, target)
        if target.member_area:
            self.quotas.credit(target.member_area, size)
        self.audit.record(session.actor, "delete", path=target.vpath, nbytes=size)

    def rmdir(self, session: Session, target: Target) -> None:
        """Remove an empty folder; stale partial uploads in it go with it."""
        self.authorize(session, Action.DELETE, target)
        if target.is_root or (len(target.parts) == 1 and session.user.role != "admin"):
            raise AccessDenied(f"permission denied: {target.vpath} is a member area")
        try:
            leftovers = [e for e in os.scandir(target.real)]
            if any(not is_internal_name(e.name) for e in leftovers):
                raise PoolError(f"{target.vpath}: folder is not empty")
            for entry in leftovers:
                with self._active_lock:
                    if Path(entry.path) in self._active:
                        raise Busy(f"{target.vpath}: an upload into it is in progress")
            freed = 0
            for entry in leftovers:
                freed += entry.stat(follow_symlinks=False).st_size
                os.unlink(entry.path)
            target.real.rmdir()
        except OSError as exc:
            raise os_error(exc, target)
        if freed and target.member_area:
            self.quotas.credit(target.member_area, freed)
        self.audit.record(session.actor, "rmdir", path=target.vpath)

    def rename(self, session: Session, src: Target, dst: Target) -> None:
        self.authorize(session, Action.RENAME, src)
        self.authorize(session, Action.RENAME, dst)
        if src.is_root or dst.is_root:
            raise AccessDenied("permission denied: the pool root cannot be renamed")
        if dst.vpath.startswith(src.vpath.rstrip("/") + "/"):
            raise InvalidPath(f"cannot move {src.vpath} into itself")
        replaced = 0
        try:
            st = src.real.lstat()
            if stat_.S_ISDIR(st.st_mode):
                if dst.real.exists():
                    raise AlreadyExists(f"{dst.vpath} already exists")
                size = tree_size(src.real)
            else:
                if dst.real.is_dir():
                    raise InvalidPath(f"{dst.vpath} is a folder")
                size = st.st_size
                replaced = dst.real.lstat().st_size if dst.real.is_file() else 0
            os.replace(src.real, dst.real)
        except OSError as exc:
            raise os_error(exc, src)
        if replaced and dst.member_area:
            self.quotas.credit(dst.member_area, replaced)
        if src.member_area != dst.member_area:
            if src.member_area:
                self.quotas.credit(src.member_area, size)
            if dst.member_area:
                self.quotas.charge(dst.member_area, size, 0)
        self.audit.record(session.actor, "rename", path=src.vpath, detail=dst.vpath)

    def set_mtime(self, session: Session, target: Target, mtime: float) -> None:
        self.authorize(session, Action.OVERWRITE, target)
        try:
            os.utime(target.real, (mtime, mtime))
        except OSError as exc:
            raise os_error(exc, target)
        self.audit.record(session.actor, "setstat", path=target.vpath, detail=f"mtime {int(mtime)}")
