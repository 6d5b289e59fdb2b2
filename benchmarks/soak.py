"""Soak: many concurrent FTP and SFTP sessions for minutes, nothing may fail.

    .venv/bin/python benchmarks/soak.py [--sessions 200] [--minutes 5] [--quick]

Ortak serves FTP and SFTP (and its indexer) on 127.0.0.1. Half the sessions use FTP,
half SFTP (paramiko). Each session loops until the end: log in, then a few operations
— list a folder, download a seed file (1–50 MB, sha256 checked), upload a file
(1–50 MB, size checked, then deleted) — with a think time between them, then log out
and in again. Reported: transfers done and failed, MB moved, login times (p50, p99),
the server's CPU time (per GB moved), and its resident memory sampled every 5 s
(growth after warm-up must stay under 10 %). Then the FTP half alone runs against
vsftpd (fetched as in benchmarks/ftp_bench.py; needs root) for the same time, for ratios.

Every loop is bounded by the deadline; every server is stopped by PID.
"""

from __future__ import annotations

import argparse
import ftplib
import hashlib
import io
import json
import math
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

sys.path.insert(0, str(Path(__file__).parent))
import ftp_bench  # the peers' setup, shared with the FTP benchmark

BIN = Path(sys.executable).parent
MB = 1_000_000
SEED_SIZES = (1, 3, 7, 15, 30, 50)
RESULTS = Path(__file__).parent / "results"


@dataclass
class Stats:
    transfers: int = 0
    failures: list[str] = field(default_factory=list)
    bytes: int = 0
    logins: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, nbytes: int) -> None:
        with self.lock:
            self.transfers += 1
            self.bytes += nbytes

    def fail(self, why: str) -> None:
        with self.lock:
            self.failures.append(why)


def log_uniform_mb(rng: random.Random) -> int:
    """1–50 MB, more small files than large (as in a news pool)."""
    return int(math.exp(rng.uniform(0, math.log(50))) * MB)


class FtpSession:
    def __init__(self, port: int, user: str, password: str) -> None:
        self.ftp = ftplib.FTP()
        self.ftp.connect("127.0.0.1", port, timeout=120)
        self.ftp.login(user, password)
        self.ftp.voidcmd("TYPE I")

    def listing(self, folder: str) -> list[str]:
        return self.ftp.nlst(folder)

    def download(self, path: str) -> tuple[int, str]:
        digest, size = hashlib.sha256(), 0

        def take(chunk: bytes) -> None:
            nonlocal size
            digest.update(chunk)
            size += len(chunk)

        self.ftp.retrbinary(f"RETR {path}", take, blocksize=1 << 20)
        return size, digest.hexdigest()

    def upload(self, path: str, data: memoryview) -> int:
        self.ftp.storbinary(f"STOR {path}", io.BytesIO(data), blocksize=1 << 20)
        self.ftp.voidcmd("TYPE I")
        return self.ftp.size(path) or 0

    def delete(self, path: str) -> None:
        self.ftp.delete(path)

    def close(self) -> None:
        try:
            self.ftp.quit()
        except (OSError, EOFError, ftplib.Error):
            self.ftp.close()


class SftpSession:
    def __init__(self, port: int, user: str, password: str) -> None:
        self.transport = paramiko.Transport(("127.0.0.1", port))
        self.transport.connect(username=user, password=password)
        self.sftp = paramiko.SFTPClient.from_transport(self.transport)

    def listing(self, folder: str) -> list[str]:
        return self.sftp.listdir(folder)

    def download(self, path: str) -> tuple[int, str]:
        digest = hashlib.sha256()

        class Sink:
            size = 0

            def write(self, chunk: bytes) -> None:
                digest.update(chunk)
                Sink.size += len(chunk)

        self.sftp.getfo(path, Sink())
        return Sink.size, digest.hexdigest()

    def upload(self, path: str, data: memoryview) -> int:
        return self.sftp.putfo(io.BytesIO(data), path).st_size or 0

    def delete(self, path: str) -> None:
        self.sftp.remove(path)

    def close(self) -> None:
        self.transport.close()


def session_loop(
    n: int,
    make,
    seeds: dict[str, tuple[int, str]],
    upload_dir: str,
    blob: memoryview,
    deadline: float,
    stats: Stats,
    think: tuple[float, float],
) -> None:
    rng = random.Random(n)
    time.sleep(rng.uniform(0, think[1]))  # stagger the start
    count = 0
    while time.monotonic() < deadline:
        start = time.monotonic()
        try:
            session = make()
        except Exception as exc:
            stats.fail(f"session {n}: login: {exc!r}")
            time.sleep(1)
            continue
        stats.logins.append(time.monotonic() - start)
        try:
            for _ in range(rng.randint(2, 5)):
                if time.monotonic() >= deadline:
                    break
                op = rng.choice(("list", "download", "download", "upload"))
                if op == "list":
                    names = session.listing("TRT/seed")
                    if len(names) != len(seeds):
                        stats.fail(f"session {n}: listing shows {len(names)} seeds")
                elif op == "download":
                    path = rng.choice(list(seeds))
                    size, digest = session.download(path)
                    if (size, digest) != seeds[path]:
                        stats.fail(f"session {n}: {path} arrived damaged")
                    else:
                        stats.ok(size)
                else:
                    count += 1
                    size = log_uniform_mb(rng)
                    path = f"{upload_dir}/s{n}-{count}.bin"
                    got = session.upload(path, blob[:size])
                    if got != size:
                        stats.fail(f"session {n}: {path} stored {got} of {size} bytes")
                    else:
                        stats.ok(size)
                    session.delete(path)
                time.sleep(rng.uniform(*think))
        except Exception as exc:
            stats.fail(f"session {n}: {exc!r}")
        finally:
            session.close()


def rss_kib(pid: int) -> int:
    return ftp_bench.memory_kib(ftp_bench.process_tree(pid))[0]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server's process tree so far: what the server
    spends for the bytes it moves, which other load on the machine skews far less than
    its MB/s (the soak's think times bound those, and a loaded machine slows both)."""
    ticks = 0
    for p in ftp_bench.process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def summary(stats: Stats, seconds: float) -> dict[str, Any]:
    logins = sorted(stats.logins)

    def pct(q: float) -> float | None:
        return round(logins[min(len(logins) - 1, int(q * len(logins)))], 3) if logins else None

    return {
        "transfers": stats.transfers,
        "failed": len(stats.failures),
        "failures": stats.failures[:20],
        "mb_moved": round(stats.bytes / MB),
        "mb_per_s": round(stats.bytes / MB / seconds, 1),
        "logins": len(logins),
        "login_p50_s": pct(0.5),
        "login_p99_s": pct(0.99),
    }


def run_soak(
    name: str,
    pid: int,
    makers: list[tuple[str, Any]],
    seeds: dict[str, tuple[int, str]],
    upload_dir: str,
    seconds: float,
    think: tuple[float, float],
) -> dict[str, Any]:
    """`makers`: (protocol, function opening a session) per session."""
    per_kind = {kind: Stats() for kind, _ in makers}
    blob = memoryview(os.urandom(50 * MB))
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=session_loop,
            daemon=True,
            args=(i, make, seeds, upload_dir, blob, deadline, per_kind[kind], think),
        )
        for i, (kind, make) in enumerate(makers)
    ]
    for t in threads:
        t.start()
    samples: list[tuple[float, int]] = []
    began = time.monotonic()
    cpu_began = cpu_seconds(pid)
    while time.monotonic() < deadline:
        samples.append((time.monotonic() - began, rss_kib(pid)))
        time.sleep(5)
    for t in threads:
        t.join(max(5.0, deadline + 120 - time.monotonic()))
    stuck = sum(t.is_alive() for t in threads)
    cpu = cpu_seconds(pid) - cpu_began
    stats = Stats(
        transfers=sum(k.transfers for k in per_kind.values()),
        failures=[f for k in per_kind.values() for f in k.failures],
        bytes=sum(k.bytes for k in per_kind.values()),
        logins=[x for k in per_kind.values() for x in k.logins],
    )
    if stuck:
        stats.fail(f"{stuck} sessions still busy 120 s after the end")
    warm = [kib for t, kib in samples if t >= seconds * 0.2]
    after_warmup = warm[: max(1, len(warm) // 5)]
    last = warm[-max(1, len(warm) // 5) :]
    return {
        "server": name,
        "sessions": len(makers),
        "seconds": seconds,
        **summary(stats, seconds),
        "by_protocol": {kind: summary(k, seconds) for kind, k in per_kind.items()},
        "server_cpu_s": round(cpu, 1),
        "server_cpu_s_per_gb": round(cpu / max(stats.bytes / 1e9, 1e-9), 2),
        "rss_mb_after_warmup": round(statistics.mean(after_warmup) / 1024, 1),
        "rss_mb_at_end": round(statistics.mean(last) / 1024, 1),
        "rss_growth": round(statistics.mean(last) / statistics.mean(after_warmup) - 1, 3),
        "rss_samples_mb": [round(k / 1024, 1) for _, k in samples],
    }


def seed_files(folder: Path, rng: random.Random) -> dict[str, tuple[int, str]]:
    """Seed files, by path relative to the login folder (the pool root for Ortak,
    local_root for vsftpd, which does not chroot here)."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = {}
    for size_mb in SEED_SIZES:
        data = rng.randbytes(size_mb * MB)
        (folder / f"seed-{size_mb}MB.bin").write_bytes(data)
        seeds[f"TRT/seed/seed-{size_mb}MB.bin"] = (len(data), hashlib.sha256(data).hexdigest())
    return seeds


def start_ortak(
    work: Path, password: str, settings: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    data = work / "ortak-data"
    cli = [str(BIN / "pool-server"), "--data", str(data)]
    ftp_bench.run([*cli, "init"])
    ftp_bench.run([*cli, "member", "add", "TRT", "--name", "TRT"])
    ftp_bench.run(
        [
            *cli,
            "user",
            "add",
            "soak",
            "--role",
            "contributor",
            "--member",
            "TRT",
            "--password-stdin",
        ],
        input=password + "\n",
    )
    for key in ("max_connections", "max_connections_per_ip"):
        ftp_bench.set_toml(data / "pool.toml", "server", key, "2000")
    # Every session comes from 127.0.0.1: room for all of them to be logging in at once.
    for key in ("prelogin_max_connections", "prelogin_max_per_ip"):
        ftp_bench.set_toml(data / "pool.toml", "security", key, "2000")
    ftp_bench.apply_settings(data / "pool.toml", settings)
    (data / "pool" / "TRT" / "up").mkdir()
    log = open(work / "ortak.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [*cli, "serve", "--ftp-port", "0", "--sftp-port", "0", "--no-http"],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (data / "serve.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("Ortak did not start: " + (work / "ortak.log").read_text()[-2000:])
        time.sleep(0.05)
    return proc, json.loads((data / "serve.json").read_text())


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--quick", action="store_true", help="40 sessions for 45 s")
    ap.add_argument("--no-peer", action="store_true", help="skip the vsftpd run")
    ap.add_argument(
        "--ortak-set",
        action="append",
        default=[],
        metavar="SECTION.NAME=VALUE",
        help="a pool.toml setting for Ortak, e.g. ftp.data_threads=false",
    )
    ap.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(5.0, 25.0),
        metavar=("MIN", "MAX"),
        help="seconds between operations of a session (default 5 25)",
    )
    args = ap.parse_args()
    if args.quick:
        args.sessions, args.minutes, args.think = 40, 0.75, (1.0, 5.0)
    seconds = args.minutes * 60
    ftp_bench.become_subreaper()
    rng = random.Random(7)
    password = secrets.token_urlsafe(18)
    result: dict[str, Any] = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(sys.argv),
    }
    with tempfile.TemporaryDirectory(prefix="ortak-soak-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        proc, ports = start_ortak(work, password, tuple(args.ortak_set))
        try:
            seeds = seed_files(work / "ortak-data" / "pool" / "TRT" / "seed", rng)
            half = args.sessions // 2
            makers = [
                ("ftp", lambda: FtpSession(ports["ftp"], "soak", password))
                if i < half
                else ("sftp", lambda: SftpSession(ports["sftp"], "soak", password))
                for i in range(args.sessions)
            ]
            print(
                f"Ortak: {args.sessions} sessions ({half} FTP, the rest SFTP) for {seconds:.0f} s",
                flush=True,
            )
            result["ortak"] = run_soak(
                "ortak", proc.pid, makers, seeds, "TRT/up", seconds, tuple(args.think)
            )
        finally:
            stop(proc)
        print(
            json.dumps({k: v for k, v in result["ortak"].items() if k != "rss_samples_mb"}),
            flush=True,
        )
        if not args.no_peer and os.geteuid() == 0:
            result["vsftpd"] = soak_vsftpd(work, password, half, seconds, tuple(args.think))
            print(
                json.dumps({k: v for k, v in result["vsftpd"].items() if k != "rss_samples_mb"}),
                flush=True,
            )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"soak-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"results: {out}")
    return 1 if result["ortak"]["failed"] else 0


def soak_vsftpd(
    work: Path, password: str, sessions: int, seconds: float, think: tuple[float, float]
) -> dict[str, Any]:
    """The FTP half against vsftpd, same seeds, same session loop."""
    root = work / "vsftpd-root"
    seeds = seed_files(root / "TRT" / "seed", random.Random(7))
    (root / "TRT" / "up").mkdir()
    ftp_bench.prepare_system_user(ftp_bench.sha512_crypt(password))
    uid = int(ftp_bench.run(["id", "-u", ftp_bench.BENCH_USER]))
    gid = int(ftp_bench.run(["id", "-g", ftp_bench.BENCH_USER]))
    for p in (root, root / "TRT", root / "TRT" / "up"):
        os.chown(p, uid, gid)
    server = ftp_bench.Vsftpd("vsftpd", ftp_bench.BENCH_USER, password, root, work)
    server.binary = ftp_bench.fetch_vsftpd()
    server.start()
    try:
        print(f"vsftpd: {sessions} FTP sessions for {seconds:.0f} s", flush=True)
        makers = [
            ("ftp", lambda: FtpSession(server.port, ftp_bench.BENCH_USER, password))
            for _ in range(sessions)
        ]
        return run_soak("vsftpd", server.pid, makers, seeds, "TRT/up", seconds, think)
    finally:
        server.stop()
        ftp_bench.lock_system_user()


if __name__ == "__main__":
    sys.exit(main())
