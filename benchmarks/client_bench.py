"""Client benchmark: `pool sync` and `pool get` against lftp, rclone and curl over FTP on
loopback, in one run (figures in benchmarks/README.md, "Client").

    .venv/bin/python benchmarks/client_bench.py [--items 20000] [--new 100]
        [--per-folder 1000] [--get-gib 1] [--reps 3] [--only noop,incremental,get]
        [--work DIR] [--keep] [--json FILE]

- noop: a no-op `pool sync` of a pool of ITEMS items (in folders of PER_FOLDER) vs
  `lftp -e "mirror --only-newer"` and `rclone sync` (size/modtime) of the same tree into
  folders they filled themselves; median of REPS, alternated (goal: >= 20x faster than
  the faster of the two, and under 1 s);
- incremental: NEW new items appear; `pool sync` fetches them (time, and the requests
  it sent: one index read, one journal read from its offset, NEW file reads, no listing),
  with lftp and rclone doing the same for comparison;
- get: `pool get` of a GET_GIB GiB item, sha256 verification included, vs `curl -o` of
  the same file (goal: >= 0.9x curl's throughput); best of REPS, alternated.

Every tool runs as a fresh process (its start-up included), against one
`pool-server serve` (FTP only, with the indexer) in a temporary data folder.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
MEMBER, READER, PASSWORD = "TRT", "bench-news", "bench-secret-password"
ITEM_BYTES = 512
SCOPE = "news"
"""The category every tool keeps a copy of (the big item of `get` lives elsewhere)."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - start


@contextlib.contextmanager
def ortak(work: Path) -> Iterator[tuple[Path, int]]:
    data = work / "data"
    cli = str(BIN / "pool-server")

    def run(*args: str, stdin: str | None = None) -> None:
        subprocess.run(
            [cli, "--data", str(data), *args],
            input=stdin,
            text=True,
            check=True,
            timeout=120,
            capture_output=True,
        )

    if not (data / "pool.toml").exists():
        run("init")
        run("member", "add", MEMBER, "--name", "Benchmark")
        run("user", "add", READER, "--role", "reader", "--password-stdin", stdin=PASSWORD + "\n")
    (data / "serve.json").unlink(missing_ok=True)
    out = open(work / "serve.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [cli, "--data", str(data), "serve", "--host", "127.0.0.1", "--ftp-port", "0", "--no-sftp"],
        stdout=out,
        stderr=out,
    )
    try:
        wait_until(
            lambda: (data / "serve.json").exists() or proc.poll() is not None,
            60,
            "pool-server to start",
        )
        if proc.poll() is not None:
            raise RuntimeError(f"pool-server exited: {(work / 'serve.log').read_text()}")
        yield data, json.loads((data / "serve.json").read_text())["ftp"]
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        out.close()


def make_items(root: Path, prefix: str, n: int, per_folder: int = 1000) -> None:
    for i in range(n):
        folder = root / f"{prefix}{i // per_folder:03d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{prefix}_{i:06d}.mp4").write_bytes(os.urandom(ITEM_BYTES))


def catalog_count(data: Path) -> tuple[int, int]:
    """(items in the server's catalog, feed seq published)."""
    try:
        conn = sqlite3.connect(f"file:{data / 'pool.db'}?mode=ro", uri=True, timeout=5)
        try:
            items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        finally:
            conn.close()
        seq = json.loads((data / "pool" / ".catalog" / "index.json").read_text())["seq"]
    except (sqlite3.Error, OSError, ValueError):
        return 0, 0
    return items, seq


def feed_caught_up(data: Path, n: int) -> bool:
    items, seq = catalog_count(data)
    if items < n:
        return False
    conn = sqlite3.connect(f"file:{data / 'pool.db'}?mode=ro", uri=True, timeout=5)
    try:
        latest = conn.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0]
    finally:
        conn.close()
    return seq >= latest


class Tools:
    def __init__(self, work: Path, port: int) -> None:
        self.work, self.port = work, port
        # As on a user's machine: Python may cache bytecode (some shells and CI set
        # PYTHONDONTWRITEBYTECODE, which makes every start-up compile the client anew).
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env = {
            **base,
            "POOL_URL": f"ftp://127.0.0.1:{port}",
            "POOL_USER": READER,
            "POOL_PASSWORD": PASSWORD,
            "POOL_CONFIG_DIR": str(work / "pool-config"),
            "POOL_CACHE_DIR": str(work / "pool-cache"),
            "POOL_PROFILE": "",
        }
        obscured = subprocess.run(
            ["rclone", "obscure", PASSWORD], capture_output=True, text=True, check=True
        ).stdout.strip()
        self.rclone_remote = (
            f":ftp,host=127.0.0.1,port={port},user={READER},pass={obscured}:/{MEMBER}/{SCOPE}"
        )

    def pool_sync(self, dest: Path, parallel: int = 4) -> tuple[float, dict[str, Any]]:
        t, out = timed(
            [
                str(BIN / "pool"),
                "sync",
                "--dest",
                str(dest),
                "--member",
                MEMBER,
                "--category",
                SCOPE,
                "--parallel",
                str(parallel),
                "--json",
            ],
            self.env,
        )
        return t, json.loads(out)

    def lftp(self, dest: Path) -> float:
        dest.mkdir(parents=True, exist_ok=True)
        script = (
            f"set ftp:ssl-allow no; set net:max-retries 1; "
            f"mirror --only-newer --parallel=4 /{MEMBER}/{SCOPE} {dest}; quit"
        )
        return timed(
            ["lftp", "-u", f"{READER},{PASSWORD}", "-p", str(self.port), "-e", script, "127.0.0.1"]
        )[0]

    def rclone(self, dest: Path) -> float:
        return timed(
            [
                "rclone",
                "sync",
                self.rclone_remote,
                str(dest),
                "--transfers",
                "4",
                "--checkers",
                "8",
                "--config",
                "/dev/null",
            ]
        )[0]


def bench_noop(tools: Tools, work: Path, reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    dests = {name: work / f"mirror-{name}" for name in ("pool", "lftp", "rclone")}
    log("initial copies (not the figure: each tool fills its own folder)")
    t, doc = tools.pool_sync(dests["pool"])
    out["initial_pool_s"] = round(t, 2)
    out["initial_pool_fetched"] = len(doc["fetched"])
    out["initial_lftp_s"] = round(tools.lftp(dests["lftp"]), 2)
    out["initial_rclone_s"] = round(tools.rclone(dests["rclone"]), 2)
    log(f"initial: {out}")
    times: dict[str, list[float]] = {"pool": [], "lftp": [], "rclone": []}
    requests = None
    for rep in range(reps):
        t, doc = tools.pool_sync(dests["pool"])
        assert not doc["fetched"] and not doc["replaced"], doc
        times["pool"].append(t)
        requests = doc["requests"]
        times["lftp"].append(tools.lftp(dests["lftp"]))
        times["rclone"].append(tools.rclone(dests["rclone"]))
        log(f"no-op rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
    med = {k: statistics.median(v) for k, v in times.items()}
    out.update({f"noop_{k}_s": round(v, 3) for k, v in med.items()})
    out["noop_times"] = {k: [round(x, 3) for x in v] for k, v in times.items()}
    out["noop_pool_requests"] = requests
    out["noop_speedup_vs_best"] = round(min(med["lftp"], med["rclone"]) / med["pool"], 1)
    return out


def bench_incremental(
    tools: Tools, work: Path, data: Path, base: int, new: int, reps: int
) -> dict[str, Any]:
    rows = []
    total = base
    for rep in range(reps):
        make_items(data / "pool" / MEMBER / SCOPE, f"new{rep}x", new, per_folder=new)
        total += new
        waited = wait_until(lambda t=total: feed_caught_up(data, t), 600, "new items indexed")
        t, doc = tools.pool_sync(work / "mirror-pool")
        assert len(doc["fetched"]) == new, doc["fetched"][:3]
        row = {
            "pool_s": round(t, 3),
            "pool_requests": doc["requests"],
            "journal_bytes": doc["catalog"]["journal_bytes"],
            "indexing_wait_s": round(waited, 1),
        }
        row["lftp_s"] = round(tools.lftp(work / "mirror-lftp"), 3)
        row["rclone_s"] = round(tools.rclone(work / "mirror-rclone"), 3)
        log(f"incremental rep {rep + 1}: {row}")
        rows.append(row)
    return {
        "incremental_new": new,
        "incremental_pool_s": statistics.median(r["pool_s"] for r in rows),
        "incremental_lftp_s": statistics.median(r["lftp_s"] for r in rows),
        "incremental_rclone_s": statistics.median(r["rclone_s"] for r in rows),
        "incremental_rows": rows,
    }


def bench_get(
    tools: Tools, work: Path, data: Path, gib: float, reps: int, count_before: int
) -> dict[str, Any]:
    size = int(gib * (1 << 30))
    big = data / "pool" / MEMBER / "big" / "huge_master.mxf"
    big.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 24)
    digest = hashlib.sha256()
    with open(big, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            digest.update(block[: min(left, len(block))])
            left -= len(block)
    expected = digest.hexdigest()

    def indexed() -> bool:
        conn = sqlite3.connect(f"file:{data / 'pool.db'}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute(
                "SELECT sha256 FROM items WHERE path = ?", [f"/{MEMBER}/big/huge_master.mxf"]
            ).fetchone()
        finally:
            conn.close()
        return bool(row and row[0] == expected) and feed_caught_up(data, count_before)

    wait_until(indexed, 600, "the big item indexed")
    timed([str(BIN / "pool"), "update"], tools.env)
    found = json.loads(timed([str(BIN / "pool"), "search", "huge master", "--json"], tools.env)[1])
    item_id = found[0]["id"]
    url = f"ftp://{READER}:{PASSWORD}@127.0.0.1:{tools.port}/{MEMBER}/big/huge_master.mxf"
    times: dict[str, list[float]] = {"pool": [], "curl": []}
    for rep in range(reps):
        dest = work / "get-curl.bin"
        dest.unlink(missing_ok=True)
        times["curl"].append(timed(["curl", "-sS", "-o", str(dest), url])[0])
        dest.unlink()
        folder = work / "get-pool"
        shutil.rmtree(folder, ignore_errors=True)
        t, out = timed(
            [str(BIN / "pool"), "get", item_id, "--dest", str(folder), "--json"], tools.env
        )
        assert json.loads(out)["files"][0]["transferred"] == size
        times["pool"].append(t)
        shutil.rmtree(folder)
        log(f"get rep {rep + 1}: curl {times['curl'][-1]:.2f}s, pool {times['pool'][-1]:.2f}s")
    best = {k: min(v) for k, v in times.items()}
    mb = size / 1e6
    return {
        "get_bytes": size,
        "get_curl_MBps": round(mb / best["curl"], 1),
        "get_pool_MBps": round(mb / best["pool"], 1),
        "get_ratio": round(best["curl"] / best["pool"], 2),
        "get_times": times,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument(
        "--per-folder",
        type=int,
        default=1000,
        help="items per folder (a pool of series folders: 50)",
    )
    ap.add_argument("--new", type=int, default=100)
    ap.add_argument("--get-gib", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="noop,incremental,get")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    for tool in ("lftp", "rclone", "curl"):
        if not shutil.which(tool):
            print(f"{tool} is needed: apt-get install {tool}", file=sys.stderr)
            return 2
    parts = set(args.only.split(","))
    work = args.work or Path(tempfile.mkdtemp(prefix="client-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": {
            "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "nproc": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
            "python": sys.version.split()[0],
            "command": " ".join(sys.argv),
        },
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    try:
        data = work / "data"
        items_root = data / "pool" / MEMBER / "news"
        with ortak(work) as (data, port):
            if catalog_count(data)[0] < args.items:
                log(f"making {args.items} items and indexing them")
                start = time.monotonic()
                make_items(items_root, "s", args.items, args.per_folder)
                wait_until(lambda: feed_caught_up(data, args.items), 3600, "indexing")
                results["indexing_s"] = round(time.monotonic() - start, 1)
                log(f"indexed in {results['indexing_s']} s")
            tools = Tools(work, port)
            count = catalog_count(data)[0]
            if "noop" in parts:
                results.update(bench_noop(tools, work, args.reps))
            if "incremental" in parts:
                results.update(bench_incremental(tools, work, data, count, args.new, args.reps))
                count = catalog_count(data)[0]
            if "get" in parts:
                results.update(bench_get(tools, work, data, args.get_gib, args.reps, count))
        results["machine"]["loadavg_end"] = os.getloadavg()
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
