"""pyftpdlib's filesystem interface, answered by the session core.

pyftpdlib hands us real paths (from `ftp2fs`, which confines them); each call turns the
path back into a virtual one and lets the user's `core.Session` check the rules and do
the work. The commands that change the pool are answered in `commands.py` (with the
reply codes of `replies.py`); what still comes through here (listings, STAT, the checks
pyftpdlib makes) fails with `FilesystemError`, whose text pyftpdlib sends after 550 —
the code `replies.py` gives those errors too (not found, access denied).
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pyftpdlib.exceptions import FilesystemError
from pyftpdlib.filesystems import AbstractedFS

from ..core import Core, Session
from ..errors import AccessDenied, PoolError
from ..policy import Action

F = TypeVar("F", bound=Callable[..., Any])

_PERM_FACT = re.compile(rb"(^|;)perm=[^;]*;")


def _translated(method: F) -> F:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except PoolError as err:
            text = str(err)
            raise FilesystemError(text[:1].upper() + text[1:]) from err

    return wrapper  # type: ignore[return-value]


def perm_facts(session: Session, vpath: str, is_dir: bool) -> str:
    """RFC 3659 `perm` facts for this user on this path, from the access table."""
    may = session.may
    if is_dir:
        child = vpath.rstrip("/") + "/x"
        facts = "el"
        if may(Action.UPLOAD, child):
            facts += "c"
        if vpath != "/" and may(Action.DELETE, vpath):
            facts += "d"
        if vpath != "/" and may(Action.RENAME, vpath):
            facts += "f"
        if may(Action.MKDIR, child):
            facts += "m"
        if may(Action.DELETE, child):
            facts += "p"
        return "".join(sorted(facts))
    facts = "r"
    if may(Action.OVERWRITE, vpath):
        facts += "aw"
    if may(Action.DELETE, vpath):
        facts += "d"
    if may(Action.RENAME, vpath):
        facts += "f"
    return "".join(sorted(facts))


class PoolAbstractedFS(AbstractedFS):  # type: ignore[misc]
    """One per FTP session; `cmd_channel.session` is the logged-in user."""

    @property
    def core(self) -> Core:
        core: Core = self.cmd_channel.core
        return core

    @property
    def session(self) -> Session:
        session: Session = self.cmd_channel.session
        return session

    def _v(self, path: str) -> str:
        return self.core.vpath_of(path)

    # --- path mapping: the only way in is `Core.target` (confinement)

    def ftp2fs(self, ftppath: str) -> str:
        return os.fspath(self.core.target(ftppath, self.cwd).real)

    def fs2ftp(self, fspath: str) -> str:
        return self._v(fspath)

    def validpath(self, path: str) -> bool:
        return True  # every real path we hand out came from `ftp2fs`

    def realpath(self, path: str) -> str:
        return path

    # --- operations

    @_translated
    def open(self, filename: str, mode: str) -> Any:
        if set(mode) - {"r", "b"}:
            raise AccessDenied("uploads go through STOR/APPE")
        return self.session.open_read(self._v(filename)).file

    @_translated
    def chdir(self, path: str) -> None:
        self.cwd = self.session.chdir(self._v(path))

    @_translated
    def mkdir(self, path: str) -> None:
        self.session.mkdir(self._v(path))

    @_translated
    def listdir(self, path: str) -> list[str]:
        return sorted(e.name for e in self.session.listdir(self._v(path)))

    def listdirinfo(self, path: str) -> list[str]:
        return self.listdir(path)

    @_translated
    def rmdir(self, path: str) -> None:
        self.session.rmdir(self._v(path))

    @_translated
    def remove(self, path: str) -> None:
        self.session.remove(self._v(path))

    @_translated
    def rename(self, src: str, dst: str) -> None:
        self.session.rename(self._v(src), self._v(dst))

    def chmod(self, path: str, mode: int) -> None:
        raise FilesystemError("permission modes are managed by the pool, not by clients")

    @_translated
    def utime(self, path: str, timeval: float) -> None:
        self.session.set_mtime(self._v(path), timeval)

    @_translated
    def stat(self, path: str) -> os.stat_result:
        return self.session.stat(self._v(path))

    lstat = stat

    def readlink(self, path: str) -> str:
        raise FilesystemError("links are not shown")

    def _exists_as(self, path: str, test: Callable[[int], bool]) -> bool:
        try:
            return test(self.stat(path).st_mode)
        except (FilesystemError, OSError):
            return False

    def isfile(self, path: str) -> bool:
        return self._exists_as(path, stat.S_ISREG)

    def isdir(self, path: str) -> bool:
        return self._exists_as(path, stat.S_ISDIR)

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

    def format_mlsx(
        self, basedir: str, listing: list[str], perms: str, facts: str, ignore_err: bool = True
    ) -> Iterator[bytes]:
        """pyftpdlib's MLSD/MLST lines with the `perm` fact this user really has on each
        entry (pyftpdlib gives every entry the same, from one string per user)."""
        base = self._v(basedir)
        for name in listing:
            lines = super().format_mlsx(basedir, [name], "", facts, ignore_err)
            for line in lines:
                if "perm" not in facts:
                    yield line
                    continue
                vpath = base.rstrip("/") + "/" + name if name not in (".", "..") else base
                is_dir = os.path.isdir(os.path.join(basedir, name))
                fact = b"perm=" + perm_facts(self.session, vpath, is_dir).encode() + b";"
                yield _PERM_FACT.sub(b"\\g<1>" + fact, line, count=1)
