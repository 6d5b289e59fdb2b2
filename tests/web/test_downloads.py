"""Takes over HTTP with curl: Range resume, If-Range, ETag, Content-Disposition, audit."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import httpx

from ..helpers import run_cli, wait_for
from .conftest import add_file, catalogued, wait_catalogued

CURL = shutil.which("curl") or "curl"


def _token(data: Path, user: str = "news") -> str:
    return json.loads(run_cli(data, "token", "create", user, "--json").output)["token"]


def _item(base: str, token: str) -> dict:
    r = httpx.get(
        f"{base}/api/v1/search",
        params={"q": "qazaqstan"},
        headers={"Authorization": f"Bearer {token}"},
    )
    return r.json()["items"][0]


def _takes(data: Path, path: str) -> list[tuple]:
    conn = sqlite3.connect(data / "pool.db")
    try:
        return conn.execute(
            "SELECT status, bytes, detail FROM audit WHERE action = 'download'"
            " AND protocol = 'http' AND path = ? ORDER BY id",
            [path],
        ).fetchall()
    finally:
        conn.close()


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CURL, "-sS", *args], capture_output=True, timeout=60)


def test_range_resume_is_byte_identical_and_counted_once(base_url, web_data, tmp_path):
    token = _token(web_data)
    item = _item(base_url, token)
    url = f"{base_url}/api/v1/items/{item['id']}/content"
    auth = ["-H", f"Authorization: Bearer {token}"]
    original = (web_data / "pool" / item["path"].lstrip("/")).read_bytes()
    before = len(_takes(web_data, "/" + item["path"].lstrip("/")))
    # an interrupted download: curl gives up after the first 10,000 bytes
    out = tmp_path / "sel.mp4"
    cut = curl(*auth, "-r", "0-9999", "-o", str(out), url)
    assert cut.returncode == 0 and out.stat().st_size == 10_000
    head = curl(*auth, "-I", url).stdout.decode()
    assert "accept-ranges: bytes" in head.lower()
    assert f'etag: "{item["sha256"]}"' in head.lower()
    # resume with curl -C -: 206 with the rest, byte-identical in the end
    resumed = curl(*auth, "-C", "-", "-D", "-", "-o", str(out), url)
    assert resumed.returncode == 0, resumed.stderr
    headers = resumed.stdout.decode().lower()
    assert "206 partial content" in headers
    assert f"content-range: bytes 10000-{len(original) - 1}/{len(original)}" in headers
    assert hashlib.sha256(out.read_bytes()).hexdigest() == item["sha256"]
    path = "/" + item["path"].lstrip("/")
    wait_for(lambda: len(_takes(web_data, path)) == before + 2, what="two audit rows")
    rows = _takes(web_data, path)[before:]
    assert [r[0] for r in rows] == ["partial", "complete"]  # one take
    assert rows[1][1] == len(original) - 10_000 and "offset 10000" in rows[1][2]


def test_if_range_with_a_stale_etag_gets_the_whole_file(base_url, web_data):
    token = _token(web_data)
    item = _item(base_url, token)
    url = f"{base_url}/api/v1/items/{item['id']}/content"
    h = {"Authorization": f"Bearer {token}"}
    same = httpx.get(
        url, headers={**h, "Range": "bytes=100-199", "If-Range": f'"{item["sha256"]}"'}
    )
    assert same.status_code == 206 and len(same.content) == 100
    stale = httpx.get(url, headers={**h, "Range": "bytes=100-199", "If-Range": '"0' * 1 + '"'})
    assert stale.status_code == 200 and len(stale.content) == item["size"]
    assert hashlib.sha256(stale.content).hexdigest() == item["sha256"]
    unsat = httpx.get(url, headers={**h, "Range": f"bytes={item['size']}-"})
    assert unsat.status_code == 416 and unsat.headers["content-range"] == f"bytes */{item['size']}"
    cached = httpx.get(url, headers={**h, "If-None-Match": f'"{item["sha256"]}"'})
    assert cached.status_code == 304 and not cached.content


def test_content_disposition_carries_the_utf8_name(base_url, web_data):
    token = _token(web_data)
    name = "Sel baskını “İzmir” 2026.mp4"
    add_file(web_data, f"TRT/news/{name}", web_data / "pool" / "QAZAQ" / "news" / "sel.mp4")
    wait_catalogued(web_data, f"TRT/news/{name}")
    r = httpx.get(
        f"{base_url}/api/v1/search",
        params={"q": "izmir"},
        headers={"Authorization": f"Bearer {token}"},
    )
    [item] = r.json()["items"]
    got = httpx.get(
        f"{base_url}/api/v1/items/{item['id']}/content",
        headers={"Authorization": f"Bearer {token}", "Range": "bytes=0-0"},
    )
    disp = got.headers["content-disposition"]
    assert disp.startswith('attachment; filename="Sel bask_n')
    assert (
        "filename*=UTF-8''Sel%20bask%C4%B1n%C4%B1%20%E2%80%9C%C4%B0zmir%E2%80%9D%202026.mp4" in disp
    )


def test_if_range_after_the_file_changed_gets_the_whole_new_version(base_url, web_data, tmp_path):
    token = _token(web_data)
    h = {"Authorization": f"Bearer {token}"}
    v1, v2 = tmp_path / "v1.mp4", tmp_path / "v2.mp4"
    v1.write_bytes(b"version one " * 5000)
    v2.write_bytes(b"version two, longer " * 5000)
    add_file(web_data, "TRT/news/degisen.mp4", v1)
    old = wait_catalogued(web_data, "TRT/news/degisen.mp4")
    url = f"{base_url}/api/v1/items/{old['id']}/content"
    first = httpx.get(url, headers={**h, "Range": "bytes=0-99"})
    assert first.status_code == 206 and first.headers["etag"] == f'"{old["sha256"]}"'
    add_file(web_data, "TRT/news/degisen.mp4", v2)  # a new version replaces it
    new_sha = hashlib.sha256(v2.read_bytes()).hexdigest()
    wait_for(
        lambda: (catalogued(web_data, "TRT/news/degisen.mp4") or {}).get("sha256") == new_sha,
        what="the new version catalogued",
    )
    resumed = httpx.get(
        url, headers={**h, "Range": "bytes=100-", "If-Range": first.headers["etag"]}
    )
    assert resumed.status_code == 200  # not a range of the other version: all of the new one
    assert resumed.content == v2.read_bytes()
    assert resumed.headers["etag"] == f'"{new_sha}"'
