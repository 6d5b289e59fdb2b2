"""From the end of an FTP upload to the item being searchable.

Starts `pool-server serve` (FTP + indexer) on 127.0.0.1 with a fresh data folder,
uploads a file of --size-mb MB --runs times with ftplib, and after each 226 reply polls
the catalog (catalog.search on pool.db, every 5 ms) until the item is found.
Goal (issue 3): p50 < 0.5 s, p95 < 1 s for 100 MB.

    .venv/bin/python benchmarks/upload_to_search_bench.py [--size-mb 100] [--runs 20]

--compare-signing (issue 15): the server runs without its indexer and the indexer runs
beside it (`python -m catalog.indexer`), alternately with the pool's signing keys
(signed manifests, signed feed heads) and without (same code, nothing signed), blocks of
--block uploads each, in one run; prints both and the ratio signed / unsigned.
"""

from __future__ import annotations

import argparse
import ftplib
import io
import json
import os
import random
import sqlite3
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from catalog.search import search

BIN = Path(sys.executable).parent
PASSWORD = "bench-password-1"


def start(data: Path, indexer: bool = True) -> tuple[subprocess.Popen[bytes], int]:
    run = [str(BIN / "pool-server"), "--data", str(data)]
    subprocess.run([*run, "init"], check=True, capture_output=True)
    subprocess.run([*run, "member", "add", "TRT", "--name", "TRT"], check=True, capture_output=True)
    subprocess.run(
        [
            *run,
            "user",
            "add",
            "bench",
            "--role",
            "contributor",
            "--member",
            "TRT",
            "--password-stdin",
        ],
        input=PASSWORD.encode() + b"\n",
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [
            *run,
            "serve",
            "--ftp-port",
            "0",
            "--no-sftp",
            "--no-http",
            *([] if indexer else ["--no-indexer"]),
        ],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (data / "serve.json").exists():
            return proc, json.loads((data / "serve.json").read_text())["ftp"]
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start in 30 s")


def upload_and_wait(ftp: ftplib.FTP, db: sqlite3.Connection, body: bytes, i: int) -> float:
    word = "".join(random.choices(string.ascii_lowercase, k=10))
    ftp.storbinary(f"STOR /TRT/news/story_{word}.mp4", io.BytesIO(body), blocksize=1 << 20)
    done = time.perf_counter()
    deadline = done + 30
    while time.perf_counter() < deadline:
        try:
            if search(db, word, limit=1):
                return time.perf_counter() - done
        except sqlite3.OperationalError:
            pass  # the catalog tables may not exist before the first item
        time.sleep(0.005)
    raise SystemExit(f"run {i}: not searchable after 30 s")


def compare_signing(args: argparse.Namespace, body: bytes) -> None:
    times: dict[str, list[float]] = {"signed": [], "unsigned": []}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        proc, port = start(data, indexer=False)
        try:
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", port, timeout=60)
            ftp.login("bench", PASSWORD)
            ftp.mkd("/TRT/news")
            db = sqlite3.connect(data / "pool.db", timeout=30)
            i = 0
            while min(len(v) for v in times.values()) < args.runs:
                for mode in ("unsigned", "signed"):
                    cmd = [sys.executable, "-m", "catalog.indexer", str(data / "pool")]
                    cmd.append(str(data / "pool.db"))
                    if mode == "signed":
                        cmd += ["--signing-keys", str(data / "keys" / "signing")]
                    ix = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
                    try:
                        time.sleep(1.0)  # its start-up scan of the (small) pool
                        for _ in range(args.block):
                            times[mode].append(upload_and_wait(ftp, db, body, i))
                            i += 1
                    finally:
                        ix.terminate()
                        ix.wait(30)
            ftp.quit()
        finally:
            proc.terminate()
            proc.wait(30)
    out = {}
    for mode, values in times.items():
        values.sort()
        out[mode] = {
            "runs": len(values),
            "p50_s": round(statistics.median(values), 4),
            "mean_s": round(statistics.fmean(values), 4),
        }
    out["ratio_p50"] = round(out["signed"]["p50_s"] / out["unsigned"]["p50_s"], 3)
    out["ratio_mean"] = round(out["signed"]["mean_s"] / out["unsigned"]["mean_s"], 3)
    print(json.dumps({"size_mb": args.size_mb, **out}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--compare-signing", action="store_true")
    parser.add_argument("--block", type=int, default=5, help="uploads per indexer start")
    args = parser.parse_args()
    body = os.urandom(args.size_mb * 1_000_000)
    if args.compare_signing:
        compare_signing(args, body)
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        proc, port = start(data)
        latencies = []
        try:
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", port, timeout=60)
            ftp.login("bench", PASSWORD)
            ftp.mkd("/TRT/news")
            db = sqlite3.connect(data / "pool.db", timeout=30)
            for i in range(args.runs):
                word = "".join(random.choices(string.ascii_lowercase, k=10))
                ftp.storbinary(
                    f"STOR /TRT/news/story_{word}.mp4", io.BytesIO(body), blocksize=1 << 20
                )
                done = time.perf_counter()
                deadline = done + 30
                while time.perf_counter() < deadline:
                    try:
                        if search(db, word, limit=1):
                            break
                    except sqlite3.OperationalError:
                        pass  # the catalog tables may not exist before the first item
                    time.sleep(0.005)
                else:
                    raise SystemExit(f"run {i}: not searchable after 30 s")
                latencies.append(time.perf_counter() - done)
            ftp.quit()
        finally:
            proc.terminate()
            proc.wait(30)
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    result = {
        "size_mb": args.size_mb,
        "runs": args.runs,
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(p95, 3),
        "max_s": round(latencies[-1], 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
