"""Receivers for the alert and webhook tests: a real SMTP server (aiosmtpd) and a real
HTTP server, both on 127.0.0.1, recording what arrives."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from pool_server.app import Pool
from pool_server.context import DataDir
from pool_server.notify.service import Notifications

from ..helpers import set_setting


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"


@contextmanager
def smtp_server(port: int, **kwargs: Any) -> Iterator[_Mailbox]:
    """aiosmtpd on 127.0.0.1:`port` (`kwargs`: its STARTTLS and AUTH options); yields
    the mailbox of received messages."""
    box = _Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


class Receiver:
    """An HTTP server on 127.0.0.1 recording POSTs; answers with `statuses` in turn
    (then 200), or `status` while set."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        self.status: int | None = None
        self.lock = threading.Lock()
        self.hold: threading.Event | None = None  # set: hold the next answer until it fires
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    if receiver.status is not None:
                        code = receiver.status
                    else:
                        code = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body.decode(),
                            "status": code,
                        }
                    )
                    hold, receiver.hold = receiver.hold, None
                if hold is not None:
                    hold.wait(30)
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def of_type(self, event: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if json.loads(r["body"])["type"] == event]


def fast_delivery(data: Path, **extra: str) -> None:
    """Settings that make alert tests quick: short settle, poll and backoff."""
    set_setting(data, "alerts", "settle_seconds", "0.2")
    set_setting(data, "alerts", "poll_seconds", "0.1")
    set_setting(data, "delivery", "backoff_seconds", "0.3")
    set_setting(data, "delivery", "backoff_max_seconds", "0.5")
    for key, value in extra.items():
        section, name = key.split("__")
        set_setting(data, section, name, value)


@contextmanager
def notifications(data: Path) -> Iterator[Notifications]:
    pool = Pool.open(DataDir(data))
    try:
        yield Notifications(pool)
    finally:
        pool.close()


def outbox_rows(data: Path, where: str = "1", args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    import sqlite3

    conn = sqlite3.connect(data / "pool.db", timeout=30)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f"SELECT * FROM outbox WHERE {where}", args)]
    finally:
        conn.close()


def db_value(data: Path, sql: str, args: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row of `sql` on the data folder's pool.db."""
    import sqlite3

    conn = sqlite3.connect(data / "pool.db", timeout=30)
    try:
        row = conn.execute(sql, args).fetchone()
        return None if row is None else row[0]
    finally:
        conn.close()
