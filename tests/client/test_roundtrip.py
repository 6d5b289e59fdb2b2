"""login → update → search → get → verify, and put → indexer → another user finds it;
over FTP, FTPS and SFTP."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ..helpers import password
from .conftest import SCHEMES, Pool


@pytest.mark.parametrize("scheme", SCHEMES)
def test_login_put_update_search_get_verify(pool: Pool, scheme: str, tmp_path: Path) -> None:
    essence = tmp_path / "Çay_hasadı.mp4"
    essence.write_bytes(os.urandom(2_500_000))
    subtitle = tmp_path / "Çay_hasadı.tr.srt"
    subtitle.write_text("1\n00:00:01,000 --> 00:00:02,000\nMerhaba\n", "utf-8")

    # the uploader logs in once (profile saved, password from stdin) and puts
    up = {"user": "trt-up", "scheme": scheme, "POOL_URL": "", "POOL_PASSWORD": ""}
    out = pool.run(
        "login",
        pool.url(scheme),
        "--user",
        "trt-up",
        "--profile",
        "up",
        "--member",
        "TRT",
        "--password-stdin",
        input=password("trt-up") + "\n",
        **up,
    )
    assert "profile 'up' saved" in out.stdout
    profiles = (pool.home / "config" / "profiles.toml").read_text()
    assert password("trt-up") not in profiles
    if scheme == "sftp":
        assert "trusting its ssh-" in out.stderr
        assert (pool.home / "config" / "known_hosts").read_text().count("\n") == 1
    if scheme == "ftps":
        assert "TLS certificate SHA256:" in out.stderr
    put = pool.json(
        "--profile",
        "up",
        "--password-stdin",
        "put",
        str(essence),
        str(subtitle),
        "--category",
        "documentaries",
        "--series",
        "Karadeniz",
        "--episode",
        "3",
        "--title",
        "Çay hasadı Rize'de",
        "--lang",
        "tr",
        "--location",
        "Rize",
        "--description",
        "Harvest on the slopes",
        input=password("trt-up") + "\n",
        **up,
    )
    paths = [f["path"] for f in put["files"]]
    assert paths == [
        "/TRT/documentaries/Karadeniz/Çay_hasadı.mp4",
        "/TRT/documentaries/Karadeniz/Çay_hasadı.json",
        "/TRT/documentaries/Karadeniz/Çay_hasadı.tr.srt",
    ]
    assert {f["verified"] for f in put["files"]} == {"sha256" if scheme == "sftp" else "size"}
    pool.wait_items(1, where="has_subtitles = 1 AND languages != '[]'")

    # a newsroom reader (another user, own cache) finds it after an update
    news = {"user": "news", "scheme": scheme}
    upd = pool.json("update", **news)
    assert upd["added"] == 1 and upd["seq"] >= 1
    assert "up to date" in pool.run("update", **news).stdout
    found = pool.json("search", "cay hasadi", "--lang", "tr", **news)  # folded: ç→c, ı→i
    assert [r["path"] for r in found] == ["/TRT/documentaries/Karadeniz/Çay_hasadı.mp4"]
    item = found[0]
    assert item["title"] == "Çay hasadı Rize'de" and item["location"] == "Rize"
    assert item["series"] == "Karadeniz" and item["has_subtitles"] == 1
    table = pool.run("search", "ÇAY", **news).stdout
    assert item["id"] in table and "TITLE" in table
    shown = pool.json("show", item["id"], **news)
    assert {a["role"] for a in shown["attachments"]} == {"sidecar", "subtitle"}
    assert "Rize" in pool.run("show", item["path"], **news).stdout

    dest = tmp_path / "takes"
    got = pool.json("get", item["id"], "--dest", str(dest), "--attachments", **news)
    assert all(f["ok"] for f in got["files"]) and len(got["files"]) == 3
    assert hashlib.sha256((dest / essence.name).read_bytes()).hexdigest() == item["sha256"]
    assert not list(dest.glob("*.part"))
    checked = pool.json("verify", str(dest), **news)
    assert {c["status"] for c in checked} == {"ok"} and len(checked) == 3

    # a damaged file is found by verify: exit 5
    with open(dest / essence.name, "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 16)
    bad = pool.run("verify", str(dest), expect=5, **news)
    assert essence.name in bad.stderr and "differ" in bad.stderr
