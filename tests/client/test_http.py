"""The `pool` client over the web door: http:// and https:// pool URLs as a fourth
transport for update, search, get (with Range resume) and sync."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from ..helpers import password, run_cli, set_setting
from .conftest import Pool, wait_for

SIZE = 6 * 1024 * 1024


@pytest.fixture
def web_pool(data: Path, server_factory, tmp_path: Path) -> Pool:
    home = tmp_path / "client"
    home.mkdir()
    return Pool(server_factory(sftp=False, indexer=True, http=True), home)


def _via(pool: Pool, scheme: str = "http", **extra) -> dict:
    return {"scheme": scheme, "port": pool.server.http_port, **extra}


def _uploaded(pool: Pool) -> bytes:
    payload = os.urandom(SIZE)
    pool.upload("/TRT/news/Köprü_açılışı.mxf", payload)
    pool.wait_items(1)
    return payload


def _takes(pool: Pool) -> list[tuple[str, str]]:
    """(status, detail) of the HTTP downloads of the test file in the audit."""
    conn = sqlite3.connect(pool.server.data / "pool.db")
    try:
        return conn.execute(
            "SELECT status, detail FROM audit WHERE action = 'download' AND protocol = 'http'"
            " AND path LIKE '%Köprü%' ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def test_update_search_get_resume_and_sync_over_http(web_pool: Pool, tmp_path: Path):
    pool = web_pool
    payload = _uploaded(pool)
    via = _via(pool)
    updated = pool.json("update", **via)
    assert updated["seq"] >= 1
    [found] = pool.json("search", "kopru acilisi", **via)
    assert found["sha256"] == hashlib.sha256(payload).hexdigest()
    # an interrupted get (SIGKILL) resumes with a Range request
    dest = tmp_path / "dl"
    part = dest / "Köprü_açılışı.mxf.part"
    proc = pool.spawn("get", found["id"], "--dest", str(dest), "--bwlimit", "2M", **via)
    try:
        wait_for(lambda: part.exists() and part.stat().st_size >= 1024 * 1024, 15, "the first MiB")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    had = part.stat().st_size
    assert 0 < had < SIZE
    got = pool.json("get", found["id"], "--dest", str(dest), **via)["files"][0]
    assert got["ok"] and got["resumed_from"] == had and got["transferred"] == SIZE - had
    assert (dest / "Köprü_açılışı.mxf").read_bytes() == payload
    # The server audits a take once it has sent the last byte, after the client may have
    # it all: wait (bounded) for the rows of both takes, the killed one and the resumed one.
    wait_for(lambda: len(_takes(pool)) >= 2, 30, "both takes in the audit")
    takes = _takes(pool)
    # The server may notice the killed client only after the resumed take: any order. The
    # killed take is "partial", or "complete" when its last bytes were already in the
    # socket buffers (the server cannot tell what the client read; see README).
    assert len(takes) == 2 and ("complete", f"from offset {had}") in takes, takes
    [(killed, detail)] = [take for take in takes if take != ("complete", f"from offset {had}")]
    assert killed in ("partial", "complete") and detail is None, takes
    # sync fetches the matching item, then is a no-op
    hot = tmp_path / "hot"
    first = pool.json("sync", "--dest", str(hot), "--category", "news", **via)
    assert len(first["fetched"]) == 1
    again = pool.json("sync", "--dest", str(hot), "--category", "news", **via)
    assert again["fetched"] == []


def test_api_token_as_password_and_whoami(web_pool: Pool):
    pool = web_pool
    token = json.loads(run_cli(pool.server.data, "token", "create", "news", "--json").output)
    me = pool.json("whoami", **_via(pool, POOL_PASSWORD=token["token"]))
    assert me["user"] == "news" and me["role"] == "reader"
    refused = pool.run("update", expect=None, **_via(pool, POOL_PASSWORD="wrong-password"))
    assert refused.exit_code != 0 and "login refused" in refused.output


def test_https_pins_the_certificate(data: Path, server_factory, tmp_path: Path):
    set_setting(data, "http", "tls", "true")
    home = tmp_path / "client"
    home.mkdir()
    pool = Pool(server_factory(sftp=False, indexer=True, http=True), home)
    _uploaded(pool)
    via = _via(pool, "https", POOL_URL="", POOL_PASSWORD="")
    out = pool.run(
        "login",
        f"https://127.0.0.1:{pool.server.http_port}",
        "--user",
        "news",
        "--profile",
        "web",
        "--password-stdin",
        input=password("news") + "\n",
        **via,
    )
    assert "TLS certificate SHA256:" in out.stderr
    known = (home / "config" / "known_certs").read_text()
    assert f"127.0.0.1:{pool.server.http_port} " in known
    pool.run("--profile", "web", "update", **_via(pool, "https", POOL_URL=""))
    [found] = pool.json("--profile", "web", "search", "kopru", **_via(pool, "https", POOL_URL=""))
    assert found["size"] == SIZE
    # HTTP Basic is accepted over TLS
    basic = httpx.get(
        f"https://127.0.0.1:{pool.server.http_port}/api/v1/me",
        auth=("news", password("news")),
        verify=False,  # the pool's self-signed certificate; pinning is tested above
    )
    assert basic.status_code == 200 and basic.json()["auth"] == "basic"
    # a changed certificate is refused
    (home / "config" / "known_certs").write_text(f"127.0.0.1:{pool.server.http_port} {'0' * 64}\n")
    bad = pool.run("--profile", "web", "update", expect=None, **_via(pool, "https", POOL_URL=""))
    assert bad.exit_code != 0 and "CHANGED" in bad.output
