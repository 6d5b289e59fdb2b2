"""Transfers first: while `pool-server serve` moves a file on any door, a long preview
job's ffmpeg runs only `transfer_share` of each second (SIGSTOP/SIGCONT), and runs freely
again once the last transfer ends. Observed on the real ffmpeg of a real job, from /proc,
while real clients hold a download open on FTP, SFTP and HTTP."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paramiko

from ..helpers import ftp_login, password, payload, run_cli
from .test_previews_served import enable_previews, ffmpeg_children, wait_for_id, wait_state
from .test_previews_served import wait_for_value as value_of

BIG = 64 << 20  # more than loopback's socket buffers: a client that stops reading holds it
SAMPLE = 0.005


def state_of(pid: int) -> str | None:
    """The process's state letter ('T' when stopped), None once it has ended."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return None


def sample_held(pid: int) -> tuple[list[str], float]:
    """States while a transfer is held: until both 'T' and another state were seen and at
    least 1.2 s went by (at most 15 s); and how long the first 'T' took."""
    t0 = time.monotonic()
    first_stop: float | None = None
    states: list[str] = []
    while time.monotonic() - t0 < 15:
        state = state_of(pid)
        assert state is not None, f"ffmpeg ended while throttled; seen: {''.join(states)}"
        states.append(state)
        if state == "T" and first_stop is None:
            first_stop = time.monotonic() - t0
        if time.monotonic() - t0 >= 1.2 and "T" in states and set(states) - {"T"}:
            break
        time.sleep(SAMPLE)
    assert first_stop is not None, "ffmpeg was never paused while a transfer ran"
    return states, first_stop


def assert_runs_freely(pid: int) -> None:
    """Once no transfer runs: out of 'T' at once, and never stopped for 0.6 s."""
    t0 = time.monotonic()
    while state_of(pid) == "T":
        assert time.monotonic() - t0 < 5, "ffmpeg stayed paused after the transfer ended"
        time.sleep(SAMPLE)
    seen = []
    t1 = time.monotonic()
    while time.monotonic() - t1 < 0.6:
        seen.append(state_of(pid))
        time.sleep(SAMPLE)
    assert "T" not in seen, f"ffmpeg was paused with no transfer running: {seen}"


@contextlib.contextmanager
def ftp_held(server, path: str) -> Iterator[None]:
    ftp = ftp_login(server.ftp_port, "news")
    sock = ftp.transfercmd(f"RETR {path}")
    sock.recv(65536)  # the transfer is under way; then read no more
    try:
        yield
    finally:
        sock.close()
        with contextlib.suppress(Exception):
            ftp.voidresp()
        ftp.close()


@contextlib.contextmanager
def sftp_held(server, path: str) -> Iterator[None]:
    transport = paramiko.Transport(("127.0.0.1", server.sftp_port))
    transport.connect(username="news", password=password("news"))
    sftp = paramiko.SFTPClient.from_transport(transport)
    assert sftp is not None
    try:
        f = sftp.open(path, "rb")  # kept: paramiko closes a file it collects
        assert f.read(65536)
        yield
    finally:  # dropped with the file still open, as a killed client would
        transport.close()


@contextlib.contextmanager
def http_held(server, path: str) -> Iterator[None]:
    made = json.loads(run_cli(server.data, "token", "create", "news", "--json").output)
    headers = {"Authorization": f"Bearer {made['token']}"}
    url = f"http://127.0.0.1:{server.http_port}/api/v1/files{path}"
    with (
        httpx.Client(headers=headers, timeout=30) as client,
        client.stream("GET", url) as response,
    ):
        assert response.status_code == 200
        chunks = response.iter_bytes(65536)  # kept: a dropped iterator closes the stream
        assert next(chunks)
        yield


def test_long_jobs_yield_to_transfers_on_every_door(data, server_factory, media):
    # A share of 0.1 and a 360-line proxy: the job (2-4 s of ffmpeg) outlasts the
    # throttled part, where it runs 0.1 s of each second (a loop run with 0.2 saw the
    # job end before the last door's turn).
    enable_previews(data, proxy_height="360", transfer_share="0.1")
    folder = data / "pool" / "TRT" / "news"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "big.bin").write_bytes(payload(BIG))
    (data / "pool" / "TRT" / "documentaries").mkdir(parents=True, exist_ok=True)
    server = server_factory(sftp=True, http=True, indexer=True)
    big, path = "/TRT/news/big.bin", "/TRT/documentaries/epic.mp4"  # 40 s: not express
    holds = [contextlib.ExitStack()]  # the transfer held now (one at a time, overlapping)
    try:
        holds[0].enter_context(ftp_held(server, big))  # before the job: it starts throttled
        with ftp_login(server.ftp_port, "trt-up") as ftp, open(media["long.mp4"], "rb") as f:
            ftp.storbinary(f"STOR {path}", f)
        marker = f".ortak-work-{wait_for_id(data, path)}-"
        [pid] = value_of(lambda: ffmpeg_children(marker), 30, "the job's ffmpeg to start")
        # Each hold is on the server's count before the client goes on (FTP before its
        # 150, SFTP before the open's reply, HTTP before its first bytes). A tus PATCH is
        # counted only once the server has opened the upload, which its client cannot
        # see: a clean-clone run saw the job run free there, so tus is left out.
        doors = (("ftp", None), ("sftp", sftp_held), ("http", http_held))
        for door, held in doors:
            if held is not None:  # the next door's transfer starts, then the last one ends
                holds.append(contextlib.ExitStack())
                holds[-1].enter_context(held(server, big))
                holds.pop(0).close()
            states, first_stop = sample_held(pid)
            paused = states.count("T") / len(states)
            assert first_stop < 1.0, f"{door}: paused only after {first_stop:.2f} s"
            # 0.9 of each second paused; the share it runs shows as other states.
            assert 0.5 <= paused < 1.0, f"{door}: paused {paused:.0%} of {len(states)} samples"
    finally:
        for hold in holds:
            hold.close()
    assert_runs_freely(pid)
    done = wait_state(data, path, "ready", "failed", timeout=120)
    assert done["state"] == "ready", done
