"""Uploads from a real browser (Playwright driving Debian's chromium): Uppy over tus with
the metadata form, a reload mid-way that resumes, quota refusals, and who sees the page."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ..helpers import ServerProcess, copy_template, run_cli, start_server, wait_for
from .conftest import ffmpeg, login
from .test_browser import ARTIFACTS, CHROMIUM, FLAGS, serious_violations

SIZE = 200 * 1024 * 1024
TITLE = "Yükleme denemesi: Ankara'da kış"


@pytest.fixture(scope="module")
def big_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 200 MB MP4: a short H.264 clip with a 200 MB `free` box of noise after it
    (players and MediaInfo skip it), made once per run."""
    d = tmp_path_factory.mktemp("upload")
    clip = d / "ankara-kis.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(clip),
    )
    pad = SIZE - clip.stat().st_size - 8
    with open(clip, "ab") as fh:
        fh.write((pad + 8).to_bytes(4, "big"))
        fh.write(b"free")
        left = pad
        while left:
            n = min(left, 8 << 20)
            fh.write(os.urandom(n))
            left -= n
    assert clip.stat().st_size == SIZE
    return clip


@pytest.fixture(scope="module")
def up_data(template_data: Path, tmp_path_factory) -> Path:
    return copy_template(template_data, tmp_path_factory.mktemp("up") / "data")


@pytest.fixture(scope="module")
def up_server(up_data: Path) -> Iterator[ServerProcess]:
    srv = start_server(up_data, sftp=False, http=True, indexer=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _login(browser: Browser, base: str, user: str, pw: str):
    # bypass_csp only so that the test can inject axe-core (the page itself runs under CSP)
    context = browser.new_context(base_url=base, locale="en-GB", bypass_csp=True)
    page = context.new_page()
    page.goto("/login?next=/upload")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(pw)
    page.get_by_role("button", name="Log in").click()
    return context, page


def _partial_bytes(area: Path) -> int:
    return sum(p.stat().st_size for p in area.rglob(".ortak-part-*"))


def _add_and_send(page: Page, clip: Path) -> None:
    more = page.get_by_role("button", name="Add more")
    if more.count():  # a restored session lists its files: the picker is behind "Add more"
        more.click()
    page.locator("input.uppy-Dashboard-input").first.set_input_files(str(clip))
    page.locator(".uppy-StatusBar-actionBtn--upload").click()


def test_upload_page_is_accessible_before_uppy_has_drawn(browser, up_server):
    """axe on the page as served, before the script fills the drop zone (CI once ran axe
    in that instant): the empty drop zone must already be a labelled region."""
    base = f"http://127.0.0.1:{up_server.http_port}"
    context = browser.new_context(base_url=base, locale="en-GB", bypass_csp=True)
    context.route("**/static/upload.js", lambda route: route.abort())
    page = context.new_page()
    page.goto("/login?next=/upload")
    page.get_by_label("User name").fill("trt-up")
    page.get_by_label("Password").fill("trt-up-secret-pw")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Send to the pool")
    assert page.locator("#uppy").inner_html() == ""
    assert serious_violations(page) == []
    context.close()


def test_upload_with_metadata_survives_a_reload(browser, up_server, up_data, big_clip):
    base = f"http://127.0.0.1:{up_server.http_port}"
    context, page = _login(browser, base, "trt-up", "trt-up-secret-pw")
    expect(page.get_by_role("heading", level=1)).to_have_text("Send to the pool")
    expect(page.locator(".uppy-Dashboard")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_label("Category").fill("news")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Languages (e.g. tr, kk)").fill("tr")
    page.get_by_label("Location").fill("Ankara")
    page.get_by_label("Description / dope sheet").fill("Kar yağışı, şehir merkezi.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "upload.png"), full_page=True)
    _add_and_send(page, big_clip)
    area = up_data / "pool" / "TRT" / "news"
    # Stop it mid-way: the tab goes away (a reload) once part of the file has arrived.
    wait_for(
        lambda: _partial_bytes(area) >= 20 * 1024 * 1024,
        timeout=60,
        what="part of the upload on the server",
    )
    page.reload()
    held = _partial_bytes(area)
    assert 0 < held < SIZE and not (area / "ankara-kis.mp4").exists()
    # Golden retriever restored the queue, the page its form; the same file is picked
    # again and resumes. Waited for: the restored file is drawn by the script after the
    # page has loaded, and `_add_and_send` looks for "Add more" only once.
    expect(page.locator(".uppy-Dashboard-Item")).to_have_count(1)
    expect(page.get_by_label("Title")).to_have_value(TITLE)
    expect(page.get_by_label("Location")).to_have_value("Ankara")
    _add_and_send(page, big_clip)
    link = page.locator("#upload-results a").first
    expect(link).to_be_visible(timeout=120_000)
    item_id = link.inner_text()
    page.screenshot(path=str(ARTIFACTS / "upload-done.png"), full_page=True)
    assert (area / "ankara-kis.mp4").stat().st_size == SIZE
    conn = sqlite3.connect(up_data / "pool.db")
    try:
        rows = conn.execute("SELECT id, done FROM tus_uploads WHERE vpath LIKE '%ankara-kis.mp4'")
        assert [r[1] for r in rows.fetchall()] == [1], "one upload, resumed, not two"
    finally:
        conn.close()
    want = hashlib.sha256(big_clip.read_bytes()).hexdigest()
    client = login(base, "news")

    def searchable() -> bool:
        found = client.get("/api/v1/search", params={"q": "ankara"}).json()["items"]
        return any(i["id"] == item_id for i in found)

    wait_for(searchable, timeout=60, what="the uploaded item in search")
    item = client.get(f"/api/v1/items/{item_id}").json()
    assert item["title"] == TITLE and item["sha256"] == want
    client.close()
    context.close()


def test_quota_exceeded_is_said_and_leaves_nothing(browser, up_server, up_data, big_clip):
    run_cli(up_data, "quota", "set", "AZTV", "50M")
    base = f"http://127.0.0.1:{up_server.http_port}"
    context, page = _login(browser, base, "aztv-up", "aztv-up-secret-pw")
    page.get_by_label("Category").fill("news")
    _add_and_send(page, big_clip)
    error = page.locator("#upload-results li.error")
    expect(error).to_contain_text("quota", timeout=30_000)
    area = up_data / "pool" / "AZTV"
    assert list(area.rglob("*.mp4")) == [] and _partial_bytes(area) == 0
    context.close()


def test_a_reader_has_no_upload_page(up_server):
    base = f"http://127.0.0.1:{up_server.http_port}"
    reader = login(base, "news")
    assert reader.get("/upload").status_code == 403
    r = reader.post("/api/v1/uploads/", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "5"})
    assert r.status_code == 403
    reader.close()
    anonymous = httpx.get(f"{base}/upload", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
