"""Web door benchmark: Ortak's HTTP downloads against nginx, and page/API latency.

    .venv/bin/python benchmarks/http_bench.py [--size-gib 1] [--reps 3] [--items 100000]

In one run, each server in turn within every repetition (median of the repetitions):

* GET of a SIZE file with curl to /dev/null: Ortak's `/api/v1/items/ID/content` (a
  take: Bearer token, audit row) against nginx (Debian's /usr/sbin/nginx, started here
  with its own config on 127.0.0.1: `sendfile on`, `worker_processes auto`) serving the
  same file. MB/s = bytes / (time_total - time_pretransfer) from curl's -w timings.
* 50 parallel curl GETs of a 64 MiB file: aggregate MB/s over the wall time of the
  whole batch, and failures (curl exit status, HTTP status, byte count).
* Latency over a synthetic catalog of ITEMS items (benchmarks/catalog_search_data.py,
  the catalog benchmark's generator, written into the pool's pool.db): 20 concurrent
  users (threads sharing one logged-in session) for --seconds each on the search
  page, the search API and the item page; p50/p95 of the server time (the
  `Server-Timing: app;dur=` header the door adds) and of the client's round trip.

Everything runs on loopback; servers are stopped by PID; the temporary folder is
removed at the end. Results: tables on stdout, JSON in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import catalog_search_data  # noqa: E402
from ftp_bench import free_port, log, wait_for_quiet  # noqa: E402

BIN = Path(sys.executable).parent
RESULTS = HERE / "results"
MiB = 1024 * 1024
NGINX = "/usr/sbin/nginx"
TIMINGS = "%{http_code} %{size_download} %{time_pretransfer} %{time_total}"
PASSWORD = "bench-password-123"
FIRST_RID = 1000
"""rid (and id number) of the first synthetic item."""


def cli(data: Path, *args: str, input: str | None = None) -> str:
    out = subprocess.run(
        [str(BIN / "pool-server"), "--data", str(data), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"pool-server {' '.join(args)}: {out.stderr}")
    return out.stdout


def set_toml(path: Path, section: str, name: str, value: str) -> None:
    lines = path.read_text().splitlines()
    current = None
    for i, line in enumerate(lines):
        if line.startswith("["):
            current = line.strip("[] ")
        elif current == section and line.split("=")[0].strip() == name:
            lines[i] = f"{name} = {value}"
            path.write_text("\n".join(lines) + "\n")
            return
    raise KeyError(f"[{section}] {name}")


def write_file(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as fh:
        for i in range(size // MiB):
            fh.write(block[i % 7 :] + block[: i % 7])


def bump_journal(db: Path, seq: int) -> None:
    """Continue the journal after the synthetic items, as if they had been indexed."""
    import sqlite3

    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO journal (seq, time, op, item_id) VALUES (?, '', 'bench', '')", [seq]
        )
        conn.execute("DELETE FROM journal WHERE op = 'bench'")
    conn.close()


class Ortak:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> None:
        (self.data / "serve.json").unlink(missing_ok=True)
        log_path = self.data / "serve.log"
        with open(log_path, "wb") as err:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "pool-server"),
                    "--data",
                    str(self.data),
                    "serve",
                    "--no-ftp",
                    "--no-sftp",
                    "--no-indexer",
                    "--http-port",
                    "0",
                ],
                stdout=err,
                stderr=err,
            )
        deadline = time.monotonic() + 60
        while not (self.data / "serve.json").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {log_path.read_text()}")
            time.sleep(0.05)
        self.port = json.loads((self.data / "serve.json").read_text())["http"]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Nginx:
    def __init__(self, root: Path, work: Path) -> None:
        self.root, self.work = root, work
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        conf = self.work / "nginx.conf"
        conf.write_text(
            f"""daemon off;
worker_processes auto;
pid {self.work}/nginx.pid;
error_log {self.work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    client_body_temp_path {self.work}/body;
    proxy_temp_path {self.work}/proxy;
    fastcgi_temp_path {self.work}/fastcgi;
    uwsgi_temp_path {self.work}/uwsgi;
    scgi_temp_path {self.work}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        location / {{ }}
    }}
}}
"""
        )
        self.proc = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(self.work)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def curl_get(url: str, headers: list[str]) -> tuple[bool, int, float]:
    args = ["curl", "-s", "-o", "/dev/null", "-w", TIMINGS]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=600)
    code, size, pre, total = out.stdout.split()
    return out.returncode == 0 and code == "200", int(size), float(total) - float(pre)


def single(url: str, headers: list[str], size: int) -> float:
    ok, got, secs = curl_get(url, headers)
    if not ok or got != size:
        raise RuntimeError(f"GET {url} failed ({got} of {size} bytes)")
    return size / secs / 1e6


def parallel(url: str, headers: list[str], size: int, n: int = 50) -> tuple[float, int]:
    args = ["curl", "-s", "-o", "/dev/null", "-w", TIMINGS]
    for h in headers:
        args += ["-H", h]
    start = time.perf_counter()
    procs = [subprocess.Popen([*args, url], stdout=subprocess.PIPE, text=True) for _ in range(n)]
    failures = 0
    for p in procs:
        out, _ = p.communicate(timeout=600)
        parts = out.split()
        if p.returncode != 0 or len(parts) < 2 or parts[0] != "200" or int(parts[1]) != size:
            failures += 1
    wall = time.perf_counter() - start
    return size * (n - failures) / wall / 1e6, failures


_TIMING = re.compile(r"app;dur=([\d.]+)")


def latency(base: str, paths: list[str], users: int, seconds: float) -> dict[str, Any]:
    """`users` threads requesting random `paths` for `seconds`, logged in."""
    server: list[float] = []
    client: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = [0.0]
    ready = threading.Barrier(  # the clock starts once every user has logged in
        users + 1, action=lambda: stop_at.__setitem__(0, time.monotonic() + seconds)
    )

    def user(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        with httpx.Client(base_url=base, timeout=30, cookies=cookies) as c:
            ready.wait(300)  # every user logged in before the clock starts
            while time.monotonic() < stop_at[0]:
                t0 = time.perf_counter()
                r = c.get(rng.choice(paths))
                rt = (time.perf_counter() - t0) * 1000
                m = _TIMING.search(r.headers.get("server-timing", ""))
                with lock:
                    if r.status_code != 200 or not m:
                        errors += 1
                        if errors == 1:
                            log(f"first error: {r.status_code} {r.url} {r.text[:300]!r}")
                    else:
                        server.append(float(m.group(1)))
                        client.append(rt)

    # one login (the defender limits logins at once from one address), its session
    # cookie shared by every simulated user
    with httpx.Client(base_url=base, timeout=60) as c:
        r = c.post("/api/v1/login", json={"username": "bench", "password": PASSWORD})
        r.raise_for_status()
        cookies = dict(c.cookies)
    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    ready.wait(300)
    for t in threads:
        t.join(seconds + 120)

    def pct(xs: list[float], q: float) -> float:
        return statistics.quantiles(xs, n=100)[q - 1] if len(xs) > 1 else float("nan")

    return {
        "requests": len(server),
        "errors": errors,
        "server_p50_ms": round(pct(server, 50), 1),
        "server_p95_ms": round(pct(server, 95), 1),
        "client_p50_ms": round(pct(client, 50), 1),
        "client_p95_ms": round(pct(client, 95), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-gib", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--parallel", type=int, default=50)
    ap.add_argument("--quiet-wait", type=float, default=20.0)
    ap.add_argument("--skip-downloads", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args()
    size = int(args.size_gib * 1024) * MiB
    small = 64 * MiB
    tmp = Path(tempfile.mkdtemp(prefix="ortak-http-bench-"))
    results: dict[str, Any] = {"size": size, "items": args.items, "users": args.users}
    ortak = Ortak(tmp / "data")
    nginx = Nginx(tmp / "data" / "pool", tmp / "nginx")
    try:
        data = tmp / "data"
        cli(data, "init")
        set_toml(data / "pool.toml", "previews", "enabled", "false")
        cli(data, "member", "add", "TRT", "--name", "TRT")
        cli(data, "user", "add", "bench", "--role", "reader", "--member", "TRT",
            "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
        area = data / "pool" / "TRT" / "news"
        area.mkdir(parents=True)
        if not args.skip_downloads:
            log(f"writing {size // MiB} MiB and 64 MiB test files")
            write_file(area / "big.mxf", size)
            write_file(area / "small.mxf", small)
            cli(data, "index", "--once")
        if not args.skip_latency:
            # after the real files' items (the indexer keeps only items whose files
            # exist, so the synthetic ones are added once indexing is done)
            log(f"adding {args.items} synthetic items to the catalog")
            catalog_search_data.build(data / "pool.db", args.items, first_rid=FIRST_RID)
            bump_journal(data / "pool.db", FIRST_RID + args.items)
        # nginx's workers run as an unprivileged user: let them read the pool
        for folder in (tmp, data, data / "pool", data / "pool" / "TRT", area):
            folder.chmod(0o755)
        for f in area.iterdir():
            f.chmod(0o644)
        token = json.loads(cli(data, "token", "create", "bench", "--json"))["token"]
        ortak.start()
        nginx.start()
        base = f"http://127.0.0.1:{ortak.port}"
        auth = [f"Authorization: Bearer {token}"]
        if not args.skip_downloads:
            ids = {}
            for name in ("big", "small"):
                r = httpx.get(f"{base}/api/v1/search", params={"q": name, "member": "TRT"},
                              headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                ids[name] = next(i["id"] for i in r.json()["items"] if i["path"].endswith(
                    f"/{name}.mxf"))  # fmt: skip
            urls = {
                "ortak": {n: f"{base}/api/v1/items/{i}/content" for n, i in ids.items()},
                "nginx": {
                    n: f"http://127.0.0.1:{nginx.port}/TRT/news/{n}.mxf" for n in ("big", "small")
                },
            }
            runs: dict[str, dict[str, list[float]]] = {
                s: {"get": [], "par": [], "fail": []} for s in urls
            }
            for rep in range(args.reps):
                for name in ("nginx", "ortak"):
                    wait_for_quiet(args.quiet_wait)
                    hdr = auth if name == "ortak" else []
                    mbs = single(urls[name]["big"], hdr, size)
                    par, fail = parallel(urls[name]["small"], hdr, small, args.parallel)
                    runs[name]["get"].append(mbs)
                    runs[name]["par"].append(par)
                    runs[name]["fail"].append(fail)
                    log(f"rep {rep + 1} {name}: GET {mbs:.0f} MB/s, "
                        f"{args.parallel} parallel {par:.0f} MB/s, {fail} failures")  # fmt: skip
            med = {
                s: {k: statistics.median(v) for k, v in r.items() if k != "fail"}
                for s, r in runs.items()
            }
            results["downloads"] = {
                "runs": runs,
                "median": med,
                "ratio_get": med["ortak"]["get"] / med["nginx"]["get"],
                "ratio_parallel": med["ortak"]["par"] / med["nginx"]["par"],
                "failures": sum(runs["ortak"]["fail"]) + sum(runs["nginx"]["fail"]),
            }
        if not args.skip_latency:
            queries = catalog_search_data.queries(500)
            rng = random.Random(5)
            members = catalog_search_data.MEMBERS
            search = [f"/search?q={q.replace(' ', '+')}" for q in queries]
            search += [f"/search?q={q.split()[0]}&member={rng.choice(members)}" for q in queries]
            api = [p.replace("/search?", "/api/v1/search?") for p in search]
            # ids as the generator makes them: member = MEMBERS[rid % 6]
            items = [
                f"/items/{members[rid % 6]}-{rid:010x}"
                for rid in (rng.randint(FIRST_RID, FIRST_RID + args.items - 1) for _ in range(2000))
            ]
            results["latency"] = {}
            for label, paths in (("search page", search), ("search API", api),
                                 ("item page", items)):  # fmt: skip
                wait_for_quiet(args.quiet_wait)
                got = latency(base, paths, args.users, args.seconds)
                results["latency"][label] = got
                log(f"{label}: {got}")
    finally:
        ortak.stop()
        nginx.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"http-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k != "downloads"}, indent=2))
    if "downloads" in results:
        d = results["downloads"]
        print(
            f"GET {size // MiB} MiB: ortak {d['median']['ortak']['get']:.0f} MB/s, nginx "
            f"{d['median']['nginx']['get']:.0f} MB/s → {d['ratio_get']:.2f}x; "
            f"{args.parallel} parallel 64 MiB: ortak {d['median']['ortak']['par']:.0f}, nginx "
            f"{d['median']['nginx']['par']:.0f} MB/s → {d['ratio_parallel']:.2f}x; "
            f"failures {d['failures']}"
        )
    log(f"results in {out}")


if __name__ == "__main__":
    main()
