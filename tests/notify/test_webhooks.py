"""Event webhooks end to end: a real `pool-server serve` (FTP + indexer), uploads over
ftplib, a real HTTP receiver on 127.0.0.1 (allowed by the admin), signatures checked
with the Standard Webhooks library."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from ..helpers import ftp_login, run_cli, set_setting, wait_for
from .helpers import Receiver, db_value, fast_delivery, notifications, outbox_rows


def add_endpoint(data: Path, url: str, *args: str) -> dict:
    result = run_cli(data, "webhook", "add", url, "--allow-private", "--json", *args)
    return json.loads(result.output)


def upload(port: int, name: str, content: bytes) -> None:
    with ftp_login(port, "trt-up") as ftp:
        ftp.storbinary(f"STOR /TRT/{name}", io.BytesIO(content))


@pytest.fixture
def pool_data(data: Path) -> Path:
    fast_delivery(data)
    (data / "pool" / "TRT").mkdir(exist_ok=True)
    return data


def test_item_published_signed(pool_data: Path, server_factory, clip: Path):
    set_setting(pool_data, "previews", "enabled", "true")
    set_setting(pool_data, "previews", "strip_interval_seconds", "1.0")  # a 3 s clip
    with Receiver() as rx:
        endpoint = add_endpoint(
            pool_data, rx.url, "--event", "item.published", "--event", "preview.ready"
        )
        srv = server_factory(sftp=False, indexer=True, http=True)
        upload(srv.ftp_port, "flood.mp4", clip.read_bytes())
        wait_for(lambda: rx.of_type("item.published"), 20, "item.published")
        [req] = rx.of_type("item.published")
        payload = Webhook(endpoint["secret"]).verify(req["body"], req["headers"])
        assert payload["version"] == 1
        assert payload["data"]["path"] == "/TRT/flood.mp4"
        assert payload["data"]["member"] == "TRT"
        assert req["headers"]["webhook-id"].startswith("msg_")
        # the links lead to the running web door: the API has the item
        links = payload["data"]["links"]
        assert links["page"] == f"http://127.0.0.1:{srv.http_port}/items/{payload['data']['id']}"
        token = json.loads(run_cli(pool_data, "token", "create", "news", "--json").output)
        auth = {"Authorization": f"Bearer {token['token']}"}
        assert httpx.get(links["api"], headers=auth).json()["path"] == "/TRT/flood.mp4"
        # a tampered body does not verify
        with pytest.raises(Exception, match="signature"):
            Webhook(endpoint["secret"]).verify(req["body"].replace("TRT", "XXX"), req["headers"])
        # the previews made by the server: preview.ready, once, with the poster
        wait_for(lambda: rx.of_type("preview.ready"), 90, "preview.ready")
        [ready] = rx.of_type("preview.ready")
        data = Webhook(endpoint["secret"]).verify(ready["body"], ready["headers"])["data"]
        assert data["item"]["id"] == payload["data"]["id"] and "poster.jpg" in data["files"]
        # only the subscribed events were sent (no item.updated for the previews)
        types = sorted(json.loads(r["body"])["type"] for r in rx.requests)
        assert types == ["item.published", "preview.ready"]
        listing = json.loads(run_cli(pool_data, "webhook", "list", "--json").output)
        wait_for(
            lambda: json.loads(run_cli(pool_data, "webhook", "list", "--json").output)[0][
                "last_delivery"
            ],
            10,
            "last delivery shown",
        )
        assert listing[0]["failed"] == 0


def test_third_try_after_two_500s(pool_data: Path, server_factory, clip: Path):
    with Receiver(statuses=[500, 500]) as rx:
        add_endpoint(pool_data, rx.url, "--event", "upload.completed")
        srv = server_factory(sftp=False, indexer=False)
        upload(srv.ftp_port, "a.mp4", clip.read_bytes())
        wait_for(
            lambda: [r for r in outbox_rows(pool_data) if r["state"] == "delivered"],
            20,
            "delivered after retries",
        )
        reqs = rx.of_type("upload.completed")
        assert [r["status"] for r in reqs] == [500, 500, 200]
        assert len({r["headers"]["webhook-id"] for r in reqs}) == 1
        [row] = outbox_rows(pool_data)
        assert row["attempts"] == 3 and row["last_error"] is None
        shown = run_cli(pool_data, "webhook", "deliveries", "--json")
        assert json.loads(shown.output)[0]["state"] == "delivered"


def test_sigkill_with_pending_delivery_then_restart(pool_data: Path, server_factory, clip: Path):
    with Receiver() as rx:
        rx.status = 503
        add_endpoint(pool_data, rx.url, "--event", "upload.completed")
        srv = server_factory(sftp=False, indexer=False)
        upload(srv.ftp_port, "b.mp4", clip.read_bytes())
        wait_for(
            lambda: [r for r in outbox_rows(pool_data) if r["attempts"] >= 1],
            20,
            "a failed first try",
        )
        srv.kill()
        [pending] = outbox_rows(pool_data)
        assert pending["state"] == "pending"
        rx.status = None  # the receiver is back
        server_factory(sftp=False, indexer=False)
        wait_for(
            lambda: outbox_rows(pool_data)[0]["state"] == "delivered", 20, "delivery after restart"
        )
        ok = [r for r in rx.of_type("upload.completed") if r["status"] == 200]
        assert len(ok) == 1
        assert ok[0]["headers"]["webhook-id"] == pending["msg_id"]
        assert len(outbox_rows(pool_data)) == 1  # the restart made no second delivery


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:22/", "http://10.0.0.1/hook", "http://localhost:8080/"]
)
def test_private_targets_refused_unless_allowed(data: Path, url: str):
    refused = run_cli(data, "webhook", "add", url, expect=1)
    assert "loopback, private or link-local" in refused.output
    with notifications(data) as service:
        contributor = service.pool.accounts.get_user("trt-up")
        with pytest.raises(Exception, match="loopback, private or link-local"):
            service.add_endpoint(contributor, url)
        with pytest.raises(Exception, match="only an admin"):
            service.add_endpoint(contributor, url, allow_private=True)
        with pytest.raises(Exception, match="loopback, private or link-local"):
            service.add_alert(contributor, "x", "flood", webhook=url)
        assert service.list_endpoints(None) == []
    # the admin allows it: per endpoint, or for a network in pool.toml
    run_cli(data, "webhook", "add", url, "--allow-private")
    set_setting(data, "webhooks", "allow_private", '["127.0.0.1", "::1", "10.0.0.0/8"]')
    with notifications(data) as service:
        contributor = service.pool.accounts.get_user("trt-up")
        added = service.add_endpoint(contributor, url)
        assert added["member"] == "TRT" and not added["allow_private"]


def test_refused_at_delivery_time_too(pool_data: Path, server_factory, clip: Path):
    """An endpoint that became private after it was registered is refused when sent."""
    with Receiver() as rx:
        set_setting(pool_data, "webhooks", "allow_private", '["127.0.0.1"]')
        with notifications(pool_data) as service:
            service.add_endpoint(None, rx.url, ["upload.completed"])
        set_setting(pool_data, "webhooks", "allow_private", "[]")
        srv = server_factory(sftp=False, indexer=False)
        upload(srv.ftp_port, "c.mp4", clip.read_bytes())
        wait_for(lambda: outbox_rows(pool_data, "state = 'failed'"), 20, "refused delivery")
        [row] = outbox_rows(pool_data)
        assert "loopback" in row["last_error"] and row["attempts"] == 1
        assert rx.requests == []


def test_webhook_test_command(data: Path):
    with Receiver() as rx:
        endpoint = add_endpoint(data, rx.url)
        out = run_cli(data, "webhook", "test", str(endpoint["id"]))
        assert "delivered" in out.output
        [req] = rx.requests
        assert Webhook(endpoint["secret"]).verify(req["body"], req["headers"])["type"] == (
            "webhook.test"
        )
        rx.status = 500
        failed = run_cli(data, "webhook", "test", str(endpoint["id"]), expect=1)
        assert "HTTP 500" in failed.output
        run_cli(data, "webhook", "remove", str(endpoint["id"]))
        assert json.loads(run_cli(data, "webhook", "list", "--json").output) == []


def test_take_and_quota_events(pool_data: Path, server_factory, clip: Path):
    with Receiver() as rx:
        trt = add_endpoint(
            pool_data,
            rx.url,
            "--member",
            "TRT",
            "--event",
            "take.completed",
            "--event",
            "quota.warning",
        )
        add_endpoint(pool_data, rx.url + "/aztv", "--member", "AZTV", "--event", "take.completed")
        run_cli(pool_data, "quota", "set", "TRT", str(len(clip.read_bytes()) + 1000))
        srv = server_factory(sftp=False, indexer=True)
        upload(srv.ftp_port, "take-me.mp4", clip.read_bytes())
        wait_for(lambda: rx.of_type("quota.warning"), 20, "quota.warning")
        [warning] = rx.of_type("quota.warning")
        data = Webhook(trt["secret"]).verify(warning["body"], warning["headers"])["data"]
        assert data["member"] == "TRT" and data["percent"] >= 90
        wait_for(
            lambda: db_value(pool_data, "SELECT count(*) FROM item_versions"),
            20,
            "the item catalogued and seen",
        )
        with ftp_login(srv.ftp_port, "aztv-up") as ftp:
            ftp.retrbinary("RETR /TRT/take-me.mp4", lambda b: None)
        wait_for(lambda: rx.of_type("take.completed"), 20, "take.completed")
        [take] = rx.of_type("take.completed")
        assert take["path"] == "/hook"  # to the contributing member, not to the taker's
        data = Webhook(trt["secret"]).verify(take["body"], take["headers"])["data"]
        assert data["taker"] == {"user": "aztv-up", "member": "AZTV"}
        assert data["item"]["path"] == "/TRT/take-me.mp4" and data["file"] == "/TRT/take-me.mp4"
        assert len(rx.of_type("quota.warning")) == 1  # once per crossing


def test_sigkill_mid_send_resends_with_the_same_id(pool_data: Path, server_factory, clip: Path):
    """The server dies while a receiver holds its request: the lease of the dead process
    is released at restart (not after [delivery] lease_seconds) and the delivery is sent
    again with the same webhook-id, for the receiver to drop as a repeat."""
    with Receiver() as rx:
        release = threading.Event()
        rx.hold = release
        add_endpoint(pool_data, rx.url, "--event", "upload.completed")
        srv = server_factory(sftp=False, indexer=False)
        upload(srv.ftp_port, "d.mp4", clip.read_bytes())
        wait_for(lambda: rx.requests, 20, "the first try to arrive")
        srv.kill()
        release.set()
        [row] = outbox_rows(pool_data)
        assert row["state"] == "pending" and row["lease_owner"]
        server_factory(sftp=False, indexer=False)
        wait_for(lambda: len(rx.requests) == 2, 20, "the second try after restart")
        first, second = rx.requests
        assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
        wait_for(lambda: outbox_rows(pool_data)[0]["state"] == "delivered", 10, "delivered")
        assert len({r["headers"]["webhook-id"] for r in rx.requests}) == 1


def test_bad_settings_are_refused_with_their_name(data: Path):
    set_setting(data, "webhooks", "allow_private", '["not-a-network"]')
    out = run_cli(data, "webhook", "list", expect=1)
    assert "[webhooks] allow_private: 'not-a-network'" in out.output
    set_setting(data, "webhooks", "allow_private", "[]")
    set_setting(data, "mail", "security", '"ssl"')
    out = run_cli(data, "alert", "list", expect=1)
    assert "[mail] security 'ssl'" in out.output
