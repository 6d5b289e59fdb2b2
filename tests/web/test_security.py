"""The web door refuses what it must: traversal in every path parameter, writes by a
reader, markup in titles, and a guessed password on one door bans the address on all."""

from __future__ import annotations

import ftplib
import json
import shutil
import subprocess

import httpx
import paramiko
import pytest

from ..helpers import run_cli, set_setting
from .conftest import add_file, csrf_of, login, wait_catalogued

CURL = shutil.which("curl") or "curl"
XSS_TITLE = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'


def _token(data, user: str) -> str:
    return json.loads(run_cli(data, "token", "create", user, "--json").output)["token"]


def _item_id(base: str, token: str, q: str = "qazaqstan") -> str:
    r = httpx.get(
        f"{base}/api/v1/search", params={"q": q}, headers={"Authorization": f"Bearer {token}"}
    )
    return r.json()["items"][0]["id"]


TRAVERSALS = (
    "..",
    "%2e%2e",
    "..%2f..%2fpool.toml",
    "%2e%2e%2f%2e%2e%2fpool.toml",
    "..%252f..%252fpool.toml",
    "%2e%2e%5c%2e%2e%5cpool.toml",
    "....//....//pool.toml",
)


def _routes(item: str) -> list[str]:
    """Every path parameter of the door, with {} where the attack goes."""
    return [
        "/items/{}",
        "/items/{}/download",
        "/api/v1/items/{}",
        "/api/v1/items/{}/content",
        f"/api/v1/items/{item}/previews/{{}}",
        f"/api/v1/items/{item}/attachments/{{}}",
        f"/api/v1/items/{item}/subtitles/{{}}",
        "/browse/{}",
        "/browse/QAZAQ/{}",
        "/browse/QAZAQ/news/{}",
        "/api/v1/feed/{}",
        "/api/v1/files/{}",
        "/api/v1/files/QAZAQ/{}",
        "/api/v1/feed/previews/{}",
        "/lang/{}",
    ]


def test_traversal_is_refused_in_every_path_parameter(base_url, web_data):
    token = _token(web_data, "admin")
    item = _item_id(base_url, token)
    secret = (web_data / "pool.toml").read_text()[:60]
    tried = 0
    for route in _routes(item):
        for attack in TRAVERSALS:
            url = base_url + route.replace("{}", attack, 1)
            r = subprocess.run(
                [
                    CURL,
                    "-s",
                    "--path-as-is",
                    "-H",
                    f"Authorization: Bearer {token}",
                    "-o",
                    "-",
                    "-w",
                    "\n%{http_code}",
                    url,
                ],
                capture_output=True,
                timeout=30,
            )
            body, _, code = r.stdout.decode("utf-8", "replace").rpartition("\n")
            assert code in ("400", "403", "404"), (url, code, body[:200])
            assert secret not in body and "[server]" not in body, url
            tried += 1
    assert tried == len(_routes(item)) * len(TRAVERSALS)


def test_reader_gets_403_on_every_write_route(base_url, web_data):
    item = _item_id(base_url, _token(web_data, "admin"))
    reader = _token(web_data, "news")
    r = httpx.delete(
        f"{base_url}/api/v1/items/{item}", headers={"Authorization": f"Bearer {reader}"}
    )
    assert r.status_code == 403 and "reader" in r.json()["error"]
    client = login(base_url, "news")
    page = client.get(f"/items/{item}")
    assert "Withdraw this item" not in page.text  # not offered to a reader...
    r = client.post(f"/items/{item}/withdraw", data={"csrf_token": csrf_of(client)})
    assert r.status_code == 403  # ...and refused when forged
    r = client.delete(f"/api/v1/items/{item}", headers={"X-CSRF-Token": csrf_of(client)})
    assert r.status_code == 403
    # still there for everybody
    assert (
        httpx.get(
            f"{base_url}/api/v1/items/{item}", headers={"Authorization": f"Bearer {reader}"}
        ).status_code
        == 200
    )
    # another member's contributor is refused too
    other = _token(web_data, "aztv-up")
    r = httpx.delete(
        f"{base_url}/api/v1/items/{item}", headers={"Authorization": f"Bearer {other}"}
    )
    assert r.status_code == 403
    client.close()


def test_contributor_withdraws_own_item_with_csrf(base_url, web_data):
    area = web_data / "pool" / "TRT" / "docs"
    add_file(web_data, "TRT/docs/geri_cekilecek.mp4", web_data / "pool/QAZAQ/news/sel.mp4")
    item = wait_catalogued(web_data, "TRT/docs/geri_cekilecek.mp4")["id"]
    client = login(base_url, "trt-up")
    assert client.post(f"/items/{item}/withdraw").status_code == 403  # no CSRF token
    assert (area / "geri_cekilecek.mp4").exists()
    r = client.post(f"/items/{item}/withdraw", data={"csrf_token": csrf_of(client)})
    assert r.status_code == 303
    assert not (area / "geri_cekilecek.mp4").exists()
    client.close()


def test_markup_in_a_title_renders_inert(base_url, web_data):
    sidecar = json.dumps({"title": XSS_TITLE, "description": XSS_TITLE})
    add_file(web_data, "TRT/xss/xss.json", web_data, text=sidecar)
    add_file(web_data, "TRT/xss/xss.mp4", web_data / "pool/QAZAQ/news/sel.mp4")
    wait_catalogued(web_data, "TRT/xss/xss.mp4", title=XSS_TITLE)
    client = login(base_url, "news")
    found = client.get("/api/v1/search", params={"q": "onerror"}).json()["items"]
    [item] = [i for i in found if i["title"] == XSS_TITLE]
    for url in (f"/items/{item['id']}", "/search?q=onerror", f"/search?q={XSS_TITLE}"):
        page = client.get(url)
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    client.close()


@pytest.fixture
def banning_server(data, server_factory):
    set_setting(data, "security", "ban_threshold", "6")
    return server_factory(sftp=True, http=True)


def test_wrong_passwords_ban_the_address_on_all_three_doors(banning_server):
    srv = banning_server
    base = f"http://127.0.0.1:{srv.http_port}"

    def http_try(pw: str) -> int:
        c = httpx.Client(base_url=base)
        page = c.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        code = c.post(
            "/login", data={"csrf_token": token, "username": "news", "password": pw}
        ).status_code
        c.close()
        return code

    def ftp_try(pw: str) -> str:
        ftp = ftplib.FTP()
        try:
            ftp.connect("127.0.0.1", srv.ftp_port, timeout=10)
            ftp.login("news", pw)
            return "ok"
        except (ftplib.error_perm, ftplib.error_temp) as exc:
            return str(exc)
        finally:
            ftp.close()

    def sftp_try(pw: str) -> bool:
        t = paramiko.Transport(("127.0.0.1", srv.sftp_port))
        try:
            t.start_client(timeout=10)
            t.auth_password("news", pw)
            return True
        except paramiko.SSHException:  # auth refused, or (banned) dropped before the banner
            return False
        finally:
            t.close()

    assert http_try("wrong-1") == 401 and http_try("wrong-2") == 401
    assert ftp_try("wrong-3").startswith("530") and ftp_try("wrong-4").startswith("530")
    assert sftp_try("wrong-5") is False and sftp_try("wrong-6") is False
    # banned now: the right password is refused on every door
    assert http_try("news-secret-pw") == 403
    assert ftp_try("news-secret-pw") != "ok"
    assert sftp_try("news-secret-pw") is False
    bans = json.loads(run_cli(srv.data, "bans", "--json").output)
    assert [b["ip"] for b in bans] == ["127.0.0.1"]


def test_a_trusted_proxy_passes_on_the_client_address_and_scheme(data, server_factory):
    set_setting(data, "http", "trusted_proxies", '"127.0.0.1"')
    srv = server_factory(sftp=False, http=True)
    base = f"http://127.0.0.1:{srv.http_port}"
    proxied = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}

    def attempt(pw: str) -> httpx.Response:
        with httpx.Client(base_url=base) as client:
            page = client.get("/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            return client.post(
                "/login",
                data={"csrf_token": token, "username": "news", "password": pw},
                headers=proxied,
            )

    assert attempt("nope").status_code == 401
    ok = attempt("news-secret-pw")
    assert ok.status_code == 303
    assert "secure" in ok.headers["set-cookie"].lower()  # https at the proxy
    import sqlite3

    conn = sqlite3.connect(data / "pool.db")
    rows = conn.execute(
        "SELECT ip, protocol, status FROM audit WHERE action = 'login' ORDER BY id"
    ).fetchall()
    conn.close()
    assert rows[-2:] == [("203.0.113.9", "https", "failed"), ("203.0.113.9", "https", "ok")]
