"""The web door's one link to the session core: every call the HTTP routes make into
accounts, the defender, path confinement, the access table and the audit goes through
here, so the door holds no rule of its own and follows the core as it changes.
"""

from __future__ import annotations

import os
import stat as stat_
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..accounts import User
from ..core import Session
from ..core.transfers import Transfers
from ..errors import InvalidPath, PoolError
from ..paths import Target
from ..policy import Action

if TYPE_CHECKING:
    from ..app import Pool


@dataclass(frozen=True)
class Download:
    """A file the session may read: where it is and what it is."""

    target: Target
    size: int
    mtime: float

    @property
    def real(self) -> str:
        return os.fspath(self.target.real)


class Core:
    """The session core as the web door sees it (one per running door): a thin layer
    over `pool_server.core`, so that the routes keep one object to call."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    @property
    def transfers(self) -> Transfers:
        """Transfers under way: a download or upload counts while its bytes move."""
        return self.pool.core.transfers

    # --- login

    def login(self, name: str, password: str, ip: str, protocol: str) -> Session:
        """Check a password through the core (defender, audit, last login): failures
        score toward a ban on every door; raises AuthenticationFailed or Banned."""
        return self.pool.core.login_password(name, password, ip, protocol)

    def check_banned(self, ip: str) -> None:
        self.pool.core.check_address(ip)

    def resume(self, name: str, ip: str, protocol: str) -> Session | None:
        """The core session of a user who logged in before (cookie or token), or None
        when the account is gone or disabled since."""
        user = self.pool.accounts.find_user(name)
        if user is None or user.disabled:
            return None
        return self.pool.core.session_for(user, ip, protocol)

    def find_user(self, name: str) -> User | None:
        return self.pool.accounts.find_user(name)

    def audit(self, session: Session, action: str, **fields: Any) -> None:
        self.pool.core.record(session, action, **fields)

    # --- files

    def target(self, vpath: str) -> Target:
        """Confine a pool path (InvalidPath / PathOutsidePool for anything else)."""
        return self.pool.core.target(vpath)

    def open_download(self, session: Session, vpath: str) -> Download:
        """Authorize reading `vpath` and describe the file (NotFound, AccessDenied...)."""
        target = self.target(vpath)
        st = session.stat(target)
        self.pool.core.authorize(session, Action.DOWNLOAD, target)
        if not stat_.S_ISREG(st.st_mode):
            raise InvalidPath(f"{target.vpath} is a folder")
        return Download(target, st.st_size, st.st_mtime)

    def record_download(
        self, session: Session, download: Download, nbytes: int, complete: bool, offset: int
    ) -> None:
        """A download that reached the file's end is a take, as over FTP and SFTP."""
        session.record_download(download.target, nbytes, complete, offset)

    def listdir(self, session: Session, vpath: str) -> list[dict[str, Any]]:
        target = self.target(vpath)
        out = []
        for entry in session.listdir(target):
            try:
                st = entry.stat()
            except OSError:
                continue
            is_dir = entry.is_dir()
            out.append(
                {
                    "name": entry.name,
                    "path": target.vpath.rstrip("/") + "/" + entry.name,
                    "is_dir": is_dir,
                    "size": None if is_dir else st.st_size,
                    "mtime": st.st_mtime,
                }
            )
        return sorted(out, key=lambda e: e["name"])

    def stat(self, session: Session, vpath: str) -> dict[str, Any]:
        target = self.target(vpath)
        st = session.stat(target)
        is_dir = stat_.S_ISDIR(st.st_mode)
        return {
            "name": target.name or "/",
            "path": target.vpath,
            "is_dir": is_dir,
            "size": None if is_dir else st.st_size,
            "mtime": st.st_mtime,
        }

    def remove(self, session: Session, vpath: str) -> None:
        session.remove(vpath)

    def may_delete(self, session: Session, vpath: str) -> bool:
        try:
            return session.may(Action.DELETE, vpath)
        except PoolError:
            return False
