"""A logged-in session: every file operation a door may perform, by virtual path.

Each call confines the path (relative paths are taken from `cwd`), applies the access
table on the path as resolved on disk, acts, and writes the audit row. Errors are the
package's `PoolError`s with virtual paths in their messages.
"""

from __future__ import annotations

import os
import stat as stat_
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from catalog.layout import is_internal_name

from ..accounts import Role, User
from ..audit import Actor
from ..errors import AccessDenied, AlreadyExists, Busy, InvalidPath, PoolError
from ..paths import Target
from ..policy import Action, allowed
from ..quota import tree_size
from .downloads import Download
from .oserror import os_error
from .uploads import Upload

if TYPE_CHECKING:
    from .service import Core

PathLike = str | Target


class Session:
    """One user logged in on one connection, over one protocol (made by `Core`)."""

    def __init__(self, core: Core, user: User, ip: str, protocol: str) -> None:
        self.core = core
        self.user = user
        self.ip = ip
        self.protocol = protocol
        self.cwd = "/"
        self.actor = Actor(user.name, user.member, ip, protocol)
        self.live_id: str | None = None
        self._moving = 0  # transfers this session has under way (see `transferring`)
        self._moving_lock = threading.Lock()  # SFTP channels of one session have threads

    # --- connected (FTP, SFTP): listed in the console, which may end the session

    def connected(self, closer: Callable[[], None]) -> None:
        """The door's connection is logged in; `closer` ends it (from any thread)."""
        if self.live_id is None:
            self.live_id = self.core.live.open(self, closer)

    def disconnected(self) -> None:
        live_id, self.live_id = self.live_id, None
        if live_id is not None:
            self.core.live.close(live_id)
        with self._moving_lock:
            for _ in range(self._moving):
                self.core.transfers.end()
            self._moving = 0

    def transferring(self, what: str | None) -> None:
        """A transfer starts ('upload /TRT/a.mxf'), or one ends (None): shown in the
        console, and counted in `core.transfers` until it ends or the session does."""
        with self._moving_lock:  # begin and end in the order the door's threads made them
            if what is not None:
                self._moving += 1
                self.core.transfers.begin()
            elif self._moving:
                self._moving -= 1
                self.core.transfers.end()
        if self.live_id is not None:
            self.core.live.transfer(self.live_id, what)

    # --- paths and rules

    def target(self, path: PathLike) -> Target:
        """The confined target of a client path (relative to `cwd`)."""
        if isinstance(path, Target):
            return path
        return self.core.target(path, self.cwd)

    def may(self, action: Action, path: PathLike) -> bool:
        """Whether the access table lets this user do `action` on `path` (no error)."""
        return allowed(self.user, action, self.target(path))

    def chdir(self, path: PathLike) -> str:
        """Make `path` (a folder) the current folder; returns its virtual path."""
        target = self.target(path)
        if not stat_.S_ISDIR(self.stat(target).st_mode):
            raise InvalidPath(f"{target.vpath} is not a folder")
        self.cwd = target.vpath
        return self.cwd

    # --- reading

    def stat(self, path: PathLike, own_partial: bool = False) -> os.stat_result:
        """A path's attributes. With `own_partial`, a file this user is uploading (an
        interrupted upload) shows its partial's size, so clients resume from there."""
        target = self.target(path)
        self.core.authorize(self, Action.LIST, target)
        if own_partial and not target.is_root:
            partial = self.core.uploads.partial_path(self.user.name, target)
            try:
                return os.stat(partial)
            except OSError:
                pass
        try:
            return os.stat(target.real)
        except OSError as exc:
            raise os_error(exc, target.vpath) from None

    def size(self, path: PathLike) -> int:
        """A file's size, or to its owner the size of an interrupted upload of it."""
        target = self.target(path)
        st = self.stat(target, own_partial=True)
        if not stat_.S_ISREG(st.st_mode):
            raise InvalidPath(f"{target.vpath} is not a file")
        return st.st_size

    def resume_size(self, path: PathLike, key: str = "") -> int | None:
        """Bytes of this user's interrupted upload of `path`, if there is one."""
        return self.core.uploads.size_of(self.user.name, self.target(path), key)

    def listdir(self, path: PathLike = ".") -> Iterator[os.DirEntry[str]]:
        """The folder's entries as they are read (never built in memory), internal
        names (partial uploads, feed temporaries) left out. Raises on the first step."""
        target = self.target(path)
        self.core.authorize(self, Action.LIST, target)
        try:
            it = os.scandir(target.real)
        except OSError as exc:
            raise os_error(exc, target.vpath) from None
        return _entries(it)

    def open_read(self, path: PathLike) -> Download:
        target = self.target(path)
        self.core.authorize(self, Action.DOWNLOAD, target)
        try:
            if target.real.is_dir():
                raise InvalidPath(f"{target.vpath} is a folder")
            return Download(self, target, open(target.real, "rb"))
        except OSError as exc:
            raise os_error(exc, target.vpath) from None

    def record_download(
        self, path: PathLike, nbytes: int, complete: bool, offset: int = 0, read: int = 0
    ) -> None:
        """A complete download is a "take" (counted in the usage report). `nbytes` is
        how much of the file the client got; `read`, when larger, what was read in all
        (some ranges more than once)."""
        notes = [f"from offset {offset}"] if offset else []
        if read > nbytes:
            notes.append(f"{read} bytes read, some more than once")
        self.core.record(
            self,
            "download",
            path=self.target(path).vpath,
            nbytes=nbytes,
            status="complete" if complete else "partial",
            detail="; ".join(notes) or None,
        )

    # --- uploads

    def open_upload(
        self,
        path: PathLike,
        offset: int = 0,
        append: bool = False,
        length: int | None = None,
        key: str = "",
    ) -> Upload:
        """Start or resume an upload (see `uploads.Uploads.open`); end it with
        `Upload.end`. May copy a file to seed a resume: call it off an event loop."""
        return self.core.uploads.open(self, self.target(path), offset, append, length, key)

    def discard_upload(self, path: PathLike, key: str = "") -> bool:
        """Delete this user's interrupted upload of `path`; False if there was none."""
        return self.core.uploads.discard(self, self.target(path), key)

    # --- changing the tree

    def mkdir(self, path: PathLike) -> Target:
        target = self.target(path)
        self.core.authorize(self, Action.MKDIR, target)
        try:
            target.real.mkdir()
        except OSError as exc:
            raise os_error(exc, target.vpath) from None
        self.core.record(self, "mkdir", path=target.vpath)
        return target

    def remove(self, path: PathLike) -> None:
        target = self.target(path)
        self.core.authorize(self, Action.DELETE, target)
        try:
            if target.real.is_dir() and not target.real.is_symlink():
                raise InvalidPath(f"{target.vpath} is a folder: remove it with rmdir")
            size = target.real.lstat().st_size
            target.real.unlink()
        except OSError as exc:
            raise os_error(exc, target.vpath) from None
        if target.member_area:
            self.core.quotas.credit(target.member_area, size)
        self.core.record(self, "delete", path=target.vpath, nbytes=size)

    def rmdir(self, path: PathLike) -> None:
        """Remove an empty folder; stale partial uploads in it go with it."""
        target = self.target(path)
        self.core.authorize(self, Action.DELETE, target)
        if target.is_root or (len(target.parts) == 1 and self.user.role is not Role.ADMIN):
            raise AccessDenied(f"permission denied: {target.vpath} is a member area")
        uploads = self.core.uploads
        try:
            if target.real.is_symlink():
                raise InvalidPath(f"{target.vpath} is a link, not a folder: remove it with delete")
            with os.scandir(target.real) as it:
                leftovers = list(it)
            if any(not is_internal_name(e.name) for e in leftovers):
                raise PoolError(f"{target.vpath}: folder is not empty")
            if any(uploads.busy(target.real / e.name) for e in leftovers):
                raise Busy(f"{target.vpath}: an upload into it is in progress")
            freed = 0
            for entry in leftovers:
                freed += entry.stat(follow_symlinks=False).st_size
                os.unlink(entry.path)
            target.real.rmdir()
        except OSError as exc:
            raise os_error(exc, target.vpath) from None
        if freed and target.member_area:
            self.core.quotas.credit(target.member_area, freed)
        self.core.record(self, "rmdir", path=target.vpath)

    def rename(self, src_path: PathLike, dst_path: PathLike, replace: bool = True) -> None:
        """Move `src` to `dst`; an existing file at `dst` is replaced unless `replace`
        is False (then `AlreadyExists`). A folder never replaces anything."""
        src, dst = self.target(src_path), self.target(dst_path)
        self.core.authorize(self, Action.RENAME, src)
        self.core.authorize(self, Action.RENAME, dst)
        if src.is_root or dst.is_root:
            raise AccessDenied("permission denied: the pool root cannot be renamed")
        if dst.vpath.startswith(src.vpath.rstrip("/") + "/"):
            raise InvalidPath(f"cannot move {src.vpath} into itself")
        if not replace and os.path.lexists(dst.real):
            raise AlreadyExists(f"{dst.vpath} already exists")
        quotas = self.core.quotas
        replaced = 0
        try:
            st = src.real.lstat()
            if stat_.S_ISDIR(st.st_mode):
                if os.path.lexists(dst.real):
                    raise AlreadyExists(f"{dst.vpath} already exists")
                size = tree_size(src.real)
            else:
                if dst.real.is_dir() and not dst.real.is_symlink():
                    raise InvalidPath(f"{dst.vpath} is a folder")
                size = st.st_size
                replaced = dst.real.lstat().st_size if os.path.lexists(dst.real) else 0
            os.replace(src.real, dst.real)
        except OSError as exc:
            raise os_error(exc, src.vpath) from None
        if replaced and dst.member_area:
            quotas.credit(dst.member_area, replaced)
        if src.member_area != dst.member_area:
            if src.member_area:
                quotas.credit(src.member_area, size)
            if dst.member_area:
                quotas.charge(dst.member_area, size, 0)
        self.core.record(self, "rename", path=src.vpath, detail=dst.vpath)

    def set_mtime(self, path: PathLike, mtime: float) -> None:
        target = self.target(path)
        self.core.authorize(self, Action.OVERWRITE, target)
        try:
            os.utime(target.real, (mtime, mtime), follow_symlinks=False)
        except OSError as exc:
            raise os_error(exc, target.vpath) from None
        self.core.record(self, "setstat", path=target.vpath, detail=f"mtime {int(mtime)}")

    def check_change(self, path: PathLike) -> None:
        """Raise unless this user may change `path` (modes and owners, which the pool
        decides: accepted where the user could change the file, refused elsewhere)."""
        target = self.target(path)
        self.core.authorize(self, Action.OVERWRITE, target)
        self.stat(target)

    def statvfs(self) -> os.statvfs_result:
        return os.statvfs(self.core.root)


def _entries(it: Iterator[os.DirEntry[str]]) -> Iterator[os.DirEntry[str]]:
    with it:  # type: ignore[attr-defined]
        for entry in it:
            if not is_internal_name(entry.name):
                yield entry
