"""Provenance on the web door: the item page's block, the signed manifest over the API,
and the public /verify page hashing a file in a real browser (Debian's chromium) without
uploading it."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .conftest import item_id_of, login
from .test_browser import CHROMIUM, FLAGS


def _pool_key(data: Path) -> str:
    return json.loads((data / "keys/signing/keys.json").read_text())["keys"][-1]["fingerprint"]


def test_manifest_api_and_item_page(base_url: str, web_data: Path) -> None:
    item = item_id_of(web_data, "QAZAQ/news/sel.mp4")
    fp = _pool_key(web_data)
    anonymous = httpx.get(f"{base_url}/api/v1/items/{item}/manifest", timeout=15)
    assert anonymous.status_code == 401
    client = login(base_url, "news")
    try:
        doc = client.get(f"/api/v1/items/{item}/manifest").json()
        assert doc["verified"] == {"verified": True, "key": fp}
        assert doc["manifest"]["id"] == item and doc["manifest"]["member"] == "QAZAQ"
        clip = web_data / "pool/QAZAQ/news/sel.mp4"
        files = {f["path"]: f["sha256"] for f in doc["manifest"]["files"]}
        assert files["/QAZAQ/news/sel.mp4"] == hashlib.sha256(clip.read_bytes()).hexdigest()
        assert doc["pool_keys"]["keys"][-1]["fingerprint"] == fp
        page = client.get(f"/items/{item}").text
        block = page.split('id="prov-pool"', 1)[1].split("</dd>", 1)[0]
        assert "verified" in block and fp in block and "not verified" not in block
        assert "unsigned" in page.split('id="prov-member"', 1)[1].split("</dd>", 1)[0]
    finally:
        client.close()


def test_verify_api_is_public_and_says_little(base_url: str, web_data: Path) -> None:
    clip = web_data / "pool/QAZAQ/news/sel.mp4"
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    found = httpx.get(f"{base_url}/api/v1/verify/{sha}", timeout=15).json()
    assert found["published"] and found["items"][0]["contributed_by"] == "QAZAQ"
    assert found["items"][0]["pool_signature"]["verified"] is True
    assert found["items"][0]["file"] == "sel.mp4" and "title" not in found["items"][0]
    unknown = httpx.get(f"{base_url}/api/v1/verify/{'ab' * 32}", timeout=15).json()
    assert unknown == {"sha256": "ab" * 32, "published": False, "items": []}
    bad = httpx.get(f"{base_url}/api/v1/verify/not-a-hash", timeout=15)
    assert bad.status_code == 400 and "64 hexadecimal" in bad.json()["error"]
    paths = httpx.get(f"{base_url}/api/v1/openapi.json", timeout=15).json()["paths"]
    assert paths["/api/v1/verify/{sha256}"]["get"]["security"] == []
    assert "/api/v1/items/{item_id}/manifest" in paths


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, locale="en-GB")
    pg = context.new_page()
    yield pg
    context.close()


def test_verify_page_hashes_in_the_browser(page: Page, web_data: Path, tmp_path: Path) -> None:
    clip = web_data / "pool/QAZAQ/news/sel.mp4"
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    sent: list[tuple[str, str, int]] = []
    page.on(
        "request",
        lambda r: sent.append((r.method, r.url, len(r.post_data_buffer or b""))),
    )
    page.goto("/verify")  # no login
    expect(page.get_by_role("heading", name="Did this pool publish this file?")).to_be_visible()
    page.set_input_files("#verify-file", str(clip))
    expect(page.locator("#verify-verdict")).to_have_text("Published by this pool", timeout=60_000)
    expect(page.locator("#verify-sha256")).to_contain_text(sha)
    # every published version holding these bytes, newest first (the indexer may have
    # published the item more than once while it found its sidecar and subtitles)
    newest = page.locator("#verify-result li").first
    expect(newest).to_contain_text("QAZAQ")
    expect(newest).to_contain_text("signature verified")
    for version in page.locator("#verify-result li").all():
        expect(version).to_contain_text("QAZAQ")

    # past 64 MiB the chunks stream through the incremental SHA-256 instead of WebCrypto
    stranger = tmp_path / "stranger.bin"
    stranger.write_bytes(os.urandom(65 * 1024 * 1024 + 123))
    page.set_input_files("#verify-file", str(stranger))
    expect(page.locator("#verify-verdict")).to_have_text(
        "This pool never published this file.", timeout=60000
    )
    big_sha = hashlib.sha256(stranger.read_bytes()).hexdigest()
    expect(page.locator("#verify-sha256")).to_contain_text(big_sha)
    assert all(method == "GET" and size == 0 for method, _, size in sent), sent
    asked = [url for _, url, _ in sent if "/api/v1/verify/" in url]
    assert asked == [
        f"{page.context.pages[0].url.split('/verify')[0]}/api/v1/verify/{h}" for h in (sha, big_sha)
    ]


def test_a_copy_with_content_credentials_is_offered(
    base_url: str, web_data: Path, tmp_path: Path
) -> None:
    from catalog.credentials import ContentCredentials, delivery_path
    from catalog.credentials import read as read_credentials
    from catalog.schema import open_catalog
    from catalog.store import get_item_row

    from ..previews.test_credentials import make_chain

    item_id = item_id_of(web_data, "QAZAQ/news/sel.mp4")
    db = open_catalog(web_data / "pool.db")
    try:
        item = get_item_row(db, item_id=item_id)
    finally:
        db.conn.close()
    assert item is not None
    client = login(base_url, "news")
    try:
        assert "Content Credentials" not in client.get(f"/items/{item_id}").text
        assert client.get(f"/api/v1/items/{item_id}/credentialed").status_code == 404
        ca, certs, key = make_chain()
        original = web_data / "pool/QAZAQ/news/sel.mp4"
        copy = delivery_path(web_data / "pool", item_id, "sel.mp4")
        copy.parent.mkdir(parents=True)
        ContentCredentials(certs, key, "Test pool").embed(
            original, copy, item, original, "delivery"
        )
        assert "Content Credentials (C2PA)" in client.get(f"/items/{item_id}").text
        got = client.get(f"/api/v1/items/{item_id}/credentialed")
        assert got.status_code == 200 and got.content == copy.read_bytes()
        (tmp_path / "taken.mp4").write_bytes(got.content)
        store = read_credentials(tmp_path / "taken.mp4", trust_anchors=ca)
        assert store["validation_state"] == "Trusted"
        assert item_id in json.dumps(store) and "QAZAQ" in json.dumps(store)
    finally:
        client.close()
