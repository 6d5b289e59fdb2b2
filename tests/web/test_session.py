"""The web door's sessions: login, CSRF, logout, expiry, and the search page and API."""

from __future__ import annotations

import sqlite3
import time

import httpx

from .conftest import TITLE, csrf_of, login


def test_login_search_and_logout(base_url):
    client = login(base_url, "news")
    cookie = next(c for c in client.cookies.jar if c.name == "ortak_session")
    assert cookie.has_nonstandard_attr("HttpOnly") and not cookie.secure
    page = client.get("/search", params={"q": "qazaqstan"})
    assert page.status_code == 200
    assert TITLE in page.text  # Latin query, Cyrillic title: the catalog's folding
    api = client.get("/api/v1/search", params={"q": "qazaqstan"}).json()
    assert [i["title"] for i in api["items"]] == [TITLE] and api["next"] is None
    token = csrf_of(client)
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    again = client.get("/search")
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    assert client.get("/api/v1/search").status_code == 401
    client.close()


def test_post_without_csrf_token_is_refused(base_url):
    client = login(base_url, "news")
    refused = client.post("/logout")
    assert refused.status_code == 403
    assert client.get("/api/v1/me").json()["user"] == "news"  # still logged in
    wrong = client.post("/logout", data={"csrf_token": "forged"})
    assert wrong.status_code == 403
    # a login form posted without its token (login CSRF) is refused too
    fresh = httpx.Client(base_url=base_url)
    r = fresh.post("/login", data={"username": "news", "password": "news-secret-pw"})
    assert r.status_code == 403 and "ortak_session" not in fresh.cookies
    # a cross-site POST is refused whatever it carries
    cross = client.post(
        "/logout", data={"csrf_token": csrf_of(client)}, headers={"Origin": "http://evil.example"}
    )
    assert cross.status_code == 403
    client.close()
    fresh.close()


def test_wrong_password_is_refused_and_audited(base_url, web_data):
    client = httpx.Client(base_url=base_url)
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = client.post("/login", data={"csrf_token": token, "username": "news", "password": "nope"})
    assert r.status_code == 401 and "Login incorrect" in r.text
    assert "ortak_session" not in client.cookies
    conn = sqlite3.connect(web_data / "pool.db")
    rows = conn.execute(
        "SELECT protocol, status FROM audit WHERE action = 'login' AND user = 'news'"
        " ORDER BY id DESC LIMIT 1"
    ).fetchall()
    conn.close()
    assert rows == [("http", "failed")]
    client.close()


def test_idle_and_absolute_expiry(base_url, web_data):
    client = login(base_url, "news")
    assert client.get("/api/v1/me").status_code == 200
    conn = sqlite3.connect(web_data / "pool.db")
    conn.execute("UPDATE web_sessions SET seen = ? WHERE user = 'news'", [time.time() - 7200])
    conn.commit()
    assert client.get("/api/v1/me").status_code == 401  # idle for two hours: ended
    client2 = login(base_url, "news")
    conn.execute(
        "UPDATE web_sessions SET created = ? WHERE user = 'news'", [time.time() - 13 * 3600]
    )
    conn.commit()
    conn.close()
    assert client2.get("/api/v1/me").status_code == 401  # past session_max_hours
    # an ended session that is never presented again goes when the next one starts
    client3 = login(base_url, "news")
    conn = sqlite3.connect(web_data / "pool.db")
    conn.execute("UPDATE web_sessions SET seen = ? WHERE user = 'news'", [time.time() - 7200])
    conn.commit()
    count = "SELECT count(*) FROM web_sessions WHERE user = 'news'"
    assert conn.execute(count).fetchone()[0] == 1  # client3's, idle and not yet swept
    client4 = login(base_url, "news")
    assert conn.execute(count).fetchone()[0] == 1  # client4's only
    assert client4.get("/api/v1/me").status_code == 200
    conn.close()
    client3.close()
    client4.close()
    client.close()
    client2.close()


def test_language_follows_browser_and_switch(base_url):
    client = login(base_url, "news")
    tr = client.get("/search", headers={"Accept-Language": "tr-TR,tr;q=0.9,en;q=0.5"})
    assert '<html lang="tr">' in tr.text and "Çıkış yap" in tr.text
    r = client.get("/lang/en", params={"next": "/search"})
    assert r.status_code == 303 and r.headers["location"] == "/search"
    en = client.get("/search", headers={"Accept-Language": "tr"})
    assert '<html lang="en">' in en.text and "Log out" in en.text
    assert (
        client.get("/lang/en", params={"next": "https://evil.example/"}).headers["location"]
        == "/search"
    )
    client.close()
