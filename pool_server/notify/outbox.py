"""The outbox in pool.db: every e-mail and webhook to deliver, its tries and its lease.

A row is written in the same transaction as whatever caused it (the position read in
the journal or audit moves with it), so a crash either loses both or keeps both. A
worker claims due rows with a lease (owner, expiry) before sending; a worker that dies
mid-send leaves its lease to expire, or — for a dead process on this host — released at
the next start, and the row is sent again with the same ``msg_id`` (webhook-id header,
e-mail Message-ID), which receivers use to drop a repeat.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from catalog.supervise import pid_alive

CHANNELS = ("email", "webhook")
STATES = ("pending", "delivered", "failed", "cancelled")


@dataclass(frozen=True)
class Retry:
    """How long and how often a failing delivery is tried again."""

    retry_seconds: float = 86400.0
    backoff_seconds: float = 10.0
    backoff_max_seconds: float = 1800.0

    def delay(self, attempts: int) -> float:
        """Wait after the `attempts`-th failed try: backoff, doubling, capped."""
        factor = 2.0 ** max(0, attempts - 1)
        return min(self.backoff_max_seconds, self.backoff_seconds * factor)


@dataclass(frozen=True)
class Delivery:
    id: int
    msg_id: str
    channel: str
    target: str
    event: str
    payload: dict[str, Any]
    endpoint_id: int | None
    alert_id: int | None
    attempts: int
    created: float


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception), on an autocommit conn."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def new_msg_id() -> str:
    return "msg_" + uuid.uuid4().hex


def enqueue(
    conn: sqlite3.Connection,
    channel: str,
    target: str,
    event: str,
    payload: dict[str, Any],
    retry: Retry,
    *,
    endpoint_id: int | None = None,
    alert_id: int | None = None,
    user: str | None = None,
    member: str | None = None,
    msg_id: str | None = None,
    lease_owner: str | None = None,
    lease_seconds: float = 120.0,
    now: float | None = None,
) -> str:
    """Add one delivery (inside the caller's transaction); returns its msg_id.
    `lease_owner`: the row is born leased to it (a sender that sends it at once)."""
    assert channel in CHANNELS
    now = time.time() if now is None else now
    msg_id = msg_id or new_msg_id()
    conn.execute(
        "INSERT INTO outbox (msg_id, channel, target, event, payload, endpoint_id, alert_id,"
        " user, member, created, next_attempt, give_up, lease_owner, lease_until)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            msg_id,
            channel,
            target,
            event,
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            endpoint_id,
            alert_id,
            user,
            member,
            now,
            now,
            now + retry.retry_seconds,
            lease_owner,
            now + lease_seconds if lease_owner else None,
        ],
    )
    return msg_id


def owner_id() -> str:
    """This process's lease owner name: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def row(r: sqlite3.Row | tuple[Any, ...]) -> Delivery:
    """A Delivery from a row of `COLUMNS`."""
    return Delivery(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8], r[9])


COLUMNS = "id, msg_id, channel, target, event, payload, endpoint_id, alert_id, attempts, created"


def claim(
    conn: sqlite3.Connection, owner: str, lease_seconds: float, limit: int = 10
) -> list[Delivery]:
    """Lease up to `limit` due deliveries to `owner`, oldest due first."""
    now = time.time()
    with write(conn):
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt <= ?"
                " AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt, id LIMIT ?",
                [now, now, limit],
            ).fetchall()
        ]
        if not ids:
            return []
        marks = ",".join("?" for _ in ids)
        conn.execute(
            f"UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id IN ({marks})",
            [owner, now + lease_seconds, *ids],
        )
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM outbox WHERE id IN ({marks}) ORDER BY next_attempt, id", ids
        ).fetchall()
    return [row(r) for r in rows]


def next_due(conn: sqlite3.Connection) -> float | None:
    """When the next pending delivery is due (epoch seconds), or None."""
    row = conn.execute(
        "SELECT min(max(next_attempt, coalesce(lease_until, 0))) FROM outbox"
        " WHERE state = 'pending'"
    ).fetchone()
    return None if row[0] is None else float(row[0])


def succeed(conn: sqlite3.Connection, delivery_id: int, owner: str) -> None:
    now = time.time()
    conn.execute(
        "UPDATE outbox SET state = 'delivered', delivered = ?, last_attempt = ?,"
        " attempts = attempts + 1, last_error = NULL, lease_owner = NULL, lease_until = NULL"
        " WHERE id = ? AND lease_owner = ?",
        [now, now, delivery_id, owner],
    )


def fail(
    conn: sqlite3.Connection,
    delivery_id: int,
    owner: str,
    error: str,
    retry: Retry,
    *,
    permanent: bool = False,
) -> str:
    """Record a failed try; returns the row's new state ('pending' or 'failed')."""
    now = time.time()
    row = conn.execute(
        "SELECT attempts, give_up FROM outbox WHERE id = ? AND lease_owner = ?",
        [delivery_id, owner],
    ).fetchone()
    if row is None:  # the lease was lost (expired and taken by another worker)
        return "pending"
    attempts = int(row[0]) + 1
    retry_at = now + retry.delay(attempts)
    state = "failed" if permanent or retry_at > float(row[1]) else "pending"
    conn.execute(
        "UPDATE outbox SET state = ?, attempts = ?, last_attempt = ?, last_error = ?,"
        " next_attempt = ?, lease_owner = NULL, lease_until = NULL"
        " WHERE id = ? AND lease_owner = ?",
        [state, attempts, now, error[:500], retry_at, delivery_id, owner],
    )
    return state


def defer(conn: sqlite3.Connection, delivery_id: int, owner: str, until: float) -> None:
    """Put a claimed delivery back, untried, to be taken again at `until`."""
    conn.execute(
        "UPDATE outbox SET next_attempt = ?, lease_owner = NULL, lease_until = NULL"
        " WHERE id = ? AND lease_owner = ?",
        [until, delivery_id, owner],
    )


def cancel(conn: sqlite3.Connection, where: str, args: list[Any], why: str) -> int:
    """Cancel the pending deliveries selected by `where` (an alert or endpoint removed)."""
    cur = conn.execute(
        f"UPDATE outbox SET state = 'cancelled', last_error = ? WHERE state = 'pending'"
        f" AND {where}",
        [why, *args],
    )
    return cur.rowcount


def release_dead_leases(conn: sqlite3.Connection) -> int:
    """Release leases held by processes of this host that no longer run (a server killed
    mid-delivery): their rows are due again at once instead of after the lease."""
    host = socket.gethostname()
    dead = []
    for (owner,) in conn.execute(
        "SELECT DISTINCT lease_owner FROM outbox WHERE state = 'pending'"
        " AND lease_owner IS NOT NULL"
    ).fetchall():
        parts = str(owner).split(":")
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit():
            pid = int(parts[1])
            if pid != os.getpid() and not pid_alive(pid):
                dead.append(owner)
    released = 0
    for owner in dead:
        released += conn.execute(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
            [owner],
        ).rowcount
    return released


def deliveries(
    conn: sqlite3.Connection,
    *,
    endpoint_id: int | None = None,
    alert_id: int | None = None,
    user: str | None = None,
    state: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The newest deliveries (without their payload), newest first."""
    where, args = [], []
    for column, value in (
        ("endpoint_id", endpoint_id),
        ("alert_id", alert_id),
        ("user", user),
        ("state", state),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = (
        "SELECT id, msg_id, channel, target, event, endpoint_id, alert_id, user, member,"
        " created, attempts, state, last_attempt, last_error, delivered, next_attempt"
        " FROM outbox"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY id DESC LIMIT ?"
    )
    cur = conn.execute(sql, [*args, limit])
    names = [d[0] for d in cur.description]
    return [_times(dict(zip(names, r, strict=True))) for r in cur.fetchall()]


def summary(conn: sqlite3.Connection, column: str, value: Any) -> dict[str, Any]:
    """Delivery health of one endpoint or alert (`column` = endpoint_id or alert_id):
    last delivery, pending and failed counts, the last error."""
    assert column in ("endpoint_id", "alert_id")
    row = conn.execute(
        f"SELECT max(delivered), sum(state = 'pending'), sum(state = 'failed'),"
        f" sum(state = 'delivered') FROM outbox WHERE {column} = ?",
        [value],
    ).fetchone()
    err = conn.execute(
        f"SELECT last_error, last_attempt FROM outbox WHERE {column} = ?"
        " AND last_error IS NOT NULL ORDER BY last_attempt DESC LIMIT 1",
        [value],
    ).fetchone()
    return {
        "last_delivery": _iso(row[0]),
        "delivered": int(row[3] or 0),
        "pending": int(row[1] or 0),
        "failed": int(row[2] or 0),
        "last_error": err[0] if err else None,
        "last_error_time": _iso(err[1]) if err else None,
    }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")


def _times(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("created", "last_attempt", "delivered", "next_attempt"):
        if key in row:
            row[key] = _iso(row[key])
    if row.get("state") != "pending":
        row.pop("next_attempt", None)
    return row


def purge(conn: sqlite3.Connection, keep_seconds: float, now: float | None = None) -> int:
    """Delete finished deliveries and alert matches older than `keep_seconds` (pending
    deliveries and digests still to send are kept whatever their age)."""
    now = time.time() if now is None else now
    cutoff = now - keep_seconds
    with write(conn):
        gone = conn.execute(
            "DELETE FROM outbox WHERE state != 'pending' AND created < ?", [cutoff]
        ).rowcount
        iso = datetime.fromtimestamp(cutoff, UTC).isoformat()
        gone += conn.execute(
            "DELETE FROM alert_hits WHERE time < ? AND digest IS NOT NULL", [iso]
        ).rowcount
    return gone
