"""Search behaviour beyond the relevance table: filters, syntax, the bounded path."""

from __future__ import annotations

import json

import pytest

from catalog.errors import QueryError
from catalog.schema import open_catalog
from catalog.search import build_match, search
from catalog.store import put_file, rebuild_item, transaction


def add(db, key: str, title: str, description: str = "", **info) -> None:
    fields = {"title": title, "description": description}
    with transaction(db):
        put_file(
            db,
            {
                "path": key + ".json",
                "key": key,
                "role": "sidecar",
                "size": 1,
                "mtime_ns": 1,
                "inode": 1,
                "sha256": "0" * 64,
                "info": {"role": "sidecar", "format": "json", "fields": fields, **info},
            },
        )
        rebuild_item(db, key)


@pytest.fixture
def db(tmp_path):
    db = open_catalog(tmp_path / "pool.db")
    for i in range(30):  # older first: higher rid = newer
        title = f"Haber {i}" if i % 2 else f"Bülten {i}"
        add(
            db,
            f"/TRT/news/n{i:02d}",
            title,
            "haber özeti",
            uploaded=f"2026-11-{1 + i % 28:02d}T00:00:00+00:00",
        )
    yield db
    db.conn.close()


def stems(results) -> list[str]:
    return [r["key"].rsplit("/", 1)[1] for r in results]


def test_broad_query_ranks_title_hits_then_newest(db):
    results = search(db, "haber", limit=5, broad_cap=10)
    assert stems(results) == ["n29", "n27", "n25", "n23", "n21"]
    full = search(db, "haber", limit=5)  # bm25 over every match
    assert set(stems(full)) <= {f"n{i:02d}" for i in range(1, 30, 2)}


def test_broad_query_widens_the_window_for_sql_filters(db):
    results = search(db, "haber", since="2026-11-01", until="2026-11-04", broad_cap=5)
    assert sorted(stems(results)) == ["n00", "n01", "n02", "n28", "n29"]


def test_syntax():
    assert build_match('İstanbul "milli meclis" kut* -spor') == (
        ['"istanbul"', '"milli meclis"', '"kut" *'],
        ['"spor"'],
    )
    assert build_match("O'zbekiston-da") == (['"ozbekiston da"'], [])
    assert build_match("*** ' ") == ([], [])


def test_exclusions_and_empty_queries(db):
    assert len(search(db, "", limit=100)) == 30
    assert len(search(db, "-bulten", limit=100)) == 15
    assert search(db, "haber -haber") == []
    assert search(db, '"') == search(db, "", limit=50)


def test_bad_filters(db):
    with pytest.raises(QueryError):
        search(db, "x", language="??")
    assert search(db, "x", limit=0) == []


def test_json_columns_are_decoded(db):
    add(db, "/AZTV/news/a", "Xəbər", keywords=None)
    (item,) = search(db, "heber")
    assert isinstance(item["languages"], list) and isinstance(item["attachments"], list)
    json.dumps(item)


def test_matching_returns_every_match_unranked_oldest_first(db):
    from catalog.search import matching

    everything = matching(db, "haber", columns=("id", "key", "title"))
    assert stems(everything) == [f"n{i:02d}" for i in range(30)]  # no cap, oldest first
    assert set(everything[0]) == {"id", "key", "title"}
    window = {"since": "2026-11-01", "until": "2026-11-04"}
    filtered = matching(db, "haber", columns=("key",), **window)
    ranked = search(db, "haber", limit=100, **window)
    assert sorted(stems(filtered)) == sorted(stems(ranked))
    assert len(matching(db, "haber", member="TRT")) == 30
    assert matching(db, "haber", member="AZTV") == []
    assert len(matching(db, "")) == 30
    with pytest.raises(QueryError):
        matching(db, "x", language="not a language")
