"""Issue 10, "a hostile sidecar stops all cataloguing": sidecars with a lone surrogate,
1e999, NaN, integers beyond 64 bits or a NewsML width="inf" used to kill every catalog
worker thread (and the start-up scan killed the new ones again), and "duration":Infinity
made the feed invalid JSON. Now each such item is catalogued with the error recorded,
the workers live, and the feed is strict JSON."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

import catalog.indexer
from catalog.indexer import Indexer
from catalog.store import get_item_row

from .conftest import FIXTURES, put, wait_for

NEWSML = (FIXTURES / "newsml_video.xml").read_text("utf-8")

HOSTILE: dict[str, str] = {
    "surrogate.json": '{"title": "Nevruz \\ud800 bayram\\u0131", "location": "\\udfff"}',
    "infinity.json": '{"title": "sonsuz", "duration": 1e999, "frame_rate": -1e999}',
    "nan.json": '{"title": "nan", "duration": NaN, "width": Infinity}',
    "int65.json": '{"title": 36893488147419103232, "episode": 18446744073709551616,'
    ' "width": 36893488147419103232, "height": -9223372036854775809}',
    "digits.json": '{"title": 1' + "7" * 5000 + "}",
    "newsml.xml": NEWSML.replace('width="1920"', 'width="inf"')
    .replace('height="1080"', 'height="nan"')
    .replace('duration="95"', 'duration="1e999"'),
    "longnum.xml": NEWSML.replace('duration="95"', 'duration="' + "9" * 400 + '"'),
}


def strict(line: bytes | str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


def item(ix: Indexer, key: str) -> dict[str, Any] | None:
    with ix.lock:
        return get_item_row(ix.db, key=key)


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("catalog-worker-")]


def test_hostile_sidecars_are_catalogued_and_workers_live(
    pool: Path, db_path: Path, settings: dict[str, Any], indexer: Indexer
):
    alive = len(workers())
    for name, text in HOSTILE.items():
        put(pool, f"/TRT/news/{name}", text.encode("utf-8"))
    put(pool, "/TRT/news/after.json", '{"title": "sonra"}')  # still indexed after them
    keys = [f"/TRT/news/{Path(n).stem}" for n in [*HOSTILE, "after.json"]]
    assert wait_for(lambda: all(item(indexer, k) for k in keys), timeout=20), [
        k for k in keys if not item(indexer, k)
    ]
    assert len(workers()) == alive and all(t.is_alive() for t in workers())
    assert indexer.threads_restarted == 0  # none even died

    rows = {k.rsplit("/", 1)[1]: item(indexer, k) for k in keys}
    assert rows["surrogate"]["title"] == "Nevruz \ufffd bayramı"
    assert rows["surrogate"]["location"] == "\ufffd"
    assert any("invalid Unicode" in e for e in rows["surrogate"]["errors"])
    for name in ("infinity", "nan", "int65", "newsml"):
        row = rows[name]
        assert (row["duration"], row["width"], row["height"], row["frame_rate"]) == (
            None,
            None,
            None,
            None if name != "newsml" else 25.0,
        ), name
        assert row["errors"], name
    assert any("out of range" in e for e in rows["int65"]["errors"])
    assert rows["int65"]["title"] == "36893488147419103232" and rows["int65"]["episode"]
    assert any("not valid JSON" in e for e in rows["digits"]["errors"])
    assert rows["digits"]["title"] == "digits"  # from the path
    assert rows["longnum"]["duration"] is None and rows["after"]["title"] == "sonra"

    # the feed is strict JSON (no NaN, no Infinity), valid UTF-8 all through
    assert wait_for(lambda: indexer.wait_idle(0.2) and indexer.feed.publish() is False, 20)
    index = strict((pool / ".catalog" / "index.json").read_bytes())
    lines = [
        line
        for seg in index["journals"]
        for line in (pool / ".catalog" / seg["file"]).read_bytes().splitlines()
    ]
    records = [strict(line.decode("utf-8")) for line in lines]  # raises on NaN/Infinity
    assert len(records) >= len(keys) or index["snapshot"]["seq"] >= len(keys)


def test_the_start_up_scan_survives_them_too(pool: Path, db_path: Path, settings):
    """Files that were in the pool before the indexer started (the start-up scan)."""
    for name, text in HOSTILE.items():
        put(pool, f"/TRT/news/{name}", text.encode("utf-8"))
    stats = Indexer(pool, db_path, settings).run_once(timeout=60)
    assert stats["processed"] == len(HOSTILE) and stats["errors"] == 0
    with sqlite3.connect(db_path) as con:
        count = con.execute("SELECT count(*) FROM items").fetchone()[0]
        stored = [r[0] for r in con.execute("SELECT record FROM journal")]
    assert count == len(HOSTILE)
    for record in stored:
        strict(record)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_worker_is_replaced_and_logged(
    pool: Path, db_path: Path, settings, monkeypatch, caplog
):
    """Whatever kills a worker thread (here SystemExit, injected at the one call that
    reads a file, for one file): a new worker takes its place and the log says so."""
    real = catalog.indexer.extract_file

    def dies_on_one_file(pool_root, rel, *args, **kwargs):
        if rel.endswith("/killer.json"):
            raise SystemExit("injected")  # ends the thread: no `except Exception` sees it
        return real(pool_root, rel, *args, **kwargs)

    monkeypatch.setattr(catalog.indexer, "extract_file", dies_on_one_file)
    caplog.set_level(logging.ERROR, logger="catalog.indexer")
    with Indexer(pool, db_path, settings) as ix:
        ix.start()
        alive = len(workers())
        put(pool, "/TRT/news/killer.json", '{"title": "x"}')
        assert wait_for(lambda: ix.threads_restarted >= 1, timeout=20)
        for i in range(6):
            put(pool, f"/TRT/news/after{i}.json", f'{{"title": "sonra {i}"}}')
        assert wait_for(lambda: all(item(ix, f"/TRT/news/after{i}") for i in range(6)), 20)
        assert wait_for(lambda: len([t for t in workers() if t.is_alive()]) == alive, 30)
    assert any("died; starting it again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name", ["surrogate.json", "nan.json"])
def test_an_essence_beside_a_hostile_sidecar_keeps_its_technique(
    pool: Path, db_path: Path, settings, media, name: str
):
    put(pool, "/TRT/news/clip.mp4", media["mp4"].read_bytes())
    put(pool, f"/TRT/news/clip{Path(name).suffix}", HOSTILE[name].encode())
    Indexer(pool, db_path, settings).run_once(timeout=60)
    with sqlite3.connect(db_path) as con:
        con.row_factory = sqlite3.Row
        row = dict(con.execute("SELECT * FROM items").fetchone())
    assert row["video_codec"] == "AVC" and row["width"] and row["duration"]
    assert json.loads(row["errors"])


def test_a_file_name_that_is_not_utf8_stops_nothing(pool: Path, db_path: Path, settings, caplog):
    """A name that cannot be stored as text (bytes 0xff 0xfe, dropped in by some other
    means than the doors, which refuse it) is logged; the workers and the rest go on."""
    caplog.set_level(logging.ERROR, logger="catalog.indexer")
    folder = os.fsencode(pool / "TRT" / "news")
    with open(folder + b"/bad\xff\xfe.json", "wb") as f:
        f.write(b'{"title": "bad name"}')
    put(pool, "/TRT/news/good.json", '{"title": "good"}')
    with Indexer(pool, db_path, settings) as ix:
        ix.start()
        assert wait_for(lambda: item(ix, "/TRT/news/good"), timeout=20)
        assert wait_for(lambda: ix.errors >= 1, timeout=20)
        assert ix.threads_restarted == 0 and all(t.is_alive() for t in workers())
    assert any("bad" in r.getMessage() for r in caplog.records)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_housekeeping_thread_is_restarted(
    pool: Path, db_path: Path, settings, monkeypatch, caplog
):
    """The housekeeping thread supervises the workers; the feed thread supervises it.
    Killed (SystemExit injected into its first reconciliation scan), it is started
    again, logged, and files keep being settled and catalogued."""
    real, calls = catalog.indexer.scan_pool, []

    def dies_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise SystemExit("injected")
        return real(*args, **kwargs)

    monkeypatch.setattr(catalog.indexer, "scan_pool", dies_once)
    caplog.set_level(logging.ERROR, logger="catalog.indexer")
    put(pool, "/TRT/news/before.json", '{"title": "önce"}')  # found by the scan only
    with Indexer(pool, db_path, settings) as ix:
        ix.start()
        assert wait_for(lambda: ix.threads_restarted >= 1, timeout=20)
        assert wait_for(lambda: item(ix, "/TRT/news/before"), timeout=20)  # scanned again
        with open(pool / "TRT" / "news" / "inplace.json", "w") as f:  # written in place:
            f.write('{"title": "yerinde"}')  # housekeeping settles it
        assert wait_for(lambda: item(ix, "/TRT/news/inplace"), timeout=20)
    assert any("catalog-housekeeping died" in r.getMessage() for r in caplog.records)
