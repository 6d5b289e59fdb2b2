"""SIGKILL the indexer in the middle of an ingest; the restart must repair everything."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from catalog.feed_reader import sync_from_folder

from .checks import catalog_problems, disk_state

ROOT = Path(__file__).resolve().parents[2]


def indexed_files(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    con = sqlite3.connect(db_path, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM item_files").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_sigkill_during_ingest_of_500_files(tmp_path: Path):
    pool, db_path = tmp_path / "pool", tmp_path / "pool.db"
    filler = os.urandom(48 * 1024)
    for i in range(500):
        folder = pool / ("TRT", "QAZAQ", "MTRK", "KTRK")[i % 4] / "news"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"story{i}.json").write_text(f'{{"title": "haber {i}"}}')
        if i % 2 == 0:
            (folder / f"story{i}.mxf").write_bytes(filler + i.to_bytes(4, "big"))
    total = 750
    cmd = [sys.executable, "-m", "catalog.indexer", str(pool), str(db_path)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while indexed_files(db_path) < 60 and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    killed_at = indexed_files(db_path)
    assert 60 <= killed_at < total, f"killed after {killed_at} of {total} files"

    # While it was down, the pool changed too.
    (pool / "TRT/news/story0.json").write_text('{"title": "değişti"}')
    (pool / "QAZAQ/news/story1.json").unlink()
    done = subprocess.run([*cmd, "--once"], cwd=ROOT, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert catalog_problems(db_path, disk_state(pool)) == []

    copy = tmp_path / "client.db"
    sync_from_folder(pool / ".catalog", copy)
    con_a, con_b = sqlite3.connect(db_path), sqlite3.connect(copy)
    try:
        q = "SELECT * FROM items ORDER BY rid"
        assert con_a.execute(q).fetchall() == con_b.execute(q).fetchall()
    finally:
        con_a.close()
        con_b.close()
