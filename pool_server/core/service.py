"""The pool's core, shared by every door: logins, the access table, limits, uploads
and the audit trail. `Core.login_*` make the per-connection `Session`s."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..accounts import Accounts, User
from ..audit import Actor, Audit
from ..errors import AuthenticationFailed, Banned
from ..paths import Target, confine, to_vpath
from ..policy import Action, authorize
from ..quota import QuotaLedger
from ..userkeys import UserKeys, fingerprint
from .limits import Limits
from .session import Session
from .uploads import Uploads

log = logging.getLogger("ortak.core")


class Core:
    def __init__(
        self,
        root: Path,
        accounts: Accounts,
        audit: Audit,
        quotas: QuotaLedger,
        defender: Any,
        limits: Limits | None = None,
        max_depth: int = 16,
        fsync_uploads: bool = False,
    ) -> None:
        self.root = root
        self.accounts = accounts
        self.audit = audit
        self.quotas = quotas
        self.defender = defender
        self.limits = limits or Limits()
        self.max_depth = max_depth
        self.fsync_uploads = fsync_uploads
        self.uploads = Uploads(self)

    # --- paths, rules, audit

    def target(self, path: str, cwd: str = "/") -> Target:
        return confine(self.root, path, cwd, self.max_depth)

    def vpath_of(self, real: str) -> str:
        """The virtual path of a real path under the root (doors that map paths)."""
        return to_vpath(self.root, real)

    def authorize(self, session: Session, action: Action, target: Target) -> None:
        authorize(session.user, action, target)

    def record(self, session: Session | Actor, action: str, **fields: Any) -> None:
        actor = session.actor if isinstance(session, Session) else session
        self.audit.record(actor, action, **fields)

    # --- logins

    def check_address(self, ip: str) -> None:
        """Raise `Banned` if `ip` may not log in now (doors call it on connect too)."""
        self.defender.check(ip)

    def login_password(self, name: str, password: str, ip: str, protocol: str) -> Session:
        """The session of `name`, if the password is right, the account enabled and the
        address not banned; else `AuthenticationFailed` (or `Banned`), scored and
        audited. The last-login time is noted."""
        try:
            self.defender.check(ip)
            user = self.accounts.authenticate(name, password)
        except AuthenticationFailed as err:
            self._refused(name, ip, protocol, err)
            raise
        return self.start(user, ip, protocol, "password")

    def check_key(
        self, name: str, key_type: str, blob: bytes, ip: str, protocol: str, score: bool = True
    ) -> User:
        """The user whose registered key this is (SSH: before the signature is checked;
        `start` the session once it is). Refusals are audited, and scored if `score`."""
        try:
            self.defender.check(ip)
            user = self.accounts.find_user(name)
            keys = UserKeys(self.accounts.store, self.accounts)
            if user is None:
                raise AuthenticationFailed("unknown user", known_user=False)
            if user.disabled:
                raise AuthenticationFailed("account disabled")
            if not keys.has_key(name, key_type, blob):
                raise AuthenticationFailed(f"public key {fingerprint(blob)} not registered")
        except AuthenticationFailed as err:
            self._refused(name, ip, protocol, err, score)
            raise
        return user

    def start(self, user: User, ip: str, protocol: str, how: str) -> Session:
        """A session for `user`, who has proven who they are (`how`: 'password',
        'publickey <fingerprint>', a door's own token...): scored a success, audited,
        its last login noted."""
        session = Session(self, user, ip, protocol)
        self.defender.success(ip)
        if how != "password":  # `authenticate` has noted password logins already
            self.accounts.record_login(user.name)
        self.record(session, "login", detail=how)
        return session

    def session_for(self, user: User, ip: str, protocol: str) -> Session:
        """A session for a user a door has already logged in (no login recorded)."""
        return Session(self, user, ip, protocol)

    def _refused(
        self, name: str, ip: str, protocol: str, err: AuthenticationFailed, score: bool = True
    ) -> None:
        actor = Actor(name, None, ip, protocol)
        if isinstance(err, Banned):
            self.record(actor, "login", status="banned", detail=str(err))
            return
        banned = False
        if score:
            try:
                banned = self.defender.failure(ip, err.known_user)
            except Exception:
                log.exception("scoring a failed login from %s failed", ip)
        self.record(
            actor,
            "login",
            status="failed",
            detail=str(err) + ("; address banned" if banned else ""),
        )

    # --- housekeeping

    def sweep_partials(self, max_age_seconds: float) -> int:
        return self.uploads.sweep(max_age_seconds)
