"""The published feed: atomic files, replay to an identical copy, crash recovery."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from catalog.errors import FeedError
from catalog.feed_reader import (
    apply_journal,
    install_snapshot,
    local_seq,
    plan_update,
    read_index,
    sync_from_folder,
)
from catalog.indexer import Indexer
from catalog.search import search

from .conftest import put, wait_for

TABLES = {
    "items": "SELECT * FROM items ORDER BY rid",
    "items_fts": "SELECT rowid, title, body, facets FROM items_fts ORDER BY rowid",
}


def dump(db_path: Path) -> dict[str, list]:
    con = sqlite3.connect(db_path)
    try:
        return {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}
    finally:
        con.close()


def items(ix: Indexer) -> list[str]:
    with ix.lock:
        return [r[0] for r in ix.db.execute("SELECT key FROM items")]


def burst(ix: Indexer, pool: Path, start: int, count: int) -> None:
    for i in range(start, start + count):
        put(pool, f"/TRT/news/s{i}.json", json.dumps({"title": f"Haber {i} İstanbul"}))
        if i % 5 == 0:
            put(pool, f"/TRT/news/s{i - 1}.json", json.dumps({"title": f"Düzeltme {i}"}))
        if i % 7 == 0:
            (pool / f"TRT/news/s{i - 2}.json").unlink(missing_ok=True)
    on_disk = {f"/TRT/news/{p.stem}" for p in (pool / "TRT/news").glob("*.json")}
    assert wait_for(lambda: set(items(ix)) == on_disk, timeout=20)
    assert wait_for(lambda: ix.wait_idle(0.2) and ix.feed.publish() is False, timeout=20)


def test_reader_reproduces_the_catalog(pool: Path, db_path: Path, settings, tmp_path: Path):
    settings["snapshot_every_changes"] = 25
    feed = pool / ".catalog"
    client = tmp_path / "client.db"
    early = tmp_path / "early.db"
    with Indexer(pool, db_path, settings) as ix:
        ix.start()
        burst(ix, pool, 1, 20)
        sync_from_folder(feed, early)  # a client that synced once, early
        burst(ix, pool, 21, 60)
        with ix.lock:
            latest = ix.db.execute("SELECT max(seq) FROM journal").fetchone()[0]
    index = read_index((feed / "index.json").read_bytes())
    assert index["seq"] == latest
    assert index["snapshot"]["seq"] > 25 and index["journals"]
    named = {index["snapshot"]["file"], *(j["file"] for j in index["journals"])}
    assert named <= set(os.listdir(feed))
    assert not [n for n in os.listdir(feed) if n.startswith(".ortak-")]
    for j in index["journals"]:
        assert (feed / j["file"]).stat().st_size == j["size"]

    assert sync_from_folder(feed, client) == latest
    assert dump(client) == dump(db_path)
    snap = sqlite3.connect(feed / index["snapshot"]["file"])
    try:
        snap.execute("INSERT INTO items_fts (items_fts) VALUES ('integrity-check')")
    finally:
        snap.close()
    plan = plan_update(index, local_seq_of(early))
    assert sync_from_folder(feed, early) == latest
    assert dump(early) == dump(db_path)
    assert plan.snapshot is None, "a client within the journal window needs no snapshot"

    con = sqlite3.connect(client)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        indexer_state = con.execute("SELECT count(*) FROM item_files").fetchone()[0]
    finally:
        con.close()
    assert not tables & {"members", "users", "audit", "user_keys", "bans"}
    assert indexer_state == 0


def local_seq_of(path: Path) -> int:
    from catalog.schema import open_catalog

    db = open_catalog(path)
    try:
        return local_seq(db)
    finally:
        db.conn.close()


def test_search_works_on_the_snapshot(pool: Path, db_path: Path, settings, tmp_path: Path):
    put(pool, "/QAZAQ/news/a.json", '{"title": "Қазақстан жаңалықтары"}')
    Indexer(pool, db_path, settings).run_once(timeout=30)
    index = read_index((pool / ".catalog/index.json").read_bytes())
    db = install_snapshot(pool / ".catalog" / index["snapshot"]["file"], tmp_path / "c.db")
    try:
        assert [r["path"] for r in search(db, "qazaqstan")] == ["/QAZAQ/news/a.json"]
    finally:
        db.conn.close()


def test_torn_lines_gaps_and_replays(pool: Path, db_path: Path, settings, tmp_path: Path):
    for i in range(5):
        put(pool, f"/TRT/news/t{i}.json", f'{{"title": "t{i}"}}')
    settings["snapshot_every_changes"] = 1000
    with Indexer(pool, db_path, settings) as ix:
        ix.start()
        assert ix.wait_idle(30)
        ix.feed.publish()
        put(pool, "/TRT/news/t9.json", '{"title": "t9"}')
        put(pool, "/TRT/news/t8.json", '{"title": "t8"}')
        assert wait_for(lambda: len(items(ix)) == 7)
        assert wait_for(lambda: ix.wait_idle(0.2) and ix.feed.publish() is False, timeout=20)
    index = read_index((pool / ".catalog/index.json").read_bytes())
    data = (pool / ".catalog" / index["journals"][-1]["file"]).read_bytes()
    db = install_snapshot(pool / ".catalog" / index["snapshot"]["file"], tmp_path / "c.db")
    try:
        start = local_seq(db)
        lines = data.splitlines(keepends=True)
        assert apply_journal(db, lines[0] + lines[1][:10]) == start + 1  # torn: not applied
        assert apply_journal(db, data) == index["seq"]
        assert apply_journal(db, data) == index["seq"]  # idempotent
        with pytest.raises(FeedError, match="jumps"):
            apply_journal(
                db, json.dumps({"seq": index["seq"] + 5, "op": "delete", "id": "x"}) + "\n"
            )
    finally:
        db.conn.close()
    with pytest.raises(FeedError):
        read_index(b'{"format": "something else"}')


def test_unannounced_journal_bytes_are_cut_on_restart(pool: Path, db_path: Path, settings):
    put(pool, "/TRT/news/a.json", '{"title": "a"}')
    Indexer(pool, db_path, settings).run_once(timeout=30)
    put(pool, "/TRT/news/b.json", '{"title": "b"}')
    Indexer(pool, db_path, settings).run_once(timeout=30)
    feed = pool / ".catalog"
    index = read_index((feed / "index.json").read_bytes())
    seg = feed / index["journals"][-1]["file"]
    with open(seg, "ab") as f:
        f.write(b'{"seq": 999, "op": "del')  # a crash in the middle of an append
    put(pool, "/TRT/news/c.json", '{"title": "c"}')
    Indexer(pool, db_path, settings).run_once(timeout=30)
    index = read_index((feed / "index.json").read_bytes())
    for line in (feed / index["journals"][-1]["file"]).read_bytes().splitlines():
        json.loads(line)
    assert sync_from_folder(feed, pool.parent / "client.db") == index["seq"]
    assert dump(pool.parent / "client.db") == dump(db_path)


def test_reader_stops_at_the_announced_size(pool: Path, db_path: Path, settings, tmp_path):
    """FEED.md reading rule 3: records appended after index.json was written (the indexer
    between its append and its index) are not applied; the copy is at the index's seq."""
    put(pool, "/TRT/news/a.json", '{"title": "a"}')
    Indexer(pool, db_path, settings).run_once(timeout=30)
    put(pool, "/TRT/news/b.json", '{"title": "b"}')
    Indexer(pool, db_path, settings).run_once(timeout=30)
    feed = pool / ".catalog"
    index = read_index((feed / "index.json").read_bytes())
    seg = index["journals"][-1]
    with sqlite3.connect(db_path) as con:
        (a_id,) = con.execute("SELECT id FROM items WHERE key = '/TRT/news/a'").fetchone()
    ahead = {"seq": index["seq"] + 1, "time": "t", "op": "delete", "id": a_id}
    with open(feed / seg["file"], "ab") as f:
        f.write(json.dumps(ahead).encode() + b"\n")  # complete, but not announced yet
    client = tmp_path / "client.db"
    assert sync_from_folder(feed, client) == index["seq"]
    assert dump(client) == dump(db_path)


def _strict(text: str):
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_the_writer_never_publishes_non_finite_numbers():
    """A record stored before numbers were checked (duration Infinity, width NaN) is
    published as null; a row holding one is refused before it reaches the journal."""
    from catalog.feed import journal_line
    from catalog.items import encode_row

    legacy = '{"id":"TRT-1","duration":Infinity,"width":NaN,"frame_rate":-Infinity}'
    line = journal_line(7, "t", "upsert", "TRT-1", legacy).decode()
    item = _strict(line)["item"]
    assert (item["duration"], item["width"], item["frame_rate"]) == (None, None, None)
    with pytest.raises(ValueError):
        encode_row({"audio": [{"channels": float("inf")}]})
