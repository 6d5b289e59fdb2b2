"""What users and admins do with alerts and webhooks, whatever door they come through.

`Notifications` is the one service layer: the `pool-server` CLI, the control channel
(`pool alert ...`) and the web door's API call it with the acting user (None for the
local operator, who may do anything). Rules live here, not in the doors:

- every user keeps their own saved searches (alerts);
- admins register event endpoints for any member or for all events; a contributor
  registers them for their own member only; readers register none;
- only an admin may let an endpoint reach loopback/private addresses.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from catalog.alerts import validate
from catalog.errors import QueryError

from ..accounts import Role, User
from ..errors import AccessDenied, AlreadyExists, NotFound, UsageError
from . import events as ev
from . import outbox
from .errors import DeliveryError
from .producer import DIGEST_PERIODS, parse_time
from .runner import deliverer_of, settings_of
from .schema import migrate
from .webhook import new_secret, resolve

if TYPE_CHECKING:
    from ..app import Pool

MODES = ("immediate", *DIGEST_PERIODS)
ALERT_NAME = re.compile(r"^[^\x00-\x1f/]{1,80}$")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _is_admin(user: User | None) -> bool:
    return user is None or user.role == Role.ADMIN


class Notifications:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.settings = settings_of(pool)
        migrate(self.conn)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.pool.store.db.conn

    def _check_target(self, url: str, allow_private: bool) -> None:
        """A webhook URL a user gives: http(s), resolvable, and public unless allowed."""
        try:
            resolve(url, self.settings.webhooks.allow_private, allow_private=allow_private)
        except DeliveryError as exc:
            raise UsageError(f"webhook refused: {exc}") from None

    # -- saved searches -------------------------------------------------------------

    def add_alert(
        self,
        user: User,
        name: str,
        query: str,
        filters: dict[str, Any] | None = None,
        *,
        email: str | None = None,
        webhook: str | None = None,
        mode: str = "immediate",
    ) -> dict[str, Any]:
        """Save a search for `user`. Returns the alert, with the webhook's signing secret
        (shown this once)."""
        name = (name or "").strip()
        if not ALERT_NAME.match(name):
            raise UsageError("alert name: 1 to 80 characters, no '/' or control characters")
        if mode not in MODES:
            raise UsageError(f"digest {mode!r}: use one of {', '.join(MODES)}")
        clean = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
        for key in ("since", "until"):
            if key in clean:
                when = parse_time(str(clean[key]))
                if when is None:
                    raise UsageError(f"--{key} {clean[key]!r}: give a date such as 2026-11-01")
                clean[key] = datetime.fromtimestamp(when, UTC).isoformat()
        try:
            validate(query or "", clean)
        except QueryError as exc:
            raise UsageError(str(exc)) from None
        if email is not None:
            addr = parseaddr(email)[1]
            if not addr or "@" not in addr or addr != email.strip():
                raise UsageError(f"--email {email!r}: not an e-mail address")
            email = addr
        secret = None
        if webhook:
            self._check_target(webhook, False)
            secret = new_secret()
        period = DIGEST_PERIODS.get(mode)
        try:
            with outbox.write(self.conn):
                cur = self.conn.execute(
                    "INSERT INTO alerts (user, name, query, filters, email, webhook_url,"
                    " webhook_secret, mode, created, next_digest) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [
                        user.name,
                        name,
                        query or "",
                        json.dumps(clean, ensure_ascii=False),
                        email,
                        webhook or None,
                        secret,
                        mode,
                        _now_iso(),
                        time.time() + period if period else None,
                    ],
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"you already have an alert named {name!r}") from None
        alert = self._alert_row(int(cur.lastrowid or 0))
        alert["webhook_secret"] = secret
        return alert

    def _one(self, sql: str, row_id: int, missing: str) -> dict[str, Any]:
        """The one row `sql` selects for `row_id`, as a dict (NotFound: `missing`)."""
        cur = self.conn.execute(sql, [row_id])
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
        if row is None:
            raise NotFound(missing)
        return dict(zip(names, row, strict=True))

    def _alert_row(self, alert_id: int) -> dict[str, Any]:
        out = self._one(
            "SELECT id, user, name, query, filters, email, webhook_url, mode, created, error"
            " FROM alerts WHERE id = ?",
            alert_id,
            f"no alert {alert_id}",
        )
        out["filters"] = json.loads(out["filters"] or "{}")
        return out

    def list_alerts(self, user: User | None, *, everyone: bool = False) -> list[dict[str, Any]]:
        """The user's alerts (an admin's `everyone`: all users'), each with its last
        match, last delivery and failures."""
        if everyone and not _is_admin(user):
            raise AccessDenied("only an admin lists everybody's alerts")
        if user is None or everyone:
            ids = [r[0] for r in self.conn.execute("SELECT id FROM alerts ORDER BY user, name")]
        else:
            ids = [
                r[0]
                for r in self.conn.execute(
                    "SELECT id FROM alerts WHERE user = ? ORDER BY name", [user.name]
                )
            ]
        out = []
        for alert_id in ids:
            row = self._alert_row(alert_id)
            hit = self.conn.execute(
                "SELECT max(time), count(*) FROM alert_hits WHERE alert_id = ?", [alert_id]
            ).fetchone()
            row["last_match"], row["matches"] = hit[0], int(hit[1])
            row.update(outbox.summary(self.conn, "alert_id", alert_id))
            out.append(row)
        return out

    def _own_alert(self, user: User | None, ref: str) -> dict[str, Any]:
        """An alert by name (the user's) or by id (an admin's, or the user's own)."""
        if user is not None:
            row = self.conn.execute(
                "SELECT id FROM alerts WHERE user = ? AND name = ?", [user.name, ref]
            ).fetchone()
            if row:
                return self._alert_row(int(row[0]))
        if ref.isdigit():
            found = self.conn.execute("SELECT id, user FROM alerts WHERE id = ?", [int(ref)])
            row = found.fetchone()
            if row and (_is_admin(user) or (user and row[1] == user.name)):
                return self._alert_row(int(row[0]))
        raise NotFound(f"no alert {ref!r}")

    def remove_alert(self, user: User | None, ref: str) -> dict[str, Any]:
        alert = self._own_alert(user, ref)
        with outbox.write(self.conn):
            self.conn.execute("DELETE FROM alerts WHERE id = ?", [alert["id"]])
            self.conn.execute("DELETE FROM alert_hits WHERE alert_id = ?", [alert["id"]])
            outbox.cancel(self.conn, "alert_id = ?", [alert["id"]], "alert removed")
        return alert

    def notifications(
        self, user: User, *, limit: int = 50, unseen: bool = False
    ) -> list[dict[str, Any]]:
        """The user's alert hits, newest first: the web door's notification list."""
        cur = self.conn.execute(
            "SELECT h.id, h.time, h.item_id, h.title, h.seen, a.id AS alert_id,"
            " a.name AS alert FROM alert_hits h JOIN alerts a ON a.id = h.alert_id"
            " WHERE a.user = ?" + (" AND h.seen = 0" if unseen else "") + " ORDER BY h.id DESC"
            " LIMIT ?",
            [user.name, limit],
        )
        names = [d[0] for d in cur.description]
        public = self.settings.producer.public_url
        return [
            {**dict(zip(names, r, strict=True)), "links": ev.links(public, r[2])}
            for r in cur.fetchall()
        ]

    def mark_seen(self, user: User, up_to: int) -> int:
        with outbox.write(self.conn):
            return self.conn.execute(
                "UPDATE alert_hits SET seen = 1 WHERE id <= ? AND seen = 0 AND alert_id IN"
                " (SELECT id FROM alerts WHERE user = ?)",
                [up_to, user.name],
            ).rowcount

    def alert_deliveries(
        self, user: User | None, ref: str | None = None, *, limit: int = 50
    ) -> list[dict[str, Any]]:
        if ref is not None:
            alert = self._own_alert(user, ref)
            return outbox.deliveries(self.conn, alert_id=alert["id"], limit=limit)
        if user is None:
            return outbox.deliveries(self.conn, limit=limit)
        return outbox.deliveries(self.conn, user=user.name, limit=limit)

    # -- event endpoints ------------------------------------------------------------

    def add_endpoint(
        self,
        user: User | None,
        url: str,
        events: list[str] | None = None,
        *,
        member: str | None = None,
        allow_private: bool = False,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Register an endpoint; returns it with its signing secret (shown this once)."""
        if user is not None and user.role == Role.READER:
            raise AccessDenied("readers cannot register webhooks; ask your member's admin")
        if user is not None and user.role == Role.CONTRIBUTOR:
            if member not in (None, user.member):
                raise AccessDenied(f"you may register webhooks for member {user.member} only")
            member = user.member
            if allow_private:
                raise AccessDenied("only an admin may allow private or loopback targets")
        if member is not None:
            self.pool.accounts.get_member(member)  # NotFound for an unknown member
        wanted = list(dict.fromkeys(events or ["*"]))
        unknown = [e for e in wanted if e != "*" and e not in ev.EVENTS]
        if unknown:
            raise UsageError(
                f"unknown event(s) {', '.join(unknown)}; events: {', '.join(ev.EVENTS)}"
            )
        self._check_target(url, allow_private)
        secret = new_secret()
        creator = "cli" if user is None else user.name
        with outbox.write(self.conn):
            cur = self.conn.execute(
                "INSERT INTO endpoints (url, secret, events, member, allow_private, description,"
                " created_by, created) VALUES (?,?,?,?,?,?,?,?)",
                [
                    url,
                    secret,
                    json.dumps(wanted),
                    member,
                    int(allow_private),
                    description,
                    creator,
                    _now_iso(),
                ],
            )
        endpoint = self._endpoint_row(int(cur.lastrowid or 0))
        endpoint["secret"] = secret
        return endpoint

    def _endpoint_row(self, endpoint_id: int) -> dict[str, Any]:
        out = self._one(
            "SELECT id, url, events, member, allow_private, description, created_by, created,"
            " disabled FROM endpoints WHERE id = ?",
            endpoint_id,
            f"no webhook endpoint {endpoint_id}",
        )
        out["events"] = json.loads(out["events"])
        out["allow_private"] = bool(out["allow_private"])
        return out

    def _visible_endpoint(self, user: User | None, endpoint_id: int) -> dict[str, Any]:
        endpoint = self._endpoint_row(endpoint_id)
        if not _is_admin(user) and (
            user is None or user.role != Role.CONTRIBUTOR or endpoint["member"] != user.member
        ):
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        return endpoint

    def list_endpoints(self, user: User | None) -> list[dict[str, Any]]:
        """Endpoints the user may see (an admin: all; a contributor: their member's), each
        with its last delivery and failures."""
        if _is_admin(user):
            ids = [r[0] for r in self.conn.execute("SELECT id FROM endpoints ORDER BY id")]
        elif user is not None and user.role == Role.CONTRIBUTOR:
            ids = [
                r[0]
                for r in self.conn.execute(
                    "SELECT id FROM endpoints WHERE member = ? ORDER BY id", [user.member]
                )
            ]
        else:
            ids = []
        out = []
        for endpoint_id in ids:
            row = self._endpoint_row(endpoint_id)
            row.update(outbox.summary(self.conn, "endpoint_id", endpoint_id))
            out.append(row)
        return out

    def remove_endpoint(self, user: User | None, endpoint_id: int) -> dict[str, Any]:
        endpoint = self._visible_endpoint(user, endpoint_id)
        with outbox.write(self.conn):
            self.conn.execute("DELETE FROM endpoints WHERE id = ?", [endpoint_id])
            outbox.cancel(self.conn, "endpoint_id = ?", [endpoint_id], "endpoint removed")
        return endpoint

    def endpoint_deliveries(
        self,
        user: User | None,
        endpoint_id: int | None = None,
        *,
        state: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        if endpoint_id is not None:
            self._visible_endpoint(user, endpoint_id)
            return outbox.deliveries(self.conn, endpoint_id=endpoint_id, state=state, limit=limit)
        rows = outbox.deliveries(self.conn, state=state, limit=limit * 4)
        visible = {e["id"] for e in self.list_endpoints(user)}
        return [r for r in rows if r["endpoint_id"] in visible][:limit]

    def test_endpoint(self, user: User | None, endpoint_id: int) -> dict[str, Any]:
        """Send a `webhook.test` event now, from this process, and record it like any
        delivery; returns the delivery as recorded."""
        endpoint = self._visible_endpoint(user, endpoint_id)
        owner = outbox.owner_id()
        data = {"endpoint": endpoint_id, "message": "test delivery from Ortak"}
        with outbox.write(self.conn):
            msg_id = outbox.enqueue(
                self.conn,
                "webhook",
                endpoint["url"],
                ev.WEBHOOK_TEST,
                ev.envelope(ev.WEBHOOK_TEST, data),
                outbox.Retry(retry_seconds=0),
                endpoint_id=endpoint_id,
                member=endpoint["member"],
                lease_owner=owner,
            )
        row = self.conn.execute(
            f"SELECT {outbox.COLUMNS} FROM outbox WHERE msg_id = ?", [msg_id]
        ).fetchone()
        deliverer = deliverer_of(self.pool, self.settings)
        try:
            deliverer.deliver(self.conn, outbox.row(row), owner)
        finally:
            deliverer.close()
        return outbox.deliveries(self.conn, endpoint_id=endpoint_id, limit=1)[0]
