"""The audit trail: who did what, from where, over which protocol — one row an event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .store import Store


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
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        actor: Actor,
        action: str,
        *,
        path: str | None = None,
        nbytes: int | None = None,
        status: str = "ok",
        detail: str | None = None,
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
