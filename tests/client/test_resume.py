"""Interrupted downloads resume; bad bytes are detected, discarded and fetched again."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from .conftest import SCHEMES, Pool, wait_for

SIZE = 6 * 1024 * 1024


@pytest.fixture
def item(pool: Pool) -> dict:
    data = os.urandom(SIZE)
    pool.upload("/TRT/news/big_story.mxf", data)
    pool.wait_items(1)
    pool.run("update")
    [found] = pool.json("search", "big story")
    assert found["sha256"] == hashlib.sha256(data).hexdigest()
    return found


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sigkill_mid_get_then_resume(pool: Pool, item: dict, scheme: str, tmp_path: Path):
    dest = tmp_path / "dl"
    part = dest / "big_story.mxf.part"
    proc = pool.spawn("get", item["id"], "--dest", str(dest), "--bwlimit", "2M", scheme=scheme)
    try:
        wait_for(lambda: part.exists() and part.stat().st_size >= 1024 * 1024, 15, "the first MiB")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    had = part.stat().st_size
    assert 0 < had < SIZE and not (dest / "big_story.mxf").exists()

    got = pool.json("get", item["id"], "--dest", str(dest), scheme=scheme)["files"][0]
    assert got["ok"] and got["resumed_from"] == had
    assert got["transferred"] == SIZE - had < SIZE
    assert hashlib.sha256((dest / "big_story.mxf").read_bytes()).hexdigest() == item["sha256"]
    assert not part.exists()

    again = pool.json("get", item["id"], "--dest", str(dest), scheme=scheme)["files"][0]
    assert again["skipped"] and again["transferred"] == 0


def test_corrupted_part_is_detected_and_fixed(pool: Pool, item: dict, tmp_path: Path):
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "big_story.mxf.part").write_bytes(os.urandom(1024 * 1024))  # wrong bytes
    got = pool.json("get", item["id"], "--dest", str(dest))["files"][0]
    assert got["ok"] and got["retried"] and got["resumed_from"] == 1024 * 1024
    assert got["transferred"] == SIZE - 1024 * 1024 + SIZE
    assert hashlib.sha256((dest / "big_story.mxf").read_bytes()).hexdigest() == item["sha256"]


def test_mismatch_twice_is_exit_5_and_leaves_nothing(pool: Pool, item: dict, tmp_path: Path):
    import json

    from catalog.signing import PoolSigner

    [catalog] = list((pool.home / "cache-news").glob("*/catalog.sqlite"))
    conn = sqlite3.connect(catalog)
    # the catalog (and its manifest, signed with the pool's own key) names other bytes
    # than the server holds
    manifest = json.loads(
        conn.execute("SELECT manifest FROM items WHERE id = ?", [item["id"]]).fetchone()[0]
    )
    for f in manifest["files"]:
        if f["path"] == item["path"]:
            f["sha256"] = "0" * 64
    signature = PoolSigner(pool.server.data / "keys" / "signing").sign(manifest)
    conn.execute(
        "UPDATE items SET sha256 = ?, manifest = ?, manifest_signature = ? WHERE id = ?",
        ["0" * 64, json.dumps(manifest), json.dumps(signature), item["id"]],
    )
    conn.commit()
    conn.close()
    dest = tmp_path / "dl"
    result = pool.run("get", item["id"], "--dest", str(dest), expect=5)
    assert "do not match the catalog" in result.stderr
    assert "Traceback" not in result.output
    assert list(dest.iterdir()) == []
