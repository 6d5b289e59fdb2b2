"""`pool update`: resumes the journal from the byte offset it has; takes a snapshot only
when it has fallen behind the oldest journal kept."""

from __future__ import annotations

import json

from ..helpers import set_setting
from .conftest import Pool
from .proxy import CommandCounter


def _upload_many(pool: Pool, names: list[str]) -> None:
    for name in names:
        pool.upload(f"/TRT/news/{name}.mp4", name.encode() * 100)


def test_update_reads_only_the_new_journal_records(pool: Pool) -> None:
    counter = CommandCounter(pool.server.ftp_port)
    via = {"port": counter.port}
    try:
        _check_journal_resumption(pool, counter, via)
    finally:
        counter.stop()


def _check_journal_resumption(pool: Pool, counter: CommandCounter, via: dict) -> None:
    _upload_many(pool, ["a1", "a2", "a3"])
    pool.wait_items(3)
    assert pool.json("update", **via)["added"] == 3
    _upload_many(pool, ["c0"])  # the client now holds part of a journal segment
    pool.wait_items(4)
    assert pool.json("update", **via)["added"] == 1
    before = json.loads((pool.feed_dir / "index.json").read_text())
    offset = before["journals"][-1]["size"]

    _upload_many(pool, [f"b{i}" for i in range(10)])
    pool.wait_items(14)
    after = json.loads((pool.feed_dir / "index.json").read_text())
    journal = after["journals"][-1]
    assert journal["file"] == before["journals"][-1]["file"]  # same segment, appended

    counter.reset()
    upd = pool.json("update", **via)
    assert upd["records"] == 10 and upd["added"] == 10 and not upd["snapshot"]
    assert upd["journal_bytes"] == journal["size"] - offset  # only those records
    assert upd["seq"] == after["seq"]
    cmds = counter.commands
    assert f"REST {offset}" in cmds, cmds
    assert cmds[cmds.index(f"REST {offset}") + 1] == f"RETR /.catalog/{journal['file']}"
    assert not any(c.startswith("RETR /.catalog/snapshot") for c in cmds)
    assert len(pool.json("search", "", "--member", "TRT", "--limit", "100", **via)) == 14


def test_update_behind_the_journal_window_takes_a_snapshot(server_factory, data, tmp_path) -> None:
    set_setting(data, "catalog", "snapshot_every_changes", "5")
    set_setting(data, "catalog", "journal_keep_days", "0")
    home = tmp_path / "client"
    home.mkdir()
    pool = Pool(server_factory(sftp=False, indexer=True), home)
    _upload_many(pool, ["a1", "a2"])
    pool.wait_items(2)
    first = pool.json("update")
    assert first["seq"] >= 2

    _upload_many(pool, [f"b{i}" for i in range(10)])
    pool.wait_items(12)
    index = json.loads((pool.feed_dir / "index.json").read_text())
    assert index["snapshot"]["seq"] > first["seq"]
    assert all(j["first_seq"] > first["seq"] + 1 for j in index["journals"])  # window passed
    upd = pool.json("update")
    assert upd["snapshot"] and upd["added"] == 10 and upd["removed"] == 0
    assert upd["seq"] == index["seq"]
    assert "up to date" in pool.run("update").stdout


def test_update_applies_the_journal_only_to_the_announced_size(
    server_factory, data, tmp_path
) -> None:
    """FEED.md reading rule 3, on the client's side: a complete record appended to the
    journal after index.json was written (the indexer between its append and its index)
    is not applied by `pool update`, over FTP and SFTP alike; the copy is at the index's
    seq and still holds the item that record would delete."""
    home = tmp_path / "client"
    home.mkdir()
    pool = Pool(server_factory(sftp=True, indexer=True), home)
    _upload_many(pool, ["first"])  # the first item starts the feed with a snapshot
    pool.wait_indexed(lambda index: index["seq"] >= 1, what="the first snapshot")
    _upload_many(pool, ["kept"])  # this one is a journal record
    pool.wait_indexed(lambda index: bool(index["journals"]), what="the item's journal record")
    pool.wait_items(2)
    pool.server.stop()  # no indexer from here on: the feed stays as it is now
    pool = Pool(server_factory(sftp=True, indexer=False), home)
    index = json.loads((pool.feed_dir / "index.json").read_text())
    journal = index["journals"][-1]
    assert (pool.feed_dir / journal["file"]).stat().st_size == journal["size"]
    assert pool.json("update")["seq"] == index["seq"]
    [item] = pool.json("search", "kept", "--member", "TRT")
    ahead = {"seq": index["seq"] + 1, "time": "t", "op": "delete", "id": item["id"]}
    with open(pool.feed_dir / journal["file"], "ab") as f:
        f.write(json.dumps(ahead).encode() + b"\n")  # complete, but not announced
    for scheme in ("ftp", "sftp"):
        cache = f"fresh-{scheme}"  # a new client reads the whole journal
        upd = pool.json("update", scheme=scheme, cache=cache)
        assert upd["seq"] == index["seq"] and upd["journal_bytes"] == journal["size"], upd
        found = pool.json("search", "kept", scheme=scheme, cache=cache)
        assert [i["id"] for i in found] == [item["id"]]
