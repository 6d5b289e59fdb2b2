"""Brute-force defence: every login attempt scores against its source address AND the
account name it names; past a threshold within a window the address is banned (longer
on each repeat offence) or the name is locked for password logins. One defender serves
every front door, so failures over SFTP count toward a ban on FTP and back.

The protocol a door follows, for every password (or key) it is about to check:

    attempt = defender.attempt(ip, name)   # raises Banned; scores BEFORE the check
    ... check the password ...
    defender.failure(attempt)               # True if that banned the address
    defender.success(attempt)               # refunds this attempt's score, nothing else

Scoring before the check means that attempts made in parallel (one SSH connection per
guess) cannot get more passwords checked than the threshold allows: once the attempts
in flight fill it, the next one waits for them to settle (a success gives its room back,
so many users behind one NAT address all log in) and is refused unchecked once failures
alone fill it. A success only takes back its own
attempt: another account's valid login from the same address resets nothing. Unknown
and known names score the same, so neither the score nor the moment of a ban tells an
attacker which accounts exist.

A locked name refuses password logins only: SSH key logins (which cannot be guessed)
keep working, so an attack on a name cannot lock its owner out for good.

Bans live in pool.db so that `pool-server bans`/`unban` see and lift them while the
server runs, and every server process sees the same bans; the running scores live in
memory.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import Banned, NotFound
from .store import Store

MAX_NAME = 256
"""Account names are scored by their first characters only (an attacker chooses them)."""
MAX_TRACKED = 100_000
"""Most addresses and names scored at once; beyond, the stalest are forgotten first."""
ROOM_WAIT = 10.0
"""Seconds an attempt may wait for attempts in flight to settle (see `Defender._score`)."""


@dataclass(eq=False)
class Attempt:
    """One login attempt in flight, scored under its address and its name."""

    ip: str
    name: str | None  # None: scored against the address only
    score: float
    at: float = field(default_factory=time.monotonic)
    settled: bool = False


class Defender:
    def __init__(self, store: Store, settings: dict[str, Any]) -> None:
        self.store = store
        self.threshold = float(settings["ban_threshold"])
        self.window = float(settings["ban_window_seconds"])
        self.failure_score = float(settings["failure_score"])
        self.ban_seconds = float(settings["ban_seconds"])
        self.ban_max = float(settings["ban_max_seconds"])
        self.name_threshold = float(settings["account_ban_threshold"])
        self.name_ban_seconds = float(settings["account_ban_seconds"])
        self._by_ip: dict[str, deque[Attempt]] = {}
        self._by_name: dict[str, deque[Attempt]] = {}
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # notified when attempts settle

    # --- the protocol of a login

    def check(self, ip: str, name: str | None = None) -> None:
        """Raise `Banned` if `ip` is banned now, or `name` is locked for passwords."""
        now = time.time()
        db = self.store.db
        row = db.execute("SELECT until FROM bans WHERE ip = ?", [ip]).fetchone()
        if row and row[0] > now:
            left = int(row[0] - now) + 1
            raise Banned(f"too many failed logins from {ip}; try again in {left} s")
        if name is None:
            return
        row = db.execute(
            "SELECT until FROM account_bans WHERE name = ?", [name[:MAX_NAME]]
        ).fetchone()
        if row and row[0] > now:
            # The same words for an unknown name as for a known one.
            left = int(row[0] - now) + 1
            raise Banned(f"too many failed logins for this name; try again in {left} s")

    def attempt(self, ip: str, name: str, *, check_name: bool = True) -> Attempt:
        """Score a login attempt before its password (or key) is checked.

        Raises `Banned` if the address is banned, the name locked (unless `check_name`
        is false: key logins), or the failures already scored leave no room for this
        one. When the room is taken by attempts still in flight (logins arriving
        together from one address behind NAT, or an attacker's parallel guesses), this
        one waits for them to settle, at most `ROOM_WAIT` seconds: their successes give
        the room back, their failures keep it (and a ban they bring is seen here)."""
        return self._attempt(ip, name[:MAX_NAME], check_name)

    def _attempt(self, ip: str, name: str | None, check_name: bool) -> Attempt:
        deadline = time.monotonic() + ROOM_WAIT
        checked = name if check_name else None
        while True:
            self.check(ip, checked)  # pool.db: bans of any process
            with self._settled:
                attempt = self._score(ip, name, check_name, deadline)
                if attempt is None:
                    self._settled.wait(max(0.0, deadline - time.monotonic()))
                    continue
            # Once more now that it is scored: a failure may have banned the address and
            # forgotten its scores between the check above and the scoring (the ban is
            # written before the scores go, so a ban that emptied them is seen here).
            try:
                self.check(ip, checked)
            except Banned:
                self._withdraw(attempt)
                raise
            return attempt

    def _score(
        self, ip: str, name: str | None, check_name: bool, deadline: float
    ) -> Attempt | None:
        """Under the lock: the attempt added, or None to wait, or `Banned`."""
        now = time.monotonic()
        by_ip = self._scored(self._by_ip, ip, now)
        by_name = None if name is None else self._scored(self._by_name, name, now)
        limits = [(by_ip, self.threshold, f"from {ip}")]
        if by_name is not None and check_name:
            limits.append((by_name, self.name_threshold, "for this name"))
        full = [
            (q, limit, who)
            for q, limit, who in limits
            if sum(a.score for a in q) + self.failure_score > limit
        ]
        for q, limit, who in full:
            failed = sum(a.score for a in q if a.settled)
            if failed + self.failure_score > limit or now >= deadline:
                raise Banned(f"too many failed logins {who}; try again later")
        if full:
            return None
        attempt = Attempt(ip, name, self.failure_score, now)
        if by_name is not None:
            by_name.append(attempt)
        by_ip.append(attempt)
        self._bound(now)
        return attempt

    def refused(self, ip: str) -> bool:
        """Score a failure against `ip` alone, for a credential checked without an
        `attempt` first (an API token: far too long to guess, and checked on every
        request). True if that banned the address."""
        try:
            attempt = self._attempt(ip, None, False)
        except Banned:
            return False  # banned already, or about to be
        return self.failure(attempt)

    def failure(self, attempt: Attempt) -> bool:
        """The attempt failed: its score stays. True if that banned the address (a
        locked name is not reported: the answer must not depend on the name)."""
        now = time.monotonic()
        with self._lock:
            if attempt.settled:
                return False
            attempt.settled = True
            # Failures alone ban: an attempt still in flight may yet succeed.
            by_ip = self._scored(self._by_ip, attempt.ip, now)
            ban_ip = sum(a.score for a in by_ip if a.settled) >= self.threshold
            lock_name = False
            if attempt.name is not None:
                by_name = self._scored(self._by_name, attempt.name, now)
                lock_name = sum(a.score for a in by_name if a.settled) >= self.name_threshold
        # The scores are forgotten once the ban is in pool.db, not before: attempts racing
        # with its write are refused by them meanwhile. (Forgotten, so that lifting the
        # ban, by `unban` in another process or by its end, lifts it.)
        if ban_ip:
            self._ban(attempt.ip, "failed logins")
        if lock_name and attempt.name is not None:
            self._lock_name(attempt.name, "failed logins")
        with self._lock:
            if ban_ip:
                self._by_ip.pop(attempt.ip, None)
            if lock_name and attempt.name is not None:
                self._by_name.pop(attempt.name, None)
            self._settled.notify_all()
        return ban_ip

    def success(self, attempt: Attempt) -> None:
        """The attempt succeeded: take back its own score (and nothing else)."""
        self._withdraw(attempt)

    def _withdraw(self, attempt: Attempt) -> None:
        """Take the attempt's score back and wake the attempts waiting for room."""
        with self._lock:
            attempt.settled = True
            for table, key in ((self._by_ip, attempt.ip), (self._by_name, attempt.name)):
                if key is None:
                    continue
                q = table.get(key)
                if q is not None:
                    try:
                        q.remove(attempt)
                    except ValueError:
                        pass
                    if not q:
                        del table[key]
            self._settled.notify_all()

    # --- bookkeeping

    def _scored(self, table: dict[str, deque[Attempt]], key: str, now: float) -> deque[Attempt]:
        q = table.setdefault(key, deque())
        while q and q[0].at < now - self.window:
            q.popleft()
        return q

    def _bound(self, now: float) -> None:
        """Keep memory bounded whatever an attacker sends (names are free to invent)."""
        for table in (self._by_ip, self._by_name):
            if len(table) <= MAX_TRACKED:
                continue
            for key in [k for k, q in table.items() if not q or q[-1].at < now - self.window]:
                del table[key]
            while len(table) > MAX_TRACKED:
                del table[next(iter(table))]  # insertion order: the longest known first

    def _ban(self, ip: str, reason: str) -> None:
        db = self.store.db
        row = db.execute("SELECT offences FROM bans WHERE ip = ?", [ip]).fetchone()
        offences = (row[0] if row else 0) + 1
        length = min(self.ban_seconds * 2 ** (offences - 1), self.ban_max)
        db.table("bans").upsert(
            {
                "ip": ip,
                "until": time.time() + length,
                "offences": offences,
                "reason": reason,
                "created": datetime.now(UTC).isoformat(),
            },
            pk="ip",
        )

    def _lock_name(self, name: str, reason: str) -> None:
        """Lock `name` for password logins. Not longer on repeat: its owner would pay."""
        db = self.store.db
        now = time.time()
        db.execute("DELETE FROM account_bans WHERE until < ?", [now])  # no pile of guesses
        row = db.execute("SELECT offences FROM account_bans WHERE name = ?", [name]).fetchone()
        db.table("account_bans").upsert(
            {
                "name": name,
                "until": now + self.name_ban_seconds,
                "offences": (row[0] if row else 0) + 1,
                "reason": reason,
                "created": datetime.now(UTC).isoformat(),
            },
            pk="name",
        )

    # --- the operator's view

    def bans(self) -> list[dict[str, Any]]:
        """Bans in force now: addresses (`ip`) and locked names (`user`), with their
        end time and offence count."""
        out = []
        now = time.time()
        for row in self.store.db["bans"].rows_where("until > ?", [now], order_by="ip"):
            row["until"] = datetime.fromtimestamp(row["until"], UTC).isoformat()
            out.append({"ip": row.pop("ip"), "user": None, **row})
        for row in self.store.db["account_bans"].rows_where("until > ?", [now], order_by="name"):
            row["until"] = datetime.fromtimestamp(row["until"], UTC).isoformat()
            out.append({"ip": None, "user": row.pop("name"), **row})
        return out

    def unban(self, ip: str) -> None:
        if not self.store.db["bans"].count_where("ip = ?", [ip]):
            raise NotFound(f"{ip} is not banned")
        self.store.db.table("bans").delete(ip)
        with self._lock:
            self._by_ip.pop(ip, None)
            self._settled.notify_all()

    def unlock(self, name: str) -> None:
        """Lift the lock on account name `name`."""
        if not self.store.db["account_bans"].count_where("name = ?", [name]):
            raise NotFound(f"no lock on the name {name!r}")
        self.store.db.table("account_bans").delete(name)
        with self._lock:
            self._by_name.pop(name, None)
            self._settled.notify_all()
