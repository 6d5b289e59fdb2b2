"""FTP benchmark: Ortak against vsftpd and pure-ftpd on loopback, in one run.

    .venv/bin/python benchmarks/ftp_bench.py [--size-gib 1] [--quick]   (or `make bench-ftp`)

What it measures, each server in turn within every repetition (so background load
hits all servers alike), median of the repetitions:

* RETR of a SIZE file with curl to /dev/null;
* STOR of a SIZE file with curl -T (Ortak: through its atomic upload, partial + rename);
* 50 parallel curl RETRs of a 64 MiB file: aggregate MB/s and failures;
* 300 idle logged-in control sessions: the server's resident memory (VmRSS summed over
  the server's whole process tree — vsftpd and pure-ftpd fork per session — and PSS,
  which counts shared pages once).

Throughput is MB/s (10^6 bytes/s) of the data transfer itself: bytes /
(time_total - time_pretransfer) from curl's -w timings, so the cost of the login
(password hashing: scrypt for Ortak, SHA-512 crypt for the peers) is left out; curl's own
%{speed_download}/%{speed_upload}, which includes connect and login, is kept in the JSON.

The peers: pure-ftpd from its Debian package (/usr/sbin/pure-ftpd, puredb auth) and
vsftpd, fetched with `apt-get download vsftpd` into benchmarks/.peers/ and unpacked with
`dpkg -x` (never installed: it conflicts with pure-ftpd). Both run in the foreground
with config written here, on 127.0.0.1, as a system user `ortakbench` (created if
missing; a random password is set for the run and the account is locked afterwards).
Peers need root; without it, or when a peer cannot be fetched, the run says so and
goes on with what it has.

Shared machines: before each repetition of each server the run waits (at most
--quiet-wait seconds) for other processes to leave the CPUs mostly idle, and for every
measurement it records the share of the CPUs that other processes used meanwhile
(/proc/stat minus this run's own processes). Interference only ever slows a run down,
so a second table gives the best of the repetitions next to the medians.

Every server is stopped by PID, every wait is bounded, and the temporary folder (with
the SIZE test files) is removed at the end. Results: tables on stdout and JSON in
benchmarks/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import contextlib
import ftplib
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS_DIR = HERE / ".peers"
RESULTS_DIR = HERE / "results"
BIN = Path(sys.executable).parent
MiB = 1024 * 1024
BENCH_USER = "ortakbench"
MEMBER = "TRT"
CURL_TIMINGS = (
    "%{http_code} %{size_download} %{size_upload} %{speed_download} "
    "%{speed_upload} %{time_pretransfer} %{time_starttransfer} %{time_total}"
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def busy_ticks() -> int:
    """CPU ticks spent in processes, all CPUs (user + nice + system; interrupt time,
    which includes loopback packet processing, is not attributed to anyone)."""
    user, nice, system = Path("/proc/stat").read_text().split()[1:4]
    return int(user) + int(nice) + int(system)


def tree_ticks(pids: list[int]) -> int:
    """utime + stime + cutime + cstime of `pids` (reaped children included)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15])
    return total


class CpuMeter:
    """How much of the machine other processes (other people's tests and benchmarks,
    anything not this run's servers, clients or this script) used during a measurement:
    the share of all CPUs, 0..1."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, server: Server | None) -> None:
        self.server = server
        self.t0 = time.monotonic()
        self.busy0 = busy_ticks()
        self.own0 = self._own()

    def _own(self) -> float:
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system
        if self.server is not None and self.server.proc is not None:
            own += tree_ticks(self.server.tree()) / self.HZ
        return own

    def other_share(self) -> float:
        wall = max(time.monotonic() - self.t0, 1e-3)
        busy = (busy_ticks() - self.busy0) / self.HZ
        other = max(0.0, busy - (self._own() - self.own0))
        return min(1.0, other / (wall * (os.cpu_count() or 1)))


def wait_for_quiet(limit: float, threshold: float = 0.25) -> float:
    """Wait (at most `limit` seconds) for a second in which other processes use less
    than `threshold` of the machine; returns the last second's share."""
    deadline = time.monotonic() + limit
    while True:
        meter = CpuMeter(None)
        time.sleep(1)
        share = meter.other_share()
        if share < threshold or time.monotonic() >= deadline:
            return share


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_banner(port: int, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(64).startswith(b"220"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"not answering on 127.0.0.1:{port} after {timeout}s")


# --- processes and memory


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def process_tree(pid: int) -> list[int]:
    kids = children_map()
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(kids.get(p, []))
    return out


def memory_kib(pids: list[int]) -> tuple[int, int, int]:
    """(sum of VmRSS, sum of Pss, live processes) over `pids`, in KiB."""
    rss = pss = n = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith("Z") or "VmRSS" not in fields:
            continue
        n += 1
        rss += int(fields["VmRSS"].split()[0])
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss, n


def reap_orphans(keep: set[int]) -> None:
    """Collect exited orphans re-parented to us (we are a child subreaper), leaving the
    processes `subprocess` still tracks to it."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in keep:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(info.si_pid, 0)


def become_subreaper() -> None:
    """Orphaned session processes of the forking peers come to us rather than to PID 1
    (which, in a container, may never reap them), so we can collect them."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


# --- servers


@dataclass
class Server:
    name: str
    user: str
    password: str
    root: Path  # the folder that appears as "/" to the benchmark user
    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    seen: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"ftp://127.0.0.1:{self.port}/{path}"

    def curl_config(self) -> Path:
        """A curl config file with the credentials (kept off argv)."""
        path = self.workdir / f"{self.name}.curlrc"
        path.write_text(f'user = "{self.user}:{self.password}"\n')
        path.chmod(0o600)
        return path

    def tree(self) -> list[int]:
        pids = process_tree(self.pid)
        self.seen.update(pids)
        return pids

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(OSError):
            self.tree()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                log(f"{self.name}: no exit 15 s after SIGTERM; SIGKILL")
                self.proc.kill()
                self.proc.wait(5)
        # Session processes of the forking servers that outlived the listener.
        for pid in self.seen - {self.pid}:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None


class Ortak(Server):
    command: list[str]  # how to run `pool-server`
    settings: tuple[str, ...] = ()  # "section.name=value" for pool.toml

    def setup(self) -> None:
        data = self.workdir / "ortak-data"
        cli = [*self.command, "--data", str(data)]
        run([*cli, "init"])
        run([*cli, "member", "add", MEMBER, "--name", MEMBER])
        run(
            [
                *cli,
                "user",
                "add",
                self.user,
                "--role",
                "contributor",
                "--member",
                MEMBER,
                "--password-stdin",
            ],
            input=self.password + "\n",
        )
        set_toml(data / "pool.toml", "server", "max_connections", "2000")
        set_toml(data / "pool.toml", "server", "max_connections_per_ip", "2000")
        apply_settings(data / "pool.toml", self.settings)
        self.data = data
        self.root = data / "pool"

    def start(self) -> None:
        serve_json = self.data / "serve.json"
        serve_json.unlink(missing_ok=True)
        self.log_path = self.workdir / "ortak.log"
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(
                [
                    *self.command,
                    "--data",
                    str(self.data),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--ftp-port",
                    "0",
                    "--no-sftp",
                    "--no-indexer",
                ],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )
        deadline = time.monotonic() + 30
        while not serve_json.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        self.port = json.loads(serve_json.read_text())["ftp"]
        wait_for_banner(self.port, self.proc)


class Vsftpd(Server):
    binary: Path

    def start(self) -> None:
        self.port = free_port()
        empty = self.workdir / "vsftpd-empty"
        empty.mkdir(exist_ok=True)
        conf = self.workdir / "vsftpd.conf"
        conf.write_text(
            "\n".join(
                [
                    "listen=YES",
                    "listen_ipv6=NO",
                    "listen_address=127.0.0.1",
                    f"listen_port={self.port}",
                    "background=NO",
                    "anonymous_enable=NO",
                    "local_enable=YES",
                    "write_enable=YES",
                    "local_umask=022",
                    f"local_root={self.root}",
                    "chroot_local_user=NO",
                    # Passive ports above the kernel's ephemeral range (32768-60999): vsftpd
                    # answers "500 OOPS" when the port it picks is taken by someone's client.
                    "pasv_enable=YES",
                    "pasv_min_port=61000",
                    "pasv_max_port=62999",
                    f"secure_chroot_dir={empty}",
                    "seccomp_sandbox=NO",
                    "isolate=NO",
                    "isolate_network=NO",
                    # A PAM service with no file of its own gets /etc/pam.d/other (pam_unix).
                    "pam_service_name=ortak-bench-vsftpd",
                    "userlist_enable=NO",
                    "xferlog_enable=NO",
                    "max_clients=0",
                    "max_per_ip=0",
                    "idle_session_timeout=600",
                    "ssl_enable=NO",
                    "use_sendfile=YES",
                    "",
                ]
            )
        )
        self.log_path = self.workdir / "vsftpd.log"
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(
                [str(self.binary), str(conf)], stdin=subprocess.DEVNULL, stdout=err, stderr=err
            )
        wait_for_banner(self.port, self.proc)


class PureFtpd(Server):
    binary = Path("/usr/sbin/pure-ftpd")

    def start(self) -> None:
        self.port = free_port()
        self.log_path = self.workdir / "pure-ftpd.log"
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(
                [
                    str(self.binary),
                    "-S",
                    f"127.0.0.1,{self.port}",
                    "-l",
                    f"puredb:{self.workdir / 'pure.pdb'}",
                    "-E",  # no anonymous logins
                    "-A",  # chroot everyone (into the puredb home)
                    "-H",  # no reverse DNS
                    "-c",
                    "2000",
                    "-C",
                    "2000",  # connection limits (default 50)
                    "-I",
                    "600",
                    "-p",
                    "63000:64999",
                ],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )
        wait_for_banner(self.port, self.proc)


def run(cmd: list[str], input: str | None = None, timeout: float = 120) -> str:
    result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:4])}…: exit {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        )
    return result.stdout


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
    raise KeyError(f"[{section}] {name} not in {path}")


def apply_settings(path: Path, settings: Iterable[str]) -> None:
    """`--ortak-set` values ("section.name=value") into a pool.toml."""
    for setting in settings:
        name, _, value = setting.partition("=")
        section, _, key = name.partition(".")
        set_toml(path, section, key, value)


# --- peers: fetch and accounts


def fetch_vsftpd() -> Path:
    """vsftpd's binary from the Debian package, downloaded (not installed) once."""
    binary = PEERS_DIR / "vsftpd" / "usr" / "sbin" / "vsftpd"
    if binary.is_file():
        return binary
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"`{tool}` not found: cannot fetch vsftpd's Debian package")
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    for old in PEERS_DIR.glob("vsftpd_*.deb"):
        old.unlink()
    result = subprocess.run(
        ["apt-get", "download", "vsftpd"],
        cwd=PEERS_DIR,
        capture_output=True,
        text=True,
        timeout=180,
    )
    debs = sorted(PEERS_DIR.glob("vsftpd_*.deb"))
    if result.returncode != 0 or not debs:
        raise RuntimeError(
            "`apt-get download vsftpd` failed (no network, or no Debian/Ubuntu "
            "sources?): " + (result.stderr.strip().splitlines() or ["?"])[-1]
        )
    run(["dpkg", "-x", str(debs[-1]), str(PEERS_DIR / "vsftpd")])
    if not binary.is_file():
        raise RuntimeError(f"{debs[-1].name} holds no usr/sbin/vsftpd")
    return binary


def sha512_crypt(password: str) -> str:
    return run(["openssl", "passwd", "-6", "-stdin"], input=password + "\n").strip()


def prepare_system_user(password_hash: str) -> None:
    """The peers' login: a system user without a shell or home, `/` as its home (vsftpd
    changes into it before local_root). Its password is this run's (locked at the end)."""
    try:
        run(["id", BENCH_USER])
    except RuntimeError:
        log(f"creating system user {BENCH_USER} (no shell, no home) for the peers' logins")
        run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/",
                "--shell",
                "/usr/sbin/nologin",
                BENCH_USER,
            ]
        )
    run(["chpasswd", "-e"], input=f"{BENCH_USER}:{password_hash}\n")


def lock_system_user() -> None:
    with contextlib.suppress(Exception):
        run(["usermod", "--lock", BENCH_USER])


def make_puredb(workdir: Path, root: Path, password_hash: str) -> None:
    """puredb with the same SHA-512 crypt hash as the system user (pure-pw's default,
    argon2id t=1023, takes seconds per login and would dominate every transfer)."""
    passwd = workdir / "pure.passwd"
    uid = int(run(["id", "-u", BENCH_USER]))
    gid = int(run(["id", "-g", BENCH_USER]))
    passwd.write_text(f"bench:{password_hash}:{uid}:{gid}::{root}/./::::::::::::\n")
    passwd.chmod(0o600)
    run(["pure-pw", "mkdb", str(workdir / "pure.pdb"), "-f", str(passwd)])


# --- test files


def write_random(path: Path, size: int) -> None:
    chunk = 8 * MiB
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(chunk, left)
            fh.write(os.urandom(n))
            left -= n


# --- measurements


def curl(server: Server, args: list[str], timeout: float) -> dict[str, Any]:
    cmd = ["curl", "-s", "-S", "-K", str(server.curl_config()), "-w", CURL_TIMINGS, *args]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timeout {timeout}s"}
    return parse_curl(res.returncode, res.stdout, res.stderr)


def parse_curl(rc: int, out: str, err: str) -> dict[str, Any]:
    try:
        code, down, up, sdown, sup, pre, start, total = out.split()
    except ValueError:
        return {"ok": False, "error": f"curl exit {rc}: {err.strip()[-300:]}"}
    r = {
        "rc": rc,
        "reply": int(code),
        "size_download": int(down),
        "size_upload": int(up),
        "speed_download": float(sdown),
        "speed_upload": float(sup),
        "time_pretransfer": float(pre),
        "time_starttransfer": float(start),
        "time_total": float(total),
    }
    r["ok"] = rc == 0
    if rc:
        r["error"] = f"curl exit {rc}: {err.strip()[-300:]}"
    return r


def transfer_mbps(nbytes: int, r: dict[str, Any]) -> float:
    return nbytes / max(r["time_total"] - r["time_pretransfer"], 1e-9) / 1e6


def measure_retr(server: Server, name: str, size: int) -> dict[str, Any]:
    meter = CpuMeter(server)
    r = curl(server, ["-o", "/dev/null", server.url(f"{MEMBER}/{name}")], timeout=600)
    if r["ok"] and r["size_download"] != size:
        r.update(ok=False, error=f"got {r['size_download']} bytes of {size}")
    if r["ok"]:
        r["mbps"] = transfer_mbps(size, r)
        r["curl_mbps"] = r["speed_download"] / 1e6
    r["other_cpu"] = meter.other_share()
    return r


def ftp_session(server: Server, timeout: float = 60) -> ftplib.FTP:
    ftp = ftplib.FTP(timeout=timeout)
    ftp.connect("127.0.0.1", server.port)
    ftp.login(server.user, server.password)
    return ftp


def measure_stor(server: Server, src: Path, size: int, rep: int) -> dict[str, Any]:
    name = f"upload-{rep}.bin"
    meter = CpuMeter(server)
    r = curl(server, ["-T", str(src), server.url(f"{MEMBER}/{name}")], timeout=600)
    r["other_cpu"] = meter.other_share()
    try:
        with contextlib.closing(ftp_session(server)) as ftp:
            ftp.voidcmd("TYPE I")
            stored = ftp.size(f"{MEMBER}/{name}")
            ftp.delete(f"{MEMBER}/{name}")
    except ftplib.all_errors as exc:
        stored = None
        r.setdefault("error", f"checking the upload: {exc}")
    if r["ok"] and (r["size_upload"] != size or stored != size):
        r.update(ok=False, error=f"sent {r['size_upload']}, stored {stored} of {size}")
    if r["ok"]:
        r["mbps"] = transfer_mbps(size, r)
        r["curl_mbps"] = r["speed_upload"] / 1e6
    return r


def measure_parallel(server: Server, name: str, size: int, n: int) -> dict[str, Any]:
    cfg = str(server.curl_config())
    cmd = [
        "curl",
        "-s",
        "-S",
        "-K",
        cfg,
        "-w",
        CURL_TIMINGS,
        "-o",
        "/dev/null",
        server.url(f"{MEMBER}/{name}"),
    ]
    outs = [tempfile.TemporaryFile() for _ in range(n)]  # noqa: SIM115 - closed below
    meter = CpuMeter(server)
    start = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=o, stderr=o) for o in outs]
    deadline = start + 900
    for p in procs:
        try:
            p.wait(max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    wall = time.monotonic() - start
    other_cpu = meter.other_share()
    failures, errors, ok_bytes, logins = 0, [], 0, []
    for p, o in zip(procs, outs, strict=True):
        o.seek(0)
        text = o.read().decode(errors="replace")
        o.close()
        lines = text.strip().splitlines()
        r = parse_curl(p.returncode, lines[-1] if lines else "", text)
        if r["ok"] and r["size_download"] == size:
            ok_bytes += size
            logins.append(r["time_pretransfer"])
        else:
            failures += 1
            errors.append(r.get("error") or f"got {r.get('size_download')} of {size}")
    return {
        "ok": failures == 0,
        "wall": wall,
        "failures": failures,
        "mbps": ok_bytes / wall / 1e6,
        "errors": errors[:5],
        "other_cpu": other_cpu,
        # connect + login until the transfer could start (curl's time_pretransfer)
        "pretransfer_median": statistics.median(logins) if logins else None,
        "pretransfer_max": max(logins) if logins else None,
    }


def measure_sessions(server: Server, n: int) -> dict[str, Any]:
    time.sleep(1)
    rss0, pss0, n0 = memory_kib(server.tree())
    sessions: list[ftplib.FTP] = []
    failures, errors = 0, []
    t0 = time.monotonic()
    try:
        for _ in range(n):
            try:
                sessions.append(ftp_session(server, timeout=30))
            except (*ftplib.all_errors, OSError) as exc:
                failures += 1
                errors.append(str(exc)[:200])
        login_s = time.monotonic() - t0
        time.sleep(2)
        rss, pss, procs = memory_kib(server.tree())
        alive = 0
        for s in sessions:  # still logged in?
            try:
                s.voidcmd("NOOP")
                alive += 1
            except (*ftplib.all_errors, OSError):
                pass
    finally:
        for s in sessions:
            with contextlib.suppress(Exception):
                s.sock.settimeout(2)
                s.quit()
            with contextlib.suppress(Exception):
                s.close()
    return {
        "ok": failures == 0 and alive == n,
        "sessions": n,
        "alive": alive,
        "failures": failures,
        "errors": errors[:5],
        "login_seconds": login_s,
        "rss_mb": rss / 1024,
        "pss_mb": pss / 1024,
        "processes": procs,
        "idle_rss_mb": rss0 / 1024,
        "idle_pss_mb": pss0 / 1024,
        "idle_processes": n0,
    }


# --- report


def median_of(runs: list[dict[str, Any]], key: str = "mbps") -> float | None:
    vals = [r[key] for r in runs if r.get("ok")]
    return statistics.median(vals) if vals else None


def best_of(runs: list[dict[str, Any]], key: str = "mbps") -> float | None:
    vals = [r[key] for r in runs if r.get("ok")]
    return max(vals) if vals else None


def machine_facts() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":")[1].strip()

    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    import pyftpdlib

    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pyftpdlib": pyftpdlib.__ver__,
        "curl": version(["curl", "--version"]),
        "command": " ".join(
            [
                Path(sys.executable).relative_to(REPO).as_posix()
                if Path(sys.executable).is_relative_to(REPO)
                else sys.executable,
                *sys.argv,
            ]
        ),
    }


def fmt(v: float | None, spec: str = ".0f") -> str:
    return "failed" if v is None else format(v, spec)


def report(
    results: dict[str, Any], names: list[str], args: argparse.Namespace, best: bool = False
) -> str:
    size_label = f"{args.size_gib:g} GiB"
    pre = "best_" if best else ""
    rows: list[tuple[str, str, bool]] = [  # label, key, higher is better
        (f"RETR {size_label}, MB/s", pre + "retr", True),
        (f"STOR {size_label}, MB/s", pre + "stor", True),
        (
            f"{args.parallel}× parallel RETR {args.parallel_mib} MiB, aggregate MB/s",
            pre + "parallel",
            True,
        ),
    ]
    if not best:
        rows += [
            (f"{args.sessions} idle sessions, RSS MB (sum over process tree)", "rss", False),
            (f"{args.sessions} idle sessions, PSS MB (sum over process tree)", "pss", False),
        ]
    targets = {
        "retr": ">= 1.0x",
        "stor": ">= 0.9x",
        "parallel": ">= 1.0x, no failure",
        "rss": "< 100 MB",
        "pss": "",
    }
    peers = [n for n in names if n != "ortak"]
    head = "| measurement | " + " | ".join(names) + " | Ortak / best peer | target |"
    lines = [head, "|" + " --- |" * (len(names) + 3)]
    for label, key, higher in rows:
        vals = {n: results[n].get(key) for n in names}
        peer_vals = [vals[p] for p in peers if vals[p] is not None]
        best = (max if higher else min)(peer_vals) if peer_vals else None
        ratio = f"{vals['ortak'] / best:.2f}x" if best and vals.get("ortak") is not None else "n/a"
        cells = []
        for n in names:
            cell = fmt(vals[n])
            if key.endswith("parallel") and results[n].get("parallel_failures"):
                cell += f" ({results[n]['parallel_failures']} failed)"
            cells.append(cell)
        target = targets[key.removeprefix("best_")]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} | {target} |")
    return "\n".join(lines)


# --- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--size-gib",
        type=float,
        default=None,
        help="size of the RETR/STOR file in GiB (default 1; --quick: 0.25)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 0.25 GiB, 1 repetition, 50 sessions, 8 MiB parallel files",
    )
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 5; quick 1)")
    ap.add_argument("--parallel", type=int, default=50)
    ap.add_argument("--parallel-mib", type=int, default=None)
    ap.add_argument("--sessions", type=int, default=None)
    ap.add_argument(
        "--servers",
        default="ortak,vsftpd,pure-ftpd",
        help="comma-separated subset of ortak,vsftpd,pure-ftpd",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="before each repetition of each server, wait up to this many "
        "seconds for other processes to leave the CPUs mostly idle (0: never)",
    )
    ap.add_argument(
        "--ortak-command",
        default=None,
        help="command that runs `pool-server` (default: the venv's), e.g. to "
        "measure another checkout",
    )
    ap.add_argument(
        "--ortak-set",
        action="append",
        default=[],
        metavar="SECTION.NAME=VALUE",
        help="a pool.toml setting for Ortak, e.g. ftp.use_sendfile=false (repeatable)",
    )
    ap.add_argument(
        "--workdir",
        default=None,
        help="parent of the temporary folder (default: the system temp folder)",
    )
    ap.add_argument(
        "--json",
        default=None,
        help="write results here (default benchmarks/results/ftp-<date>.json)",
    )
    args = ap.parse_args()
    if args.size_gib is None:
        args.size_gib = 0.25 if args.quick else 1.0
    args.reps = args.reps or (1 if args.quick else 5)
    args.parallel_mib = args.parallel_mib or (8 if args.quick else 64)
    args.sessions = args.sessions or (50 if args.quick else 300)
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]

    for tool in ("curl", "openssl"):
        if shutil.which(tool) is None:
            print(f"error: `{tool}` is needed", file=sys.stderr)
            return 2
    facts = machine_facts()
    log(f"{facts['date_utc']}, {facts['nproc']} CPUs ({facts['cpu']}), load {loadavg()}")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    become_subreaper()
    size = int(args.size_gib * 1024 * MiB)
    psize = args.parallel_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="ortak-ftp-bench-", dir=args.workdir))
    work.chmod(0o755)  # the peers' unprivileged session processes walk through it
    password = secrets.token_urlsafe(18)
    servers: dict[str, Server] = {}
    skipped: dict[str, str] = {}
    user_prepared = False
    try:
        log(f"writing {size / MiB:.0f} MiB and {psize / MiB:.0f} MiB random files in {work}")
        big, par = work / "big.bin", work / "par.bin"
        write_random(big, size)
        write_random(par, psize)

        if "ortak" in wanted:
            ortak = Ortak("ortak", "bench", password, work, work)
            ortak.command = (
                shlex.split(args.ortak_command)
                if args.ortak_command
                else [str(BIN / "pool-server")]
            )
            ortak.settings = tuple(args.ortak_set)
            ortak.setup()
            servers["ortak"] = ortak
        peers = [p for p in ("vsftpd", "pure-ftpd") if p in wanted]
        if peers and os.geteuid() != 0:
            for p in peers:
                skipped[p] = "needs root (run as root to compare with the peers)"
            peers = []
        if peers:
            pw_hash = sha512_crypt(password)
            prepare_system_user(pw_hash)
            user_prepared = True
        if "vsftpd" in peers:
            try:
                vs = Vsftpd("vsftpd", BENCH_USER, password, work / "vsftpd-root", work)
                vs.binary = fetch_vsftpd()
                servers["vsftpd"] = vs
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                skipped["vsftpd"] = str(exc)
        if "pure-ftpd" in peers:
            if not PureFtpd.binary.is_file() or shutil.which("pure-pw") is None:
                skipped["pure-ftpd"] = (
                    "not installed (apt-get install pure-ftpd: /usr/sbin/pure-ftpd and pure-pw)"
                )
            else:
                pure = PureFtpd("pure-ftpd", "bench", password, work / "pure-root", work)
                make_puredb(work, pure.root, pw_hash)
                servers["pure-ftpd"] = pure
        for name, why in skipped.items():
            log(f"*** {name} SKIPPED: {why}")

        uid = gid = None
        if user_prepared:
            uid = int(run(["id", "-u", BENCH_USER]))
            gid = int(run(["id", "-g", BENCH_USER]))
        for s in servers.values():
            area = s.root / MEMBER
            area.mkdir(parents=True, exist_ok=True)
            os.link(big, area / "big.bin")
            os.link(par, area / "par.bin")
            if s.name != "ortak" and uid is not None:
                for p in (s.root, area):
                    os.chown(p, uid, gid)
        for s in list(servers.values()):
            for attempt in (1, 2):  # a second try on a fresh port (free_port() can race)
                try:
                    s.start()
                    log(f"{s.name}: pid {s.pid}, port {s.port}")
                    break
                except (RuntimeError, OSError) as exc:
                    log_tail = (
                        s.log_path.read_text(errors="replace")[-500:]
                        if s.log_path and s.log_path.exists()
                        else ""
                    )
                    why = f"did not start: {exc} {log_tail}".strip()
                    s.stop()
                    if attempt == 2:
                        skipped[s.name] = why
                        log(f"*** {s.name} SKIPPED: {why}")
                        del servers[s.name]
                    else:
                        log(f"{s.name} {why}; trying again")
        if "ortak" not in servers:
            raise RuntimeError("Ortak did not start; nothing to compare")

        names = list(servers)
        raw: dict[str, dict[str, Any]] = {
            n: {"retr": [], "stor": [], "parallel": [], "load": [], "other_cpu_before": []}
            for n in names
        }
        for n in names:  # warm-up: page cache, first-login costs
            measure_retr(servers[n], "par.bin", psize)
        for rep in range(args.reps):
            for n in names:
                s = servers[n]
                quiet = wait_for_quiet(args.quiet_wait) if args.quiet_wait else None
                raw[n]["load"].append(loadavg())
                raw[n]["other_cpu_before"].append(quiet)
                r = measure_retr(s, "big.bin", size)
                raw[n]["retr"].append(r)
                log(
                    f"rep {rep + 1}/{args.reps} {n:9} RETR {fmt(r.get('mbps'))} MB/s "
                    f"{r.get('error', '')}(others used {r['other_cpu']:.0%} of the CPUs; "
                    f"load {loadavg()})"
                )
                r = measure_stor(s, big, size, rep)
                raw[n]["stor"].append(r)
                log(
                    f"rep {rep + 1}/{args.reps} {n:9} STOR {fmt(r.get('mbps'))} MB/s "
                    f"{r.get('error', '')}(others {r['other_cpu']:.0%})"
                )
                r = measure_parallel(s, "par.bin", psize, args.parallel)
                raw[n]["parallel"].append(r)
                log(
                    f"rep {rep + 1}/{args.reps} {n:9} {args.parallel}×RETR "
                    f"{fmt(r['mbps'])} MB/s aggregate, {r['failures']} failed "
                    f"{'; '.join(r['errors'][:2])}(logged in after "
                    f"{fmt(r['pretransfer_median'], '.2f')} s median, "
                    f"{fmt(r['pretransfer_max'], '.2f')} s max; others {r['other_cpu']:.0%})"
                )
                reap_orphans({x.pid for x in servers.values()})
        for n in names:
            s = servers[n]
            raw[n]["load"].append(loadavg())
            r = measure_sessions(s, args.sessions)
            raw[n]["sessions"] = r
            log(
                f"{n:9} {r['alive']}/{args.sessions} idle sessions: RSS {r['rss_mb']:.1f} MB, "
                f"PSS {r['pss_mb']:.1f} MB over {r['processes']} processes (before: RSS "
                f"{r['idle_rss_mb']:.1f} MB); logins took {r['login_seconds']:.1f} s "
                f"{'; '.join(r['errors'][:2])}"
            )
            reap_orphans({x.pid for x in servers.values()})

        results: dict[str, Any] = {}
        for n in names:
            sess = raw[n]["sessions"]
            par_runs = raw[n]["parallel"]
            par_ok = [r["mbps"] for r in par_runs]
            others = [
                r["other_cpu"]
                for k in ("retr", "stor", "parallel")
                for r in raw[n][k]
                if "other_cpu" in r
            ]
            results[n] = {
                "retr": median_of(raw[n]["retr"]),
                "stor": median_of(raw[n]["stor"]),
                "parallel": statistics.median(par_ok) if par_ok else None,
                "parallel_failures": sum(r["failures"] for r in par_runs),
                "rss": sess["rss_mb"] if sess["ok"] else None,
                "pss": sess["pss_mb"] if sess["ok"] else None,
                "best_retr": best_of(raw[n]["retr"]),
                "best_stor": best_of(raw[n]["stor"]),
                "best_parallel": max(par_ok) if par_ok else None,
                "retr_curl": median_of(raw[n]["retr"], "curl_mbps"),
                "stor_curl": median_of(raw[n]["stor"], "curl_mbps"),
                "parallel_login_median_s": statistics.median(
                    r["pretransfer_median"] for r in par_runs if r["pretransfer_median"] is not None
                )
                if par_ok and any(r["pretransfer_median"] is not None for r in par_runs)
                else None,
                "other_cpu_median": statistics.median(others) if others else None,
                "other_cpu_max": max(others) if others else None,
            }
        table = report(results, names, args)
        best = report(results, names, args, best=True)
        print()
        print(table)
        print()
        print(
            f"Best of {args.reps} (interference from other processes only ever slows a run down):"
        )
        print()
        print(best)
        print()
        for name, why in skipped.items():
            print(f"{name} skipped: {why}")
        print(f"medians of {args.reps} repetitions; MB = 10^6 bytes")
        print(
            "other processes' share of the CPUs during the measurements, median (max): "
            + "; ".join(
                f"{n} {results[n]['other_cpu_median']:.0%} ({results[n]['other_cpu_max']:.0%})"
                for n in names
            )
        )
        print(
            "load averages before each repetition: "
            + "; ".join(f"{n} {', '.join(raw[n]['load'])}" for n in names)
        )
        print(
            f"{args.parallel}× parallel RETR, median time until the transfer could start "
            "(connect + login): "
            + "; ".join(f"{n} {fmt(results[n]['parallel_login_median_s'], '.2f')} s" for n in names)
        )
        print(
            "curl's own speed (login included), RETR/STOR MB/s: "
            + "; ".join(
                f"{n} {fmt(results[n]['retr_curl'])}/{fmt(results[n]['stor_curl'])}" for n in names
            )
        )
        print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
        out = (
            Path(args.json)
            if args.json
            else RESULTS_DIR / time.strftime("ftp-%Y%m%dT%H%M%SZ.json", time.gmtime())
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {
                    "machine": facts,
                    "args": vars(args),
                    "skipped": skipped,
                    "results": results,
                    "raw": raw,
                    "table": table,
                    "table_best": best,
                },
                indent=2,
                default=str,
            )
        )
        print(f"results: {out}")
        return 0
    finally:
        for s in servers.values():
            s.stop()
        reap_orphans(set())
        if user_prepared:
            lock_system_user()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
