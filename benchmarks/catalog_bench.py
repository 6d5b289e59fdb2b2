"""Catalog benchmarks (figures in benchmarks/README.md, "Catalog").

    .venv/bin/python benchmarks/catalog_bench.py [all|hash|small|reconcile|search]
        [--hash-gib 4] [--small 1000] [--files 100000] [--items 1000000]
        [--queries 1000] [--work DIR] [--keep]

- hash: the indexer's hashing of one large file vs a bare hashlib loop, in the same
  run, alternated, best of 3 each (goal: >= 0.9x);
- small: 1,000 small files (JSON sidecars and short MP4 clips) indexed, files/s, by a
  running indexer (watchdog events) and by a reconciliation pass;
- reconcile: a reconciliation pass over 100,000 unchanged files (goal: < 10 s);
- latency: a 100 MB file renamed into place (an upload completing) → searchable, p50/p95
  (the indexer's share of the upload-to-searchable goal; the FTP part is measured with
  the server);
- search: 1,000,000 synthetic items, Zipf vocabulary, two-word queries drawn by word
  frequency, LIMIT 50: p50/p95 (goal: p50 < 10 ms, p95 < 100 ms), with plain FTS5 bm25
  over the same queries for comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import catalog_search_data

from catalog.extract import extract_file
from catalog.indexer import Indexer
from catalog.media import sha256_file
from catalog.schema import open_catalog
from catalog.search import BODY_WEIGHT, TITLE_WEIGHT, build_match, search
from catalog.settings import SETTINGS

SETTINGS_DICT = {name: default for name, default, _ in SETTINGS}


def bare_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def bench_hash(work: Path, gib: float) -> dict[str, Any]:
    path = work / "TRT" / "news" / "big.mxf"
    path.parent.mkdir(parents=True, exist_ok=True)
    size = int(gib * (1 << 30))
    block = os.urandom(1 << 24)
    with open(path, "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
    bare, ours, extract = [], [], []
    for _ in range(3):
        t = time.perf_counter()
        expected = bare_sha256(path)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        assert sha256_file(path) == expected
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        row = extract_file(work, "/TRT/news/big.mxf", 1 << 22)
        extract.append(time.perf_counter() - t)
        assert row["sha256"] == expected
    path.unlink()
    mib = size / (1 << 20)
    return {
        "file_gib": gib,
        "bare_hashlib_mib_s": round(mib / min(bare), 1),
        "indexer_sha256_mib_s": round(mib / min(ours), 1),
        "indexer_extract_file_mib_s": round(mib / min(extract), 1),
        "ratio_sha256": round(min(bare) / min(ours), 3),
        "ratio_extract_file": round(min(bare) / min(extract), 3),
    }


def make_clip(work: Path) -> bytes:
    ffmpeg = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
    out = work / "clip.mp4"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(out),
        ],
        check=True,
    )
    return out.read_bytes()


def bench_small(work: Path, count: int) -> dict[str, Any]:
    clip = make_clip(work)

    def populate(pool: Path, drop: bool) -> None:
        for i in range(count):
            folder = pool / ("TRT", "QAZAQ", "MTRK", "KTRK")[i % 4] / "news"
            folder.mkdir(parents=True, exist_ok=True)
            name, data = (
                (f"s{i}.json", json.dumps({"title": f"Haber {i}", "keywords": ["x"]}).encode())
                if i % 2
                else (f"s{i}.mp4", clip)
            )
            if drop:  # like an upload: partial, then rename
                part = folder / f".ortak-part-{i}"
                part.write_bytes(data)
                os.replace(part, folder / name)
            else:
                (folder / name).write_bytes(data)

    results: dict[str, Any] = {"files": count}
    pool, db = work / "live" / "pool", work / "live" / "pool.db"
    pool.mkdir(parents=True)
    ix = Indexer(pool, db, SETTINGS_DICT)
    ix.start()
    try:
        ix.wait_idle(30)
        t = time.perf_counter()
        populate(pool, drop=True)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with ix.lock:
                n = ix.db.execute("SELECT count(*) FROM item_files").fetchone()[0]
            if n >= count:
                break
            time.sleep(0.01)
        results["watchdog_files_per_s"] = round(count / (time.perf_counter() - t), 1)
    finally:
        ix.stop()
    pool, db = work / "once" / "pool", work / "once" / "pool.db"
    populate(pool, drop=False)
    t = time.perf_counter()
    stats = Indexer(pool, db, SETTINGS_DICT).run_once()
    assert stats["processed"] == count, stats
    results["reconcile_pass_files_per_s"] = round(count / (time.perf_counter() - t), 1)
    return results


def bench_reconcile(work: Path, count: int) -> dict[str, Any]:
    pool, db = work / "rec" / "pool", work / "rec" / "pool.db"
    members = ("TRT", "AZTV", "QAZAQ", "MTRK", "KTRK", "MTVA")
    for i in range(count):
        folder = pool / members[i % 6] / f"cat{i % 50}"
        if i < 300:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.bin").write_bytes(i.to_bytes(4, "big"))
    t = time.perf_counter()
    settings = dict(SETTINGS_DICT, index_workers=2)
    first = Indexer(pool, db, settings).run_once()
    index_s = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        ix = Indexer(pool, db, settings, publish_feed=False)
        stats = ix.reconcile()
        times.append(time.perf_counter() - t)
        assert stats["queued"] == 0 and stats["removed"] == 0, stats
        ix.stop()
    return {
        "files": count,
        "first_index_s": round(index_s, 1),
        "first_index_files_per_s": round(first["processed"] / index_s, 1),
        "reconcile_unchanged_s": [round(x, 2) for x in times],
    }


def bench_latency(work: Path, mib: int, rounds: int) -> dict[str, Any]:
    """A 100 MB MXF renamed into place (what an upload's completion is) → searchable.

    The FTP server is not involved: this is the indexer's share of the end-to-end figure.
    """
    pool, db = work / "lat" / "pool", work / "lat" / "pool.db"
    (pool / "TRT" / "news").mkdir(parents=True)
    clip = work / "lat" / "clip.mxf"
    seconds = mib * 8 / 100  # MPEG-2 4:2:2 at 100 Mb/s
    subprocess.run(
        [
            shutil.which("ffmpeg") or "/usr/bin/ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=1920x1080:rate=25",
            "-t",
            str(seconds),
            "-c:v",
            "mpeg2video",
            "-pix_fmt",
            "yuv422p",
            "-b:v",
            "100M",
            "-minrate",
            "100M",
            "-maxrate",
            "100M",
            "-bufsize",
            "4M",
            "-f",
            "mxf",
            str(clip),
        ],
        check=True,
    )
    body = clip.read_bytes()
    ix = Indexer(pool, db, SETTINGS_DICT)
    ix.start()
    times = []
    try:
        ix.wait_idle(30)
        for i in range(rounds):
            part = pool / "TRT" / "news" / f".ortak-part-{i}"
            part.write_bytes(body)
            t = time.perf_counter()
            os.replace(part, pool / "TRT" / "news" / f"upload{i}.mxf")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with ix.lock:
                    if search(ix.db, f"upload{i}"):
                        break
                time.sleep(0.002)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        ix.stop()
    return {"file_bytes": len(body), "rounds": rounds, **_percentiles(times)}


def _percentiles(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 2),
        "max_ms": round(ms[-1], 2),
    }


def bench_search(work: Path, items: int, count: int, cached: Path | None) -> dict[str, Any]:
    path = cached or work / "search.db"
    if not path.exists():
        t = time.perf_counter()
        catalog_search_data.build(path, items)
        built = round(time.perf_counter() - t, 1)
    else:
        built = None
    db = open_catalog(path)
    queries = catalog_search_data.queries(count)
    for q in queries[:50]:  # warm the page cache
        search(db, q)
    ours, plain, hits = [], [], []
    for q in queries:
        t = time.perf_counter()
        hits.append(len(search(db, q)))
        ours.append((time.perf_counter() - t) * 1000)
    for q in queries[: min(count, 300)]:
        required, _ = build_match(q)
        match = "{title body} : (" + " AND ".join(required) + ")"
        t = time.perf_counter()
        db.execute(
            "SELECT i.* FROM items_fts JOIN items i ON i.rid = items_fts.rowid"
            " WHERE items_fts MATCH ? ORDER BY bm25(items_fts, ?, ?, 0) LIMIT 50",
            [match, TITLE_WEIGHT, BODY_WEIGHT],
        ).fetchall()
        plain.append((time.perf_counter() - t) * 1000)
    db.conn.close()
    return {
        "items": items,
        "queries": count,
        "build_s": built,
        "ortak_search": _percentiles(ours),
        "plain_bm25": _percentiles(plain),
        "queries_with_50_hits": sum(h == 50 for h in hits),
        "queries_with_no_hit": hits.count(0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "which",
        nargs="?",
        default="all",
        choices=["all", "hash", "small", "reconcile", "search", "latency"],
    )
    parser.add_argument("--hash-gib", type=float, default=4.0)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--search-db", type=Path, help="reuse a synthetic catalog built before")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ortak-bench-", dir=args.work))
    results: dict[str, Any] = {"cpus": os.cpu_count()}
    try:
        if args.which in ("all", "hash"):
            results["hash"] = bench_hash(work, args.hash_gib)
            print(json.dumps(results["hash"]), flush=True)
        if args.which in ("all", "small"):
            results["small"] = bench_small(work, args.small)
            print(json.dumps(results["small"]), flush=True)
        if args.which in ("all", "reconcile"):
            results["reconcile"] = bench_reconcile(work, args.files)
            print(json.dumps(results["reconcile"]), flush=True)
        if args.which in ("all", "latency"):
            results["latency"] = bench_latency(work, 100, 20)
            print(json.dumps(results["latency"]), flush=True)
        if args.which in ("all", "search"):
            results["search"] = bench_search(work, args.items, args.queries, args.search_db)
            print(json.dumps(results["search"]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
