"""The /alerts page in a real browser (Playwright driving Debian's chromium): save a
search with the form, see it listed, remove it; no serious accessibility findings."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .test_browser import ARTIFACTS, browser, page, serious_violations

__all__ = ["browser", "page"]  # the fixtures, shared with the other browser tests


def test_save_and_remove_an_alert(page: Page):
    page.goto("/alerts")
    page.wait_for_url("**/login?next=/alerts")
    page.get_by_label("User name").fill("news")
    page.get_by_label("Password").fill("news-secret-pw")
    page.keyboard.press("Enter")
    page.wait_for_url("**/alerts")
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
