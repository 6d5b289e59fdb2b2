"""A 1 GiB upload over tus (the web door) against Ortak's own FTP STOR, in the same run.

Starts one `pool-server serve` (FTP + HTTP, no indexer, no SFTP) on 127.0.0.1 with a
fresh data folder, then alternates, --reps times each: an FTP STOR of the file with
ftplib, and the same file over tus with httpx (creation, then PATCHes of --chunk-mb,
as Uppy sends from a browser and `pool put` sends over http://). Each upload goes to a
new name, ends with the atomic rename, and is checked for size. Prints the medians and
the ratio tus / FTP. Goal (issue 14): >= 0.7x.

    .venv/bin/python benchmarks/tus_bench.py [--size-mb 1024] [--reps 5] [--chunk-mb 50]
        [--workdir /dev/shm]
"""

from __future__ import annotations

import argparse
import base64
import ftplib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
PASSWORD = "bench-password-1"


def run(data: Path, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [str(BIN / "pool-server"), "--data", str(data), *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )
    return out.stdout


def start(data: Path) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    run(data, "init")
    run(data, "member", "add", "TRT", "--name", "TRT")
    run(
        data,
        "user",
        "add",
        "bench",
        "--role",
        "contributor",
        "--member",
        "TRT",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    proc = subprocess.Popen(
        [
            str(BIN / "pool-server"),
            "--data",
            str(data),
            "serve",
            "--ftp-port",
            "0",
            "--http-port",
            "0",
            "--no-sftp",
            "--no-indexer",
        ],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (data / "serve.json").exists():
            return proc, json.loads((data / "serve.json").read_text())
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start in 30 s")


def ftp_store(port: int, src: Path, name: str) -> float:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=60)
    ftp.login("bench", PASSWORD)
    start = time.perf_counter()
    with open(src, "rb") as fh:
        ftp.storbinary(f"STOR /TRT/{name}", fh, blocksize=1 << 20)
    took = time.perf_counter() - start
    ftp.quit()
    return took


def tus_store(client: httpx.Client, src: Path, name: str, chunk: int) -> float:
    size = src.stat().st_size
    meta = "path " + base64.b64encode(f"/TRT/{name}".encode()).decode()
    start = time.perf_counter()
    r = client.post(
        "/api/v1/uploads/", headers={"Upload-Length": str(size), "Upload-Metadata": meta}
    )
    r.raise_for_status()
    url = r.headers["location"]
    offset = 0
    with open(src, "rb") as fh:
        while offset < size:
            n = min(chunk, size - offset)

            def body(n: int = n):  # type: ignore[no-untyped-def]
                left = n
                while left:
                    block = fh.read(min(1 << 20, left))
                    left -= len(block)
                    yield block

            r = client.patch(
                url,
                content=body(),
                headers={
                    "Upload-Offset": str(offset),
                    "Content-Length": str(n),
                    "Content-Type": "application/offset+octet-stream",
                },
            )
            r.raise_for_status()
            offset = int(r.headers["upload-offset"])
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--chunk-mb", type=int, default=50)
    ap.add_argument("--workdir", default=None, help="where the pool and the file live")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tus-bench-", dir=args.workdir))
    proc = None
    try:
        src = work / "source.bin"
        with open(src, "wb") as fh:
            for _ in range(args.size_mb):
                fh.write(os.urandom(1 << 20))
        data = work / "data"
        proc, ports = start(data)
        token = run(data, "token", "create", "bench").strip().splitlines()[-1].strip()
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{ports['http']}",
            timeout=120,
            headers={"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"},
        )
        ftp_times: list[float] = []
        tus_times: list[float] = []
        size = src.stat().st_size
        for i in range(args.reps):
            ftp_times.append(ftp_store(ports["ftp"], src, f"ftp-{i}.bin"))
            assert (data / "pool" / "TRT" / f"ftp-{i}.bin").stat().st_size == size
            (data / "pool" / "TRT" / f"ftp-{i}.bin").unlink()
            tus_times.append(tus_store(client, src, f"tus-{i}.bin", args.chunk_mb << 20))
            assert (data / "pool" / "TRT" / f"tus-{i}.bin").stat().st_size == size
            (data / "pool" / "TRT" / f"tus-{i}.bin").unlink()
            print(
                f"rep {i + 1}: FTP {size / ftp_times[-1] / 1e6:7.0f} MB/s   "
                f"tus {size / tus_times[-1] / 1e6:7.0f} MB/s",
                flush=True,
            )
        ftp_med, tus_med = statistics.median(ftp_times), statistics.median(tus_times)
        print(f"\n{args.size_mb} MiB, {args.reps} reps, tus chunks of {args.chunk_mb} MB")
        print(f"FTP STOR  median {ftp_med:6.2f} s  {size / ftp_med / 1e6:7.0f} MB/s")
        print(f"tus       median {tus_med:6.2f} s  {size / tus_med / 1e6:7.0f} MB/s")
        print(f"tus / FTP throughput: {ftp_med / tus_med:.2f}x (goal >= 0.7x)")
        client.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
