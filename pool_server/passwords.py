"""Password hashing with scrypt (hashlib): `scrypt$n$r$p$salt$hash`, base64 fields."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time

_N, _R, _P = 2**14, 8, 1
_DKLEN = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, want = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        got = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(want)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


_DUMMY = hash_password(os.urandom(8).hex())


def burn_time(password: str) -> None:
    """Spend as long as a real check, so unknown users cannot be told apart by timing."""
    verify_password(password, _DUMMY)


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result = False


class LoginCache:
    """Remembers for `ttl` seconds that a password matched a stored hash, so a member's
    tool that logs in fifty times at once pays for one scrypt, not fifty.

    - Keys are HMAC-SHA256 under a random per-process key of (stored hash, password):
      no password is kept, and a password change (a new hash) misses the cache.
    - Only successes are remembered; a wrong password always costs a full check.
    - Concurrent checks of the same pair wait for the first one (single flight).
    - `ttl` 0 turns it off (`[security] login_cache_seconds`).
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._key = os.urandom(32)
        self._ok: dict[bytes, float] = {}
        self._flights: dict[bytes, _Flight] = {}
        self._lock = threading.Lock()

    def verify(self, password: str, stored: str) -> bool:
        if self.ttl <= 0:
            return self._check(password, stored)
        key = hmac.new(self._key, f"{stored}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            if self._ok.get(key, 0.0) > time.monotonic():
                return True
            flight = self._flights.get(key)
            owner = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not owner:
            flight.done.wait(60)
            return flight.result
        try:
            flight.result = self._check(password, stored)
            if flight.result:
                self._remember(key)
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()
        return flight.result

    def _check(self, password: str, stored: str) -> bool:
        return verify_password(password, stored)

    def _remember(self, key: bytes) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._ok) >= self.MAX_ENTRIES:
                self._ok = {k: t for k, t in self._ok.items() if t > now}
                if len(self._ok) >= self.MAX_ENTRIES:
                    self._ok.clear()
            self._ok[key] = now + self.ttl
