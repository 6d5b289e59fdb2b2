"""The alert and webhook threads of `pool-server serve`: one producer, N delivery workers.

The producer follows the catalog journal and the audit (`producer.Producer`) every
`[alerts] poll_seconds`; the workers claim due outbox rows with a lease and send them
(`delivery.Deliverer`). Each thread has its own pool.db connection. Stopping lets a
send in progress finish (bounded by the relay's or receiver's timeout).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import outbox
from .delivery import Deliverer, WebhookSettings
from .mail import MailSettings
from .producer import Producer, ProducerSettings, start_positions
from .schema import migrate
from .webhook import parse_networks

if TYPE_CHECKING:
    from ..app import Pool

log = logging.getLogger("ortak.alerts")

PURGE_EVERY = 3600.0
"""Seconds between two purges of old deliveries and matches."""


@dataclass(frozen=True)
class NotifySettings:
    poll_seconds: float
    workers: int
    lease_seconds: float
    keep_seconds: float
    producer: ProducerSettings
    retry: outbox.Retry
    mail: MailSettings
    webhooks: WebhookSettings
    previews: bool


def settings_of(pool: Pool, web_url: str | None = None) -> NotifySettings:
    """The settings of pool.toml; `web_url` is the running web door's address (links
    when `[alerts] public_url` is not set)."""
    cfg = pool.config
    alerts, delivery = cfg.section("alerts"), cfg.section("delivery")
    hooks = cfg.section("webhooks")
    return NotifySettings(
        poll_seconds=max(0.05, float(alerts["poll_seconds"])),
        workers=max(1, int(delivery["workers"])),
        lease_seconds=max(1.0, float(delivery["lease_seconds"])),
        keep_seconds=max(1, int(delivery["keep_days"])) * 86400.0,
        producer=ProducerSettings(
            settle_seconds=float(alerts["settle_seconds"]),
            quota_warning_percent=int(alerts["quota_warning_percent"]),
            public_url=str(alerts["public_url"]) or web_url or door_url(pool),
        ),
        retry=outbox.Retry(
            retry_seconds=float(delivery["retry_hours"]) * 3600.0,
            backoff_seconds=float(delivery["backoff_seconds"]),
            backoff_max_seconds=float(delivery["backoff_max_seconds"]),
        ),
        mail=MailSettings.from_section(cfg.section("mail"), pool.data.path),
        webhooks=WebhookSettings(
            allow_private=tuple(parse_networks(hooks["allow_private"])),
            timeout=float(hooks["timeout"]),
        ),
        previews=bool(cfg.get("previews", "enabled")),
    )


def door_url(pool: Pool) -> str:
    """The web door's address from its settings ([server] host, [http] port and tls): the
    links' default when `[alerts] public_url` is not set."""
    cfg = pool.config
    host = str(cfg.get("server", "host"))
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if cfg.get("http", "tls") else "http"
    return f"{scheme}://{host}:{cfg.get('http', 'port')}"


def deliverer_of(pool: Pool, settings: NotifySettings) -> Deliverer:
    return Deliverer(
        pool.data.pool_root,
        settings.mail,
        settings.webhooks,
        settings.retry,
        previews=settings.previews,
    )


def _quota_probe(pool: Pool):  # type: ignore[no-untyped-def]
    def probe(member: str) -> tuple[int, int]:
        return pool.quotas.used(member), pool.accounts.quota_of(member)

    return probe


class NotifyService:
    """Started and stopped by `pool_server.serve.Server` like the indexer."""

    def __init__(self, pool: Pool, web_url: str | None = None) -> None:
        self.pool = pool
        self.settings = settings_of(pool, web_url)
        self.owner = outbox.owner_id()
        self._halt = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        conn = self.pool.store.db.conn
        migrate(conn)
        start_positions(conn)
        with outbox.write(conn):
            released = outbox.release_dead_leases(conn)
        if released:
            log.info("%d delivery lease(s) of a stopped server released", released)
        self._spawn("alerts-producer", self._produce)
        for n in range(self.settings.workers):
            self._spawn(f"delivery-{n}", self._work)

    def _spawn(self, name: str, target: object) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._halt.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=self.settings.mail.timeout + 5)
        self._threads.clear()

    def _produce(self) -> None:
        producer = Producer(
            self.pool.store.db.conn,
            self.settings.producer,
            self.settings.retry,
            _quota_probe(self.pool),
        )
        next_purge = time.monotonic()
        try:
            while not self._halt.is_set():
                try:
                    if producer.cycle():
                        self._wake.set()
                    if time.monotonic() >= next_purge:
                        next_purge = time.monotonic() + PURGE_EVERY
                        gone = outbox.purge(producer.conn, self.settings.keep_seconds)
                        if gone:
                            log.info("%d old deliveries and matches deleted", gone)
                except Exception:  # never stop alerting for one bad cycle; retried next time
                    log.exception("alerts: reading the journal and audit failed")
                self._halt.wait(self.settings.poll_seconds)
        finally:
            self.pool.store.release()

    def _work(self) -> None:
        conn = self.pool.store.db.conn
        deliverer = deliverer_of(self.pool, self.settings)
        try:
            while not self._halt.is_set():
                try:
                    batch = outbox.claim(conn, self.owner, self.settings.lease_seconds, limit=1)
                    for d in batch:
                        deliverer.deliver(conn, d, self.owner)
                    if batch:
                        continue
                    due = outbox.next_due(conn)
                except Exception:
                    log.exception("delivery worker")
                    due = None
                wait = 1.0 if due is None else min(1.0, max(0.02, due - time.time()))
                if self._wake.wait(wait):
                    self._wake.clear()
        finally:
            deliverer.close()
            self.pool.store.release()
