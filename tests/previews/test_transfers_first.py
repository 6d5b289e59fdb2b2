"""Transfers first: while `pool-server serve` moves a file on any door, a long preview
job's ffmpeg runs only `transfer_share` of each second (SIGSTOP/SIGCONT), and runs freely
again once the last transfer ends. Observed on the real ffmpeg of a real job, from /proc,
while real clients hold a download open on FTP, SFTP and HTTP and a tus upload."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paramiko

from pool_server.http.routes.uploads import WRITE_BATCH

from ..helpers import ftp_login, partials, password, payload, run_cli
from .test_previews_served import (
    enable_previews,
    ffmpeg_children,
    wait_for_id,
    wait_state,
    work_marker,
)
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
    """Once the clients let go: within 5 s (the server notices a closed connection a
    moment later), ffmpeg runs 0.6 s without a pause, which it never does while throttled
    (0.9 of each second paused); from then to its end it is never paused again."""
    t0 = time.monotonic()
    free_since: float | None = None
    while free_since is None or time.monotonic() - free_since < 0.6:
        assert time.monotonic() - t0 < 5, "ffmpeg stayed paused after the transfers ended"
        state = state_of(pid)
        assert state is not None, "ffmpeg ended before it was seen running freely"
        if state == "T":
            free_since = None
        elif free_since is None:
            free_since = time.monotonic()
        time.sleep(SAMPLE)
    seen: list[str] = []
    while (state := state_of(pid)) is not None:
        seen.append(state)
        assert time.monotonic() - t0 < 120, "ffmpeg did not end"
        time.sleep(SAMPLE)
    assert "T" not in seen, f"ffmpeg was paused with no transfer running: {''.join(seen)}"


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


@contextlib.contextmanager
def tus_held(server, path: str) -> Iterator[None]:
    """A tus PATCH whose body stops coming after its first WRITE_BATCH bytes, until
    released. The server counts the PATCH once it has opened the upload, which the
    client does not see: the hold begins when those bytes are in the partial file."""
    made = json.loads(run_cli(server.data, "token", "create", "trt-up", "--json").output)
    headers = {"Authorization": f"Bearer {made['token']}", "Tus-Resumable": "1.0.0"}
    base = f"http://127.0.0.1:{server.http_port}"
    meta = base64.b64encode(path.encode()).decode()
    release, sent = threading.Event(), threading.Event()
    answers: list[int] = []

    def body() -> Iterator[bytes]:
        yield payload(WRITE_BATCH)
        sent.set()
        release.wait(60)

    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        made_up = client.post(
            "/api/v1/uploads/",
            headers={"Upload-Length": str(2 * WRITE_BATCH), "Upload-Metadata": f"path {meta}"},
        )
        assert made_up.status_code == 201, made_up.text
        patch_headers = {
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        }
        patching = threading.Thread(
            target=lambda: answers.append(
                client.patch(
                    made_up.headers["location"], content=body(), headers=patch_headers
                ).status_code
            )
        )
        patching.start()
        try:
            assert sent.wait(30)
            folder = server.data / "pool" / path.lstrip("/").rsplit("/", 1)[0]
            value_of(
                lambda: any(p.stat().st_size >= WRITE_BATCH for p in partials(folder)),
                30,
                "the PATCH's first bytes in the partial file",
            )
            yield
        finally:
            release.set()
            patching.join(60)
    assert answers == [204]  # the bytes sent are kept; the upload can resume


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
        marker = work_marker(data, wait_for_id(data, path))
        [pid] = value_of(lambda: ffmpeg_children(marker), 30, "the job's ffmpeg to start")
        # Each hold is on the server's count before the client goes on (FTP before its
        # 150, SFTP before the open's reply, HTTP before its first bytes, tus once the
        # PATCH's first bytes are written).
        doors = (("ftp", None), ("sftp", sftp_held), ("http", http_held), ("tus", tus_held))
        for door, held in doors:
            if held is not None:  # the next door's transfer starts, then the last one ends
                holds.append(contextlib.ExitStack())
                holds[-1].enter_context(held(server, "/TRT/news/tus.bin" if door == "tus" else big))
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
