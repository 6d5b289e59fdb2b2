"""Schema versioning, and properties of the folding every search relies on."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.errors import SchemaError
from catalog.folding import fold, fold_document, turkic_stems
from catalog.items import item_key, normalize_language, split_name
from catalog.schema import SCHEMA_VERSION, open_catalog, schema_version


def test_schema_is_created_once_and_versioned(tmp_path: Path):
    db = open_catalog(tmp_path / "pool.db")
    assert schema_version(db) == SCHEMA_VERSION
    db.conn.execute("CREATE TABLE members (code TEXT PRIMARY KEY)")  # the server's tables
    db.conn.close()
    again = open_catalog(tmp_path / "pool.db")  # no error, nothing recreated
    assert {"items", "item_files", "journal", "items_fts", "catalog_meta", "members"} <= set(
        again.table_names()
    )
    again.conn.close()


def test_newer_schema_is_refused(tmp_path: Path):
    open_catalog(tmp_path / "pool.db").conn.close()
    con = sqlite3.connect(tmp_path / "pool.db")
    con.execute("UPDATE catalog_meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(SchemaError, match="newer"):
        open_catalog(tmp_path / "pool.db")


def test_not_a_database(tmp_path: Path):
    (tmp_path / "pool.db").write_bytes(b"not sqlite" * 100)
    with pytest.raises(SchemaError):
        open_catalog(tmp_path / "pool.db")


@given(st.text(max_size=200))
def test_fold_is_ascii_and_idempotent(text: str):
    key = fold(text)
    assert re.fullmatch(r"[a-z0-9* ]*", key)
    assert fold(key) == key
    assert set(fold(text.replace("*", " ")).split()) <= set(fold_document(text).split())


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("İstanbul", "istanbul"),
        ("IŞIK", "ışık"),
        ("Azərbaycan", "Azerbaycan"),
        ("Oʻzbekiston", "O‘zbekiston"),
        ("Ўзбекистон", "Ozbekiston"),
        ("Қазақстан", "Qazaqstan"),
        ("Казахстан", "Kazakhstan"),
        ("Шымкент", "Şymkent"),
        ("Хоразм", "Xorazm"),
        ("Ёлка", "Yolka"),
        ("Çanakkale", "Canakkale"),
        ("Tűzijáték", "tuzijatek"),
    ],
)
def test_same_key_in_both_scripts(a: str, b: str):
    assert fold(a) == fold(b)


def test_turkic_stems():
    assert "qazaqstan" in turkic_stems("qazaqstandagy")
    assert "ozbekiston" in turkic_stems("ozbekistonda")
    assert turkic_stems("bala") == []  # stems stay at least 4 letters


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("story.mxf", ("story", ".mxf", None)),
        ("story.tr.srt", ("story", ".srt", "tr")),
        ("story.kaz.xml", ("story", ".xml", "kk")),
        ("v1.2.mxf", ("v1.2", ".mxf", None)),
        ("a.b.json", ("a.b", ".json", None)),
        ("README", ("README", "", None)),
    ],
)
def test_split_name(name: str, expected):
    assert split_name(name) == expected


def test_item_key_and_languages():
    assert item_key("/TRT/news/story.tr.srt") == item_key("TRT/news/story.mxf")
    assert normalize_language("uz-Latn") == "uz"
    assert normalize_language("Turkish") == "tr"
    assert normalize_language("??") is None
