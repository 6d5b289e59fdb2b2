"""Sending one claimed delivery: e-mail through the relay, webhooks signed and guarded.

`Deliverer.deliver()` sends a delivery its caller has leased and records the outcome:
delivered, failed for now (retried after a backoff until `[delivery] retry_hours`), or
failed for good (a refused target, SMTP 5xx, HTTP 4xx).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from . import mail, webhook
from .errors import DeliveryError, TargetRefused
from .outbox import Delivery, Retry, defer, fail, succeed, write

log = logging.getLogger("ortak.delivery")

POSTER_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class WebhookSettings:
    allow_private: tuple[webhook.Network, ...]
    timeout: float


class Deliverer:
    def __init__(
        self,
        pool_root: Path,
        mail_settings: mail.MailSettings,
        webhook_settings: WebhookSettings,
        retry: Retry,
        *,
        previews: bool = True,
    ) -> None:
        self.pool_root = pool_root
        self.previews = previews
        self.mail = mail_settings
        self.webhooks = webhook_settings
        self.retry = retry
        self._http: httpx.Client | None = None

    def deliver(self, conn: sqlite3.Connection, d: Delivery, owner: str) -> str:
        """Send `d` (leased to `owner`) and record it; returns the row's new state."""
        try:
            if d.channel == "email":
                wait = self._poster_wait(conn, d)
                if wait is not None:
                    with write(conn):
                        defer(conn, d.id, owner, wait)
                    return "pending"
                msg = mail.build_message(
                    d.payload, d.msg_id, self.mail.from_address, self.pool_root
                )
                mail.send(self.mail, msg)
            else:
                secret, allow_private = self._secret(conn, d)
                target = webhook.resolve(
                    d.target, self.webhooks.allow_private, allow_private=allow_private
                )
                body = json.dumps(d.payload, ensure_ascii=False, separators=(",", ":"))
                if self._http is None:
                    self._http = webhook.new_client(self.webhooks.timeout)
                webhook.post(
                    target, body, d.msg_id, secret, self.webhooks.timeout, client=self._http
                )
        except DeliveryError as exc:
            with write(conn):
                state = fail(conn, d.id, owner, str(exc), self.retry, permanent=exc.permanent)
            log.warning("%s %s to %s: %s (%s)", d.event, d.channel, d.target, exc, state)
            return state
        with write(conn):
            succeed(conn, d.id, owner)
        log.info("%s %s delivered to %s (%s)", d.event, d.channel, d.target, d.msg_id)
        return "delivered"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _secret(self, conn: sqlite3.Connection, d: Delivery) -> tuple[str, bool]:
        if d.endpoint_id is not None:
            row = conn.execute(
                "SELECT secret, allow_private FROM endpoints WHERE id = ?", [d.endpoint_id]
            ).fetchone()
            if row is None:
                raise TargetRefused(f"webhook endpoint {d.endpoint_id} was removed")
            return str(row[0]), bool(row[1])
        row = conn.execute(
            "SELECT webhook_secret FROM alerts WHERE id = ?", [d.alert_id]
        ).fetchone()
        if row is None or not row[0]:
            raise TargetRefused(f"alert {d.alert_id} was removed")
        return str(row[0]), False

    def _poster_wait(self, conn: sqlite3.Connection, d: Delivery) -> float | None:
        """When to look again if an item with video has no poster yet, its previews are
        still to be made and the wait for them (`[mail] poster_wait_seconds`) is not
        over; None to send now."""
        deadline = d.created + self.mail.poster_wait_seconds
        now = time.time()
        if now >= deadline or not self.previews:
            return None
        for item in d.payload.get("items", []):
            if not item.get("has_video"):
                continue
            if mail.poster_path(self.pool_root, item["id"]).is_file():
                continue
            if _previews_done(conn, item["id"]):
                continue  # failed, or made without a poster: nothing to wait for
            return min(deadline, now + POSTER_POLL_SECONDS)
        return None


def _previews_done(conn: sqlite3.Connection, item_id: str) -> bool:
    """True when the item's previews are no longer pending (or the item is gone)."""
    try:
        row = conn.execute(
            "SELECT json_extract(preview, '$.state') FROM items WHERE id = ?", [item_id]
        ).fetchone()
    except sqlite3.OperationalError:  # a catalog without previews
        return False
    return row is None or row[0] in ("ready", "failed", "none")
