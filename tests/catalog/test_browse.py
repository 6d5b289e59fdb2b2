"""The catalog read by its shape: the facet lists the search page offers."""

from __future__ import annotations

from catalog import browse
from catalog.schema import open_catalog
from catalog.store import put_file, rebuild_item, transaction


def add(db, key: str, **fields) -> None:
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
                "info": {"role": "sidecar", "format": "json", "fields": {"title": key, **fields}},
            },
        )
        rebuild_item(db, key)


def test_members_categories_and_languages_match_a_full_read(tmp_path):
    """The skip scans of the (member, category) index find what reading every item
    finds: each member once, each category once across members, none for NULL."""
    db = open_catalog(tmp_path / "pool.db")
    try:
        assert browse.members(db) == [] and browse.categories(db) == []
        for i in range(40):
            member = ("TRT", "AZTV", "QAZAQ", "MTVA")[i % 4]
            category = ("news", "sport", "culture")[i % 3]
            add(db, f"/{member}/{category}/n{i:02d}", languages=[("tr", "kk", "ru")[i % 3]])
        add(db, "/KTRK/loose")  # no category folder: NULL category
        full_members = [r[0] for r in db.execute("SELECT DISTINCT member FROM items ORDER BY 1")]
        full_categories = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT category FROM items WHERE category IS NOT NULL ORDER BY 1"
            )
        ]
        assert browse.members(db) == full_members == ["AZTV", "KTRK", "MTVA", "QAZAQ", "TRT"]
        assert browse.categories(db) == full_categories == ["culture", "news", "sport"]
        assert browse.languages(db) == ["kk", "ru", "tr"]
        plan = " ".join(
            str(r[-1])
            for r in db.execute("EXPLAIN QUERY PLAN " + browse._MEMBERS + " SELECT * FROM m")
        )
        assert "SEARCH items USING COVERING INDEX" in plan and "SCAN items" not in plan
    finally:
        db.conn.close()
