"""Saved searches match a batch of items exactly as `matching` over the whole catalog
would (same compiler, same folding), many at once, a bad one reported alone."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.alerts import BatchMatcher, Compiled, SavedSearch, validate
from catalog.errors import QueryError
from catalog.schema import ITEM_COLUMNS, open_catalog
from catalog.search import matching
from catalog.store import put_item_row


def item(rid: int, member: str, title: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(ITEM_COLUMNS)
    key = f"/{member}/news/s{rid}"
    row.update(
        rid=rid,
        id=f"{member}-{rid:010d}",
        key=key,
        path=key + ".mp4",
        member=member,
        category="news",
        title=title,
        **extra,
    )
    return row


ITEMS = [
    item(1, "TRT", "İstanbul'da Nevruz kutlaması", languages=["tr"], duration=90.0),
    item(2, "QAZAQ", "Қазақстан: көктемгі су тасқыны", languages=["kk"], duration=30.0),
    item(3, "AZTV", "Bakıda Novruz bayramı", languages=["az"], duration=600.0),
    item(4, "MTRK", "Oʻzbekiston yangiliklari", description="Toshkent", languages=["uz"]),
]

SEARCHES = [
    SavedSearch(1, "istanbul"),
    SavedSearch(2, "qazaqstan"),
    SavedSearch(3, "nevruz"),
    SavedSearch(4, "n*", {"member": "AZTV"}),
    SavedSearch(5, "", {"language": "kk"}),
    SavedSearch(6, "", {"min_duration": 60.0, "max_duration": 120.0}),
    SavedSearch(7, "o'zbekiston"),
    SavedSearch(8, "bayram -bakıda"),
    SavedSearch(9, '"nevruz kutlaması"'),
    SavedSearch(10, "toshkent", {"category": "sport"}),
]


def test_batch_equals_matching_over_the_catalog(tmp_path):
    full = open_catalog(tmp_path / "full.db")
    for row in ITEMS:
        put_item_row(full, row)
    expected = {}
    for s in SEARCHES:
        ids = [r["id"] for r in matching(full, s.query, columns=("id",), **s.filters)]
        if ids:
            expected[s.id] = ids
    compiled = Compiled()
    for _ in range(2):  # the second time from the compiled cache
        with BatchMatcher(ITEMS, compiled) as m:
            assert m.match(SEARCHES) == expected
    assert expected[1] == ["TRT-0000000001"] and expected[2] == ["QAZAQ-0000000002"]
    assert 10 not in expected and 8 not in expected
    # a batch of one item finds only that item
    with BatchMatcher(ITEMS[2:3], compiled) as m:
        assert m.match(SEARCHES) == {4: ["AZTV-0000000003"]}


def test_a_bad_saved_search_is_reported_alone():
    bad = SavedSearch(99, "x", {"language": "not a language"})
    with BatchMatcher(ITEMS) as m:
        found, errors = m.match_each([*SEARCHES, bad])
    assert found[1] == ["TRT-0000000001"]
    assert list(errors) == [99] and "language" in errors[99]
    with pytest.raises(QueryError, match="unknown search filter"):
        validate("x", {"colour": "red"})
