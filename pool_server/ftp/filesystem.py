"""pyftpdlib's filesystem interface, answered by `PoolFS`.

pyftpdlib hands us real paths (from `ftp2fs`, which confines them); each call turns the
path back into a confined `Target` and lets `PoolFS` check the rules and do the work.
Errors become `FilesystemError`, whose text pyftpdlib sends after its 550.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from pyftpdlib.exceptions import FilesystemError
from pyftpdlib.filesystems import AbstractedFS

from ..errors import AccessDenied, PoolError
from ..fs import PoolFS, Session

F = TypeVar("F", bound=Callable[..., Any])


def _translated(method: F) -> F:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except PoolError as err:
            text = str(err)
            raise FilesystemError(text[:1].upper() + text[1:]) from err

    return wrapper  # type: ignore[return-value]


class PoolAbstractedFS(AbstractedFS):
    """One per FTP session; `cmd_channel.session` is the logged-in user."""

    @property
    def pool(self) -> PoolFS:
        return self.cmd_channel.pool_fs

    @property
    def session(self) -> Session:
        return self.cmd_channel.session

    def _t(self, path: str):
        return self.pool.target_of_real(path)

    # --- path mapping: the only way in is `PoolFS.target` (confinement)

    def ftp2fs(self, ftppath: str) -> str:
        return os.fspath(self.pool.target(ftppath, self.cwd).real)

    def fs2ftp(self, fspath: str) -> str:
        return self.pool.target_of_real(fspath).vpath

    def validpath(self, path: str) -> bool:
        return True  # every real path we hand out came from `ftp2fs`

    def realpath(self, path: str) -> str:
        return path

    # --- operations

    @_translated
    def open(self, filename: str, mode: str):
        if set(mode) - {"r", "b"}:
            raise AccessDenied("uploads go through STOR/APPE")
        return self.pool.open_read(self.session, self._t(filename))

    @_translated
    def chdir(self, path: str) -> None:
        target = self._t(path)
        st = self.pool.stat(self.session, target)
        if not os.path.stat.S_ISDIR(st.st_mode):
            raise FilesystemError(f"{target.vpath} is not a folder")
        self.cwd = target.vpath

    @_translated
    def mkdir(self, path: str) -> None:
        self.pool.mkdir(self.session, self._t(path))

    @_translated
    def listdir(self, path: str) -> list[str]:
        return sorted(e.name for e in self.pool.listdir(self.session, self._t(path)))

    def listdirinfo(self, path: str) -> list[str]:
        return self.listdir(path)

    @_translated
    def rmdir(self, path: str) -> None:
        self.pool.rmdir(self.session, self._t(path))

    @_translated
    def remove(self, path: str) -> None:
        self.pool.remove(self.session, self._t(path))

    @_translated
    def rename(self, src: str, dst: str) -> None:
        self.pool.rename(self.session, self._t(src), self._t(dst))

    def chmod(self, path: str, mode: int) -> None:
        raise FilesystemError("permission modes are managed by the pool, not by clients")

    @_translated
    def utime(self, path: str, timeval: float) -> None:
        self.pool.set_mtime(self.session, self._t(path), timeval)

    @_translated
    def stat(self, path: str) -> os.stat_result:
        return self.pool.stat(self.session, self._t(path))

    lstat = stat

    def readlink(self, path: str) -> str:
        raise FilesystemError("links are not shown")

    def _exists_as(self, path: str, test: Callable[[int], bool]) -> bool:
        try:
            return test(self.stat(path).st_mode)
        except (FilesystemError, OSError):
            return False

    def isfile(self, path: str) -> bool:
        return self._exists_as(path, os.path.stat.S_ISREG)

    def isdir(self, path: str) -> bool:
        return self._exists_as(path, os.path.stat.S_ISDIR)

    def islink(self, path: str) -> bool:
        return False

    def lexists(self, path: str) -> bool:
        return self._exists_as(path, lambda _mode: True)

    def getsize(self, path: str) -> int:
        return self.stat(path).st_size

    def getmtime(self, path: str) -> float:
        return self.stat(path).st_mtime

    def get_user_by_uid(self, uid: int) -> str:
        return "pool"

    def get_group_by_gid(self, gid: int) -> str:
        return "pool"
