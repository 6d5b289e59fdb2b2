"""From the catalog's journal and the audit trail to alert hits and outbox rows.

`Producer.cycle()` reads the journal records and audit rows after the positions it
stored last time, decides what they mean (an item published, updated or withdrawn, a
saved search matched, an upload or take completed, a quota passed), and writes the
outbox rows together with the new positions in one transaction: a crash anywhere
either repeats the whole cycle or none of it. It only reads what the indexer wrote, on
its own connection (SQLite WAL: readers never block the writer), and writes a few rows
in a short transaction of its own: the indexer never waits for matching or delivery.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from catalog.alerts import BatchMatcher, Compiled, SavedSearch
from catalog.items import decode_row

from . import events as ev
from .outbox import Retry, enqueue, write
from .schema import get_meta, set_meta

log = logging.getLogger("ortak.alerts")

DIGEST_PERIODS = {"hourly": 3600.0, "daily": 86400.0}
BATCH = 500

QuotaProbe = Callable[[str], tuple[int, int]]
"""member -> (bytes used, quota in bytes; 0 = unlimited)."""


@dataclass(frozen=True)
class ProducerSettings:
    settle_seconds: float = 1.0
    quota_warning_percent: int = 90
    public_url: str = ""


def parse_time(text: str | None) -> float | None:
    """An ISO 8601 date or date-time as epoch seconds (naive = UTC); None if unreadable."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]
    ).fetchone()
    return row is not None


def _max(conn: sqlite3.Connection, table: str, column: str) -> int:
    if not _has_table(conn, table):
        return 0
    return int(conn.execute(f"SELECT coalesce(max({column}), 0) FROM {table}").fetchone()[0])


def start_positions(conn: sqlite3.Connection) -> None:
    """On the first start, begin at the current end of the journal and the audit: what
    happened before alerts existed does not alert now."""
    with write(conn):
        if get_meta(conn, "journal_seq") is None:
            set_meta(conn, "journal_seq", _max(conn, "journal", "seq"))
        if get_meta(conn, "audit_id") is None:
            set_meta(conn, "audit_id", _max(conn, "audit", "id"))


def _items_where(conn: sqlite3.Connection, column: str, values: list[Any]) -> list[dict[str, Any]]:
    if not values or not _has_table(conn, "items"):
        return []
    out: list[dict[str, Any]] = []
    for i in range(0, len(values), 500):
        chunk = values[i : i + 500]
        cur = conn.execute(
            f"SELECT * FROM items WHERE {column} IN ({','.join('?' for _ in chunk)})", chunk
        )
        names = [d[0] for d in cur.description]
        out += [decode_row(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
    return out


@dataclass
class _Pending:
    """What one cycle will write."""

    versions: list[tuple[str, str, str | None, int, str | None]]
    gone: list[str]
    waits: list[tuple[str, str, float]]
    lifted: list[str]
    events: list[tuple[str, str | None, dict[str, Any]]]
    candidates: list[dict[str, Any]]


class Producer:
    def __init__(
        self,
        conn: sqlite3.Connection,
        settings: ProducerSettings,
        retry: Retry,
        quota: QuotaProbe | None = None,
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.retry = retry
        self.quota = quota
        self.compiled = Compiled()

    # -- reading -------------------------------------------------------------------

    def _journal(self, after: int, now: float) -> tuple[list[tuple[int, str, str]], int]:
        """(seq, op, item id) of the settled journal records after `after`; new position."""
        if not _has_table(self.conn, "journal"):
            return [], after
        rows = self.conn.execute(
            "SELECT seq, time, op, item_id FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
            [after, BATCH],
        ).fetchall()
        out = []
        for seq, when, op, item_id in rows:
            t = parse_time(when)
            if t is not None and t > now - self.settings.settle_seconds:
                break  # younger records wait: an item arriving as several files settles
            out.append((int(seq), str(op), str(item_id)))
        return out, (out[-1][0] if out else after)

    def _catalog_changes(self, records: list[tuple[int, str, str]], now: float) -> _Pending:
        conn = self.conn
        p = _Pending([], [], [], [], [], [])
        upserts = [seq for seq, op, _ in records if op == "upsert"]
        current = {r["rid"]: r for r in _items_where(conn, "rid", upserts)}
        deleted = [item_id for _, op, item_id in records if op == "delete"]
        still = {r["id"] for r in _items_where(conn, "id", deleted)}
        seen = {
            r[0]: (r[1], r[2], r[3])
            for r in conn.execute("SELECT item_id, version, member, preview FROM item_versions")
        }
        for seq, op, item_id in records:
            if op == "delete":
                if item_id in seen and item_id not in still:
                    p.gone.append(item_id)
                    member = seen.pop(item_id)[1]
                    p.events.append(
                        (ev.ITEM_WITHDRAWN, member, {"id": item_id, "member": member, "seq": seq})
                    )
                continue
            item = current.get(seq)
            if item is None:
                continue  # changed again since: its newer record stands for it
            version, preview = ev.item_version(item), ev.preview_key(item)
            previous, _, previous_preview = seen.get(item["id"], (None, None, None))
            if previous == version and previous_preview == preview:
                continue  # re-indexed, nothing a reader would notice
            seen[item["id"]] = (version, item.get("member"), preview)
            p.versions.append((item["id"], version, item.get("member"), seq, preview))
            public = self.settings.public_url
            if preview != previous_preview and (preview or "").startswith("ready:"):
                p.events.append(
                    (ev.PREVIEW_READY, item.get("member"), ev.preview_data(item, public, version))
                )
            if previous == version:
                continue  # only the previews changed
            kind = ev.ITEM_UPDATED if previous else ev.ITEM_PUBLISHED
            p.events.append((kind, item.get("member"), ev.item_summary(item, public, version)))
            lift = parse_time(item.get("embargo"))
            if lift is not None and lift > now:
                p.waits.append((item["id"], version, lift))
            else:
                p.candidates.append(item)
        for item_id, _ in conn.execute(
            "SELECT item_id, version FROM embargo_waits WHERE lift <= ?", [now]
        ).fetchall():
            p.lifted.append(item_id)
        if p.lifted:
            waiting = {w[0] for w in p.waits}
            p.candidates += [
                r for r in _items_where(conn, "id", p.lifted) if r["id"] not in waiting
            ]
        return p

    def _audit(self, after: int) -> tuple[list[tuple[str, str | None, dict[str, Any]]], int]:
        """Events of the audit rows after `after`: uploads, takes, quota warnings."""
        conn = self.conn
        if not _has_table(conn, "audit"):
            return [], after
        rows = conn.execute(
            "SELECT id, time, user, member, protocol, action, path, bytes, status FROM audit"
            " WHERE id > ? ORDER BY id LIMIT ?",
            [after, BATCH],
        ).fetchall()
        out: list[tuple[str, str | None, dict[str, Any]]] = []
        uploaded_members: list[str] = []
        for _id, when, user, member, protocol, action, path, nbytes, status in rows:
            if status not in ("complete", "ok") or not path:
                continue
            area = str(path).strip("/").split("/")[0] or None
            if action == "upload":
                out.append(
                    (
                        ev.UPLOAD_COMPLETED,
                        area,
                        {
                            "path": path,
                            "member": area,
                            "user": user,
                            "bytes": nbytes,
                            "protocol": protocol,
                            "time": when,
                        },
                    )
                )
                if area and area not in uploaded_members:
                    uploaded_members.append(area)
            elif action == "download" and area and not area.startswith("."):
                item = self._item_of_file(str(path))
                if item is None:
                    continue
                out.append(
                    (
                        ev.TAKE_COMPLETED,
                        item.get("member"),
                        {
                            "item": ev.item_summary(
                                item, self.settings.public_url, ev.item_version(item)
                            ),
                            "file": path,
                            "bytes": nbytes,
                            "taker": {"user": user, "member": member},
                            "protocol": protocol,
                            "time": when,
                        },
                    )
                )
        new_pos = int(rows[-1][0]) if rows else after
        return out, new_pos

    def _item_of_file(self, path: str) -> dict[str, Any] | None:
        if not _has_table(self.conn, "item_files"):
            return None
        row = self.conn.execute("SELECT key FROM item_files WHERE path = ?", [path]).fetchone()
        if row is None:
            return None
        found = _items_where(self.conn, "key", [row[0]])
        return found[0] if found else None

    def _quota_events(self, members: list[str]) -> list[tuple[str, str | None, dict[str, Any]]]:
        out: list[tuple[str, str | None, dict[str, Any]]] = []
        if self.quota is None:
            return out
        threshold = self.settings.quota_warning_percent
        warned = {r[0] for r in self.conn.execute("SELECT member FROM quota_warnings")}
        for member in members:
            try:
                used, limit = self.quota(member)
            except Exception as exc:  # an unknown member (an admin's folder): no quota
                log.debug("quota of %s: %s", member, exc)
                continue
            percent = int(used * 100 / limit) if limit else 0
            if limit and percent >= threshold and member not in warned:
                out.append(
                    (
                        ev.QUOTA_WARNING,
                        member,
                        {
                            "member": member,
                            "used_bytes": used,
                            "quota_bytes": limit,
                            "percent": percent,
                            "threshold_percent": threshold,
                        },
                    )
                )
            elif member in warned and (not limit or percent < threshold):
                out.append(("quota.clear", member, {}))
        return out

    # -- one cycle ---------------------------------------------------------------------

    def cycle(self, now: float | None = None) -> int:
        """Read, decide, write; returns the number of deliveries written."""
        conn = self.conn
        now = time.time() if now is None else now
        seq0 = int(get_meta(conn, "journal_seq") or 0)
        aid0 = int(get_meta(conn, "audit_id") or 0)
        records, seq1 = self._journal(seq0, now)
        pending = self._catalog_changes(records, now)
        audit_events, aid1 = self._audit(aid0)
        members = [d["member"] for e, _, d in audit_events if e == ev.UPLOAD_COMPLETED]
        audit_events += self._quota_events([m for m in dict.fromkeys(members) if m])
        alerts = self._alerts() if pending.candidates else {}
        hits, errors = self._match(pending.candidates, alerts)
        due_digests = list(
            self._alerts("next_digest IS NOT NULL AND next_digest <= ?", [now]).values()
        )
        if seq1 == seq0 and aid1 == aid0 and not pending.lifted and not due_digests and not errors:
            return 0
        written = 0
        try:
            with write(conn):
                if get_meta(conn, "journal_seq") != str(seq0) or get_meta(conn, "audit_id") != str(
                    aid0
                ):
                    raise _Raced
                written += self._write_catalog(pending)
                for event, member, data in audit_events:
                    written += self._write_event(event, member, data)
                written += self._write_hits(alerts, hits, pending.candidates, now)
                for alert in due_digests:
                    written += self._write_digest(alert, now)
                for alert_id, message in errors.items():
                    conn.execute("UPDATE alerts SET error = ? WHERE id = ?", [message, alert_id])
                set_meta(conn, "journal_seq", seq1)
                set_meta(conn, "audit_id", aid1)
        except _Raced:
            log.info("another process moved the alert positions; this cycle is dropped")
            return 0
        return written

    def _alerts(self, where: str = "1", args: list[Any] | None = None) -> dict[int, dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT id, user, name, query, filters, email, webhook_url, mode, next_digest,"
            f" error FROM alerts WHERE {where}",
            args or [],
        )
        names = [d[0] for d in cur.description]
        out = {}
        for r in cur.fetchall():
            row = dict(zip(names, r, strict=True))
            row["filters"] = json.loads(row["filters"] or "{}")
            out[row["id"]] = row
        return out

    def _match(
        self, candidates: list[dict[str, Any]], alerts: dict[int, dict[str, Any]]
    ) -> tuple[dict[int, list[str]], dict[int, str]]:
        if not candidates or not alerts:
            return {}, {}
        with BatchMatcher(candidates, self.compiled) as matcher:
            return matcher.match_each(
                SavedSearch(a["id"], a["query"], a["filters"])
                for a in alerts.values()
                if not a["error"]
            )

    # -- writing (inside the cycle's transaction) ------------------------------------

    def _write_catalog(self, p: _Pending) -> int:
        conn = self.conn
        for item_id, version, member, seq, preview in p.versions:
            conn.execute(
                "INSERT INTO item_versions (item_id, version, member, seq, preview)"
                " VALUES (?,?,?,?,?) ON CONFLICT(item_id) DO UPDATE SET"
                " version = excluded.version, member = excluded.member, seq = excluded.seq,"
                " preview = excluded.preview",
                [item_id, version, member, seq, preview],
            )
        for item_id in p.gone:
            conn.execute("DELETE FROM item_versions WHERE item_id = ?", [item_id])
            conn.execute("DELETE FROM embargo_waits WHERE item_id = ?", [item_id])
        for item_id in p.lifted:
            conn.execute("DELETE FROM embargo_waits WHERE item_id = ?", [item_id])
        for item_id, version, lift in p.waits:
            conn.execute(
                "INSERT OR REPLACE INTO embargo_waits (item_id, version, lift) VALUES (?,?,?)",
                [item_id, version, lift],
            )
        return sum(self._write_event(e, m, d) for e, m, d in p.events)

    def _write_event(self, event: str, member: str | None, data: dict[str, Any]) -> int:
        conn = self.conn
        if event == "quota.clear":
            conn.execute("DELETE FROM quota_warnings WHERE member = ?", [member])
            return 0
        if event == ev.QUOTA_WARNING:
            conn.execute(
                "INSERT OR REPLACE INTO quota_warnings (member, percent, time) VALUES (?,?,?)",
                [member, data["percent"], datetime.now(UTC).isoformat()],
            )
        written = 0
        for endpoint_id, url in ev.endpoints_for(conn, event, member):
            enqueue(
                conn,
                "webhook",
                url,
                event,
                ev.envelope(event, data),
                self.retry,
                endpoint_id=endpoint_id,
                member=member,
            )
            written += 1
        return written

    def _write_hits(
        self,
        alerts: dict[int, dict[str, Any]],
        hits: dict[int, list[str]],
        candidates: list[dict[str, Any]],
        now: float,
    ) -> int:
        conn = self.conn
        by_id = {c["id"]: c for c in candidates}
        stamp = datetime.fromtimestamp(now, UTC).isoformat()
        written = 0
        for alert_id, item_ids in hits.items():
            alert = alerts[alert_id]
            digest = alert["mode"] in DIGEST_PERIODS
            fresh = []
            for item_id in item_ids:
                item = by_id[item_id]
                version = ev.item_version(item)
                cur = conn.execute(
                    "INSERT OR IGNORE INTO alert_hits (alert_id, item_id, version, time, title,"
                    " digest) VALUES (?,?,?,?,?,?)",
                    [alert_id, item_id, version, stamp, item.get("title"), None if digest else 0],
                )
                if cur.rowcount:
                    fresh.append(ev.item_summary(item, self.settings.public_url, version))
            if fresh and not digest:
                written += self._send_alert(alert, fresh, None)
        return written

    def _write_digest(self, alert: dict[str, Any], now: float) -> int:
        conn = self.conn
        rows = conn.execute(
            "SELECT id, item_id, version FROM alert_hits WHERE alert_id = ? AND digest IS NULL"
            " ORDER BY id",
            [alert["id"]],
        ).fetchall()
        period = DIGEST_PERIODS[alert["mode"]]
        conn.execute(
            "UPDATE alerts SET next_digest = ? WHERE id = ?",
            [max(alert["next_digest"] + period, now), alert["id"]],
        )
        if not rows:
            return 0
        conn.execute(
            "UPDATE alert_hits SET digest = 1 WHERE alert_id = ? AND digest IS NULL AND id <= ?",
            [alert["id"], rows[-1][0]],
        )
        items = {r["id"]: r for r in _items_where(conn, "id", [r[1] for r in rows])}
        summaries = [
            ev.item_summary(items[item_id], self.settings.public_url, version)
            for _, item_id, version in rows
            if item_id in items
        ]
        return self._send_alert(alert, summaries, alert["mode"]) if summaries else 0

    def _send_alert(
        self, alert: dict[str, Any], items: list[dict[str, Any]], digest: str | None
    ) -> int:
        info = {
            "id": alert["id"],
            "name": alert["name"],
            "query": alert["query"],
            "filters": alert["filters"],
        }
        written = 0
        if alert["email"]:
            enqueue(
                self.conn,
                "email",
                alert["email"],
                ev.ALERT_MATCHED,
                {"to": alert["email"], "alert": info, "items": items, "digest": digest},
                self.retry,
                alert_id=alert["id"],
                user=alert["user"],
            )
            written += 1
        if alert["webhook_url"]:
            enqueue(
                self.conn,
                "webhook",
                alert["webhook_url"],
                ev.ALERT_MATCHED,
                ev.envelope(ev.ALERT_MATCHED, {"alert": info, "items": items, "digest": digest}),
                self.retry,
                alert_id=alert["id"],
                user=alert["user"],
            )
            written += 1
        return written


class _Raced(Exception):
    """Another process moved the positions meanwhile: this cycle's work is dropped."""
