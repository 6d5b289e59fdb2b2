"""Saved searches under load: 1,000 alerts while 100 uploads a minute arrive.

Runs `pool-server serve` (FTP + indexer + alerts; previews off) twice on fresh data
folders in the same run: once with no saved search ("none") and once with --alerts
saved searches, each with a webhook to a receiver in this process on 127.0.0.1. Files
are uploaded with ftplib at --rate per minute; the titles come from a small vocabulary,
so each upload matches a few saved searches. Measured:

- upload-to-searchable: from each upload's 226 reply until `catalog.search` on pool.db
  finds it (polled every 5 ms), with and without the saved searches (goal: within 1.1x);
- alert latency: from the upload's 226 reply until its `alert.matched` webhook arrives
  (every delivery; goal: p95 < 10 s).

    .venv/bin/python benchmarks/alerts_bench.py [--alerts 1000] [--uploads 100] [--rate 100]
"""

from __future__ import annotations

import argparse
import ftplib
import io
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from catalog.search import search

BIN = Path(sys.executable).parent
PASSWORD = "bench-password-1"
VOCABULARY = [f"w{n:03d}" for n in range(200)]


class Receiver:
    """Records when each alert.matched for each item title arrives."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.perf_counter()
                data = json.loads(body)["data"]
                with rec.lock:
                    for item in data.get("items", []):
                        rec.arrivals.append((now, item["title"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def pool_server(data: Path, *args: str, stdin: bytes | None = None) -> None:
    subprocess.run(
        [str(BIN / "pool-server"), "--data", str(data), *args],
        input=stdin,
        check=True,
        capture_output=True,
    )


def set_setting(data: Path, section: str, name: str, value: str) -> None:
    path = data / "pool.toml"
    lines, current = path.read_text().splitlines(), None
    for i, line in enumerate(lines):
        if line.startswith("["):
            current = line.strip("[] ")
        elif current == section and line.split("=")[0].strip() == name:
            lines[i] = f"{name} = {value}"
    path.write_text("\n".join(lines) + "\n")


def prepare(data: Path, alerts: int, url: str, rng: random.Random) -> None:
    pool_server(data, "init")
    set_setting(data, "previews", "enabled", "false")
    set_setting(data, "webhooks", "allow_private", '["127.0.0.1"]')
    pool_server(data, "member", "add", "TRT", "--name", "TRT")
    pool_server(data, "member", "add", "AZTV", "--name", "AZTV")
    for user, role in (("bench", "contributor"), ("desk", "reader")):
        pool_server(
            data,
            *("user", "add", user, "--role", role, "--member", "TRT", "--password-stdin"),
            stdin=PASSWORD.encode() + b"\n",
        )
    from pool_server.app import Pool
    from pool_server.context import DataDir
    from pool_server.notify.service import Notifications

    pool = Pool.open(DataDir(data))
    try:
        service = Notifications(pool)
        desk = pool.accounts.get_user("desk")
        for n in range(alerts):
            words = rng.sample(VOCABULARY, 1 if n % 3 else 2)
            filters: dict[str, Any] = {}
            if n % 5 == 0:
                filters["member"] = rng.choice(["TRT", "AZTV"])
            if n % 7 == 0:
                words[0] += "*"
            service.add_alert(desk, f"a{n}", " ".join(words), filters, webhook=url)
    finally:
        pool.close()


def serve(data: Path) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(
        [
            *(str(BIN / "pool-server"), "--data", str(data), "serve", "--ftp-port", "0"),
            *("--no-sftp", "--no-http"),
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


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q * len(ordered)) - 1)] if ordered else float("nan")


def run(alerts: int, uploads: int, rate: float, clip: bytes, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        t0 = time.perf_counter()
        prepare(data, alerts, receiver.url, rng)
        setup_s = time.perf_counter() - t0
        proc, port = serve(data)
        searchable: list[float] = []
        done_at: dict[str, float] = {}
        try:
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", port, timeout=60)
            ftp.login("bench", PASSWORD)
            ftp.mkd("/TRT/news")
            db = sqlite3.connect(data / "pool.db", timeout=30)
            interval = 60.0 / rate
            start = time.perf_counter()
            for i in range(uploads):
                slot = start + i * interval
                time.sleep(max(0.0, slot - time.perf_counter()))
                token = f"t{seed}x{i:04d}"
                words = rng.sample(VOCABULARY, 3)
                title = " ".join([*words, token])
                ftp.storbinary(f"STOR /TRT/news/{title.replace(' ', '_')}.mp4", io.BytesIO(clip))
                done = time.perf_counter()
                done_at[title] = done
                deadline = done + 30
                while time.perf_counter() < deadline:
                    try:
                        if search(db, token, limit=1):
                            break
                    except sqlite3.OperationalError:
                        pass  # the catalog tables may not exist before the first item
                    time.sleep(0.005)
                else:
                    raise SystemExit(f"upload {i}: not searchable after 30 s")
                searchable.append(time.perf_counter() - done)
            elapsed = time.perf_counter() - start
            ftp.quit()
            expected = _expected_deliveries(data)
            deadline = time.perf_counter() + 60
            while time.perf_counter() < deadline:
                with receiver.lock:
                    if len(receiver.arrivals) >= expected:
                        break
                time.sleep(0.1)
            db.close()
        finally:
            proc.terminate()
            proc.wait(30)
            receiver.close()
    latencies = [t - done_at[title] for t, title in receiver.arrivals if title in done_at]
    return {
        "alerts": alerts,
        "uploads": uploads,
        "uploads_per_min": round(uploads / elapsed * 60, 1),
        "setup_s": round(setup_s, 1),
        "searchable_p50_s": round(statistics.median(searchable), 3),
        "searchable_mean_s": round(statistics.fmean(searchable), 3),
        "searchable_p95_s": round(pct(searchable, 0.95), 3),
        "alert_deliveries": len(latencies),
        "alert_deliveries_expected": expected,
        "alert_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "alert_p95_s": round(pct(latencies, 0.95), 3) if latencies else None,
        "alert_max_s": round(max(latencies), 3) if latencies else None,
    }


def _expected_deliveries(data: Path) -> int:
    """Alert hits recorded by the server (each one webhook delivery)."""
    conn = sqlite3.connect(data / "pool.db", timeout=30)
    try:
        time.sleep(3)  # the producer's settle time and one more cycle
        return int(conn.execute("SELECT count(*) FROM alert_hits").fetchone()[0])
    finally:
        conn.close()


def make_clip() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        subprocess.run(
            [
                *("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i"),
                *("testsrc=duration=1:size=320x180:rate=25", "-pix_fmt", "yuv420p", str(out)),
            ],
            check=True,
        )
        return out.read_bytes()


def matcher_cost(alerts: int, repeats: int = 20) -> float:
    """Median ms to match `alerts` saved searches against one new item, in-process (the
    producer thread's work per batch, off the indexer)."""
    from catalog.alerts import BatchMatcher, Compiled, SavedSearch
    from catalog.schema import ITEM_COLUMNS

    rng = random.Random(3)
    searches = [
        SavedSearch(n, " ".join(rng.sample(VOCABULARY, 1 if n % 3 else 2))) for n in range(alerts)
    ]
    row: dict[str, Any] = dict.fromkeys(ITEM_COLUMNS)
    row.update(rid=1, id="TRT-1", key="/TRT/news/x", path="/TRT/news/x.mp4", member="TRT")
    row.update(category="news", title=" ".join(rng.sample(VOCABULARY, 3)))
    compiled = Compiled()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        with BatchMatcher([row], compiled) as m:
            m.match(searches)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0, help="uploads per minute")
    parser.add_argument("--rounds", type=int, default=1, help="none/alerts pairs, alternating")
    args = parser.parse_args()
    clip = make_clip()
    print(json.dumps({"matcher_ms_per_batch": round(matcher_cost(args.alerts), 1)}), flush=True)
    runs: dict[str, list[dict[str, Any]]] = {"none": [], "alerts": []}
    for r in range(args.rounds):
        for name, count in (("none", 0), ("alerts", args.alerts)):
            result = run(count, args.uploads, args.rate, clip, seed=2 * r + (count > 0))
            runs[name].append(result)
            print(json.dumps({"run": name, "round": r + 1, **result}), flush=True)

    def mean(name: str, key: str) -> float:
        return statistics.fmean(x[key] for x in runs[name])

    ratio = mean("alerts", "searchable_mean_s") / mean("none", "searchable_mean_s")
    p95 = max(x["alert_p95_s"] or 99 for x in runs["alerts"])
    print(
        json.dumps(
            {
                "searchable_mean_ratio": round(ratio, 3),
                "searchable_p50_ratio": round(
                    mean("alerts", "searchable_p50_s") / mean("none", "searchable_p50_s"), 3
                ),
                "alert_p95_s_worst_round": p95,
                "goal_searchable_within_1_1x": ratio <= 1.1,
                "goal_alert_p95_under_10s": p95 < 10,
            }
        )
    )


if __name__ == "__main__":
    main()
