"""From the end of an FTP upload to the item being searchable.

Starts `pool-server serve` (FTP + indexer) on 127.0.0.1 with a fresh data folder,
uploads a file of --size-mb MB --runs times with ftplib, and after each 226 reply polls
the catalog (catalog.search on pool.db, every 5 ms) until the item is found.
Goal (issue 3): p50 < 0.5 s, p95 < 1 s for 100 MB.

    .venv/bin/python benchmarks/upload_to_search_bench.py [--size-mb 100] [--runs 20]
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


def start(data: Path) -> tuple[subprocess.Popen[bytes], int]:
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
        [*run, "serve", "--ftp-port", "0", "--no-sftp"], stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (data / "serve.json").exists():
            return proc, json.loads((data / "serve.json").read_text())["ftp"]
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start in 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    body = os.urandom(args.size_mb * 1_000_000)
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
