"""The indexer against real files and a real watchdog observer."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from catalog.extract import extract_file
from catalog.indexer import Indexer
from catalog.search import search
from catalog.store import get_item_row

from .conftest import FIXTURES, put, wait_for
from .test_sidecars import LAUGHS, XXE


def item(ix: Indexer, key: str) -> dict[str, Any] | None:
    with ix.lock:
        return get_item_row(ix.db, key=key)


def find(ix: Indexer, query: str, **filters: Any) -> list[dict[str, Any]]:
    with ix.lock:
        return search(ix.db, query, **filters)


def journal(ix: Indexer) -> list[tuple[int, str, str]]:
    with ix.lock:
        return ix.db.execute("SELECT seq, op, item_id FROM journal ORDER BY seq").fetchall()


def test_upload_with_sidecar_becomes_one_item(indexer: Indexer, pool: Path, media):
    with indexer.lock:
        indexer.db.execute(
            "CREATE TABLE audit (id INTEGER PRIMARY KEY, time TEXT, user TEXT, member TEXT,"
            " ip TEXT, protocol TEXT, action TEXT, path TEXT, bytes INT, status TEXT,"
            " detail TEXT)"
        )
        indexer.db.execute(
            "INSERT INTO audit (time, user, member, action, path, status) VALUES"
            " ('2026-11-22T06:40:00+00:00', 'ayse', 'TRT', 'upload',"
            " '/TRT/news/TRT-0042.mxf', 'complete')"
        )
    part = pool / "TRT/news/.ortak-part-abc"
    shutil.copy(media["mxf"], part)
    put(pool, "/TRT/news/TRT-0042.xml", (FIXTURES / "newsml_video.xml").read_bytes())
    assert wait_for(lambda: item(indexer, "/TRT/news/TRT-0042"))
    assert indexer.wait_idle(30)
    assert [r["path"] for r in find(indexer, "")] == ["/TRT/news/TRT-0042.xml"]
    part.replace(pool / "TRT/news/TRT-0042.mxf")
    row = wait_for(
        lambda: (r := item(indexer, "/TRT/news/TRT-0042")) and r["path"].endswith("mxf") and r
    )
    assert row["path"] == "/TRT/news/TRT-0042.mxf"
    assert row["title"] == "İstanbul'da Nevruz kutlaması"  # the sidecar wins
    assert row["container"] == "MXF" and row["operational_pattern"] == "OP-1a"
    assert (row["width"], row["height"]) == (720, 576)  # the essence wins on technique
    assert row["start_timecode"] == "10:00:00:00"
    assert row["member"] == "TRT" and row["category"] == "news"
    # a catalog without accounts tables: never the login, "<MEMBER> contributor"
    assert row["uploader"] == "TRT contributor" and row["uploaded"] == "2026-11-22T06:40:00+00:00"
    assert [a["path"] for a in row["attachments"]] == ["/TRT/news/TRT-0042.xml"]
    assert row["errors"] == []
    assert [r["id"] for r in find(indexer, "istanbul nevruz")] == [row["id"]]
    with indexer.lock:
        paths = [r[0] for r in indexer.db.execute("SELECT path FROM item_files")]
    assert not any(".ortak" in p for p in paths)


def test_sidecar_after_essence_and_subtitles(indexer: Indexer, pool: Path, media):
    put(pool, "/QAZAQ/news/kz7.mp4", media["mp4"].read_bytes())
    first = wait_for(lambda: item(indexer, "/QAZAQ/news/kz7"))
    assert first["title"] == "kz7" and first["languages"] == ["kk"]
    put(pool, "/QAZAQ/news/kz7.xml", (FIXTURES / "ebucore.xml").read_bytes())
    put(pool, "/QAZAQ/news/kz7.ru.srt", "1\n00:00:01,000 --> 00:00:02,000\nПривет\n")
    row = wait_for(
        lambda: (
            (r := item(indexer, "/QAZAQ/news/kz7"))
            and r["has_subtitles"]
            and r["title"] != "kz7"
            and r
        )
    )
    assert row["title"] == "Қазақстандағы Наурыз мейрамы"
    assert row["rid"] > first["rid"]
    assert {a["role"] for a in row["attachments"]} == {"sidecar", "subtitle"}
    assert [r["id"] for r in find(indexer, "qazaqstan", language="ru")] == [row["id"]]
    assert find(indexer, "qazaqstan", has_subtitles=True)[0]["id"] == row["id"]


def test_overwrite_delete_and_moves(indexer: Indexer, pool: Path):
    put(pool, "/TRT/news/a.json", '{"title": "Birinci haber"}')
    row = wait_for(lambda: item(indexer, "/TRT/news/a"))
    put(pool, "/TRT/news/a.json", '{"title": "İkinci haber"}')
    new = wait_for(
        lambda: (r := item(indexer, "/TRT/news/a")) and r["sha256"] != row["sha256"] and r
    )
    assert new["title"] == "İkinci haber" and new["id"] == row["id"]
    ops = journal(indexer)
    assert [op for _, op, _ in ops[-2:]] == ["upsert", "upsert"]
    assert ops[-1][0] > ops[-2][0]

    os.rename(pool / "TRT/news/a.json", pool / "TRT/news/b.json")
    assert wait_for(lambda: item(indexer, "/TRT/news/b") and not item(indexer, "/TRT/news/a"))
    assert [r["path"] for r in find(indexer, "ikinci")] == ["/TRT/news/b.json"]

    (pool / "TRT/news/c.json").write_text('{"title": "Üçüncü"}')
    assert wait_for(lambda: item(indexer, "/TRT/news/c"))
    shutil.move(pool / "TRT/news", pool / "TRT/haber")
    assert wait_for(lambda: item(indexer, "/TRT/haber/c") and not item(indexer, "/TRT/news/c"))
    assert wait_for(lambda: item(indexer, "/TRT/haber/b"))

    gone = item(indexer, "/TRT/haber/b")
    os.remove(pool / "TRT/haber/b.json")
    assert wait_for(lambda: not item(indexer, "/TRT/haber/b"))
    assert find(indexer, "ikinci") == []
    assert journal(indexer)[-1][1:] == ("delete", gone["id"])
    shutil.rmtree(pool / "TRT/haber")
    assert wait_for(lambda: not item(indexer, "/TRT/haber/c"))


def test_ignored_places(indexer: Indexer, pool: Path):
    put(pool, "/at-root.json", '{"title": "root"}')
    (pool / "TRT/news/.ortak-part-x").write_text('{"title": "partial"}')
    (pool / ".catalog").mkdir(exist_ok=True)
    (pool / ".catalog/x.json").write_text('{"title": "feed"}')
    put(pool, "/TRT/news/ok.json", '{"title": "ok"}')
    assert wait_for(lambda: item(indexer, "/TRT/news/ok"))
    assert indexer.wait_idle(30)
    with indexer.lock:
        assert indexer.db.execute("SELECT count(*) FROM items").fetchone()[0] == 1


def test_file_written_in_place_is_taken_when_complete(indexer: Indexer, pool: Path):
    path = pool / "MTVA/news/slow.json"
    with open(path, "w") as f:
        f.write('{"title": ')
        f.flush()
        time.sleep(0.2)
        f.write('"Budapest"}')
    row = wait_for(lambda: (r := item(indexer, "/MTVA/news/slow")) and r["errors"] == [] and r)
    assert row["title"] == "Budapest"


def test_hostile_sidecars_are_catalogued_with_an_error(indexer: Indexer, pool: Path):
    big = pool / "AZTV/news/big.xml"
    with open(big, "wb") as f:
        f.write(b"<newsItem>")
        f.truncate(20 * 1024 * 1024)
    put(pool, "/AZTV/news/xxe.xml", XXE)
    put(pool, "/AZTV/news/laughs.xml", LAUGHS)
    put(pool, "/AZTV/news/broken.json", '{"title": "x"')
    put(pool, "/AZTV/news/broken.mxf", b"\x06\x0e\x2b\x34" + b"\x00" * 5000)
    for stem, message in [
        ("big", "larger"),
        ("xxe", "hostile"),
        ("laughs", "hostile"),
        ("broken", "not valid JSON"),
    ]:
        row = wait_for(
            lambda s=stem, m=message: (
                (r := item(indexer, f"/AZTV/news/{s}")) and any(m in e for e in r["errors"]) and r
            )
        )
        assert row, f"{stem}: {item(indexer, f'/AZTV/news/{stem}')}"
    broken = wait_for(
        lambda: (r := item(indexer, "/AZTV/news/broken")) and r["path"].endswith(".mxf") and r
    )
    assert broken["sha256"]
    assert len(broken["errors"]) == 2  # the unreadable essence and the bad JSON
    put(pool, "/AZTV/news/after.json", '{"title": "still alive"}')
    assert wait_for(lambda: item(indexer, "/AZTV/news/after"))


def test_hostile_sidecars_memory_is_bounded(pool: Path):
    big = pool / "AZTV/news/big.xml"
    with open(big, "wb") as f:
        f.write(b"<newsItem>" + b"a" * 1000)
        f.truncate(20 * 1024 * 1024)
    (pool / "AZTV/news/laughs.xml").write_text(LAUGHS)
    tracemalloc.start()
    try:
        for name in ("big.xml", "laughs.xml"):
            row = extract_file(pool, f"/AZTV/news/{name}", 4 * 1024 * 1024)
            assert row["info"]["error"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_unchanged_files_are_not_read_again(pool: Path, db_path: Path, settings):
    for i in range(20):
        put(pool, f"/KTRK/news/n{i}.json", f'{{"title": "haber {i}"}}')
    first = Indexer(pool, db_path, settings).run_once(timeout=30)
    assert (first["files"], first["processed"]) == (20, 20)
    again = Indexer(pool, db_path, settings).run_once(timeout=30)
    assert (again["queued"], again["processed"]) == (0, 0)
    os.utime(pool / "KTRK/news/n3.json", ns=(1, 1))
    third = Indexer(pool, db_path, settings).run_once(timeout=30)
    assert (third["queued"], third["processed"]) == (1, 1)


class _BlockingIndexer(Indexer):
    """Fault injection: extracting a '.big' file blocks until released."""

    release = threading.Event()
    entered = threading.Event()  # a '.big' file is being extracted (and held)

    def _process_file(self, rel: str) -> None:
        if "big" in rel:
            self.entered.set()
            assert self.release.wait(20)
        super()._process_file(rel)


def test_small_files_do_not_wait_behind_large_ones(pool: Path, db_path: Path, settings):
    settings.update({"large_file_bytes": 4096, "index_workers": 2})
    ix = _BlockingIndexer(pool, db_path, settings)
    ix.release.clear()
    ix.entered.clear()
    ix.start()
    try:
        put(pool, "/TRT/news/big1.mxf", b"\x00" * 10000)
        put(pool, "/TRT/news/big2.mxf", b"\x00" * 10000)
        # a large file holds a worker before the small one arrives (a fixed 0.2 s was
        # shorter than the settle time: the small file could come first on a slow machine)
        assert ix.entered.wait(30), "no large file was taken"
        put(pool, "/TRT/news/small.json", '{"title": "acil haber"}')
        assert wait_for(lambda: find(ix, "acil"), timeout=15)  # the big ones wait 20 s
        assert item(ix, "/TRT/news/big1") is None
        ix.release.set()
        assert wait_for(lambda: item(ix, "/TRT/news/big1") and item(ix, "/TRT/news/big2"))
    finally:
        ix.release.set()
        ix.stop()


class _HoldingIndexer(Indexer):
    """Fault injection: the first file taken is held until released; records how many
    workers are inside `_process_file` at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release = threading.Event()
        self.entered = threading.Event()
        self.inside = 0
        self.most_inside = 0
        self.taken = 0
        self._count = threading.Lock()

    def _process_file(self, rel: str) -> None:
        with self._count:
            self.inside += 1
            self.taken += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            if not self.entered.is_set():
                self.entered.set()
                assert self.release.wait(20)
            super()._process_file(rel)
        finally:
            with self._count:
                self.inside -= 1


def test_a_file_submitted_while_it_is_indexed_waits_for_that_worker(
    pool: Path, db_path: Path, settings
):
    """The watcher and the start-up scan can both queue a file. Two workers on one file
    hashed it twice and wrote its item twice, the older result possibly last; the second
    job now waits for the first and then finds the file known."""
    settings.update({"index_workers": 3})
    ix = _HoldingIndexer(pool, db_path, settings, publish_feed=False)
    ix.start(initial_reconcile=False)
    try:
        put(pool, "/TRT/news/twice.json", '{"title": "iki kez"}')
        assert ix.entered.wait(30), "the file was never taken"
        ix.submit("file", "/TRT/news/twice.json")  # as the start-up scan would
        ix.submit("file", "/TRT/news/twice.json")
        # taken by an idle worker (before) or put aside until the first ends (now)
        assert wait_for(lambda: ix.backlog()["queued"] == 0, timeout=10), ix.backlog()
        ix.release.set()
        assert ix.wait_idle(30)
        assert ix.most_inside == 1
        assert ix.taken >= 2  # done again after the first (the file was known by then)
        assert ix.processed == 1
        assert [op for _, op, _ in journal(ix)] == ["upsert"]
    finally:
        ix.release.set()
        ix.stop()


def test_reconcile_catches_changes_made_while_stopped(pool: Path, db_path: Path, settings):
    put(pool, "/MTRK/news/a.json", '{"title": "a"}')
    put(pool, "/MTRK/news/b.json", '{"title": "b"}')
    Indexer(pool, db_path, settings).run_once(timeout=30)
    os.remove(pool / "MTRK/news/a.json")
    put(pool, "/MTRK/news/c.json", '{"title": "c"}')
    stats = Indexer(pool, db_path, settings).run_once(timeout=30)
    assert (stats["removed"], stats["processed"]) == (1, 1)
    con = sqlite3.connect(db_path)
    try:
        keys = sorted(r[0] for r in con.execute("SELECT key FROM items"))
    finally:
        con.close()
    assert keys == ["/MTRK/news/b", "/MTRK/news/c"]


def test_stop_does_not_wait_for_a_huge_file_to_be_hashed(pool: Path, db_path: Path, settings):
    ix = Indexer(pool, db_path, settings)
    ix.start()
    try:
        part = pool / "TRT/news/.ortak-part-huge"
        with open(part, "wb") as f:
            f.truncate(40 * 1024**3)  # sparse: reads as zeros, takes ~20 s to hash
        part.replace(pool / "TRT/news/huge.mxf")
        assert wait_for(lambda: not ix.is_idle(), timeout=30)
        time.sleep(0.3)
    finally:
        started = time.monotonic()
        ix.stop()
    assert time.monotonic() - started < 5
    again = Indexer(pool, db_path, settings, publish_feed=False)
    try:
        assert again.reconcile()["queued"] == 1  # taken again at the next start
    finally:
        again.stop()


def test_folder_moved_in_from_outside_the_pool(indexer: Indexer, pool: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere" / "sport"
    (outside / "final").mkdir(parents=True)
    (outside / "mac.json").write_text('{"title": "Maç özeti"}')
    (outside / "final" / "kupa.json").write_text('{"title": "Kupa finali"}')
    os.rename(outside, pool / "TRT" / "sport")
    assert wait_for(
        lambda: item(indexer, "/TRT/sport/mac") and item(indexer, "/TRT/sport/final/kupa")
    )
    assert item(indexer, "/TRT/sport/final/kupa")["series"] == "final"
    shutil.move(pool / "TRT" / "sport", tmp_path / "gone")
    assert wait_for(lambda: not item(indexer, "/TRT/sport/mac"))
    assert wait_for(lambda: not item(indexer, "/TRT/sport/final/kupa"))


def test_uploader_recorded_after_the_rename_is_filled_in(indexer: Indexer, pool: Path):
    with indexer.lock:
        indexer.db.execute(
            "CREATE TABLE audit (id INTEGER PRIMARY KEY, time TEXT, user TEXT, member TEXT,"
            " action TEXT, path TEXT, status TEXT)"
        )
    put(pool, "/TRT/news/late.json", '{"title": "geç"}')
    first = wait_for(lambda: item(indexer, "/TRT/news/late"))
    assert first["uploader"] is None
    with indexer.lock:
        indexer.db.execute(
            "INSERT INTO audit (time, user, member, action, path, status) VALUES"
            " ('2026-11-22T07:00:00+00:00', 'mehmet', 'TRT', 'upload', '/TRT/news/late.json',"
            " 'complete')"
        )
    row = wait_for(lambda: (r := item(indexer, "/TRT/news/late")) and r["uploader"] and r)
    assert (row["uploader"], row["uploaded"]) == ("TRT contributor", "2026-11-22T07:00:00+00:00")
    assert row["rid"] > first["rid"]


def test_high_resolution_essence_is_the_item_and_proxy_an_attachment(
    indexer: Indexer, pool: Path, media
):
    put(pool, "/KTRK/news/bishkek.mp4", media["mp4"].read_bytes())  # the proxy
    put(pool, "/KTRK/news/bishkek.mxf", media["mxf"].read_bytes())
    put(pool, "/KTRK/news/bishkek.xmp", (FIXTURES / "vmhub.xmp").read_bytes())
    row = wait_for(
        lambda: (r := item(indexer, "/KTRK/news/bishkek")) and len(r["attachments"]) == 2 and r
    )
    assert row["path"] == "/KTRK/news/bishkek.mxf" and row["container"] == "MXF"
    assert row["title"] == "Бишкекте Нооруз майрамы" and row["languages"] == ["ky"]
    assert {a["role"] for a in row["attachments"]} == {"essence", "sidecar"}
    assert [r["id"] for r in find(indexer, "bishkek", language="ky")] == [row["id"]]


def test_logins_published_before_labels_are_replaced(pool: Path, db_path: Path, settings):
    """A catalog indexed by an earlier version published the login as `uploader`: the
    next start publishes the label instead (and keeps the login private in pool.db)."""
    put(pool, "/TRT/news/old.json", '{"title": "eski"}')
    Indexer(pool, db_path, settings).run_once(timeout=30)
    con = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    try:
        con.execute("UPDATE item_files SET info = json_set(info, '$.uploader', 'ayse@trt.net.tr')")
        con.execute("UPDATE items SET uploader = 'ayse@trt.net.tr'")  # as published then
        con.execute("CREATE TABLE members (code TEXT PRIMARY KEY, name TEXT)")
        con.execute("INSERT INTO members VALUES ('TRT', 'Türkiye Radyo-Televizyon')")
    finally:
        con.close()
    Indexer(pool, db_path, settings).run_once(timeout=30)
    con = sqlite3.connect(db_path, timeout=30)
    try:
        (uploader,) = con.execute("SELECT uploader FROM items").fetchone()
        (info,) = con.execute("SELECT info FROM item_files").fetchone()
        (last,) = con.execute("SELECT record FROM journal ORDER BY seq DESC").fetchone()
    finally:
        con.close()
    assert uploader == "Türkiye Radyo-Televizyon"
    assert json.loads(last)["uploader"] == "Türkiye Radyo-Televizyon"
    assert json.loads(info)["uploader_login"] == "ayse@trt.net.tr"
