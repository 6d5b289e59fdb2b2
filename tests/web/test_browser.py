"""The web door in a real browser: Playwright driving Debian's chromium (no download of
a browser of its own). Screenshots go to tests/artifacts/ (gitignored, kept by CI)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .conftest import TITLE

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    # bypass_csp: only so that the test can inject axe-core; the pages' own CSP forbids
    # inline scripts (checked in test_security).
    context = browser.new_context(
        base_url=base_url, accept_downloads=True, locale="en-GB", bypass_csp=True
    )
    pg = context.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield pg
    context.close()
    assert not dialogs, f"a page opened a dialog (script ran): {dialogs}"


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page once it has loaded: its
    deferred and module scripts have run (an element a test waited for may be parsed
    before them). What a script draws later, the caller waits for first."""
    page.wait_for_function("document.readyState === 'complete'")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_login_search_play_scrub_take_logout(page: Page, web_data: Path):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto("/search?q=qazaqstan")
    page.wait_for_url("**/login?next=/search%3Fq%3Dqazaqstan")
    assert serious_violations(page) == []
    page.screenshot(path=str(ARTIFACTS / "login.png"), full_page=True)
    # keyboard only: tab into the form, type, submit with Enter
    page.get_by_label("User name").focus()
    page.keyboard.type("news")
    page.keyboard.press("Tab")
    page.keyboard.type("news-secret-pw")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=qazaqstan")
    # a search in the other script: Latin query, Cyrillic title
    page.get_by_label("Words").fill("qazaqstan")
    page.get_by_role("button", name="Search", exact=True).click()
    card = page.get_by_role("link", name=TITLE)
    expect(card).to_be_visible()
    assert "q=qazaqstan" in page.url  # the URL holds the query
    page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)
    assert serious_violations(page) == []
    card.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_text("No archive use")).to_be_visible()
    # the proxy plays
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.play(); }")
    page.wait_for_function(
        "() => { const v = document.querySelector('video');"
        " return v.currentTime > 0.5 && v.videoWidth > 0; }",
        timeout=60_000,  # decoding under load: a bound, not a speed goal
    )
    assert page.evaluate("document.querySelector('video').videoHeight") == 180  # the proxy
    expect(page.locator("#timecode")).not_to_have_text("10:00:00:00")  # follows the player
    # hover-scrub shows a thumbnail from the keyframe strip
    scrub = page.locator("#scrub")
    expect(scrub).to_have_attribute("data-ready", "1")
    box = scrub.bounding_box()
    assert box is not None
    thumb = page.locator("#scrub-thumb")
    looks = "t => [t.style.backgroundImage, t.style.backgroundPosition, t.offsetWidth]"
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)
    expect(thumb).to_be_visible()
    early = thumb.evaluate(looks)
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    late = thumb.evaluate(looks)
    assert "strip.jpg" in early[0] and early[2] > 0
    assert early[1] != late[1]  # another keyframe of the strip under the pointer
    # the strip image really loads
    strip = page.request.get(early[0].split('"')[1])
    assert strip.ok and strip.headers["content-type"] == "image/jpeg"
    page.screenshot(path=str(ARTIFACTS / "item.png"), full_page=True)
    page.evaluate("document.querySelector('video').pause()")
    assert serious_violations(page) == []
    # take the original and check it
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the original").click()
    saved = ARTIFACTS / "take.mp4"
    info.value.save_as(saved)
    original = web_data / "pool" / "QAZAQ" / "news" / "sel.mp4"
    digest = hashlib.sha256(saved.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(original.read_bytes()).hexdigest()
    assert info.value.suggested_filename == "sel.mp4"
    saved.unlink()
    # log out
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    page.goto("/search")
    page.wait_for_url("**/login?next=/search")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to the pool")


def test_live_search_follows_typing(page: Page):
    page.goto("/login")
    page.get_by_label("User name").fill("news")
    page.get_by_label("Password").fill("news-secret-pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/search")
    page.get_by_label("Words").press_sequentially("qazaq", delay=30)  # no Enter
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
    page.wait_for_url("**/search?q=qazaq")
    page.get_by_label("Words").fill("nothingmatchesthis")
    expect(page.get_by_text("Nothing found.")).to_be_visible()


def test_turkish_interface_and_browse(page: Page):
    page.goto("/lang/tr?next=/login")
    page.get_by_label("Kullanıcı adı").fill("news")
    page.get_by_label("Parola").fill("news-secret-pw")
    page.get_by_role("button", name="Giriş yap").click()
    page.wait_for_url("**/search")
    expect(page.get_by_role("heading", level=1)).to_have_text("Havuzda ara")
    page.get_by_role("link", name="Göz at").click()
    page.get_by_role("link", name="QAZAQ").click()
    page.get_by_role("link", name="news").click()
    page.get_by_role("link", name="dizi yok").click()
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()


def test_the_accessibility_check_can_fail(page: Page):
    """The axe check above is not vacuous: an unlabelled field and an image without
    alternative text are found."""
    page.set_content('<html lang="en"><body><main><img src="x.png"><input></main></body></html>')
    found = serious_violations(page)
    assert any(v.startswith("image-alt") for v in found)
    assert any(v.startswith("label") for v in found)
