"""Alert e-mail end to end: a real `pool-server serve` (FTP, indexer, previews), uploads
over ftplib, a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import io
import json
import sqlite3
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult

from catalog.items import item_id

from ..helpers import ftp_login, reserved_port, run_cli, set_setting, wait_for
from .helpers import fast_delivery, notifications, outbox_rows, smtp_server

RELAY_OUTAGE_SECONDS = 30.0  # issue 16: "the relay down for 30 s"


@pytest.fixture
def mail_data(data: Path) -> Iterator[tuple[Path, int]]:
    """The pool's relay port stays reserved for the whole test: while the relay is
    down, connections are refused and no other process can take the port."""
    with reserved_port() as port:
        yield _mail_settings(data, port), port


def _mail_settings(data: Path, port: int) -> Path:
    fast_delivery(
        data,
        mail__host='"127.0.0.1"',
        mail__port=str(port),
        mail__security='"none"',
        mail__poster_wait_seconds="60.0",  # sent as soon as the poster is made
        previews__enabled="true",
        # a clip shorter than the strip interval gets no strip (previews fail): 1 s
        previews__strip_interval_seconds="1.0",
        alerts__public_url='"https://pool.example.org"',
    )
    (data / "pool" / "TRT" / "news").mkdir(parents=True, exist_ok=True)
    with notifications(data) as service:
        reader = service.pool.accounts.get_user("news")
        service.add_alert(reader, "nevruz", "nevruz", {"member": "TRT"}, email="desk@example.org")
    return data


def upload_story(port: int, stem: str, title: str, clip: Path) -> None:
    sidecar = json.dumps({"title": title, "description": f"{title}: the dope sheet."})
    with ftp_login(port, "trt-up") as ftp:
        ftp.storbinary(f"STOR /TRT/news/{stem}.json", io.BytesIO(sidecar.encode()))
        ftp.storbinary(f"STOR /TRT/news/{stem}.mp4", io.BytesIO(clip.read_bytes()))


def caught_up(data: Path) -> bool:
    """The producer has read every journal record and nothing waits to be delivered."""
    conn = sqlite3.connect(data / "pool.db", timeout=30)
    try:
        seq = conn.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0]
        done = conn.execute("SELECT value FROM notify_meta WHERE key = 'journal_seq'").fetchone()
        pending = conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()
        return int(done[0]) >= seq > 0 and pending[0] == 0
    finally:
        conn.close()


def test_alert_mail_with_poster_inline(mail_data, server_factory, clip: Path):
    data, smtp_port = mail_data
    with smtp_server(smtp_port) as box:
        srv = server_factory(sftp=False, indexer=True)
        upload_story(srv.ftp_port, "nevruz", "Nevruz kutlaması", clip)
        wait_for(lambda: box.messages, 90, "the alert e-mail")
        [msg] = box.messages
        assert msg["To"] == "desk@example.org"
        assert "Nevruz kutlaması" in msg["Subject"]
        text = msg.get_body(("plain",)).get_content()
        assert "the dope sheet" in text and "news · 0:03" in text  # the pool's one duration format
        ident = item_id("/TRT/news/nevruz")
        assert f"https://pool.example.org/items/{ident}" in text
        html = msg.get_body(("html",))
        [image] = [p for p in msg.walk() if p.get_content_type() == "image/jpeg"]
        poster = data / "pool" / ".catalog" / "previews" / ident / "poster.jpg"
        assert image.get_content() == poster.read_bytes()  # made by the server's previews
        cid = image["Content-ID"].strip("<>")
        assert f"cid:{cid}" in html.get_content()

        # a non-matching upload sends nothing
        upload_story(srv.ftp_port, "weather", "Hava durumu", clip)
        wait_for(lambda: caught_up(data) and len(outbox_rows(data)) == 1, 20, "catching up")
        assert len(box.messages) == 1
        [row] = outbox_rows(data)
        assert row["state"] == "delivered" and row["msg_id"] in msg["Message-ID"]


def test_relay_down_then_back_delivers_exactly_once(mail_data, server_factory, clip: Path):
    """The relay down for 30 s, counted from the first refused try, with the retries
    failing meanwhile; back on the same port, it gets the alert exactly once."""
    data, smtp_port = mail_data
    # retries 1, 2, then every 3 s: several fail during the outage, and the first one after
    # the relay returns comes within 3 s
    set_setting(data, "delivery", "backoff_seconds", "1.0")
    set_setting(data, "delivery", "backoff_max_seconds", "3.0")
    srv = server_factory(sftp=False, indexer=True)
    upload_story(srv.ftp_port, "nevruz", "Nevruz bayramı", clip)
    wait_for(lambda: [r for r in outbox_rows(data) if r["attempts"] >= 1], 90, "a refused try")
    [first] = outbox_rows(data)
    # the first try's time (a later one's if polling missed it: the outage only gets longer)
    first_refused = float(first["last_attempt"])
    assert first["state"] == "pending" and "refused" in first["last_error"].lower()

    # the retries go on during the outage, visible to the admin
    wait_for(lambda: outbox_rows(data)[0]["attempts"] >= 2, 10, "a second refused try")
    [shown] = json.loads(run_cli(data, "alert", "list", "--json").output)
    assert shown["pending"] == 1 and "refused" in shown["last_error"].lower()
    [listed] = json.loads(run_cli(data, "alert", "deliveries", "--json").output)
    assert listed["state"] == "pending" and listed["attempts"] >= 2

    time.sleep(max(0.0, first_refused + RELAY_OUTAGE_SECONDS - time.time()))  # the outage
    [row] = outbox_rows(data)
    failed = row["attempts"]
    assert row["state"] == "pending" and failed >= 2 and "refused" in row["last_error"].lower()
    with smtp_server(smtp_port) as box:  # back, on the same port
        assert time.time() - first_refused >= RELAY_OUTAGE_SECONDS
        wait_for(lambda: caught_up(data), 10, "the delivery after the relay's return")
        [row] = outbox_rows(data)
        assert row["state"] == "delivered" and row["attempts"] >= failed + 1
        [message_id] = [m["Message-ID"] for m in box.messages]  # one message: the alert's
        assert message_id.startswith(f"<{row['msg_id']}@")
        assert "Nevruz bayramı" in box.messages[0]["Subject"]
    with notifications(data) as service:
        [alert] = service.list_alerts(service.pool.accounts.get_user("news"))
    assert alert["delivered"] == 1 and alert["failed"] == 0 and alert["last_delivery"]
    [delivery] = json.loads(run_cli(data, "alert", "deliveries", "--json").output)
    assert delivery["state"] == "delivered" and delivery["attempts"] == row["attempts"]


def test_starttls_and_login(mail_data, server_factory, clip: Path, monkeypatch):
    """The relay wants STARTTLS (its certificate checked against [mail] ca_file) and a
    login, the password from the environment."""
    data, smtp_port = mail_data
    set_setting(data, "mail", "security", '"starttls"')
    set_setting(data, "mail", "user", '"ortak"')
    set_setting(data, "mail", "password_env", '"ORTAK_SMTP_PASSWORD"')
    set_setting(data, "mail", "ca_file", '"tls/cert.pem"')
    set_setting(data, "previews", "enabled", "false")
    monkeypatch.setenv("ORTAK_SMTP_PASSWORD", "relay-secret")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(data / "tls" / "cert.pem", data / "tls" / "key.pem")
    logins: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"relay-secret")

    with smtp_server(
        smtp_port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    ) as box:
        srv = server_factory(sftp=False, indexer=True)
        upload_story(srv.ftp_port, "nevruz", "Nevruz sabahı", clip)
        wait_for(lambda: box.messages, 20, "the alert e-mail over STARTTLS")
        assert "Nevruz sabahı" in box.messages[0]["Subject"]
        assert logins == [("ortak", "relay-secret")]
