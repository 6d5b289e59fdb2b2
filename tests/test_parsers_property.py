"""Property tests of every parser of untrusted input: sidecars (JSON and XML), the
feed's index and journal as the client reads them, and the admin inputs. Whatever the
bytes, a parser returns or raises its package's own error — nothing else — and its
memory stays bounded. A few hundred cases in `make test`; 10,000 each with
`make test-long` (marker `slow`)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.errors import CatalogError
from catalog.feed_reader import apply_journal, read_index
from catalog.schema import open_catalog
from catalog.units import parse_seconds, parse_when
from catalog.sidecars import parse_json_sidecar, parse_xml_sidecar
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


XML_INPUTS = st.one_of(mutated(SAMPLE_BYTES), st.binary(max_size=2000))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=15), inner, max_size=6)
    ),
    max_leaves=30,
)
JSON_INPUTS = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
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


def bounded(fn, *args) -> None:
    """Run `fn`; only CatalogError may escape, and memory stays under the limit."""
    tracemalloc.start()
    try:
        fn(*args)
    except CatalogError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"{fn.__name__} peaked at {peak} bytes"


def _xml(data: bytes) -> None:
    bounded(parse_xml_sidecar, data)


def _json(data: bytes) -> None:
    bounded(parse_json_sidecar, data)


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
