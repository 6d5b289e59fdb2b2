"""SIGKILL the indexer again and again while it publishes the feed (a snapshot every
few changes, journals appended all the time): right after each kill a client still
reads a consistent snapshot and journal, and after a restart the feed reproduces the
catalog exactly."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from catalog.feed_reader import sync_from_folder

from .catalog.checks import catalog_problems, disk_state
from .helpers import POOL_SERVER, set_setting

KILLS = 4


def items(db: Path) -> dict[str, str]:
    with sqlite3.connect(db, timeout=30) as con:
        try:
            return dict(con.execute("SELECT id, sha256 FROM items"))
        except sqlite3.OperationalError:
            return {}


def wait_for_feed_past(feed: Path, seq: int, proc: subprocess.Popen, timeout: float = 60) -> int:
    """Poll index.json until it announces a seq above `seq`; returns that seq."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the indexer exited with {proc.returncode}"
        try:
            current = json.loads((feed / "index.json").read_text())["seq"]
        except (OSError, ValueError, KeyError):
            current = -1  # not published yet (index.json is replaced atomically)
        if current > seq:
            return int(current)
        time.sleep(0.02)
    raise AssertionError(f"no feed past seq {seq} within {timeout} s")


def test_sigkill_while_publishing_the_feed(data: Path, tmp_path: Path) -> None:
    set_setting(data, "catalog", "snapshot_every_changes", "25")
    pool = data / "pool"
    for i in range(400):
        folder = pool / ("TRT", "AZTV", "QAZAQ")[i % 3] / "news"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"story{i}.json").write_text(json.dumps({"title": f"Nevruz {i}"}))
    feed = pool / ".catalog"
    late = 0  # files added between kills
    last_seq = -1  # the feed's seq at the last kill
    for kill in range(KILLS):
        proc = subprocess.Popen(
            [POOL_SERVER, "--data", str(data), "index"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # Kill as soon as this run has published something: the first index.json,
            # then each time a publication past the previous kill's (the late file added
            # after each kill guarantees one) — somewhere in the ingest, the snapshots,
            # the journals.
            seq = wait_for_feed_past(feed, last_seq, proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        index = json.loads((feed / "index.json").read_text())
        assert index["seq"] >= seq > last_seq
        last_seq = index["seq"]
        copy = tmp_path / f"client-{kill}.db"
        seq = sync_from_folder(feed, copy)  # raises on a torn or inconsistent feed
        assert seq == index["seq"]
        published, indexed = items(copy), items(data / "pool.db")
        assert set(published) <= set(indexed)  # the feed never runs ahead of the catalog
        snap = index["snapshot"]
        body = (feed / snap["file"]).read_bytes()  # whole, as the index describes it
        assert len(body) == snap["size"]
        assert hashlib.sha256(body).hexdigest() == snap["sha256"]
        for journal in index["journals"]:
            assert (feed / journal["file"]).stat().st_size >= journal["size"]
        (pool / "TRT" / "news" / f"late{kill}.json").write_text('{"title": "late"}')
        late += 1

    done = subprocess.run(
        [POOL_SERVER, "--data", str(data), "index", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert catalog_problems(data / "pool.db", disk_state(pool)) == []
    final = tmp_path / "client-final.db"
    sync_from_folder(feed, final)
    assert items(final) == items(data / "pool.db")
    assert late > 0 and len(items(final)) == 400 + late
