"""The pool's core, shared by every door: logins, the access table, limits, uploads
and the audit trail. `Core.login_*` make the per-connection `Session`s."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..accounts import Accounts, User
from ..audit import Actor, Audit
from ..defender import Attempt, Defender
from ..errors import AuthenticationFailed, Banned
from ..paths import Target, confine, to_vpath
from ..policy import Action, authorize
from ..quota import QuotaLedger
from ..userkeys import UserKeys, fingerprint
from .limits import Limits
from .live import LiveSessions
from .session import Session
from .transfers import Transfers
from .uploads import Uploads

log = logging.getLogger("ortak.core")


class KeyOffers:
    """The public keys one SSH connection offered: one scored failure at most, taken
    back when the connection then logs in (its own success, nobody else's)."""

    def __init__(self) -> None:
        self.attempt: Attempt | None = None

    def forgive(self, defender: Defender) -> None:
        if self.attempt is not None:
            defender.success(self.attempt)


class Core:
    def __init__(
        self,
        root: Path,
        accounts: Accounts,
        audit: Audit,
        quotas: QuotaLedger,
        defender: Defender,
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
        self.live = LiveSessions(audit.store)
        self.live.create_schema()
        self.transfers = Transfers()
        """Transfers under way in this process (the preview workers yield to them)."""

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

    # --- logins (the defender's protocol: an attempt is scored before the check)

    def check_address(self, ip: str) -> None:
        """Raise `Banned` if `ip` may not log in now (doors call it on connect too)."""
        self.defender.check(ip)

    def login_password(
        self, name: str, password: str, ip: str, protocol: str, keys: KeyOffers | None = None
    ) -> Session:
        """The session of `name`, if the password is right, the account enabled and
        neither the address banned nor the name locked; else `AuthenticationFailed` (or
        `Banned`), scored and audited. The last-login time is noted. `keys`: the key
        offers this connection made before (SSH), forgiven by this login."""
        actor = Actor(name, None, ip, protocol)
        try:
            attempt = self.defender.attempt(ip, name)
        except Banned as err:
            self._refused(actor, err)
            raise
        try:
            user = self.accounts.authenticate(name, password)
        except AuthenticationFailed as err:
            self._refused(actor, err, attempt)
            raise
        except BaseException:
            self.defender.success(attempt)  # not a guess: the check itself failed
            raise
        self.defender.success(attempt)
        if keys is not None:
            keys.forgive(self.defender)
        return self.start(user, ip, protocol, "password")

    def check_key(
        self, name: str, key_type: str, blob: bytes, ip: str, protocol: str, keys: KeyOffers
    ) -> User:
        """The user whose registered key this is (SSH: asked before the signature is
        checked; `start` the session once it is). Clients offer each key they hold in
        turn: `keys` scores one failure per connection, forgiven if it then logs in."""
        actor = Actor(name, None, ip, protocol)
        try:
            self.defender.check(ip)
        except Banned as err:
            self._refused(actor, err)
            raise
        user = self.accounts.find_user(name)
        if user is None:
            why = AuthenticationFailed("unknown user", known_user=False)
        elif user.disabled:
            why = AuthenticationFailed("account disabled")
        elif not UserKeys(self.accounts.store, self.accounts).has_key(name, key_type, blob):
            why = AuthenticationFailed(f"public key {fingerprint(blob)} not registered")
        else:
            keys.forgive(self.defender)
            return user
        attempt = None
        if keys.attempt is None:
            try:
                attempt = keys.attempt = self.defender.attempt(ip, name, check_name=False)
            except Banned as err:
                self._refused(actor, err)
                raise
        self._refused(actor, why, attempt)
        raise why

    def start(self, user: User, ip: str, protocol: str, how: str) -> Session:
        """A session for `user`, who has proven who they are (`how`: 'password',
        'publickey <fingerprint>', a door's own token...): audited, last login noted."""
        session = Session(self, user, ip, protocol)
        if how != "password":  # `authenticate` has noted password logins already
            self.accounts.record_login(user.name)
        self.record(session, "login", detail=how)
        return session

    def session_for(self, user: User, ip: str, protocol: str) -> Session:
        """A session for a user a door has already logged in (no login recorded)."""
        return Session(self, user, ip, protocol)

    def _refused(
        self, actor: Actor, err: AuthenticationFailed, attempt: Attempt | None = None
    ) -> None:
        if isinstance(err, Banned):
            self.record(actor, "login", status="banned", detail=str(err))
            return
        banned = False
        if attempt is not None:
            try:
                banned = self.defender.failure(attempt)
            except Exception:  # a ban that cannot be written (a full disk) fails no reply
                log.exception("scoring a failed login from %s failed", actor.ip)
        detail = str(err) + ("; address banned" if banned else "")
        self.record(actor, "login", status="failed", detail=detail)

    # --- housekeeping

    def sweep_partials(self, max_age_seconds: float) -> int:
        return self.uploads.sweep(max_age_seconds)
