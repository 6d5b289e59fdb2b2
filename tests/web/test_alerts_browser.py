"""The /alerts page in a real browser (Playwright driving Debian's chromium): save a
search with the form, see it listed, remove it; no serious accessibility findings."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from ..helpers import run_cli
from .test_browser import ARTIFACTS, browser, page, serious_violations

__all__ = ["browser", "page"]  # the fixtures, shared with the other browser tests

ALERTS = re.compile(r"^[^?]*/alerts$")
"""The /alerts page itself: the glob "**/alerts" also matches the login page it is
reached from (/login?next=/alerts), so waiting for it returned at once, before the
login (Enter does not wait for the navigation it starts) had even been answered."""


def test_save_and_remove_an_alert(page: Page):
    page.goto("/alerts")
    page.wait_for_url("**/login?next=/alerts")
    page.get_by_label("User name").fill("news")
    page.get_by_label("Password").fill("news-secret-pw")
    page.keyboard.press("Enter")
    page.wait_for_url(ALERTS)
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_label("Name").fill("Kazakh floods")
    page.get_by_label("Words").fill("su tasqyny")
    page.get_by_role("textbox", name="Language").fill("kk")
    page.get_by_label("E-mail to").fill("desk@example.org")
    page.get_by_label("How often").select_option("daily")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/alerts")
    row = page.get_by_role("row", name="Kazakh floods")
    expect(row).to_contain_text("su tasqyny")
    expect(row).to_contain_text("language=kk")
    expect(row).to_contain_text("daily")
    expect(row).to_contain_text("desk@example.org")
    assert serious_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "alerts.png"), full_page=True)
    # a bad address is refused with the reason, the form keeps what was typed
    page.get_by_label("Name").fill("second")
    page.get_by_label("E-mail to").fill("desk@")
    page.get_by_label("E-mail to").evaluate("e => e.type = 'text'")  # past the browser's check
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("not an e-mail address")
    expect(page.get_by_label("Name")).to_have_value("second")
    page.get_by_role("button", name="Remove Kazakh floods").click()
    page.wait_for_url("**/alerts")
    expect(page.get_by_text("You have no saved searches.")).to_be_visible()


NOTIFICATIONS_SPY = """
window.__notes = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__notes.push({title, body: options.body}); }
};
const realSetInterval = window.setInterval;
window.setInterval = (f, ms) => realSetInterval(f, Math.min(ms, 200));
"""
"""The browser's Notification API recorded (what the page asks it to show), and the
page's 30 s poll made 0.2 s: everything else is the real page and server."""


def test_browser_notification_for_a_new_match(page: Page, web_data: Path):
    page.add_init_script(NOTIFICATIONS_SPY)
    page.goto("/alerts")
    page.get_by_label("User name").fill("news")
    page.get_by_label("Password").fill("news-secret-pw")
    page.keyboard.press("Enter")
    page.wait_for_url(ALERTS)
    page.get_by_label("Name").fill("tulpar")
    page.get_by_label("Words").fill("tulpar")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/alerts")
    folder = web_data / "pool" / "QAZAQ" / "news"
    (folder / "tulpar.json").write_text(json.dumps({"title": "Tulpar jarysy"}))
    run_cli(web_data, "index", "--once")  # the server's alert thread reads the journal
    page.wait_for_function("window.__notes.length > 0", timeout=20_000)
    assert page.evaluate("window.__notes") == [{"title": "tulpar", "body": "Tulpar jarysy"}]
    page.reload()
    expect(page.get_by_role("link", name="Tulpar jarysy")).to_be_visible()
