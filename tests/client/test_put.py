"""`pool put`: an interrupted upload resumes; the sidecar carries the options."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import pytest

from .conftest import Pool, wait_for

SIZE = 6 * 1024 * 1024


def _kill_mid_put(pool: Pool, folder: Path, *args: str, **up: object) -> None:
    """Run `pool ARGS` slowly (--bwlimit 2M) and SIGKILL it once a MiB has arrived."""
    proc = pool.spawn(*args, "--bwlimit", "2M", **up)
    try:

        def partial_size() -> int:
            parts = list(folder.glob(".ortak-part-*")) if folder.exists() else []
            return max((p.stat().st_size for p in parts), default=0)

        wait_for(lambda: partial_size() >= 1024 * 1024, 15, "the first MiB on the server")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)


@pytest.mark.parametrize("scheme", ["ftp", "sftp"])
def test_interrupted_put_resumes(pool: Pool, scheme: str, tmp_path: Path) -> None:
    src = tmp_path / "long_report.mov"
    data = os.urandom(SIZE)
    src.write_bytes(data)
    folder = pool.server.data / "pool" / "TRT" / "docs"
    up = {"user": "trt-up", "scheme": scheme, "POOL_MEMBER": "TRT"}
    _kill_mid_put(
        pool, folder, "put", str(src), "--category", "docs", "--title", "Uzun rapor", **up
    )
    assert not (folder / "long_report.mov").exists()  # never visible half-done

    put = pool.json("put", str(src), "--category", "docs", "--title", "Uzun rapor", **up)
    essence, sidecar = put["files"]
    assert essence["resumed_from"] > 0 and essence["sent"] == SIZE - essence["resumed_from"]
    assert essence["verified"] == ("sha256" if scheme == "sftp" else "size")
    assert (
        hashlib.sha256((folder / "long_report.mov").read_bytes()).digest()
        == hashlib.sha256(data).digest()
    )
    assert json.loads((folder / "long_report.json").read_text()) == {
        "title": "Uzun rapor",
        "category": "docs",
    }
    assert sidecar["path"] == "/TRT/docs/long_report.json"


def test_put_with_given_sidecar_and_refusals(pool: Pool, tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"x" * 5000)
    side = tmp_path / "anything.xml"
    side.write_text("<x/>")
    up = {"user": "trt-up", "POOL_MEMBER": "TRT"}
    put = pool.json("put", str(src), "--category", "news", "--sidecar", str(side), **up)
    assert [f["path"] for f in put["files"]] == ["/TRT/news/clip.mp4", "/TRT/news/clip.xml"]
    # another member's area is refused by the server: a clear error, no traceback
    other = pool.run("put", str(src), "--category", "news", "--member", "AZTV", expect=1, **up)
    assert "refused by the server" in other.stderr and "Traceback" not in other.output
    # a reader cannot upload at all
    reader = pool.run("put", str(src), "--category", "news", "--member", "TRT", expect=1)
    assert "refused" in reader.stderr


def test_interrupted_put_over_http_resumes_through_tus(data: Path, server_factory, tmp_path):
    """`pool put` to an http:// pool: tus through the web door, resumed in a second run
    from the offset the pool kept when the first one was killed."""
    home = tmp_path / "client"
    home.mkdir()
    pool = Pool(server_factory(sftp=False, indexer=True, http=True), home)
    src = tmp_path / "Köprü_açılışı.mov"
    data_bytes = os.urandom(SIZE)
    src.write_bytes(data_bytes)
    folder = pool.server.data / "pool" / "TRT" / "news"
    up = {"user": "trt-up", "scheme": "http", "port": pool.server.http_port}
    _kill_mid_put(pool, folder, "put", str(src), "--category", "news", "--title", "Köprü", **up)
    assert not (folder / src.name).exists()
    put = pool.json("put", str(src), "--category", "news", "--title", "Köprü", **up)
    essence, sidecar = put["files"]
    assert essence["resumed_from"] >= 1024 * 1024
    assert essence["sent"] == SIZE - essence["resumed_from"]
    assert (folder / src.name).read_bytes() == data_bytes
    assert json.loads((folder / "Köprü_açılışı.json").read_text())["title"] == "Köprü"
    assert sidecar["path"] == "/TRT/news/Köprü_açılışı.json"
    # a reader is refused with the pool's reason, and nothing is left behind
    other = tmp_path / "r.mov"
    other.write_bytes(b"x" * 1000)
    refused = pool.run(
        "put",
        str(other),
        "--category",
        "news",
        "--member",
        "TRT",
        user="news",
        scheme="http",
        port=pool.server.http_port,
        expect=None,
    )
    assert refused.exit_code != 0 and "refused" in refused.output
    assert not (folder / "r.mov").exists()
