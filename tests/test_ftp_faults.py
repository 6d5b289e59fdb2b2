"""Faults over FTP: a full disk, clients that never speak or stop reading, and a fuzz of
the command dispatcher. Each is cut off by its limit; nobody else notices."""

from __future__ import annotations

import ftplib
import io
import os
import random
import socket
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import ftp_login, run_cli, set_setting


def _mount_small_fs(where: Path, size: str) -> bool:
    where.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    return done.returncode == 0


def _store_until_refused(ftp: ftplib.FTP, path: str, size: int) -> str:
    """Send `size` bytes (or until the server cuts the data connection) and return the
    server's final reply to the STOR."""
    conn = ftp.transfercmd(f"STOR {path}")
    try:
        block = os.urandom(64 * 1024)
        for _ in range(size // len(block)):
            conn.sendall(block)
    except OSError:
        pass  # the server closed the data connection on us
    finally:
        conn.close()
    try:
        return ftp.voidresp()
    except ftplib.Error as err:
        return str(err)


def test_disk_full_fails_552_keeps_nothing_and_keeps_serving(data, server_factory):
    """A 2 MiB filesystem mounted inside TRT's area (or, where mounting is not
    permitted, a quota set just above what is free), with no reserve kept: the disk
    really fills up mid-transfer."""
    set_setting(data, "storage", "min_free", '"0"')
    ftp_server = server_factory(sftp=False)
    (data / "pool" / "TRT" / "film.mp4").write_bytes(os.urandom(3 * 1024 * 1024))
    full = data / "pool" / "TRT" / "small"
    mounted = _mount_small_fs(full, "2m")
    if not mounted:
        run_cli(data, "quota", "set", "TRT", str(3 * 1024 * 1024 + 2 * 1024 * 1024))
    try:
        reader = ftp_login(ftp_server.ftp_port, "news")
        reading = reader.transfercmd("RETR /TRT/film.mp4")
        first = reading.recv(65536)
        with ftp_login(ftp_server.ftp_port, "trt-up") as up:
            assert _store_until_refused(up, "/TRT/small/huge.mxf", 5 << 20).startswith("552 ")
            assert up.nlst("/TRT/small") == []
        assert os.listdir(full) == []  # not even a hidden partial
        got = bytearray(first)
        while chunk := reading.recv(1 << 20):
            got += chunk
        reading.close()
        assert reader.voidresp().startswith("226")
        reader.quit()
        assert bytes(got) == (data / "pool" / "TRT" / "film.mp4").read_bytes()
    finally:
        if mounted:
            subprocess.run(["umount", str(full)], check=True)


def test_silent_connections_are_cut_by_the_idle_timeout(data, server_factory):
    set_setting(data, "server", "idle_timeout", "2")
    srv = server_factory(sftp=False)
    silent = [socket.create_connection(("127.0.0.1", srv.ftp_port), timeout=10) for _ in range(5)]
    try:
        with ftp_login(srv.ftp_port, "news") as busy:
            # busy past the idle timeout, a command every 0.2 s: 1.8 s to spare for a
            # loaded machine between two of them (0.5 s of 1 s left too little)
            until = time.monotonic() + 3
            while time.monotonic() < until:
                busy.nlst("/")
                time.sleep(0.2)  # the pace of the client under test
        for s in silent:
            replies = b""
            while chunk := s.recv(4096):
                replies += chunk
            assert replies.startswith(b"220") and b"421 Control connection timed out" in replies
    finally:
        for s in silent:
            s.close()


def test_a_client_that_stops_reading_is_cut_by_the_data_timeout(data, server_factory):
    set_setting(data, "ftp", "data_timeout", "1")
    (data / "pool" / "TRT" / "big.mxf").write_bytes(os.urandom(48 << 20))
    srv = server_factory(sftp=False)
    stuck = ftp_login(srv.ftp_port, "news")
    conn = stuck.transfercmd("RETR /TRT/big.mxf")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.recv(1000)  # ... and never again
    with ftp_login(srv.ftp_port, "trt-up") as other:  # meanwhile, business as usual
        other.storbinary("STOR /TRT/ok.bin", io.BytesIO(b"ok" * 1000))
        assert "ok.bin" in other.nlst("/TRT")
    stuck.sock.settimeout(15)
    with pytest.raises((ftplib.error_temp, EOFError)):
        stuck.voidresp()  # 421 Data connection timed out, then the session is closed
    conn.close()
    stuck.close()


VERBS = [
    "USER",
    "PASS",
    "CWD",
    "CDUP",
    "PWD",
    "LIST",
    "NLST",
    "MLSD",
    "MLST",
    "RETR",
    "STOR",
    "APPE",
    "REST",
    "SIZE",
    "MDTM",
    "MFMT",
    "DELE",
    "RMD",
    "MKD",
    "RNFR",
    "RNTO",
    "TYPE",
    "MODE",
    "STRU",
    "PASV",
    "EPSV",
    "ABOR",
    "STAT",
    "SITE",
    "HELP",
    "FEAT",
    "OPTS",
    "ALLO",
    "NOOP",
    "SYST",
    "AUTH",
    "PBSZ",
    "PROT",
    "XYZZY",
    "REIN",
]
ARGS = st.one_of(
    st.just(""),
    st.sampled_from(
        [
            "/",
            "..",
            "/TRT",
            "/TRT/mine.bin",
            "/AZTV",
            "../../etc/passwd",
            "I",
            "A",
            "-1",
            "99999999999999999999",
            "TLS",
            "P",
            "UTF8 ON",
            "*",
            "%s%n",
            "/TRT/" + "x" * 300,
            "\u0130stanbul",
            "/.catalog",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=40),
)
LINES = st.lists(st.tuples(st.sampled_from(VERBS), ARGS), min_size=1, max_size=25)


def _fuzz_one(port: int, lines: list[tuple[str, str]]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(5)
        f = s.makefile("rb")
        f.readline()
        for verb, arg in lines:
            try:
                s.sendall(f"{verb} {arg}".rstrip().encode("utf-8", "surrogatepass") + b"\r\n")
                f.readline()
            except (OSError, UnicodeEncodeError):
                break  # the server may close a misbehaving session: that is allowed


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    from .helpers import make_template, start_server

    data = make_template(tmp_path_factory.mktemp("fuzz"))
    (data / "pool" / "TRT" / "mine.bin").write_bytes(b"M" * 100_000)
    # Fuzzed USER + PASS pairs are failed logins from 127.0.0.1, where the check logs in
    # too: at 10 (one run in about a hundred) the defender rightly banned the address,
    # and every later example met 421. The defender has its own tests; here it must
    # stay out of reach.
    set_setting(data, "security", "ban_threshold", "1000000")
    srv = start_server(data, sftp=False)
    yield srv
    srv.stop()


def _check_alive_and_isolated(srv) -> None:
    """A fresh session still logs in and reads exactly its own file's bytes."""
    with ftp_login(srv.ftp_port, "news") as ftp:
        out = io.BytesIO()
        ftp.retrbinary("RETR /TRT/mine.bin", out.write)
        assert out.getvalue() == b"M" * 100_000
    assert srv.proc.poll() is None
    assert "Traceback" not in srv.log()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=LINES)
def test_fuzzed_command_lines_never_kill_the_server(fuzz_server, lines):
    _fuzz_one(fuzz_server.ftp_port, lines)
    _check_alive_and_isolated(fuzz_server)


@pytest.mark.slow
@settings(
    max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=LINES)
def test_fuzzed_command_lines_never_kill_the_server_long(fuzz_server, lines):
    _fuzz_one(fuzz_server.ftp_port, lines)
    if random.random() < 0.05:
        _check_alive_and_isolated(fuzz_server)


def test_disk_full_over_sftp_fails_with_a_message_and_keeps_nothing(data, server_factory):
    import paramiko

    from .helpers import password

    full = data / "pool" / "TRT" / "small"
    mounted = _mount_small_fs(full, "2m")
    if not mounted:
        run_cli(data, "quota", "set", "TRT", str(2 * 1024 * 1024))
    set_setting(data, "storage", "min_free", '"0"')  # the disk really fills up
    srv = server_factory(sftp=True)
    transport = paramiko.Transport(("127.0.0.1", srv.sftp_port))
    try:
        transport.connect(username="trt-up", password=password("trt-up"))
        sftp = paramiko.SFTPClient.from_transport(transport)
        with (
            pytest.raises(OSError, match=r"(?i)disk is full|no space|quota"),
            sftp.open("/TRT/small/huge.mxf", "w") as fh,
        ):
            fh.set_pipelined(True)
            for _ in range(80):
                fh.write(os.urandom(64 * 1024))
        assert sftp.listdir("/TRT/small") == []
        assert os.listdir(full) == []  # not even a hidden partial
        with sftp.open("/TRT/ok.bin", "w") as fh:  # the server carries on
            fh.write(b"fine")
        assert sftp.stat("/TRT/ok.bin").st_size == 4
        assert "Traceback" not in srv.log()
    finally:
        transport.close()
        if mounted:
            subprocess.run(["umount", str(full)], check=True)
