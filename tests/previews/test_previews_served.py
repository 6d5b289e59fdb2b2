"""Previews through a real `pool-server serve` subprocess: uploads over FTP, SIGKILL of
the server and of ffmpeg mid-transcode, the operator's commands, and `pool preview`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ..client.conftest import Pool
from ..helpers import run_cli, set_setting, wait_for
from .conftest import ffprobe


def enable_previews(data: Path, **settings: str) -> None:
    values = {
        "enabled": "true",
        "proxy_height": "180",
        "proxy_video_bitrate": '"300k"',
        "strip_interval_seconds": "1.0",
        "express_max_seconds": "10.0",
        **settings,
    }
    for name, value in values.items():
        set_setting(data, "previews", name, value)
    set_setting(data, "catalog", "settle_seconds", "0.3")


def preview_of(data: Path, path: str) -> dict[str, Any] | None:
    conn = sqlite3.connect(f"file:{data / 'pool.db'}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT id, preview FROM items WHERE path = ?", [path]).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if row is None:
        return None
    return {"id": row[0], **json.loads(row[1] or "{}")}


def wait_state(data: Path, path: str, *states: str, timeout: float = 90) -> dict[str, Any]:
    wait_for(
        lambda: (preview_of(data, path) or {}).get("state") in states,
        timeout,
        f"{path}: preview in {states}",
    )
    found = preview_of(data, path)
    assert found is not None
    return found


def work_marker(data: Path, item_id: str) -> str:
    """The start of the work folder of `item_id`'s job in this test's pool. Item ids come
    from paths, so another test run on the machine (the same path in its own pool) has
    the same id: only the whole folder tells this pool's job apart."""
    return f"{data.resolve() / 'pool' / '.catalog' / 'previews'}/.ortak-work-{item_id}-"


def ffmpeg_children(marker: str) -> list[int]:
    """Pids of processes whose command line mentions `marker` (`work_marker`)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and "ffmpeg" in cmdline:
            pids.append(int(entry.name))
    return pids


class Watch(threading.Thread):
    """Samples the published proxy's (inode, size) every few milliseconds."""

    def __init__(self, path_of: Any) -> None:
        super().__init__(daemon=True)
        self.path_of = path_of
        self.seen: set[tuple[int, int]] = set()
        self.halt = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.halt.is_set() and time.monotonic() < deadline:
            path = self.path_of()
            if path is not None:
                try:
                    st = os.stat(path)
                    self.seen.add((st.st_ino, st.st_size))
                except FileNotFoundError:
                    pass
            time.sleep(0.005)


def test_sigkill_of_server_and_of_ffmpeg_mid_transcode(data, server_factory, media):
    # A 360-line proxy: 2-4 s of ffmpeg, so the SIGKILL lands while it runs (with the
    # smaller proxy, a loaded run once saw the job end before the kill and no retry).
    enable_previews(data, proxy_height="360")
    (data / "pool" / "TRT" / "documentaries").mkdir(parents=True, exist_ok=True)
    server = server_factory(sftp=False, indexer=True)
    path = "/TRT/documentaries/epic.mp4"
    from ..helpers import ftp_login

    def proxy_path() -> Path | None:
        found = preview_of(data, path)
        return (
            data / "pool" / ".catalog" / "previews" / found["id"] / "proxy.mp4" if found else None
        )

    watch = Watch(proxy_path)
    watch.start()
    ftp = ftp_login(server.ftp_port, "trt-up")
    with open(media["long.mp4"], "rb") as f:
        ftp.storbinary(f"STOR {path}", f)
    ftp.quit()
    item_id = wait_for_id(data, path)
    marker = work_marker(data, item_id)
    wait_for(lambda: ffmpeg_children(marker), 30, "ffmpeg to start")
    server.kill()  # SIGKILL: no clean-up at all
    wait_for(lambda: not ffmpeg_children(marker), 30, "ffmpeg to die with its server")
    assert preview_of(data, path)["state"] == "pending"

    server = server_factory(sftp=False, indexer=True)  # the job runs again
    pids = wait_for_value(lambda: ffmpeg_children(marker), 30, "ffmpeg to start again")
    os.kill(pids[0], signal.SIGKILL)  # now kill the transcoder itself: huey retries
    done = wait_state(data, path, "ready", "failed", timeout=120)
    wait_for(lambda: watch.seen, 10, "the watcher to see the published proxy")
    watch.halt.set()
    watch.join()
    assert done["state"] == "ready", done
    final = os.stat(proxy_path())
    assert watch.seen == {(final.st_ino, final.st_size)}, (
        f"the published proxy was seen in other states: {watch.seen}"
    )
    info = ffprobe(proxy_path())
    assert abs(float(info["format"]["duration"]) - 40.0) < 0.5
    assert "retrying" in server.log().lower() or "retry" in server.log().lower()
    server.stop()


def wait_for_id(data: Path, path: str) -> str:
    return wait_for_value(lambda: (preview_of(data, path) or {}).get("id"), 30, "the item")


def wait_for_value(fn: Any, timeout: float, what: str) -> Any:
    box: list[Any] = []

    def check() -> bool:
        value = fn()
        if value:
            box.append(value)
        return bool(value)

    wait_for(check, timeout, what)
    return box[-1]


@pytest.fixture
def served(data, server_factory, tmp_path) -> Pool:
    enable_previews(data)
    home = tmp_path / "client"
    home.mkdir()
    return Pool(server_factory(sftp=True, indexer=True), home)


def test_pool_preview_and_the_operator_commands(served: Pool, media, tmp_path):
    pool, data = served, served.server.data
    pool.upload("/AZTV/news/flood.mp4", media["h264.mp4"].read_bytes(), user="aztv-up")
    pool.upload("/AZTV/news/noise.mxf", media["random.mxf"].read_bytes(), user="aztv-up")
    ready = wait_state(data, "/AZTV/news/flood.mp4", "ready", "failed")
    failed = wait_state(data, "/AZTV/news/noise.mxf", "ready", "failed")
    assert ready["state"] == "ready" and failed["state"] == "failed"
    pool.wait_items(2, where="json_extract(preview, '$.state') IN ('ready', 'failed')")

    # the operator's view
    status = json.loads(run_cli(data, "previews", "status", "--json").output)
    assert status["failed"] == [
        {"id": failed["id"], "path": "/AZTV/news/noise.mxf", "error": failed["error"]}
    ]
    assert status["queued"] == 0 and status["running"] == []
    assert status["states"] == {"ready": 1, "failed": 1}
    assert failed["id"] in run_cli(data, "previews", "status").output
    run_cli(data, "previews", "retry", ready["id"], expect=1)  # not failed: nothing to retry
    assert "queued" in run_cli(data, "previews", "retry", "--failed").output
    again = wait_for_value(
        lambda: (p := preview_of(data, "/AZTV/news/noise.mxf"))["state"] == "failed" and p,
        90,
        "the retry to fail again",
    )
    assert again["error"] == failed["error"]
    before = (data / "pool/.catalog/previews" / ready["id"] / "proxy.mp4").stat().st_ino
    assert "1 item(s) queued" in run_cli(data, "previews", "rebuild", ready["id"]).output
    wait_for(
        lambda: (
            (data / "pool/.catalog/previews" / ready["id"] / "proxy.mp4").stat().st_ino != before
            and preview_of(data, "/AZTV/news/flood.mp4")["state"] == "ready"
        ),
        90,
        "the rebuilt proxy",
    )
    assert "ffmpeg" in run_cli(data, "info").output
    # previews are the pool's, not the member's: never counted against its quota
    members = json.loads(run_cli(data, "member", "list", "--json").output)
    aztv = next(m for m in members if m["code"] == "AZTV")
    uploaded = media["h264.mp4"].stat().st_size + media["random.mxf"].stat().st_size
    assert aztv["used_bytes"] == uploaded

    # a newsroom takes a look, over SFTP
    ready = preview_of(data, "/AZTV/news/flood.mp4")
    pool.wait_items(2, where="json_extract(preview, '$.source_sha256') IS NOT NULL")
    pool.run("update", scheme="sftp")
    shown = pool.json("show", ready["id"], scheme="sftp")
    assert shown["preview"]["state"] == "ready"
    assert shown["preview"]["files"] == ready["files"]
    found = pool.json("search", "flood", scheme="sftp")
    hits = found["items"] if isinstance(found, dict) else found
    assert [h["preview"]["source_sha256"] for h in hits] == [shown["sha256"]]
    opener = tmp_path / "opener.sh"
    opened = tmp_path / "opened.txt"
    opener.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    opener.chmod(0o755)
    dest = tmp_path / "previews"
    out = pool.json(
        "preview",
        ready["id"],
        "--dest",
        str(dest),
        "--open",
        scheme="sftp",
        POOL_OPENER=str(opener),
    )
    folder = dest / ready["id"]
    assert {f["file"] for f in out["files"]} == set(ready["files"])
    for name, size in ready["files"].items():
        assert (folder / name).stat().st_size == size
    wait_for(lambda: opened.exists(), 10, "the opener to run")
    assert opened.read_text().strip() == str(folder / "proxy.mp4")

    # resumable: a partial download continues from where it stopped
    (folder / "proxy.mp4").rename(folder / "proxy.mp4.part")
    with open(folder / "proxy.mp4.part", "r+b") as f:
        f.truncate(ready["files"]["proxy.mp4"] // 2)
    out = pool.json("preview", ready["id"], "--dest", str(dest), scheme="ftp")
    proxy = next(f for f in out["files"] if f["file"] == "proxy.mp4")
    assert proxy["resumed_from"] == ready["files"]["proxy.mp4"] // 2
    assert (folder / "proxy.mp4").stat().st_size == ready["files"]["proxy.mp4"]
    assert sorted(f["file"] for f in out["files"] if f["skipped"]) == [
        "poster.jpg",
        "strip.jpg",
        "strip.vtt",
    ]

    # no previews: a clear message and exit 4
    result = pool.run("preview", failed["id"], "--dest", str(dest), expect=4, scheme="ftp")
    assert "making them failed" in result.output


def test_preview_workers_alone(data, media):
    """`index --once` queues the job; `previews work` (another machine's role) runs it."""
    import subprocess

    from ..helpers import POOL_SERVER

    enable_previews(data)
    (data / "pool" / "TRT" / "news").mkdir(parents=True, exist_ok=True)
    (data / "pool" / "TRT" / "news" / "clip.mp4").write_bytes(media["h264.mp4"].read_bytes())
    assert "1 indexed" in run_cli(data, "index", "--once").output
    assert preview_of(data, "/TRT/news/clip.mp4")["state"] == "pending"
    status = json.loads(run_cli(data, "previews", "status", "--json").output)
    assert status["queued"] == 1
    log = data / "work.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([POOL_SERVER, "--data", str(data), "previews", "work"], stderr=err)
    try:
        done = wait_state(data, "/TRT/news/clip.mp4", "ready", "failed", timeout=60)
        assert done["state"] == "ready", log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log.read_text()
