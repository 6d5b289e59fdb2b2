"""The audit trail: who did what, from where, over which protocol — one row an event."""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .store import Store

log = logging.getLogger("ortak.audit")


@dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in session's user, member, address and protocol."""

    user: str
    member: str | None
    ip: str
    protocol: str


ACTIONS = (
    "login",
    "upload",
    "download",
    "delete",
    "rmdir",
    "rename",
    "mkdir",
    "setstat",
    "admin",
)


class Audit:
    """Rows are written by whichever thread acts. A row that cannot be written (the
    disk is full, the database locked too long) is logged and the action carries on:
    an audit failure never drops a session or holds up a reply."""

    LOG_EVERY = 60.0  # seconds between log lines about rows that could not be written

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lost = 0
        self._last_complaint = 0.0

    def record(
        self,
        actor: Actor,
        action: str,
        *,
        path: str | None = None,
        nbytes: int | None = None,
        status: str = "ok",
        detail: str | None = None,
    ) -> bool:
        """Write one row; False (and a log line, at most one a minute) if it failed."""
        try:
            self._insert(actor, action, path, nbytes, status, detail)
        except (sqlite3.Error, OSError) as exc:
            self.lost += 1
            now = time.monotonic()
            if now - self._last_complaint >= self.LOG_EVERY:
                self._last_complaint = now
                log.error("audit rows cannot be written (%d lost so far): %s", self.lost, exc)
            return False
        return True

    def _insert(
        self,
        actor: Actor,
        action: str,
        path: str | None,
        nbytes: int | None,
        status: str,
        detail: str | None,
    ) -> None:
        self.store.db["audit"].insert(
            {
                "time": datetime.now(UTC).isoformat(),
                "user": actor.user,
                "member": actor.member,
                "ip": actor.ip,
                "protocol": actor.protocol,
                "action": action,
                "path": path,
                "bytes": nbytes,
                "status": status,
                "detail": detail,
            }
        )

    def query(
        self,
        since: datetime | None = None,
        user: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        where, args = [], []
        if since is not None:
            where.append("time >= ?")
            args.append(since.isoformat())
        if user:
            where.append("user = ?")
            args.append(user)
        if action:
            where.append("action = ?")
            args.append(action)
        return list(
            self.store.db["audit"].rows_where(
                " AND ".join(where) or None, args, order_by="id", limit=limit
            )
        )
