"""The search page's facet values: read once per catalog change, by one request at a
time, on a real catalog (the page's own `Facets`, as the door holds it)."""

from __future__ import annotations

import threading

import pytest

from catalog.schema import open_catalog
from pool_server.http.facets import Facets, read_facets

from ..catalog.test_browse import add


@pytest.fixture
def db(tmp_path):
    db = open_catalog(tmp_path / "pool.db", wal=True)
    add(db, "/TRT/news/a", languages=["tr"])
    add(db, "/AZTV/sport/b", languages=["az"])
    yield db
    db.conn.close()


class Counted:
    """The real read, counting its calls; `hold` keeps a read waiting until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, db):
        with self.lock:
            self.calls += 1
        self.entered.set()
        assert self.release.wait(10), "the test never released the read"
        return read_facets(db)


def test_twenty_requests_at_once_read_the_facets_once(db):
    read = Counted()
    facets = Facets(read)
    read.release.clear()  # the first read waits until every thread has asked
    results: list[dict] = []
    errors: list[BaseException] = []
    asked = threading.Semaphore(0)

    def ask() -> None:
        try:
            asked.release()
            results.append(facets.get(db))
        except BaseException as exc:  # reported below
            errors.append(exc)

    # (the door gives each thread its own connection; these share the test's one,
    # which SQLite serialises)
    threads = [threading.Thread(target=ask) for _ in range(20)]
    for t in threads:
        t.start()
    for _ in range(20):  # every request has asked before the first read may finish
        assert asked.acquire(timeout=10)
    assert read.entered.wait(10)
    read.release.set()
    for t in threads:
        t.join(15)
    assert not errors and len(results) == 20
    assert read.calls == 1
    assert all(r == results[0] for r in results)
    assert results[0] == {
        "members": ["AZTV", "TRT"],
        "categories": ["news", "sport"],
        "languages": ["az", "tr"],
    }
    assert facets.get(db) == results[0] and read.calls == 1  # unchanged catalog: kept


def test_a_catalog_change_is_read_and_others_keep_the_old_values_meanwhile(db):
    read = Counted()
    facets = Facets(read)
    before = facets.get(db)
    add(db, "/QAZAQ/culture/c", languages=["kk"])  # the journal moves
    read.release.clear()
    reader = threading.Thread(target=lambda: got.append(facets.get(db)))
    got: list[dict] = []
    read.entered.clear()
    reader.start()
    assert read.entered.wait(10)  # one request is reading the new values...
    assert facets.get(db) == before  # ...another gets the ones they replace, at once
    read.release.set()
    reader.join(10)
    assert got and got[0]["members"] == ["AZTV", "QAZAQ", "TRT"]
    assert got[0]["categories"] == ["culture", "news", "sport"]
    assert facets.get(db) == got[0] and read.calls == 2
