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
