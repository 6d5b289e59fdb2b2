"""Two-factor login for the web door: TOTP (RFC 6238) enrolment, codes and recovery codes.

A user enrols in two steps: `begin()` stores a new secret as pending and returns the
`otpauth://` URI (and its QR code as SVG) for an authenticator app; `confirm()` checks a
first code from the app, turns the secret on and returns ten one-time recovery codes,
shown once and stored hashed. `verify()` accepts a current code (one step of clock skew
either way, never the same step twice: a code seen on the wire cannot be replayed) or an
unused recovery code. Everything lives in pool.db, so every door process agrees.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import segno

from .errors import UsageError
from .store import Store

ISSUER = "Ortak"
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed by hand


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


class TwoFactor:
    """TOTP state of every user, in pool.db."""

    def __init__(self, store: Store, issuer: str = ISSUER) -> None:
        self.store = store
        self.issuer = issuer

    def create_schema(self) -> None:
        db = self.store.db
        db["user_totp"].create(
            {"user": str, "secret": str, "confirmed": int, "last_step": int, "created": str},
            pk="user",
            if_not_exists=True,
            defaults={"confirmed": 0, "last_step": -1},
        )
        db["user_recovery_codes"].create(
            {"user": str, "code_hash": str, "used": str},
            pk=("user", "code_hash"),
            if_not_exists=True,
        )

    def _row(self, user: str) -> dict[str, object] | None:
        rows = list(self.store.db["user_totp"].rows_where("user = ?", [user]))
        return rows[0] if rows else None

    def enrolled(self, user: str) -> bool:
        row = self._row(user)
        return bool(row and row["confirmed"])

    def recovery_left(self, user: str) -> int:
        sql = "SELECT count(*) FROM user_recovery_codes WHERE user = ? AND used IS NULL"
        return int(self.store.db.execute(sql, [user]).fetchone()[0])

    def begin(self, user: str) -> Enrolment:
        """A new pending secret (an enrolled user keeps the old one until confirm)."""
        secret = pyotp.random_base32()
        row = self._row(user)
        if row and row["confirmed"]:
            raise UsageError(f"{user} already has two-factor login; reset it first")
        self.store.db["user_totp"].upsert(
            {"user": user, "secret": secret, "confirmed": 0, "last_step": -1, "created": _now()},
            pk="user",
        )
        return self.enrolment(user)

    def enrolment(self, user: str) -> Enrolment:
        """The pending enrolment's secret, URI and QR code (to show the page again)."""
        row = self._row(user)
        if row is None or row["confirmed"]:
            raise UsageError(f"{user} has no two-factor enrolment in progress")
        secret = str(row["secret"])
        uri = pyotp.TOTP(secret).provisioning_uri(name=user, issuer_name=self.issuer)
        out = io.BytesIO()
        segno.make(uri, error="m").save(out, kind="svg", scale=5, xmldecl=False, svgns=True)
        return Enrolment(secret, uri, out.getvalue().decode())

    def confirm(self, user: str, code: str) -> list[str]:
        """Turn the pending secret on with a first code; return fresh recovery codes."""
        row = self._row(user)
        if row is None or row["confirmed"]:
            raise UsageError(f"{user} has no two-factor enrolment in progress")
        step = self._match(str(row["secret"]), code, int(str(row["last_step"])))
        if step is None:
            raise UsageError("that code is not right: check the authenticator's clock")
        codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
        with self.store.db.conn:
            self.store.db["user_totp"].update(user, {"confirmed": 1, "last_step": step})
            self.store.db["user_recovery_codes"].delete_where("user = ?", [user])
            self.store.db["user_recovery_codes"].insert_all(
                {"user": user, "code_hash": _hash(c), "used": None} for c in codes
            )
        return codes

    def verify(self, user: str, code: str) -> bool:
        """A current TOTP code (each step once) or an unused recovery code."""
        row = self._row(user)
        if row is None or not row["confirmed"]:
            return False
        step = self._match(str(row["secret"]), code, int(str(row["last_step"])))
        if step is not None:
            # Conditional update: two requests racing with the same code, one wins.
            cur = self.store.db.execute(
                "UPDATE user_totp SET last_step = ? WHERE user = ? AND last_step < ?",
                [step, user, step],
            )
            return cur.rowcount == 1
        cur = self.store.db.execute(
            "UPDATE user_recovery_codes SET used = ? "
            "WHERE user = ? AND code_hash = ? AND used IS NULL",
            [_now(), user, _hash(code)],
        )
        return cur.rowcount == 1

    def reset(self, user: str) -> None:
        """Remove the user's second factor (an admin's action, or the user's own)."""
        with self.store.db.conn:
            self.store.db["user_totp"].delete_where("user = ?", [user])
            self.store.db["user_recovery_codes"].delete_where("user = ?", [user])

    @staticmethod
    def _match(secret: str, code: str, last_step: int) -> int | None:
        """The time step `code` belongs to (now, or one either side), if after last_step."""
        digits = _normalise(code)
        if len(digits) != 6 or not digits.isdigit():
            return None
        totp = pyotp.TOTP(secret)
        now = int(datetime.now(UTC).timestamp()) // totp.interval
        for step in (now, now - 1, now + 1):
            if step > last_step and hmac.compare_digest(totp.generate_otp(step), digits):
                return step
        return None
