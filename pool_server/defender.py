"""Brute-force defence: failed logins score per source address; past a threshold within
a window the address is banned, longer on each repeat offence. One defender serves
every front door, so failures over SFTP count toward a ban on FTP and back.

Bans live in pool.db so that `pool-server bans`/`unban` see and lift them while the
server runs; the running scores live in memory.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from .errors import Banned, NotFound
from .store import Store


class Defender:
    def __init__(self, store: Store, settings: dict[str, Any]) -> None:
        self.store = store
        self.threshold = float(settings["ban_threshold"])
        self.window = float(settings["ban_window_seconds"])
        self.failure_score = float(settings["failure_score"])
        self.unknown_score = float(settings["unknown_user_score"])
        self.ban_seconds = float(settings["ban_seconds"])
        self.ban_max = float(settings["ban_max_seconds"])
        self._scores: dict[str, deque[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def check(self, ip: str) -> None:
        """Raise `Banned` if `ip` is banned now."""
        row = self.store.db.execute("SELECT until FROM bans WHERE ip = ?", [ip]).fetchone()
        if row and row[0] > time.time():
            left = int(row[0] - time.time()) + 1
            raise Banned(f"too many failed logins from {ip}; try again in {left} s")

    def failure(self, ip: str, known_user: bool) -> bool:
        """Score a failed login; True if that banned the address."""
        now = time.monotonic()
        with self._lock:
            q = self._scores.setdefault(ip, deque())
            q.append((now, self.failure_score if known_user else self.unknown_score))
            while q and q[0][0] < now - self.window:
                q.popleft()
            if sum(s for _, s in q) < self.threshold:
                return False
            del self._scores[ip]
        self._ban(ip, "failed logins")
        return True

    def success(self, ip: str) -> None:
        with self._lock:
            self._scores.pop(ip, None)

    def _ban(self, ip: str, reason: str) -> None:
        db = self.store.db
        row = db.execute("SELECT offences FROM bans WHERE ip = ?", [ip]).fetchone()
        offences = (row[0] if row else 0) + 1
        length = min(self.ban_seconds * 2 ** (offences - 1), self.ban_max)
        db["bans"].upsert(
            {
                "ip": ip,
                "until": time.time() + length,
                "offences": offences,
                "reason": reason,
                "created": datetime.now(UTC).isoformat(),
            },
            pk="ip",
        )

    def bans(self) -> list[dict[str, Any]]:
        """Bans in force now, with their end time and offence count."""
        out = []
        for row in self.store.db["bans"].rows_where("until > ?", [time.time()], order_by="ip"):
            row["until"] = datetime.fromtimestamp(row["until"], UTC).isoformat()
            out.append(row)
        return out

    def unban(self, ip: str) -> None:
        if not self.store.db["bans"].count_where("ip = ?", [ip]):
            raise NotFound(f"{ip} is not banned")
        self.store.db["bans"].delete(ip)
        with self._lock:
            self._scores.pop(ip, None)
