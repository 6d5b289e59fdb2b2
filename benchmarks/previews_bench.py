"""Previews: what one decode costs, what a running job costs the FTP door, and how soon
a news clip's proxy is out.

1. `onedecode`: proxy + strip + poster of a 10-minute 1080i50 XDCAM HD422-style MXF
   (MPEG-2 4:2:2 long GOP, 50 Mbit/s, 2 mono PCM tracks, timecode), made by the preview
   job (catalog.previews.job.make), against one bare ffmpeg command making the same
   proxy alone (plan.bare_proxy_command), alternating, in the same run. Goal: job ≥ 0.9x
   the speed of the bare proxy. Also the job's speed as a multiple of real time.
2. `ftp`: an FTP download of a 1 GiB file from `pool-server serve` (ftplib, to memory)
   with no preview job, and while the server's own job transcodes the MXF (put in the
   pool as a documentary), once per `--shares` value of `[previews] transfer_share`
   (1.0: niceness alone; the default yields to transfers). Also the CPU the job's
   ffmpeg got per second during the downloads and in as long again after them.
   Goal: ≥ 0.8x.
3. `latency`: `pool-server serve` with previews on; a 60-second 1080i50 news clip is
   uploaded over FTP --runs times; from each upload's 226 reply to the item's preview
   being `ready` (its proxy published). Goal: p50 < 20 s on a 2-core machine. Each
   upload's time is split into catalogued (hash, MediaInfo), queued (until its job
   runs) and the job, with the CPU its ffmpeg runs took.

The sources are generated once into benchmarks/.cache/ (the 10-minute MXF is ~3.8 GB
and takes a while on two cores).

    .venv/bin/python benchmarks/previews_bench.py [onedecode|ftp|latency|all]
        [--reps 1] [--runs 10] [--shares 1.0 0.25] [--cache benchmarks/.cache]
"""

from __future__ import annotations

import argparse
import ftplib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from catalog.previews import job, plan, runner
from catalog.previews.settings import DEFAULTS
from catalog.previews.tools import find_tools, probe

BIN = Path(sys.executable).parent
PASSWORD = "bench-password-1"
STDIN = ["--password-stdin"]
HERE = Path(__file__).resolve().parent


def xdcam_command(ffmpeg: str, seconds: int, out: Path) -> list[str]:
    """1080i50 MPEG-2 4:2:2 at 50 Mbit/s (XDCAM HD422's rate and GOP), OP1a MXF."""
    return [
        ffmpeg,
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=1920x1080:rate=25:d={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=1000:sample_rate=48000:d={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:sample_rate=48000:d={seconds}",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-c:v",
        "mpeg2video",
        "-pix_fmt",
        "yuv422p",
        "-b:v",
        "50M",
        "-minrate",
        "50M",
        "-maxrate",
        "50M",
        "-bufsize",
        "17825792",
        "-g",
        "12",
        "-bf",
        "2",
        "-flags",
        "+ildct+ilme",
        "-top",
        "1",
        "-c:a",
        "pcm_s24le",
        "-timecode",
        "10:00:00:00",
        "-f",
        "mxf",
        str(out),
    ]


def source(cache: Path, minutes: int) -> Path:
    """A `minutes`-long XDCAM HD422-style MXF: one minute encoded, longer ones made by
    repeating it without re-encoding (the same bytes to decode, minutes sooner)."""
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"xdcam-hd422-{minutes}min.mxf"
    if out.exists():
        return out
    tmp = out.with_name(out.stem + ".part.mxf")
    ffmpeg = find_tools().ffmpeg
    t0 = time.monotonic()
    print(f"generating {out}...", flush=True)
    if minutes == 1:
        subprocess.run(xdcam_command(ffmpeg, 60, tmp), check=True)
    else:
        one = source(cache, 1)
        looped = ["-stream_loop", str(minutes - 1), "-i", str(one)]
        copied = ["-map", "0", "-c", "copy", "-timecode", "10:00:00:00", "-f", "mxf", str(tmp)]
        subprocess.run([ffmpeg, "-v", "error", "-y", *looped, *copied], check=True)
    tmp.replace(out)
    print(f"  done in {time.monotonic() - t0:.0f} s", flush=True)
    return out


# -- 1. one decode against a bare proxy --------------------------------------------


def bench_onedecode(mxf: Path, reps: int) -> dict[str, object]:
    tools = find_tools()
    src = probe(tools, mxf)
    options = plan.Options.from_settings(DEFAULTS)
    settings = job.JobSettings(options, nice=0, timeout_factor=10)
    times: dict[str, list[float]] = {"job": [], "bare": []}
    cpu: dict[str, list[float]] = {"job": [], "bare": []}
    with tempfile.TemporaryDirectory(dir=mxf.parent) as tmp:
        for rep in range(reps):
            for kind in ("bare", "job") if rep % 2 == 0 else ("job", "bare"):
                work = Path(tmp) / f"{kind}-{rep}"
                work.mkdir()
                t0 = time.perf_counter()
                c0 = _children_cpu()
                if kind == "job":
                    job.make(tools, mxf, work, settings, threading.Event())
                else:
                    cmd = plan.bare_proxy_command(tools.ffmpeg, mxf, src, options, work / "p.mp4")
                    runner.run(
                        cmd, timeout=3600, nice=0, log_path=work / "log", stop=threading.Event()
                    )
                times[kind].append(time.perf_counter() - t0)
                cpu[kind].append(_children_cpu() - c0)
                print(f"  {kind}: {times[kind][-1]:.1f} s, {cpu[kind][-1]:.1f} s CPU", flush=True)
                shutil.rmtree(work)
    job_s, bare_s = statistics.median(times["job"]), statistics.median(times["bare"])
    return {
        "source": f"{mxf.name}: {src.duration:.0f} s, {src.width}x{src.height}"
        f"{'i' if src.interlaced else 'p'}, {mxf.stat().st_size / 1e9:.2f} GB",
        "reps": reps,
        "job_s": round(job_s, 1),
        "bare_proxy_s": round(bare_s, 1),
        "job_speed_vs_bare": round(bare_s / job_s, 3),
        "job_x_realtime": round(src.duration / job_s, 2),
        "bare_x_realtime": round(src.duration / bare_s, 2),
        "job_cpu_s": round(statistics.median(cpu["job"]), 1),
        "bare_cpu_s": round(statistics.median(cpu["bare"]), 1),
    }


def _children_cpu() -> float:
    """CPU seconds (user + system) of the waited-for children so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- a server ---------------------------------------------------------------------


def start_server(
    data: Path, previews: bool, share: float | None = None, big: int = 0
) -> tuple[subprocess.Popen[bytes], int]:
    """`share`: `[previews] transfer_share`; `big`: a file of this many bytes at
    /TRT/news/big.bin before the server starts."""
    run = [str(BIN / "pool-server"), "--data", str(data)]
    subprocess.run([*run, "init"], check=True, capture_output=True)
    toml = data / "pool.toml"
    text = toml.read_text()
    at = text.index("[previews]")
    head, section = text[:at], text[at:]
    if not previews:
        section = section.replace("\nenabled = true\n", "\nenabled = false\n", 1)
    if share is not None:
        default = f"\ntransfer_share = {DEFAULTS['transfer_share']}\n"
        assert default in section, "pool.toml has no transfer_share to set"
        section = section.replace(default, f"\ntransfer_share = {share}\n", 1)
    toml.write_text(head + section)
    subprocess.run([*run, "member", "add", "TRT", "--name", "TRT"], check=True, capture_output=True)
    subprocess.run(
        [*run, "user", "add", "bench", "--role", "contributor", "--member", "TRT", *STDIN],
        input=PASSWORD.encode() + b"\n",
        check=True,
        capture_output=True,
    )
    if big:
        folder = data / "pool" / "TRT" / "news"
        folder.mkdir(parents=True, exist_ok=True)
        block = os.urandom(1 << 20)
        with open(folder / "big.bin", "wb") as f:
            for _ in range(big >> 20):
                f.write(block)
    proc = subprocess.Popen(
        [*run, "serve", "--ftp-port", "0", "--no-sftp"], stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (data / "serve.json").exists():
            return proc, json.loads((data / "serve.json").read_text())["ftp"]
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start in 60 s")


def login(port: int) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=120)
    ftp.login("bench", PASSWORD)
    ftp.voidcmd("TYPE I")
    return ftp


# -- 2. FTP throughput while a job runs ---------------------------------------------


def _job_ffmpeg(server_pid: int) -> int | None:
    """The pid of the server's preview ffmpeg (a child working in an .ortak-work- folder)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == server_pid and b".ortak-work-" in cmdline and b"ffmpeg" in cmdline:
            return int(entry.name)
    return None


def _cpu_of(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) a process has used, or with `children` its finished
    children have (a server's ffmpeg runs), from /proc; 0 once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    at = 13 if children else 11
    return (int(fields[at]) + int(fields[at + 1])) / os.sysconf("SC_CLK_TCK")


def _catalogued(db: Path, path: str) -> bool:
    return watch(db, path)[0]


def _ftp_with_a_job(mxf: Path, reps: int, share: float) -> dict[str, object]:
    """One server with `transfer_share = share`: `reps` downloads with no job, then the
    MXF goes into the pool (a documentary: the main lane) and, once its job's ffmpeg
    runs, `reps` downloads again; and how fast the job went with and without them."""
    size = 1 << 30
    with tempfile.TemporaryDirectory(dir=mxf.parent) as tmp:
        data = Path(tmp) / "data"
        proc, port = start_server(data, previews=True, share=share, big=size)
        try:
            deadline = time.monotonic() + 120
            while not _catalogued(data / "pool.db", "/TRT/news/big.bin"):
                if time.monotonic() > deadline:
                    raise SystemExit("big.bin was not catalogued in 120 s")
                time.sleep(0.1)

            def download() -> float:
                got = 0

                def sink(chunk: bytes) -> None:
                    nonlocal got
                    got += len(chunk)

                with login(port) as ftp:
                    t0 = time.perf_counter()
                    ftp.retrbinary("RETR /TRT/news/big.bin", sink, blocksize=1 << 20)
                    elapsed = time.perf_counter() - t0
                assert got == size
                return size / elapsed / 1e6

            download()  # warm the page cache
            idle = [download() for _ in range(reps)]
            docs = data / "pool" / "TRT" / "documentaries"
            docs.mkdir(parents=True, exist_ok=True)
            os.link(mxf, docs / mxf.name)  # no copy: the indexer hashes it, then the job runs
            deadline = time.monotonic() + 300
            pid = None
            while pid is None:
                if time.monotonic() > deadline:
                    raise SystemExit("the preview job did not start in 300 s")
                time.sleep(0.1)
                pid = _job_ffmpeg(proc.pid)
            time.sleep(3)  # let ffmpeg get going
            t0, cpu0 = time.perf_counter(), _cpu_of(pid)
            busy = [download() for _ in range(reps)]
            t1, cpu1 = time.perf_counter(), _cpu_of(pid)
            time.sleep(t1 - t0)  # the same time with no download, for the job's own pace
            t2, cpu2 = time.perf_counter(), _cpu_of(pid)
            still_running = _job_ffmpeg(proc.pid) == pid
        finally:
            proc.terminate()
            proc.wait(60)
    if not still_running:
        raise SystemExit("the preview job ended before the downloads did")
    idle_mb, busy_mb = statistics.median(idle), statistics.median(busy)
    return {
        "transfer_share": share,
        "idle_MBps": round(idle_mb),
        "with_job_MBps": round(busy_mb),
        "ratio": round(busy_mb / idle_mb, 3),
        "ratios_each": [round(b / idle_mb, 2) for b in busy],
        "job_cpu_per_s_during_downloads": round((cpu1 - cpu0) / (t1 - t0), 2),
        "job_cpu_per_s_after": round((cpu2 - cpu1) / (t2 - t1), 2),
    }


def bench_ftp(mxf: Path, reps: int, shares: list[float]) -> dict[str, object]:
    """An FTP download of 1 GiB while the server's own preview job transcodes the MXF,
    against the same download from the same server before the job: once per
    `transfer_share` (1.0 is niceness alone, the default yields to transfers)."""
    runs = [_ftp_with_a_job(mxf, reps, share) for share in shares]
    for run in runs:
        print(f"  {json.dumps(run)}", flush=True)
    return {"file": "1 GiB", "reps": reps, "job_nice": DEFAULTS["nice"], "runs": runs}


# -- 3. upload to published proxy ----------------------------------------------------


def bench_latency(clip: Path, runs: int) -> dict[str, object]:
    """Each upload's latency, and where it goes: 226 → the item catalogued (hash,
    MediaInfo), → its preview job started (queue), → its proxy published (the job)."""
    latencies, indexed, queued, jobs, cpu = [], [], [], [], []
    with tempfile.TemporaryDirectory(dir=clip.parent) as tmp:
        data = Path(tmp) / "data"
        proc, port = start_server(data, previews=True)
        try:
            with login(port) as ftp:
                ftp.mkd("/TRT/news")
            for i in range(runs):
                path = f"/TRT/news/clip_{i:02d}.mxf"
                with login(port) as ftp, open(clip, "rb") as f:
                    ftp.storbinary(f"STOR {path}", f, blocksize=1 << 20)
                done = time.perf_counter()
                cpu0 = _cpu_of(proc.pid, children=True)
                seen = started = None
                deadline = done + 300
                while time.perf_counter() < deadline:
                    there, state, running = watch(data / "pool.db", path)
                    now = time.perf_counter()
                    if seen is None and there:
                        seen = now
                    if started is None and (running or state in ("ready", "failed")):
                        started = now
                    if state in ("ready", "failed"):
                        break
                    time.sleep(0.02)
                else:
                    raise SystemExit(f"{path}: no proxy after 300 s")
                if state != "ready":
                    raise SystemExit(f"{path}: previews failed")
                end = time.perf_counter()
                cpu.append(_cpu_of(proc.pid, children=True) - cpu0)
                assert seen is not None and started is not None
                latencies.append(end - done)
                indexed.append(seen - done)
                queued.append(started - seen)
                jobs.append(end - started)
                print(
                    f"  {path}: {latencies[-1]:.1f} s (catalogued {indexed[-1]:.2f} s, "
                    f"queue {queued[-1]:.2f} s, job {jobs[-1]:.1f} s; ffmpeg CPU {cpu[-1]:.1f} s)",
                    flush=True,
                )
        finally:
            proc.terminate()
            proc.wait(60)
    ordered = sorted(latencies)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return {
        "clip": f"{clip.name}: 60 s 1080i50 MPEG-2 4:2:2 50 Mbit/s, "
        f"{clip.stat().st_size / 1e6:.0f} MB",
        "runs": runs,
        "p50_s": round(statistics.median(latencies), 1),
        "p95_s": round(p95, 1),
        "min_s": round(ordered[0], 1),
        "max_s": round(ordered[-1], 1),
        "catalogued_p50_s": round(statistics.median(indexed), 2),
        "queue_p50_s": round(statistics.median(queued), 2),
        "job_p50_s": round(statistics.median(jobs), 1),
        "ffmpeg_cpu_p50_s": round(statistics.median(cpu), 1),
    }


def watch(db: Path, path: str) -> tuple[bool, str | None, bool]:
    """Whether the item is catalogued, its preview state and whether its job runs."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            row = conn.execute(
                "SELECT id, json_extract(preview, '$.state') FROM items WHERE path = ?", [path]
            ).fetchone()
            running = bool(
                row
                and conn.execute(
                    "SELECT 1 FROM preview_jobs WHERE item_id = ?", [row[0]]
                ).fetchone()
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return False, None, False
    return row is not None, (row[1] if row else None), running


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "what", nargs="?", default="all", choices=["onedecode", "ftp", "latency", "all"]
    )
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    parser.add_argument("--reps", type=int, default=1, help="repetitions of each measure")
    parser.add_argument("--runs", type=int, default=10, help="uploads in the latency run")
    parser.add_argument(
        "--shares",
        type=float,
        nargs="+",
        default=[1.0, float(DEFAULTS["transfer_share"])],  # type: ignore[arg-type]
        help="ftp: the transfer_share values to run the server with",
    )
    parser.add_argument("--prepare", action="store_true", help="only generate the sources")
    parser.add_argument(
        "--minutes", type=int, default=10, help="length of the long MXF (a quick check: 1)"
    )
    args = parser.parse_args()
    long_mxf = source(args.cache, args.minutes)
    clip = source(args.cache, 1)
    if args.prepare:
        return 0
    tools = find_tools()
    results: dict[str, object] = {
        "ffmpeg": f"{tools.version} ({tools.source})",
        "cpus": os.cpu_count(),
    }
    if args.what in ("onedecode", "all"):
        results["onedecode"] = bench_onedecode(long_mxf, args.reps)
        print(json.dumps(results["onedecode"]), flush=True)
    if args.what in ("ftp", "all"):
        results["ftp"] = bench_ftp(long_mxf, max(3, args.reps), args.shares)
        print(json.dumps(results["ftp"]), flush=True)
    if args.what in ("latency", "all"):
        results["latency"] = bench_latency(clip, args.runs)
        print(json.dumps(results["latency"]), flush=True)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
