"""Invitation links: an operator adds a user without choosing their password.

The account is made with a random password nobody knows; the link carries a one-time
token (stored hashed, valid for `[http] invitation_hours`) that lets its holder choose
the password once. Redeeming, expiry and reuse are decided here, in pool.db.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import TYPE_CHECKING, Any

from .errors import NotFound

if TYPE_CHECKING:
    from .accounts import Accounts
    from .store import Store


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unguessable_password() -> str:
    """A password for an account that waits for its invitation: never shown to anyone."""
    return secrets.token_urlsafe(48)


class Invitations:
    def __init__(self, store: Store, accounts: Accounts) -> None:
        self.store = store
        self.accounts = accounts

    def create_schema(self) -> None:
        self.store.db["invitations"].create(
            {"hash": str, "user": str, "created": float, "expires": float, "used": float},
            pk="hash",
            if_not_exists=True,
        )

    def create(self, user: str, hours: float) -> str:
        """A new token for `user` (earlier unused ones stop working)."""
        self.accounts.get_user(user)
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.store.db.conn:
            self.store.db["invitations"].delete_where("user = ? AND used IS NULL", [user])
            self.store.db["invitations"].insert(
                {"hash": _hash(token), "user": user, "created": now, "expires": now + hours * 3600}
            )
        return token

    def lookup(self, token: str) -> dict[str, Any]:
        """The invitation's row, if the token is valid, unused and not expired."""
        rows = list(self.store.db["invitations"].rows_where("hash = ?", [_hash(token)]))
        if not rows or rows[0]["used"] is not None or rows[0]["expires"] < time.time():
            raise NotFound("this invitation link is not valid (used, expired or mistyped)")
        return rows[0]

    def redeem(self, token: str, password: str) -> str:
        """Set the invited user's password (once); returns the user name."""
        row = self.lookup(token)
        self.accounts.check_password(password)
        cur = self.store.db.execute(
            "UPDATE invitations SET used = ? WHERE hash = ? AND used IS NULL",
            [time.time(), row["hash"]],
        )
        if cur.rowcount != 1:
            raise NotFound("this invitation link has just been used")
        self.accounts.set_password(row["user"], password)
        return str(row["user"])

    def pending(self) -> dict[str, float]:
        """Users with an open invitation, and when it expires."""
        now = time.time()
        rows = self.store.db["invitations"].rows_where("used IS NULL AND expires > ?", [now])
        return {r["user"]: r["expires"] for r in rows}
