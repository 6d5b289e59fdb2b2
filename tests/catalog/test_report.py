"""The usage report from the catalog and an audit table shaped like pool_server's."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.indexer import Indexer
from catalog.report import as_csv, usage_report
from catalog.schema import open_catalog

from .conftest import put


def make_server_tables(db_path: Path) -> None:
    db = open_catalog(db_path)
    db.execute(
        "CREATE TABLE members (code TEXT PRIMARY KEY, name TEXT, country TEXT,"
        " quota_bytes INT, created TEXT)"
    )
    db.execute(
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, time TEXT, user TEXT, member TEXT,"
        " ip TEXT, protocol TEXT, action TEXT, path TEXT, bytes INT, status TEXT,"
        " detail TEXT)"
    )
    for code, name in [("TRT", "TRT"), ("QAZAQ", "Qazaq TV"), ("MTVA", "MTVA")]:
        db.execute("INSERT INTO members (code, name) VALUES (?, ?)", [code, name])
    takes = [
        ("2026-11-20T10:00:00+00:00", "QAZAQ", "/TRT/news/a.mp4", "complete"),
        ("2026-11-20T11:00:00+00:00", "QAZAQ", "/TRT/news/a.json", "complete"),  # same item
        ("2026-11-20T12:00:00+00:00", "QAZAQ", "/TRT/news/b.mxf", "complete"),
        ("2026-11-20T12:30:00+00:00", "QAZAQ", "/TRT/news/b.mxf", "aborted"),
        ("2026-11-21T09:00:00+00:00", "TRT", "/TRT/news/a.mp4", "complete"),  # own item
        ("2026-11-21T09:30:00+00:00", "TRT", "/QAZAQ/news/k.mp4", "complete"),
        ("2025-01-01T00:00:00+00:00", "TRT", "/QAZAQ/news/k.mp4", "complete"),  # too old
    ]
    for time, member, path, status in takes:
        db.execute(
            "INSERT INTO audit (time, user, member, protocol, action, path, status)"
            " VALUES (?, 'u', ?, 'ftp', 'download', ?, ?)",
            [time, member, path, status],
        )
    db.conn.close()


def test_usage_report(pool: Path, db_path: Path, settings, media):
    put(pool, "/TRT/news/a.mp4", media["mp4"].read_bytes())
    put(pool, "/TRT/news/a.json", '{"title": "a"}')
    put(pool, "/TRT/news/b.mxf", media["mxf"].read_bytes())
    put(pool, "/QAZAQ/news/k.mp4", media["mp4"].read_bytes())
    make_server_tables(db_path)
    Indexer(pool, db_path, settings).run_once(timeout=30)
    db = open_catalog(db_path)
    try:
        report = {r.member: r for r in usage_report(db, "2026-11-01T00:00:00+00:00")}
    finally:
        db.conn.close()
    assert set(report) == {"TRT", "QAZAQ", "MTVA"}
    trt, qazaq = report["TRT"], report["QAZAQ"]
    assert (trt.items, qazaq.items, report["MTVA"].items) == (2, 1, 0)
    assert trt.hours == pytest.approx(2 / 3600, abs=1e-3)
    assert (trt.taken_by_others, trt.took_from_others) == (3, 1)
    assert (qazaq.taken_by_others, qazaq.took_from_others) == (1, 2)
    assert qazaq.name == "Qazaq TV"
    assert as_csv(list(report.values())).splitlines()[0] == (
        "member,name,items,hours,taken_by_others,took_from_others"
    )
