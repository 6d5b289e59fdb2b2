"""Who is asking: web sessions (cookie + CSRF token), API tokens (Bearer) and HTTP Basic.

Sessions and tokens live in pool.db (state several doors or processes must agree on);
only a hash of each secret is stored, so a copy of the database logs nobody in. The
cookie is HttpOnly and SameSite=Lax, Secure under TLS. A session ends on logout, after
`session_idle_minutes` unused, or `session_max_hours` after login.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import HTTPConnection, Request

from .. import listening
from ..core import Session
from ..errors import AccessDenied, AuthenticationFailed, NotFound, UsageError
from ..store import Store
from .core import Core

SESSION_COOKIE = "ortak_session"
LOGIN_CSRF_COOKIE = "ortak_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
TOKEN_PREFIX = "ortak_"
SEEN_EVERY = 30.0
"""Seconds between two writes of a session's last-use time."""

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def ensure_schema(store: Store) -> None:
    """The web door's tables (idempotent)."""
    db = store.db
    db["web_sessions"].create(
        {
            "id_hash": str,
            "user": str,
            "csrf": str,
            "ip": str,
            "protocol": str,
            "created": float,
            "seen": float,
        },
        pk="id_hash",
        if_not_exists=True,
    )
    db["web_sessions"].create_index(["user"], if_not_exists=True)
    if "mfa" not in db["web_sessions"].columns_dict:
        # "pending": the password was right, the second factor is still to come.
        db["web_sessions"].add_column("mfa", str)
    if "mfa_tries" not in db["web_sessions"].columns_dict:
        db["web_sessions"].add_column("mfa_tries", int)
    db["api_tokens"].create(
        {
            "id": int,
            "user": str,
            "name": str,
            "hash": str,
            "created": str,
            "expires": str,
            "last_used": str,
            "revoked": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db["api_tokens"].create_index(["hash"], unique=True, if_not_exists=True)


@dataclass
class Principal:
    """An authenticated request: the core session plus how it was proven."""

    session: Session
    via: str  # "cookie", "token" or "basic"
    csrf: str | None = None
    session_id: str | None = None

    @property
    def user(self) -> Any:
        return self.session.user


def _expiry_ok(row: dict[str, Any], now: float, idle: float, absolute: float) -> bool:
    return now - row["seen"] <= idle and now - row["created"] <= absolute


class WebSessions:
    def __init__(self, store: Store, idle_minutes: int, max_hours: int) -> None:
        self.store = store
        self.idle = idle_minutes * 60.0
        self.absolute = max_hours * 3600.0

    def create(self, user: str, ip: str, protocol: str, mfa: str | None = None) -> tuple[str, str]:
        """A new session: (cookie value, CSRF token); `mfa="pending"` makes one that
        counts for nothing until the second factor is given (`lookup_pending`)."""
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = time.time()
        self.sweep()  # ended sessions go as new ones come
        self.store.db["web_sessions"].insert(
            {
                "id_hash": _hash(sid),
                "user": user,
                "csrf": csrf,
                "ip": ip,
                "protocol": protocol,
                "created": now,
                "seen": now,
                "mfa": mfa,
            }
        )
        return sid, csrf

    def lookup(self, sid: str) -> dict[str, Any] | None:
        """The live session of a cookie value (expired ones are deleted on sight)."""
        db = self.store.db
        key = _hash(sid)
        # plain SQL: sqlite-utils' `db[table].rows_where` reads the schema twice first
        # (view and table names), which cost more than the lookup on every request
        cur = db.execute("SELECT * FROM web_sessions WHERE id_hash = ?", [key])
        found = cur.fetchone()
        if found is None:
            return None
        row = dict(zip([d[0] for d in cur.description], found, strict=True))
        now = time.time()
        if not _expiry_ok(row, now, self.idle, self.absolute):
            db.execute("DELETE FROM web_sessions WHERE id_hash = ?", [key])
            return None
        if now - row["seen"] > SEEN_EVERY:
            db.execute("UPDATE web_sessions SET seen = ? WHERE id_hash = ?", [now, key])
        return row

    def lookup_pending(self, sid: str, max_age: float = 300.0) -> dict[str, Any] | None:
        """A session waiting for its second factor, at most `max_age` seconds old."""
        row = self.lookup(sid)
        if row is None or row.get("mfa") != "pending" or time.time() - row["created"] > max_age:
            return None
        return row

    def mfa_failed(self, sid: str) -> int:
        """Count a wrong second factor on a pending session; returns the count so far."""
        key = _hash(sid)
        self.store.db.execute(
            "UPDATE web_sessions SET mfa_tries = coalesce(mfa_tries, 0) + 1 WHERE id_hash = ?",
            [key],
        )
        row = self.store.db.execute(
            "SELECT mfa_tries FROM web_sessions WHERE id_hash = ?", [key]
        ).fetchone()
        return int(row[0]) if row else 0

    def end(self, sid: str) -> None:
        self.store.db.execute("DELETE FROM web_sessions WHERE id_hash = ?", [_hash(sid)])

    def end_user(self, user: str) -> int:
        cur = self.store.db.execute("DELETE FROM web_sessions WHERE user = ?", [user])
        return cur.rowcount

    def sweep(self) -> int:
        now = time.time()
        cur = self.store.db.execute(
            "DELETE FROM web_sessions WHERE seen < ? OR created < ?",
            [now - self.idle, now - self.absolute],
        )
        return cur.rowcount


_DURATION = re.compile(r"^(\d+)\s*([dhwmy]?)$")
_UNIT_DAYS = {"": 1, "d": 1, "w": 7, "m": 30, "y": 365}


def parse_expiry(text: str) -> timedelta:
    """'90d', '12h', '4w', '6m', '1y' or a plain number of days."""
    m = _DURATION.match(text.strip().lower())
    if not m or int(m.group(1)) <= 0:
        raise UsageError(f"--expires {text!r}: give a duration such as 90d, 12h, 4w or 1y")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(hours=n) if unit == "h" else timedelta(days=n * _UNIT_DAYS[unit])


class Tokens:
    """API tokens: shown once at creation, stored as a sha256 hash."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self, user: str, lifetime: timedelta, name: str | None
    ) -> tuple[str, dict[str, Any]]:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = {
            "user": user,
            "name": name or "",
            "hash": _hash(secret),
            "created": now.isoformat(timespec="seconds"),
            "expires": (now + lifetime).isoformat(timespec="seconds"),
            "last_used": None,
            "revoked": None,
        }
        table = self.store.db["api_tokens"]
        table.insert(row)
        row["id"] = table.last_pk
        return secret, _public(row)

    def list(self, user: str | None = None) -> list[dict[str, Any]]:
        where, args = ("user = ?", [user]) if user else (None, [])
        rows = self.store.db["api_tokens"].rows_where(where, args, order_by="id")
        return [_public(r) for r in rows]

    def revoke(self, token_id: int) -> dict[str, Any]:
        table = self.store.db["api_tokens"]
        rows = list(table.rows_where("id = ?", [token_id]))
        if not rows:
            raise NotFound(f"no API token with id {token_id}")
        if not rows[0]["revoked"]:
            table.update(token_id, {"revoked": datetime.now(UTC).isoformat(timespec="seconds")})
        return _public(next(iter(table.rows_where("id = ?", [token_id]))))

    def check(self, secret: str) -> str:
        """The user a token belongs to; AuthenticationFailed if unknown, revoked or expired."""
        db = self.store.db
        cur = db.execute("SELECT * FROM api_tokens WHERE hash = ?", [_hash(secret)])
        found = cur.fetchone()  # plain SQL on every request: see WebSessions.lookup
        if found is None:
            raise AuthenticationFailed("unknown API token", known_user=False)
        row = dict(zip([d[0] for d in cur.description], found, strict=True))
        if row["revoked"]:
            raise AuthenticationFailed("this API token was revoked")
        if datetime.fromisoformat(row["expires"]) <= datetime.now(UTC):
            raise AuthenticationFailed("this API token has expired")
        now = datetime.now(UTC)
        last = row["last_used"]
        if not last or (now - datetime.fromisoformat(last)).total_seconds() > SEEN_EVERY:
            db.execute(
                "UPDATE api_tokens SET last_used = ? WHERE id = ?",
                [now.isoformat(timespec="seconds"), row["id"]],
            )
        return str(row["user"])


def _public(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "hash"}
    now = datetime.now(UTC)
    if out.get("revoked"):
        out["state"] = "revoked"
    elif out.get("expires") and datetime.fromisoformat(out["expires"]) <= now:
        out["state"] = "expired"
    else:
        out["state"] = "active"
    return out


class Authenticator:
    """Turns a request's credentials into a Principal (or None for an anonymous one)."""

    def __init__(self, core: Core, sessions: WebSessions, tokens: Tokens) -> None:
        self.core = core
        self.sessions = sessions
        self.tokens = tokens

    def principal(self, conn: HTTPConnection) -> Principal | None:
        ip = client_ip(conn)
        protocol = protocol_of(conn)
        header = conn.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            self.core.check_banned(ip)
            try:
                name = self.tokens.check(value.strip())
            except AuthenticationFailed:
                self.core.pool.defender.refused(ip)
                raise
            session = self.core.resume(name, ip, protocol)
            if session is None:
                raise AuthenticationFailed("the token's account is disabled or removed")
            return Principal(session, "token")
        if scheme.lower() == "basic" and value.strip():
            if protocol != "https":
                raise AccessDenied("HTTP Basic is accepted over TLS only: use https://")
            name, password = _basic(value.strip())
            return Principal(self.core.login(name, password, ip, protocol), "basic")
        sid = conn.cookies.get(SESSION_COOKIE)
        if sid:
            row = self.sessions.lookup(sid)
            if row is not None and row.get("mfa") != "pending":
                session = self.core.resume(row["user"], ip, protocol)
                if session is not None:
                    return Principal(session, "cookie", row["csrf"], sid)
        return None


def _basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("malformed HTTP Basic credentials", known_user=False)
    name, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationFailed("malformed HTTP Basic credentials", known_user=False)
    return name, password


def client_ip(conn: HTTPConnection) -> str:
    """The peer's address (uvicorn has applied X-Forwarded-For from trusted proxies); an
    IPv4 client of a dual-stack listener as IPv4."""
    return listening.client_ip(conn.client.host) if conn.client else "unknown"


def protocol_of(conn: HTTPConnection) -> str:
    return "https" if conn.url.scheme in ("https", "wss") else "http"


def csrf_ok(principal: Principal, given: str | None) -> bool:
    return bool(principal.csrf and given and hmac.compare_digest(principal.csrf, given))


async def csrf_from(request: Request) -> str | None:
    """The CSRF token of a request: the X-CSRF-Token header, else the form field."""
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)
