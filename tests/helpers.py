"""Test helpers: a pool data folder with known users, and a real `pool-server serve`
subprocess on 127.0.0.1 with ports picked by the kernel (port 0)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner

from pool_server.cli import main as server_cli

BIN = Path(sys.executable).parent
POOL_SERVER = str(BIN / "pool-server")

# name -> (role, member, password); `disabled-user` is disabled after creation.
USERS: dict[str, tuple[str, str | None, str]] = {
    "admin": ("admin", None, "admin-secret-pw"),
    "trt-up": ("contributor", "TRT", "trt-up-secret-pw"),
    "aztv-up": ("contributor", "AZTV", "aztv-up-secret-pw"),
    "news": ("reader", "TRT", "news-secret-pw"),
    "disabled-user": ("contributor", "TRT", "disabled-secret-pw"),
}
MEMBERS = (("TRT", "TRT", "TR"), ("AZTV", "AzTV", "AZ"), ("QAZAQ", "Qazaqstan", "KZ"))


def password(user: str) -> str:
    return USERS[user][2]


def run_cli(data: Path, *args: str, input: str | None = None, expect: int | None = 0):
    """Run `pool-server --data DATA ARGS...` in-process; fail showing its output."""
    result = CliRunner().invoke(
        server_cli, ["--data", str(data), *args], input=input, catch_exceptions=False
    )
    if expect is not None:
        assert result.exit_code == expect, (
            f"exit {result.exit_code}, wanted {expect}\n{result.output}"
        )
    return result


def make_template(where: Path) -> Path:
    """An initialised data folder with the test members and users."""
    data = where / "data"
    run_cli(data, "init")
    # previews transcode in the background: only the tests of previews turn them on
    set_setting(data, "previews", "enabled", "false")
    for code, name, country in MEMBERS:
        run_cli(data, "member", "add", code, "--name", name, "--country", country)
    for user, (role, member, pw) in USERS.items():
        args = ["user", "add", user, "--role", role, "--password-stdin"]
        if member:
            args += ["--member", member]
        run_cli(data, *args, input=pw + "\n")
    run_cli(data, "user", "disable", "disabled-user")
    return data


@dataclass
class ServerProcess:
    data: Path
    proc: subprocess.Popen[bytes]
    ftp_port: int | None
    sftp_port: int | None
    stderr_path: Path
    http_port: int | None = None
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.stopped:
            return self.proc.returncode
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def start_server(
    data: Path,
    *,
    sftp: bool = True,
    indexer: bool = False,
    http: bool = False,
    extra: tuple[str, ...] = (),
    timeout: float = 30,
    nofile: int | None = None,
) -> ServerProcess:
    """`nofile`: the server's RLIMIT_NOFILE (most descriptors it may hold open)."""
    serve_json = data / "serve.json"
    if serve_json.exists():
        serve_json.unlink()
    args = [
        POOL_SERVER,
        "--data",
        str(data),
        "serve",
        "--host",
        "127.0.0.1",
        "--ftp-port",
        "0",
        "--auth-failed-delay",
        "0",
    ]
    args += ["--sftp-port", "0"] if sftp else ["--no-sftp"]
    args += ["--http-port", "0"] if http else ["--no-http"]
    if not indexer:
        args.append("--no-indexer")
    stderr_path = data / f"serve-{time.monotonic_ns()}.log"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            [*args, *extra],
            stdout=err,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=None if nofile is None else (lambda: _limit_files(nofile)),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}:\n{stderr_path.read_text()}")
        if serve_json.exists():
            info = json.loads(serve_json.read_text())
            return ServerProcess(
                data, proc, info["ftp"], info["sftp"], stderr_path, info.get("http")
            )
        time.sleep(0.05)
    proc.kill()
    proc.wait(5)
    raise AssertionError(f"server did not start in {timeout}s:\n{stderr_path.read_text()}")


def _limit_files(n: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def copy_template(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


def set_setting(data: Path, section: str, name: str, value: str) -> None:
    """Set `[section] name = value` (a TOML literal) in the data folder's pool.toml."""
    path = data / "pool.toml"
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


def ftp_login(port: int, user: str, source: str = "127.0.0.1", tls: bool = False):
    """A logged-in ftplib client (FTP_TLS with PROT P when `tls`), binary mode."""
    import ftplib

    ftp = ftplib.FTP_TLS() if tls else ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=10, source_address=(source, 0))
    if tls:
        import ssl

        ftp.context = ssl._create_unverified_context()  # the pool's self-signed certificate
        ftp.auth()
        ftp.login(user, password(user))
        ftp.prot_p()
    else:
        ftp.login(user, password(user))
    ftp.voidcmd("TYPE I")
    return ftp


@contextmanager
def reserved_port() -> Iterator[int]:
    """A loopback port held for the test while it lasts: bound (SO_REUSEADDR) and never
    listening. A connection to it is refused, as to a server that is down; no port-0
    bind elsewhere on the machine is given it (another suite's server could otherwise
    take a port the test closed and means to use again); and the test's own server
    can still bind it, with SO_REUSEADDR as asyncio and socketserver do, and listen."""
    with socket.socket() as hold:
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hold.bind(("127.0.0.1", 0))
        yield int(hold.getsockname()[1])


def wait_for(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll `predicate` until true, bounded in time; fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def partials(folder: Path) -> list[Path]:
    """The hidden partial uploads in `folder`."""
    return [p for p in folder.iterdir() if p.name.startswith(".ortak-part-")]


def payload(size: int, seed: int = 1) -> bytes:
    """Incompressible-looking, reproducible bytes."""
    import hashlib

    block = b"".join(hashlib.sha256(f"{seed}-{i}".encode()).digest() for i in range(2048))
    return (block * (size // len(block) + 1))[:size]
