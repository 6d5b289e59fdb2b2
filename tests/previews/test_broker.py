"""The networked broker: the same jobs through Redis (huey's PriorityRedisHuey), a real
redis-server on a unix socket; a job queued by the operator's command in another
process runs in the service."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.previews.queue import PreviewQueue
from catalog.previews.status import request

from ..catalog.conftest import wait_for


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    sock = tmp_path / "redis.sock"
    exe = shutil.which("redis-server")
    assert exe, "redis-server is needed (tools/setup_test_tools.py installs it)"
    proc = subprocess.Popen(
        [exe, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(sock.exists, timeout=30), "redis-server did not start"
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_jobs_go_through_redis(rig_factory, media, redis_url):
    rig = rig_factory(broker=redis_url)
    key = "/TRT/news/via-redis"
    rig.put(key + ".mp4", media["h264.mp4"])
    first = rig.wait_state(key, "ready", "failed")
    assert first["state"] == "ready", first

    # a rebuild asked for elsewhere (as `pool-server previews rebuild` does), queued in
    # Redis by a queue object of its own, is picked up by the running service
    item_id = rig.item(key)["id"]
    before = (rig.folder(key) / "proxy.mp4").stat().st_ino
    other = PreviewQueue(rig.data_dir / "elsewhere", redis_url)
    try:
        with rig.indexer.lock:
            assert request(rig.indexer.db, [item_id], force=True) == [item_id]
        assert rig.preview(key)["state"] == "pending"
        assert other.enqueue(item_id, rig.item(key), 10.0) == "express"
        assert wait_for(
            lambda: (
                rig.preview(key).get("state") == "ready"
                and (rig.folder(key) / "proxy.mp4").stat().st_ino != before
            ),
            timeout=30,
        ), rig.preview(key)
        assert other.length() == 0
    finally:
        other.close()
