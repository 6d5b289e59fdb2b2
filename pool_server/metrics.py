"""Prometheus metrics of the whole pool, read from pool.db at scrape time.

Every figure comes from state that every door process shares — the audit trail, the
accounts, the catalog, the live-session table — so one scrape of any door's `/metrics`
tells the same story whichever process serves it, and nothing in the doors' hot paths
has to count anything. The audit is summed incrementally (rows past the last id read),
so a scrape costs the rows added since the previous one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .store import Store

DIRECTIONS = {"upload": "in", "download": "out"}


class _AuditTotals:
    """Counters summed from the audit table, incrementally and thread-safely."""

    def __init__(self) -> None:
        self.last_id = 0
        self.logins: Counter[tuple[str, str]] = Counter()
        self.bytes: Counter[tuple[str, str]] = Counter()
        self.transfers: Counter[tuple[str, str, str]] = Counter()
        self.lock = threading.Lock()

    def advance(self, conn: sqlite3.Connection) -> None:
        with self.lock:
            rows = conn.execute(
                "SELECT id, protocol, action, status, bytes FROM audit "
                "WHERE id > ? AND action IN ('login', 'upload', 'download') ORDER BY id",
                [self.last_id],
            ).fetchall()
            last = conn.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0]
            for _id, protocol, action, status, nbytes in rows:
                door = protocol or "unknown"
                if action == "login":
                    self.logins[(door, status or "ok")] += 1
                    continue
                direction = DIRECTIONS[action]
                self.transfers[(door, direction, status or "ok")] += 1
                if nbytes:
                    self.bytes[(door, direction)] += int(nbytes)
            self.last_id = max(self.last_id, int(last))


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?"
    return conn.execute(sql, [name]).fetchone() is not None


class PoolCollector(Collector):
    """Collects the pool's metrics from pool.db (and the quota ledger) on each scrape."""

    def __init__(self, store: Store, quota_used: Callable[[str], int]) -> None:
        self.store = store
        self.quota_used = quota_used
        self._audit = _AuditTotals()

    def collect(self) -> Iterator[Metric]:
        conn = self.store.db.conn
        yield from self._sessions(conn)
        yield from self._audit_metrics(conn)
        yield from self._quota(conn)
        yield from self._catalog(conn)

    def _sessions(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        g = GaugeMetricFamily("ortak_sessions", "Sessions connected now, per door", labels=["door"])
        if _table_exists(conn, "live_sessions"):
            for door, n in conn.execute(
                "SELECT protocol, count(*) FROM live_sessions GROUP BY protocol"
            ):
                g.add_metric([door], n)
        yield g

    def _audit_metrics(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        self._audit.advance(conn)
        a = self._audit
        logins = CounterMetricFamily(
            "ortak_logins", "Login attempts per door and result", labels=["door", "result"]
        )
        for (door, result), n in sorted(a.logins.items()):
            logins.add_metric([door, result], n)
        nbytes = CounterMetricFamily(
            "ortak_transfer_bytes",
            "Bytes moved per door and direction (in: uploads, out: downloads)",
            labels=["door", "direction"],
        )
        for (door, direction), n in sorted(a.bytes.items()):
            nbytes.add_metric([door, direction], n)
        transfers = CounterMetricFamily(
            "ortak_transfers",
            "Transfers ended per door, direction and status (complete, partial, failed)",
            labels=["door", "direction", "status"],
        )
        for (door, direction, status), n in sorted(a.transfers.items()):
            transfers.add_metric([door, direction, status], n)
        partials = GaugeMetricFamily(
            "ortak_upload_partials", "Interrupted uploads kept for a resume, on disk now"
        )
        partials.add_metric([], self._partials(conn))
        yield from (logins, nbytes, transfers, partials)

    @staticmethod
    def _partials(conn: sqlite3.Connection) -> int:
        if _table_exists(conn, "upload_claims"):
            return int(conn.execute("SELECT count(*) FROM upload_claims").fetchone()[0])
        # Without a claims table: uploads whose last audit row says "partial".
        sql = (
            "SELECT count(*) FROM (SELECT user, path, max(id) AS last FROM audit "
            "WHERE action = 'upload' GROUP BY user, path) x JOIN audit a ON a.id = x.last "
            "WHERE a.status = 'partial'"
        )
        return int(conn.execute(sql).fetchone()[0])

    def _quota(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        used = GaugeMetricFamily(
            "ortak_quota_used_bytes", "Bytes stored in each member's area", labels=["member"]
        )
        limit = GaugeMetricFamily(
            "ortak_quota_bytes", "Each member's quota (0: unlimited)", labels=["member"]
        )
        for code, quota in conn.execute("SELECT code, quota_bytes FROM members ORDER BY code"):
            used.add_metric([code], self.quota_used(code))
            limit.add_metric([code], quota or 0)
        yield from (used, limit)

    def _catalog(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        items = GaugeMetricFamily("ortak_catalog_items", "Items in the catalog")
        seq = GaugeMetricFamily("ortak_feed_seq", "The catalog's latest journal sequence number")
        lag = GaugeMetricFamily(
            "ortak_indexer_lag_seconds",
            "Seconds from a file's last change (its upload's rename) to its cataloguing, for "
            "the most recently catalogued file",
        )
        queue = GaugeMetricFamily("ortak_preview_queue", "Preview jobs by state", labels=["state"])
        n_items = 0
        if _table_exists(conn, "items"):
            n_items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
            cols = {r[1] for r in conn.execute("PRAGMA table_info(items)")}
            if "preview" in cols:
                for state, n in conn.execute(
                    "SELECT json_extract(preview, '$.state') AS s, count(*) FROM items "
                    "WHERE preview IS NOT NULL GROUP BY s"
                ):
                    queue.add_metric([str(state)], n)
        items.add_metric([], n_items)
        last_seq = 0
        if _table_exists(conn, "journal"):
            last_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0]
        seq.add_metric([], last_seq)
        if _table_exists(conn, "item_files"):
            row = conn.execute(
                "SELECT indexed, mtime_ns FROM item_files WHERE indexed IS NOT NULL "
                "ORDER BY indexed DESC LIMIT 1"
            ).fetchone()
            if row:
                lag.add_metric([], max(0.0, _iso_seconds(row[0]) - row[1] / 1e9))
        yield from (items, seq, lag, queue)


def _iso_seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def registry_for(store: Store, quota_used: Callable[[str], int]) -> CollectorRegistry:
    """A registry holding only the pool's collector (no process metrics of one door)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PoolCollector(store, quota_used))
    return registry


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The Prometheus text exposition and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry), CONTENT_TYPE_LATEST


__all__ = ["PoolCollector", "registry_for", "render"]
