"""Property tests of every parser of untrusted input: sidecars (JSON and XML), the
feed's index and journal as the client reads them, and the admin inputs. Whatever the
bytes, a parser returns or raises its package's own error — nothing else — and its
memory stays bounded. A few hundred cases in `make test`; 10,000 each with
`make test-long` (marker `slow`)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.clean import RANGES
from catalog.errors import CatalogError
from catalog.feed import journal_line
from catalog.feed_reader import apply_journal, read_index
from catalog.items import build_item
from catalog.schema import open_catalog
from catalog.sidecars import parse_json_sidecar, parse_xml_sidecar
from catalog.store import put_item_row
from catalog.units import parse_seconds, parse_when
from pool_server.errors import PoolError
from pool_server.quota import parse_size

SAMPLES = sorted((Path(__file__).parent / "catalog" / "fixtures").glob("*.xm[lp]"))
SAMPLE_BYTES = [p.read_bytes() for p in SAMPLES]
MEMORY_LIMIT = 32 * 1024 * 1024
QUICK, LONG = 200, 10_000


@st.composite
def mutated(draw, originals: list[bytes]) -> bytes:
    """A real sample with bytes flipped, cut, repeated or spliced in."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "cut", "dup", "insert"]))
        if kind == "flip":
            data[i] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[i : i + draw(st.integers(1, 64))]
        elif kind == "dup":
            data[i:i] = data[i : i + draw(st.integers(1, 64))]
        else:
            data[i:i] = draw(
                st.sampled_from(
                    [
                        b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]>",
                        b"&a;",
                        b"<!ENTITY",
                        b"\x00",
                        b"\xff\xfe",
                        b"<![CDATA[",
                        b"]]>",
                        b"xmlns:dc='urn:x'",
                        b"<dc:title>",
                        b"</",
                        "ə".encode(),
                        "İ".encode("cp1254"),
                        b"<?xml version='1.0' encoding='cp1251'?>",
                    ]
                )
            )
    return bytes(data)


HOSTILE_NUMBERS = st.one_of(
    st.sampled_from(["inf", "-inf", "nan", "NaN", "Infinity", "1e999", "-1e999", "0", "-1"]),
    st.integers().map(str),
    st.integers(min_value=2**63 - 2, max_value=2**200).map(str),
    st.floats().map(repr),
    st.just("9" * 400),
)
NEWSML = (Path(__file__).parent / "catalog" / "fixtures" / "newsml_video.xml").read_text("utf-8")


@st.composite
def hostile_newsml(draw) -> bytes:
    """The NewsML sample with its numeric attributes replaced (issue 10: width="inf")."""
    text = NEWSML
    for attr, value in (("width", "1920"), ("height", "1080"), ("duration", "95")):
        text = text.replace(f'{attr}="{value}"', f'{attr}="{draw(HOSTILE_NUMBERS)}"')
    text = text.replace('videoframerate="25"', f'videoframerate="{draw(HOSTILE_NUMBERS)}"')
    return text.encode()


XML_INPUTS = st.one_of(mutated(SAMPLE_BYTES), st.binary(max_size=2000), hostile_newsml())
TEXTS = st.text(max_size=40) | st.text(st.characters(categories=["Cs", "Cc", "Cf"]), max_size=5)
"""Text, including lone surrogates (JSON's "\\ud800"), controls and bidi overrides."""
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**300)
    | st.floats()
    | TEXTS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=15), inner, max_size=6)
    ),
    max_leaves=30,
)
JSON_INPUTS = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["title", "width", "height", "frame_rate", "duration", "location"]),
        JSON_VALUES,
        max_size=6,
    ).map(lambda d: json.dumps(d).encode()),
    st.dictionaries(
        st.sampled_from(
            [
                "title",
                "description",
                "language",
                "keywords",
                "embargo",
                "episode",
                "category",
                "series",
                "duration",
                "member",
                "shotlist",
                "subjects",
            ]
        ),
        JSON_VALUES,
        max_size=8,
    ).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=500),
)


def bounded(fn, *args) -> Any:
    """Run `fn`; only CatalogError may escape, and memory stays under the limit."""
    tracemalloc.start()
    try:
        return fn(*args)
    except CatalogError:
        return None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < MEMORY_LIMIT, f"{fn.__name__} peaked at {peak} bytes"


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"{name} in strict JSON")


def storable(fields: dict[str, Any]) -> None:
    """What a sidecar parser returns can be stored and published as it is: finite
    numbers within range, valid Unicode text — and so an item built from it goes into
    SQLite and into a strict-JSON journal line."""
    text = json.dumps(fields, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")  # a lone surrogate raises here
    for name, (low, high) in RANGES.items():
        if fields.get(name) is not None:
            assert low <= fields[name] <= high, (name, fields[name])
    row = build_item(
        "/TRT/news/x",
        [
            {
                "path": "/TRT/news/x.json",
                "role": "sidecar",
                "size": 1,
                "sha256": None,
                "indexed": "t",
                "info": {"fields": fields, "role": "sidecar"},
            }
        ],
    )
    assert row is not None
    row["rid"] = 1
    db = open_catalog(":memory:", wal=False)
    try:
        put_item_row(db, row)
    finally:
        db.conn.close()
    record = json.dumps(row, ensure_ascii=False, allow_nan=False)
    json.loads(journal_line(1, "t", "upsert", row["id"], record), parse_constant=_refuse_constant)


def _xml(data: bytes) -> None:
    fields = bounded(parse_xml_sidecar, data)
    if fields is not None:
        storable(fields)


def _json(data: bytes) -> None:
    fields = bounded(parse_json_sidecar, data)
    if fields is not None:
        storable(fields)


def test_samples_parse() -> None:
    assert len(SAMPLES) >= 6
    for data in SAMPLE_BYTES:
        assert parse_xml_sidecar(data)


@settings(max_examples=QUICK, deadline=None)
@given(XML_INPUTS)
def test_xml_sidecars(data: bytes) -> None:
    _xml(data)


@settings(max_examples=QUICK, deadline=None)
@given(JSON_INPUTS)
def test_json_sidecars(data: bytes) -> None:
    _json(data)


@pytest.mark.slow
@settings(max_examples=LONG, deadline=None)
@given(XML_INPUTS)
def test_xml_sidecars_long(data: bytes) -> None:
    _xml(data)


@pytest.mark.slow
@settings(max_examples=LONG, deadline=None)
@given(JSON_INPUTS)
def test_json_sidecars_long(data: bytes) -> None:
    _json(data)


# --- the feed, as a client reads it

RECORD = st.one_of(
    st.fixed_dictionaries(
        {"seq": st.integers(-2, 5), "op": st.sampled_from(["upsert", "delete", "rename", ""])},
        optional={"item": JSON_VALUES, "id": JSON_VALUES, "time": st.text(max_size=10)},
    ),
    JSON_VALUES,
)
JOURNALS = st.one_of(
    st.lists(RECORD, max_size=6).map(
        lambda recs: b"".join(json.dumps(r).encode() + b"\n" for r in recs)
    ),
    st.binary(max_size=300),
)
INDEXES = st.one_of(
    st.fixed_dictionaries(
        {
            "format": st.sampled_from(["ortak-catalog-feed", "x"]),
            "version": st.sampled_from([1, 2, "1", None]),
        },
        optional={"seq": JSON_VALUES, "snapshot": JSON_VALUES, "journals": JSON_VALUES},
    ).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=300),
)


@pytest.fixture(scope="module")
def local_db(tmp_path_factory) -> sqlite_utils.Database:
    return open_catalog(tmp_path_factory.mktemp("feed") / "local.db")


def _journal(db: sqlite_utils.Database, data: bytes) -> None:
    before = db.execute("SELECT count(*) FROM items").fetchone()[0]
    try:
        bounded(apply_journal, db, data)
    finally:
        # Whatever happened, the local copy stays a readable catalog.
        assert db.execute("SELECT count(*) FROM items").fetchone()[0] >= 0
        assert isinstance(before, int)


@settings(
    max_examples=QUICK, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=JOURNALS)
def test_feed_journal(local_db, data: bytes) -> None:
    _journal(local_db, data)


@settings(max_examples=QUICK, deadline=None)
@given(INDEXES)
def test_feed_index(data: bytes) -> None:
    bounded(read_index, data)


@pytest.mark.slow
@settings(
    max_examples=LONG, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=JOURNALS)
def test_feed_journal_long(local_db, data: bytes) -> None:
    _journal(local_db, data)


@pytest.mark.slow
@settings(max_examples=LONG, deadline=None)
@given(INDEXES)
def test_feed_index_long(data: bytes) -> None:
    bounded(read_index, data)


# --- admin inputs


@settings(max_examples=QUICK, deadline=None)
@given(st.text(max_size=30))
def test_sizes_and_times(text: str) -> None:
    try:
        parse_size(text)
    except PoolError:
        pass
    for parse in (parse_when, parse_seconds):
        try:
            parse(text)
        except CatalogError:
            pass
