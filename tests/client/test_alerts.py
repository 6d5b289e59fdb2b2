"""`pool alert add|list|remove|matches` through the control channel, over FTP, FTPS and
SFTP alike; a matching upload reaches the alert's webhook, signed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from ..helpers import set_setting
from ..notify.helpers import Receiver, fast_delivery
from .conftest import SCHEMES, Pool, wait_for


@pytest.fixture
def alert_pool(data: Path, server_factory, tmp_path: Path) -> Pool:
    fast_delivery(data)
    set_setting(data, "webhooks", "allow_private", '["127.0.0.1"]')
    home = tmp_path / "client"
    home.mkdir()
    return Pool(server_factory(sftp=True, indexer=True), home)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_add_list_remove(alert_pool: Pool, scheme: str) -> None:
    added = alert_pool.json(
        "alert",
        "add",
        "seller",
        "Nevruz kutlaması",
        "--member",
        "TRT",
        "--lang",
        "tr",
        "--since",
        "2026-01-01",
        "--email",
        "desk@example.org",
        "--digest",
        "daily",
        scheme=scheme,
    )
    assert added["filters"] == {
        "member": "TRT",
        "language": "tr",
        "since": "2026-01-01T00:00:00+00:00",
    }
    assert (added["query"], added["mode"], added["email"]) == (
        "Nevruz kutlaması",
        "daily",
        "desk@example.org",
    )
    [listed] = alert_pool.json("alert", "list", scheme=scheme)
    assert listed["name"] == "seller" and listed["failed"] == 0
    text = alert_pool.run("alert", "list", scheme=scheme).stdout
    assert "seller" in text and "desk@example.org" in text
    # another user sees none of it, and cannot remove it
    assert alert_pool.json("alert", "list", user="aztv-up", scheme=scheme) == []
    other = alert_pool.run("alert", "remove", "seller", user="aztv-up", scheme=scheme, expect=None)
    assert other.exit_code != 0 and "no alert 'seller'" in other.output.lower()
    dup = alert_pool.run("alert", "add", "seller", "x", scheme=scheme, expect=1)
    assert "already" in dup.output
    alert_pool.run("alert", "remove", "seller", scheme=scheme)
    assert alert_pool.json("alert", "list", scheme=scheme) == []


@pytest.mark.parametrize("scheme", SCHEMES)
def test_private_webhook_refused(alert_pool: Pool, scheme: str) -> None:
    refused = alert_pool.run(
        "alert", "add", "x", "flood", "--webhook", "http://10.0.0.1/hook", scheme=scheme, expect=2
    )
    assert "loopback, private or link-local" in refused.output
    assert alert_pool.json("alert", "list", scheme=scheme) == []


def test_matching_upload_reaches_the_alert_webhook(alert_pool: Pool) -> None:
    with Receiver() as rx:
        added = alert_pool.json(
            "alert", "add", "floods", "flood", "--webhook", rx.url, scheme="sftp"
        )
        alert_pool.upload("/TRT/news/rize.json", json.dumps({"title": "Flood in Rize"}).encode())
        alert_pool.upload("/TRT/news/van.json", json.dumps({"title": "Quake in Van"}).encode())
        wait_for(lambda: rx.of_type("alert.matched"), 20, "alert.matched")
        [req] = rx.of_type("alert.matched")
        body = Webhook(added["webhook_secret"]).verify(req["body"], req["headers"])
        assert body["data"]["alert"]["name"] == "floods"
        assert [i["title"] for i in body["data"]["items"]] == ["Flood in Rize"]
        wait_for(lambda: alert_pool.json("alert", "list")[0]["last_delivery"], 10, "delivery")
        [match] = alert_pool.json("alert", "matches")
        assert (match["alert"], match["title"]) == ("floods", "Flood in Rize")
