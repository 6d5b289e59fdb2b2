"""Random create/modify/move/delete sequences: once the indexer settles, catalog == disk."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.indexer import Indexer
from catalog.settings import SETTINGS

from .checks import catalog_problems, disk_state
from .conftest import wait_for

NAMES = [
    f"/{m}/news/{stem}{ext}"
    for m in ("TRT", "AZTV")
    for stem in ("a", "b")
    for ext in (".json", ".mxf", ".tr.srt", ".xml")
] + ["/TRT/news/.ortak-part-x", "/TRT/sport/deep/c.json"]

paths = st.sampled_from(NAMES)
ops = st.one_of(
    st.tuples(st.just("write"), paths, st.binary(max_size=64)),
    st.tuples(st.just("put"), paths, st.binary(max_size=64)),
    st.tuples(st.just("move"), paths, paths),
    st.tuples(st.just("delete"), paths, st.none()),
)


def apply(pool: Path, op: tuple[str, str, Any]) -> None:
    kind, rel, arg = op
    path = pool / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "write":  # in place
        path.write_bytes(arg)
    elif kind == "put":  # atomic, as uploads land
        part = path.parent / ".ortak-part-tmp"
        part.write_bytes(arg)
        os.replace(part, path)
    elif kind == "move" and path.exists():
        target = pool / arg.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    elif kind == "delete" and path.exists():
        path.unlink()


def check_sequence(sequence: list[tuple[str, str, Any]], restart_midway: bool) -> None:
    values = {name: default for name, default, _ in SETTINGS}
    values.update({"settle_seconds": 0.2, "reconcile_minutes": 60})
    with tempfile.TemporaryDirectory() as tmp:
        pool, db_path = Path(tmp) / "pool", Path(tmp) / "pool.db"
        (pool / "TRT/news").mkdir(parents=True)
        half = len(sequence) // 2 if restart_midway else len(sequence)
        with Indexer(pool, db_path, values) as ix:
            ix.start()
            for op in sequence[:half]:
                apply(pool, op)
            if restart_midway:
                ix.wait_idle(5)
        if restart_midway:
            for op in sequence[half:]:  # changed while no indexer ran
                apply(pool, op)
            with Indexer(pool, db_path, values) as ix:
                ix.start()
                assert ix.wait_idle(30)
        else:
            with Indexer(pool, db_path, values) as ix:
                ix.start()
                assert ix.wait_idle(30)
                for op in sequence:
                    apply(pool, op)
                wait_for(lambda: not catalog_problems(db_path, disk_state(pool)), timeout=10)
                assert ix.wait_idle(30)
        assert catalog_problems(db_path, disk_state(pool)) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=25), st.booleans())
def test_catalog_equals_disk(sequence, restart_midway):
    check_sequence(sequence, restart_midway)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=80), st.booleans())
def test_catalog_equals_disk_long(sequence, restart_midway):
    check_sequence(sequence, restart_midway)
