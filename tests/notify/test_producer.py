"""What the producer makes of catalog changes: alert hits once per item version,
embargoes, digests, item and audit events. Real files indexed by the real indexer into
a real pool.db; the producer's cycle run with chosen clocks."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from catalog.indexer import Indexer
from pool_server.notify import outbox
from pool_server.notify.producer import Producer, start_positions
from pool_server.notify.service import Notifications

from .helpers import notifications, outbox_rows


def put(data: Path, rel: str, sidecar: dict[str, Any], clip: Path | None = None) -> None:
    folder = data / "pool" / Path(rel).parent
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(rel).name
    (folder / f"{stem}.json").write_text(json.dumps(sidecar), encoding="utf-8")
    if clip is not None:
        (folder / f"{stem}.mp4").write_bytes(clip.read_bytes())


def index(data: Path) -> None:
    Indexer(data / "pool", data / "pool.db", publish_feed=False).run_once(timeout=60)


@pytest.fixture
def service(data: Path):
    with notifications(data) as s:
        start_positions(s.conn)
        yield s


def producer(service: Notifications) -> Producer:
    s = service.settings
    return Producer(service.conn, s.producer, s.retry)


def later(seconds: float = 5.0) -> float:
    """A clock past the settle time of what was just indexed."""
    return time.time() + seconds


def emails(data: Path) -> list[dict[str, Any]]:
    rows = outbox_rows(data, "channel = 'email' ORDER BY id")
    return [{**r, "payload": json.loads(r["payload"])} for r in rows]


def test_once_per_item_version(data: Path, service: Notifications, clip: Path):
    reader = service.pool.accounts.get_user("news")
    service.add_alert(reader, "floods", "flood", {"member": "TRT"}, email="desk@example.org")
    put(data, "TRT/news/flood", {"title": "Flood in Rize", "description": "Rivers rise."}, clip)
    put(data, "AZTV/news/flood", {"title": "Flood in Baku"})  # another member: no match
    put(data, "TRT/news/fire", {"title": "Forest fire"})  # no match
    index(data)
    assert producer(service).cycle(now=later()) >= 1
    [mail] = emails(data)
    [item] = mail["payload"]["items"]
    assert item["title"] == "Flood in Rize" and item["excerpt"] == "Rivers rise."
    assert item["duration"] and item["has_video"]

    # re-indexed without a change a reader would notice (mtime touched): no second alert
    os.utime(data / "pool/TRT/news/flood.json")
    index(data)
    producer(service).cycle(now=later())
    assert len(emails(data)) == 1

    # a new version (the dope sheet changed): one more alert
    put(data, "TRT/news/flood", {"title": "Flood in Rize", "description": "Bridges closed."})
    index(data)
    producer(service).cycle(now=later())
    producer(service).cycle(now=later())
    assert [m["payload"]["items"][0]["excerpt"] for m in emails(data)] == [
        "Rivers rise.",
        "Bridges closed.",
    ]
    [alert] = service.list_alerts(reader)
    assert alert["matches"] == 2 and alert["pending"] == 2
    assert [n["title"] for n in service.notifications(reader)] == ["Flood in Rize"] * 2


def test_changes_younger_than_settle_wait(data: Path, service: Notifications):
    reader = service.pool.accounts.get_user("news")
    service.add_alert(reader, "floods", "flood", email="desk@example.org")
    put(data, "TRT/news/flood", {"title": "Flood"})
    index(data)
    assert producer(service).cycle(now=time.time() - 60) == 0
    assert emails(data) == []
    producer(service).cycle(now=later())
    assert len(emails(data)) == 1


def test_embargoed_item_alerts_when_the_embargo_lifts(data: Path, service: Notifications):
    reader = service.pool.accounts.get_user("news")
    service.add_alert(reader, "summit", "summit", email="desk@example.org")
    service.add_endpoint(None, "http://127.0.0.1:9/", ["item.published"], allow_private=True)
    lift = time.time() + 3600
    embargo = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(lift))
    put(data, "TRT/news/summit", {"title": "Summit opens", "embargo": embargo})
    index(data)
    producer(service).cycle(now=later())
    assert emails(data) == []  # members' systems hear of it, newsrooms wait
    [event] = outbox_rows(data, "event = 'item.published'")
    assert json.loads(event["payload"])["data"]["embargo"] == embargo
    producer(service).cycle(now=lift - 10)
    assert emails(data) == []
    producer(service).cycle(now=lift + 1)
    [mail] = emails(data)
    assert mail["payload"]["items"][0]["title"] == "Summit opens"
    producer(service).cycle(now=lift + 60)
    assert len(emails(data)) == 1


def test_hourly_digest(data: Path, service: Notifications):
    reader = service.pool.accounts.get_user("news")
    service.add_alert(reader, "quakes", "quake", email="desk@example.org", mode="hourly")
    put(data, "TRT/news/q1", {"title": "Quake in Van"})
    put(data, "TRT/news/q2", {"title": "Quake aftershock"})
    index(data)
    producer(service).cycle(now=later())
    assert emails(data) == []
    producer(service).cycle(now=time.time() + 3700)
    [digest] = emails(data)
    assert digest["payload"]["digest"] == "hourly"
    assert sorted(i["title"] for i in digest["payload"]["items"]) == [
        "Quake aftershock",
        "Quake in Van",
    ]
    producer(service).cycle(now=time.time() + 7400)
    assert len(emails(data)) == 1  # nothing new: no empty digest


def test_item_events_and_withdrawal(data: Path, service: Notifications):
    service.add_endpoint(None, "http://127.0.0.1:9/", allow_private=True)
    service.add_endpoint(None, "http://127.0.0.1:9/aztv", member="AZTV", allow_private=True)
    put(data, "TRT/news/a", {"title": "A"})
    index(data)
    producer(service).cycle(now=later())
    put(data, "TRT/news/a", {"title": "A, updated"})
    index(data)
    producer(service).cycle(now=later())
    for name in ("a.json",):
        (data / "pool/TRT/news" / name).unlink()
    index(data)
    producer(service).cycle(now=later())
    rows = outbox_rows(data, "1 ORDER BY id")
    assert [(r["event"], r["target"]) for r in rows] == [
        ("item.published", "http://127.0.0.1:9/"),
        ("item.updated", "http://127.0.0.1:9/"),
        ("item.withdrawn", "http://127.0.0.1:9/"),
    ]  # AZTV's endpoint hears nothing of TRT's items
    assert json.loads(rows[2]["payload"])["data"]["member"] == "TRT"


def test_items_before_alerts_existed_do_not_alert(data: Path, clip: Path):
    put(data, "TRT/news/old", {"title": "Old flood"})
    index(data)
    with notifications(data) as service:
        start_positions(service.conn)
        reader = service.pool.accounts.get_user("news")
        service.add_alert(reader, "floods", "flood", email="desk@example.org")
        producer(service).cycle(now=later())
    assert emails(data) == []


def test_bad_saved_search_is_refused(data: Path, service: Notifications):
    reader = service.pool.accounts.get_user("news")
    with pytest.raises(Exception, match="language"):
        service.add_alert(reader, "x", "flood", {"language": "not a language"})
    with pytest.raises(Exception, match="unknown search filter"):
        service.add_alert(reader, "x", "flood", {"colour": "red"})
    with pytest.raises(Exception, match="e-mail"):
        service.add_alert(reader, "x", "flood", email="not-an-address")
    service.add_alert(reader, "x", "flood")
    with pytest.raises(Exception, match="already"):
        service.add_alert(reader, "x", "other")
    assert [a["name"] for a in service.list_alerts(reader)] == ["x"]


def test_old_deliveries_and_matches_are_purged(data: Path, service: Notifications):
    reader = service.pool.accounts.get_user("news")
    service.add_alert(reader, "floods", "flood", email="desk@example.org")
    put(data, "TRT/news/flood", {"title": "Flood"})
    index(data)
    producer(service).cycle(now=later())
    conn = service.conn
    conn.execute("UPDATE outbox SET state = 'delivered'")
    now = time.time()
    assert outbox.purge(conn, 30 * 86400, now=now) == 0  # young: kept
    assert outbox.purge(conn, 30 * 86400, now=now + 31 * 86400) == 2  # the row and the hit
    assert outbox_rows(data) == [] and service.notifications(reader) == []
    # the version is still known: the same item does not alert again
    producer(service).cycle(now=later())
    assert outbox_rows(data) == []
