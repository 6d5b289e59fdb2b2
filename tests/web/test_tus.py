"""tus 1.0.0 by hand (httpx) against a real `pool-server serve`: creation, offsets,
checksums, limits before any byte, a SIGKILL of the server, expiry, and who may upload."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import httpx
import pytest

from ..helpers import ServerProcess, copy_template, run_cli, set_setting, start_server, wait_for
from .conftest import login

TUS = {"Tus-Resumable": "1.0.0"}


def _meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _bearer(data: Path, user: str) -> dict[str, str]:
    out = run_cli(data, "token", "create", user, "--name", "tus-test").output
    token = out.strip().splitlines()[-1].strip()
    return {"Authorization": f"Bearer {token}"}


def _partials(area: Path) -> list[Path]:
    return [p for p in area.rglob("*") if p.name.startswith(".ortak-part-")]


@pytest.fixture
def tus_data(template_data: Path, tmp_path: Path) -> Path:
    return copy_template(template_data, tmp_path / "data")


@pytest.fixture
def tus_server(tus_data: Path):
    started: list[ServerProcess] = []

    def start() -> ServerProcess:
        srv = start_server(tus_data, sftp=False, http=True)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def _client(srv: ServerProcess, auth: dict[str, str]) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{srv.http_port}", headers={**TUS, **auth}, timeout=30
    )


def _create(c: httpx.Client, length: int, path: str) -> str:
    r = c.post(
        "/api/v1/uploads/",
        headers={"Upload-Length": str(length), "Upload-Metadata": _meta(path=path)},
    )
    assert r.status_code == 201, r.text
    return r.headers["location"]


def _patch(c: httpx.Client, url: str, offset: int, body: bytes, **headers: str):
    return c.patch(
        url,
        content=body,
        headers={
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **headers,
        },
    )


def test_options_and_protocol_version(tus_server, tus_data):
    srv = tus_server()
    c = _client(srv, _bearer(tus_data, "trt-up"))
    r = c.options("/api/v1/uploads/")
    assert r.status_code == 204 and r.headers["tus-version"] == "1.0.0"
    assert set(r.headers["tus-extension"].split(",")) >= {
        "creation",
        "termination",
        "checksum",
        "expiration",
    }
    assert "sha256" in r.headers["tus-checksum-algorithm"]
    assert r.headers["tus-max-size"] == str(1024**4)  # [uploads] max_file_size, 1T
    old = c.post(
        "/api/v1/uploads/",
        headers={
            "Tus-Resumable": "0.2.2",
            "Upload-Length": "1",
            "Upload-Metadata": _meta(path="/TRT/x.bin"),
        },
    )
    assert old.status_code == 412


def test_offsets_checksums_and_completion(tus_server, tus_data):
    srv = tus_server()
    c = _client(srv, _bearer(tus_data, "trt-up"))
    body = os.urandom(3 * 1024 * 1024 + 17)
    url = _create(c, len(body), "/TRT/news/tus-clip.mp4")
    area = tus_data / "pool" / "TRT" / "news"
    assert not (area / "tus-clip.mp4").exists() and len(_partials(area)) == 1
    assert _patch(c, url, 5, body[:10]).status_code == 409  # not where the upload is
    bad = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    r = _patch(c, url, 0, body[: 1024 * 1024], **{"Upload-Checksum": f"sha256 {bad}"})
    assert r.status_code == 460
    assert c.head(url).headers["upload-offset"] == "0"  # nothing of the bad chunk kept
    good = base64.b64encode(hashlib.sha256(body[: 1024 * 1024]).digest()).decode()
    r = _patch(c, url, 0, body[: 1024 * 1024], **{"Upload-Checksum": f"sha256 {good}"})
    assert r.status_code == 204 and r.headers["upload-offset"] == str(1024 * 1024)
    assert not (area / "tus-clip.mp4").exists()  # not visible before its last byte
    r = _patch(c, url, 1024 * 1024, body[1024 * 1024 :])
    assert r.status_code == 204 and r.headers["upload-offset"] == str(len(body))
    assert (area / "tus-clip.mp4").read_bytes() == body and _partials(area) == []
    assert c.head(url).headers["upload-offset"] == str(len(body))
    status = c.get(url).json()
    assert status["done"] and status["path"] == "/TRT/news/tus-clip.mp4"
    assert status["item"].startswith("TRT-")
    audit = run_cli(tus_data, "audit", "--action", "upload", "--json").output
    assert '"protocol": "http"' in audit and "tus-clip.mp4" in audit


def test_limits_refuse_before_any_byte(tus_server, tus_data):
    set_setting(tus_data, "uploads", "max_file_size", '"1M"')
    run_cli(tus_data, "quota", "set", "AZTV", "2M")
    srv = tus_server()
    c = _client(srv, _bearer(tus_data, "trt-up"))
    r = c.post(
        "/api/v1/uploads/",
        headers={
            "Upload-Length": str(2 * 1024 * 1024),
            "Upload-Metadata": _meta(path="/TRT/big.bin"),
        },
    )
    assert r.status_code == 413, r.text
    assert _partials(tus_data / "pool" / "TRT") == []
    aztv = _client(srv, _bearer(tus_data, "aztv-up"))
    ok = _create(aztv, 900_000, "/AZTV/a.bin")
    assert _patch(aztv, ok, 0, os.urandom(900_000)).status_code == 204
    ok2 = _create(aztv, 900_000, "/AZTV/b.bin")
    assert _patch(aztv, ok2, 0, os.urandom(900_000)).status_code == 204
    r = aztv.post(
        "/api/v1/uploads/",
        headers={"Upload-Length": "900000", "Upload-Metadata": _meta(path="/AZTV/c.bin")},
    )
    assert r.status_code == 413 and "quota" in r.json()["error"]
    assert not (tus_data / "pool" / "AZTV" / "c.bin").exists()


def test_who_may_upload_where(tus_server, tus_data):
    srv = tus_server()
    reader = _client(srv, _bearer(tus_data, "news"))
    r = reader.post(
        "/api/v1/uploads/",
        headers={"Upload-Length": "10", "Upload-Metadata": _meta(path="/TRT/r.bin")},
    )
    assert r.status_code == 403
    trt = _client(srv, _bearer(tus_data, "trt-up"))
    r = trt.post(
        "/api/v1/uploads/",
        headers={"Upload-Length": "10", "Upload-Metadata": _meta(path="/AZTV/x.bin")},
    )
    assert r.status_code == 403
    # another user can neither see nor continue my upload
    url = _create(trt, 10, "/TRT/mine.bin")
    aztv = _client(srv, _bearer(tus_data, "aztv-up"))
    assert aztv.head(url).status_code == 404
    assert _patch(aztv, url, 0, b"0123456789").status_code == 404
    # a browser session must send its CSRF token
    browser = login(f"http://127.0.0.1:{srv.http_port}", "trt-up")
    r = browser.post(
        "/api/v1/uploads/",
        headers={**TUS, "Upload-Length": "10", "Upload-Metadata": _meta(path="/TRT/c.bin")},
    )
    assert r.status_code == 403
    assert reader.get("/upload").status_code == 403
    # termination
    assert trt.delete(url).status_code == 204
    assert trt.head(url).status_code == 404
    assert _partials(tus_data / "pool" / "TRT") == []


def test_offset_survives_a_server_sigkill(tus_server, tus_data):
    srv = tus_server()
    auth = _bearer(tus_data, "trt-up")
    c = _client(srv, auth)
    body = os.urandom(2 * 1024 * 1024)
    url = _create(c, len(body), "/TRT/news/killed.mxf")
    assert _patch(c, url, 0, body[:1_000_000]).status_code == 204
    srv.kill()
    srv2 = tus_server()
    c2 = _client(srv2, auth)
    url2 = url.replace(str(srv.http_port), str(srv2.http_port))
    head = c2.head(url2)
    assert head.status_code == 200 and head.headers["upload-offset"] == "1000000"
    assert _patch(c2, url2, 1_000_000, body[1_000_000:]).status_code == 204
    assert (tus_data / "pool" / "TRT" / "news" / "killed.mxf").read_bytes() == body


def test_an_abandoned_upload_expires_and_is_swept(tus_server, tus_data):
    # 7.2 s: the create, the PATCH and the look at the partial must all come before it
    # (1.8 s was too tight: a 1.9 s stall of the server, as on a loaded machine, and the
    # PATCH found the upload swept)
    set_setting(tus_data, "http", "upload_expire_hours", "0.002")
    srv = tus_server()
    c = _client(srv, _bearer(tus_data, "trt-up"))
    url = _create(c, 100, "/TRT/abandoned.bin")
    assert _patch(c, url, 0, b"x" * 40).status_code == 204
    area = tus_data / "pool" / "TRT"
    assert len(_partials(area)) == 1
    wait_for(lambda: _partials(area) == [], timeout=60, what="the expired partial swept")
    assert c.head(url).status_code in (404, 410)
