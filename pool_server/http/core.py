"""The web door's one link to the session core: every call the HTTP routes make into
accounts, the defender, path confinement, the access table and the audit goes through
here, so the door holds no rule of its own and follows the core as it changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..accounts import User
from ..errors import AuthenticationFailed, Banned
from ..fs import Session
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
    """The session core as the web door sees it (one per running door)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    # --- login

    def login(self, name: str, password: str, ip: str, protocol: str) -> Session:
        """Check a password through the shared defender and accounts: failures score
        toward a ban on every door; raises AuthenticationFailed or Banned."""
        pool = self.pool
        actor = _actor(name, ip, protocol)
        try:
            attempt = pool.defender.attempt(ip, name)  # scored before the check
        except Banned as err:
            pool.audit.record(actor, "login", status="banned", detail=str(err))
            raise
        try:
            user = pool.accounts.authenticate(name, password)
        except AuthenticationFailed as err:
            banned = pool.defender.failure(attempt)
            pool.audit.record(
                actor,
                "login",
                status="failed",
                detail=str(err) + ("; address banned" if banned else ""),
            )
            raise
        except BaseException:
            pool.defender.success(attempt)  # not a guess: the check itself failed
            raise
        pool.defender.success(attempt)
        session = Session(user, ip, protocol)
        pool.audit.record(session.actor, "login")
        return session

    def check_banned(self, ip: str) -> None:
        self.pool.defender.check(ip)

    def resume(self, name: str, ip: str, protocol: str) -> Session | None:
        """The core session of a user who logged in before (cookie or token), or None
        when the account is gone or disabled since."""
        user = self.pool.accounts.find_user(name)
        if user is None or user.disabled:
            return None
        return Session(user, ip, protocol)

    def find_user(self, name: str) -> User | None:
        return self.pool.accounts.find_user(name)

    def audit(self, session: Session, action: str, **fields: Any) -> None:
        self.pool.audit.record(session.actor, action, **fields)

    # --- files

    def target(self, vpath: str) -> Target:
        """Confine a pool path (InvalidPath / PathOutsidePool for anything else)."""
        return self.pool.fs.target(vpath)

    def open_download(self, session: Session, vpath: str) -> Download:
        """Authorize reading `vpath` and describe the file (NotFound, AccessDenied...)."""
        target = self.target(vpath)
        st = self.pool.fs.stat(session, target)
        self.pool.fs.authorize(session, Action.DOWNLOAD, target)
        if not os.path.isfile(target.real):
            from ..errors import InvalidPath

            raise InvalidPath(f"{target.vpath} is a folder")
        return Download(target, st.st_size, st.st_mtime)

    def record_download(
        self, session: Session, download: Download, nbytes: int, complete: bool, offset: int
    ) -> None:
        """A download that reached the file's end is a take, as over FTP and SFTP."""
        self.pool.fs.record_download(session, download.target, nbytes, complete, offset)

    def listdir(self, session: Session, vpath: str) -> list[dict[str, Any]]:
        target = self.target(vpath)
        out = []
        for entry in self.pool.fs.listdir(session, target):
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
        st = self.pool.fs.stat(session, target)
        is_dir = os.path.isdir(target.real)
        return {
            "name": target.name or "/",
            "path": target.vpath,
            "is_dir": is_dir,
            "size": None if is_dir else st.st_size,
            "mtime": st.st_mtime,
        }

    def remove(self, session: Session, vpath: str) -> None:
        self.pool.fs.remove(session, self.target(vpath))

    def may_delete(self, session: Session, vpath: str) -> bool:
        from ..policy import allowed

        try:
            return allowed(session.user, Action.DELETE, self.target(vpath))
        except Exception:
            return False


def _actor(name: str, ip: str, protocol: str) -> Any:
    from ..audit import Actor

    return Actor(name, None, ip, protocol)
