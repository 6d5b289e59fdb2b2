"""The relevance table: queries in the pool's languages and both scripts, and the items
each must find. Items are indexed from real JSON sidecar files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.extract import extract_file
from catalog.schema import open_catalog
from catalog.search import search
from catalog.store import put_file, rebuild_item, transaction

CORPUS = {
    "ist": ("TRT/news", "İSTANBUL'DA Nevruz kutlaması", "Kalabalık meydanda"),
    "isik": ("TRT/news", "IŞIK festivali", ""),
    "isik2": ("TRT/news", "ışık gösterisi Ankara'da", ""),
    "kz1": ("QAZAQ/news", "Қазақстан президенті Астанада", ""),
    "kz2": ("QAZAQ/sport", "Qazaqstan futbol quramasy", ""),
    "kz3": ("QAZAQ/news", "Қазақстандағы Наурыз мейрамы", ""),
    "uz1": ("MTRK/culture", "Oʻzbekiston madaniyati", ""),
    "uz2": ("MTRK/culture", "Ўзбекистон халқ артисти", ""),
    "uz3": ("MTRK/news", "O‘zbekistonda paxta yig‘im-terimi", ""),
    "az1": ("AZTV/news", "Azərbaycan Milli Məclisi", ""),
    "az2": ("AZTV/news", "Bakıda neft sərgisi", ""),
    "kg1": ("KTRK/news", "Бишкекте Нооруз майрамы", ""),
    "kg2": ("KTRK/news", "Кыргызстан парламенти", ""),
    "ru1": ("MTRK/news", "Москва принимает саммит", ""),
    "en1": ("TRT/news", "Kazakhstan oil exports", ""),
    "ru2": ("QAZAQ/news", "Казахстан и Россия", ""),
    "hu1": ("MTVA/news", "Budapesti tűzijáték", ""),
    "doc": ("TRT/docs/Tarih", "Göbeklitepe belgeseli", ""),
    "uz4": ("MTRK/news", "Toshkent shahrida qor yog‘di", ""),
    "uz5": ("MTRK/news", "Тошкент шаҳрида", ""),
    "kg3": ("KTRK/news", "Ысык-Көл туризми", ""),
    "az3": ("AZTV/news", "Şuşa şəhəri bərpa olunur", ""),
    "tr5": ("TRT/news", "Çanakkale zaferi anması", ""),
    "kz5": ("QAZAQ/news", "Шымкент қаласы", ""),
    "tr6": ("TRT/news", "Güneş enerjisi santrali", "Konya'da güneş paneli"),
    "desc": ("TRT/news", "Ekonomi bülteni", "Güneş enerjisi yatırımları"),
}

TABLE = [
    ("qazaqstan", {"kz1", "kz2", "kz3"}),
    ("Қазақстан", {"kz1", "kz2", "kz3"}),
    ("QAZAQSTAN", {"kz1", "kz2", "kz3"}),
    ("kazakhstan", {"en1", "ru2"}),
    ("Казахстан", {"en1", "ru2"}),
    ("ozbekiston", {"uz1", "uz2", "uz3"}),
    ("Oʻzbekiston", {"uz1", "uz2", "uz3"}),
    ("O'zbekiston", {"uz1", "uz2", "uz3"}),
    ("O’zbekiston", {"uz1", "uz2", "uz3"}),
    ("Ўзбекистон", {"uz1", "uz2", "uz3"}),
    ("isik", {"isik", "isik2"}),
    ("IŞIK", {"isik", "isik2"}),
    ("ışık", {"isik", "isik2"}),
    ("azerbaycan", {"az1"}),
    ("Azərbaycan", {"az1"}),
    ("istanbul", {"ist"}),
    ("İSTANBUL", {"ist"}),
    ("Istanbul", {"ist"}),
    ("bishkek", {"kg1"}),
    ("Бишкек", {"kg1"}),
    ("nooruz", {"kg1"}),
    ("nauryz", {"kz3"}),
    ("наурыз", {"kz3"}),
    ("kyrgyzstan", {"kg2"}),
    ("moskva", {"ru1"}),
    ("МОСКВА", {"ru1"}),
    ("budapesti tuzijatek", {"hu1"}),
    ("gobeklitepe", {"doc"}),
    ("toshkent", {"uz4", "uz5"}),
    ("Тошкент", {"uz4", "uz5"}),
    ("shahrida", {"uz4", "uz5"}),
    ("yigʻim", {"uz3"}),
    ("ysyk kol", {"kg3"}),
    ("susa", {"az3"}),
    ("Шуша", {"az3"}),
    ("canakkale", {"tr5"}),
    ("Çanakkale", {"tr5"}),
    ("baki", {"az2"}),
    ("shymkent", {"kz5"}),
    ("ankara", {"isik2"}),
    ("konya", {"tr6"}),
    ("kutlama*", {"ist"}),
    ("kut*", {"ist"}),
    ('"milli meclisi"', {"az1"}),
    ("neft", {"az2"}),
    ("neft -sergisi", set()),
    ("gunes enerjisi", {"tr6", "desc"}),
]


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("relevance") / "pool"
    db = open_catalog(root.parent / "pool.db")
    for name, (folder, title, description) in CORPUS.items():
        path = root / folder / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"title": title, "description": description}), "utf-8")
        row = extract_file(root, f"/{folder}/{name}.json", 1 << 20)
        with transaction(db):
            put_file(db, row)
            rebuild_item(db, row["key"])
    yield db
    db.conn.close()


def names(results: list[dict]) -> set[str]:
    return {Path(r["path"]).stem for r in results}


def test_table_is_large_enough():
    assert len(TABLE) >= 30


@pytest.mark.parametrize(("query", "expected"), TABLE, ids=[q for q, _ in TABLE])
def test_query_finds_exactly(corpus_db, query: str, expected: set[str]):
    assert names(search(corpus_db, query)) == expected


def test_title_outranks_description(corpus_db):
    results = search(corpus_db, "gunes enerjisi")
    assert [Path(r["path"]).stem for r in results] == ["tr6", "desc"]


def test_filters(corpus_db):
    assert names(search(corpus_db, "qazaqstan", category="sport")) == {"kz2"}
    assert names(search(corpus_db, "", member="MTVA")) == {"hu1"}
    assert names(search(corpus_db, "", member="TRT", category="docs")) == {"doc"}
    assert names(search(corpus_db, "qazaqstan", member="TRT")) == set()
