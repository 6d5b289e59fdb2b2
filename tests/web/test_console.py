"""The operators' console over real HTTP: two-factor enrolment and login, members, users,
password resets felt at once on FTP and SFTP, invitations, bans, audit, reciprocity."""

from __future__ import annotations

import csv
import ftplib
import io
import re
from pathlib import Path

import httpx
import paramiko
import pyotp
import pytest

from ..helpers import ftp_login, run_cli, wait_for
from .conftest import enrol_totp, login, totp_code


def _csrf(page: httpx.Response) -> str:
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def _flash(client: httpx.Client, response: httpx.Response) -> str:
    """Follow a console form's redirect and return the message it left."""
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    m = re.search(r'<p class="(ok|error)" role="(?:status|alert)">(.*?)</p>', page.text, re.S)
    assert m, "the console said nothing after the form"
    return f"{m.group(1)}: {m.group(2).strip()}"


@pytest.fixture(scope="module")
def admin(web_server, web_data: Path, base_url: str) -> httpx.Client:
    secret = enrol_totp(web_data, "admin")
    client = login(base_url, "admin", totp_secret=secret)
    yield client
    client.close()


def test_an_admin_without_a_second_factor_is_sent_to_enrol(web_server, web_data, base_url):
    run_cli(
        web_data,
        "user",
        "add",
        "ops",
        "--role",
        "admin",
        "--password-stdin",
        input="ops-secret-password\n",
    )
    client = login(base_url, "ops", "ops-secret-password")
    r = client.get("/console/members")
    assert r.status_code == 303 and r.headers["location"] == "/account/2fa"
    assert client.get("/api/v1/search").status_code == 403  # the API too, for a session
    page = client.get("/account/2fa")
    assert page.status_code == 200 and "<svg" in page.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    wrong = client.post("/account/2fa", data={"csrf_token": _csrf(page), "code": "000000"})
    assert wrong.status_code == 400
    done = client.post("/account/2fa", data={"csrf_token": _csrf(page), "code": totp_code(secret)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", done.text)
    assert len(codes) == 10
    assert client.get("/console/members").status_code == 200
    client.close()

    # The next login asks for the code; a wrong one is refused, a recovery code works once.
    again = httpx.Client(base_url=base_url, timeout=15)
    form = again.get("/login")
    r = again.post(
        "/login",
        data={"csrf_token": _csrf(form), "username": "ops", "password": "ops-secret-password"},
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/login/2fa")
    assert again.get("/console/members").status_code == 303  # pending: not logged in yet
    step = again.get(r.headers["location"])
    bad = again.post("/login/2fa", data={"csrf_token": _csrf(step), "code": "123456"})
    assert bad.status_code == 401
    ok = again.post("/login/2fa", data={"csrf_token": _csrf(step), "code": codes[0]})
    assert ok.status_code == 303
    assert again.get("/console/members").status_code == 200
    again.close()


def test_five_wrong_codes_send_the_login_back_to_the_password(web_server, web_data, base_url):
    secret = enrol_totp(web_data, "trt-up")
    client = httpx.Client(base_url=base_url, timeout=15)
    form = client.get("/login")
    r = client.post(
        "/login",
        data={"csrf_token": _csrf(form), "username": "trt-up", "password": "trt-up-secret-pw"},
    )
    step = client.get(r.headers["location"])
    token = _csrf(step)
    right = pyotp.TOTP(secret).now()
    wrong = f"{(int(right) + 7) % 1_000_000:06d}"
    for _ in range(4):
        assert (
            client.post("/login/2fa", data={"csrf_token": token, "code": wrong}).status_code == 401
        )
    last = client.post("/login/2fa", data={"csrf_token": token, "code": wrong})
    assert last.status_code == 303 and last.headers["location"] == "/login"
    gone = client.post("/login/2fa", data={"csrf_token": token, "code": totp_code(secret)})
    assert gone.status_code == 401  # the pending login is gone: the right code is too late
    client.close()


def test_a_reader_cannot_open_the_console(base_url):
    client = login(base_url, "news")
    for path in (
        "/console/members",
        "/console/users",
        "/console/security",
        "/console/audit",
        "/console/report",
        "/metrics",
    ):
        assert client.get(path).status_code == 403, path
    page = client.get("/search")
    refused = client.post(
        "/console/members", data={"csrf_token": _csrf(page), "code": "X", "name": "X"}
    )
    assert refused.status_code == 403
    client.close()


def test_members_add_edit_quota_and_remove(admin, web_data):
    page = admin.get("/console/members")
    token = _csrf(page)
    said = _flash(
        admin,
        admin.post(
            "/console/members",
            data={
                "csrf_token": token,
                "code": "KTRK",
                "name": "Kyrgyz TV",
                "country": "KG",
                "quota": "2G",
            },
        ),
    )
    assert said == "ok: member KTRK added; its area is /KTRK/"
    assert (web_data / "pool" / "KTRK").is_dir()
    page = admin.get("/console/members")
    assert "Kyrgyz TV" in page.text and "<meter" in page.text
    said = _flash(
        admin,
        admin.post(
            "/console/members/KTRK",
            data={"csrf_token": token, "name": "KTRK Kyrgyzstan", "country": "KG", "quota": "0"},
        ),
    )
    assert said == "ok: member KTRK saved"
    listed = run_cli(web_data, "member", "list", "--json").output
    assert "KTRK Kyrgyzstan" in listed
    # A member with files cannot be removed; the reason is shown.
    said = _flash(admin, admin.post("/console/members/TRT/remove", data={"csrf_token": token}))
    assert said.startswith("error: member TRT still has users")
    said = _flash(admin, admin.post("/console/members/KTRK/remove", data={"csrf_token": token}))
    assert said == "ok: member KTRK removed"
    audit = run_cli(web_data, "audit", "--action", "admin", "--json").output
    assert '"member add KTRK"' in audit and '"user": "admin"' in audit


def test_add_a_contributor_and_reset_a_password_felt_on_ftp_and_sftp(admin, web_server):
    page = admin.get("/console/users")
    token = _csrf(page)
    said = _flash(
        admin,
        admin.post(
            "/console/users",
            data={
                "csrf_token": token,
                "name": "trt-desk",
                "role": "contributor",
                "member": "TRT",
                "how": "set",
                "password": "first-password-1",
            },
        ),
    )
    assert said == "ok: user trt-desk added"
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", web_server.ftp_port, timeout=10)
    ftp.login("trt-desk", "first-password-1")
    ftp.quit()

    user_page = admin.get("/console/users/trt-desk")
    assert user_page.status_code == 200
    said = _flash(
        admin,
        admin.post(
            "/console/users/trt-desk/password",
            data={
                "csrf_token": token,
                "password": "second-password-2",
                "password2": "second-password-2",
            },
        ),
    )
    assert said.startswith("ok: password of trt-desk reset")
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", web_server.ftp_port, timeout=10)
    with pytest.raises(ftplib.error_perm):
        ftp.login("trt-desk", "first-password-1")
    ftp.close()
    with pytest.raises(paramiko.AuthenticationException):
        _sftp_login(web_server.sftp_port, "trt-desk", "first-password-1")
    _sftp_login(web_server.sftp_port, "trt-desk", "second-password-2")
    # a too-short password is refused with the reason, and nothing changes
    said = _flash(
        admin,
        admin.post(
            "/console/users/trt-desk/password",
            data={"csrf_token": token, "password": "short", "password2": "short"},
        ),
    )
    assert said.startswith("error: password is too short")


def _sftp_login(port: int, user: str, pw: str) -> None:
    transport = paramiko.Transport(("127.0.0.1", port))
    try:
        transport.connect(username=user, password=pw)
    finally:
        transport.close()


def test_an_invitation_link_sets_the_password_once(admin, base_url, web_server):
    page = admin.get("/console/users")
    said = _flash(
        admin,
        admin.post(
            "/console/users",
            data={
                "csrf_token": _csrf(page),
                "name": "aztv-desk",
                "role": "reader",
                "member": "AZTV",
                "how": "invite",
            },
        ),
    )
    link = re.search(r"(http://\S+/invite/[A-Za-z0-9_-]+)", said).group(1)
    guest = httpx.Client(timeout=15)
    form = guest.get(link)
    assert form.status_code == 200 and "aztv-desk" in form.text
    differ = guest.post(link, data={"password": "invited-pass-1", "password2": "other-pass-1"})
    assert differ.status_code == 400
    done = guest.post(link, data={"password": "invited-pass-1", "password2": "invited-pass-1"})
    assert done.status_code == 303 and done.headers["location"].startswith("/login")
    assert guest.get(link).status_code == 404  # used once
    guest.close()
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", web_server.ftp_port, timeout=10)
    ftp.login("aztv-desk", "invited-pass-1")
    ftp.quit()


def test_bans_are_listed_and_lifted(admin, web_server, web_data):
    for _ in range(12):  # well past the ban threshold, from another loopback address
        ftp = ftplib.FTP()
        try:
            ftp.connect(
                "127.0.0.1", web_server.ftp_port, timeout=10, source_address=("127.0.0.3", 0)
            )
            ftp.login("news", "wrong-password")
        except (ftplib.error_perm, ftplib.error_temp, EOFError, ConnectionError):
            pass
        finally:
            ftp.close()
    wait_for(lambda: "127.0.0.3" in admin.get("/console/security").text, what="the ban listed")
    page = admin.get("/console/security")
    assert "<svg" in page.text  # the failed-login chart
    said = _flash(
        admin,
        admin.post("/console/security/unban", data={"csrf_token": _csrf(page), "ip": "127.0.0.3"}),
    )
    assert said == "ok: 127.0.0.3 unbanned"
    ftp_login(web_server.ftp_port, "news", source="127.0.0.3").quit()


def test_audit_filters_and_csv(admin, web_server):
    ftp_login(web_server.ftp_port, "trt-up").quit()
    page = admin.get("/console/audit", params={"user": "trt-up", "action": "login", "since": "1h"})
    assert page.status_code == 200 and "trt-up" in page.text
    r = admin.get("/console/audit.csv", params={"user": "trt-up", "action": "login"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and {row["user"] for row in rows} == {"trt-up"}
    assert {row["protocol"] for row in rows} >= {"ftp"}
    bad = admin.get("/console/audit", params={"since": "yesterday-ish"})
    assert bad.status_code == 400


def test_reciprocity_table_chart_and_csv(admin):
    page = admin.get("/console/report", params={"since": "30d"})
    assert page.status_code == 200
    assert "QAZAQ" in page.text and "<svg" in page.text
    r = admin.get("/console/report.csv", params={"since": "30d"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    qazaq = next(row for row in rows if row["member"] == "QAZAQ")
    assert int(qazaq["items"]) >= 1


def _session_rows(admin: httpx.Client) -> list[tuple[str, str, str]]:
    """(session id, user, door) of the rows on the security page."""
    page = admin.get("/console/security").text
    rows = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td>[^<]*</td><td>([^<]+)</td>.*?'
        r'name="session" value="([^"]+)"',
        page,
        re.S,
    )
    return [(sid, user, door) for user, door, sid in rows]


def test_sessions_on_every_door_are_listed_and_can_be_ended(admin, web_server):
    ftp = ftp_login(web_server.ftp_port, "aztv-up")
    transport = paramiko.Transport(("127.0.0.1", web_server.sftp_port))
    transport.connect(username="news", password="news-secret-pw")

    def listed() -> bool:
        doors = {(user, door) for _, user, door in _session_rows(admin)}
        return ("aztv-up", "ftp") in doors and ("news", "sftp") in doors

    wait_for(listed, what="the FTP and SFTP sessions listed")
    rows = _session_rows(admin)
    assert any(door.endswith("(web)") and user == "admin" for _, user, door in rows)
    token = _csrf(admin.get("/console/security"))
    ftp_id = next(sid for sid, user, door in rows if (user, door) == ("aztv-up", "ftp"))
    sftp_id = next(sid for sid, user, door in rows if (user, door) == ("news", "sftp"))
    for sid in (ftp_id, sftp_id):
        said = _flash(
            admin, admin.post("/console/security/end", data={"csrf_token": token, "session": sid})
        )
        assert said == f"ok: session {sid} is being ended"

    def ftp_gone() -> bool:
        try:
            ftp.voidcmd("NOOP")
        except (OSError, EOFError, ftplib.Error):
            return True
        return False

    wait_for(ftp_gone, timeout=10, what="the FTP connection ended")
    wait_for(lambda: not transport.is_active(), timeout=10, what="the SFTP connection ended")
    wait_for(
        lambda: not any(sid in (ftp_id, sftp_id) for sid, _, _ in _session_rows(admin)),
        what="the ended sessions gone from the list",
    )
    ftp.close()
    transport.close()


def test_previews_page_lists_failures_and_retries_them(admin, web_server, web_data):
    import os as _os

    ftp = ftp_login(web_server.ftp_port, "trt-up")
    try:
        ftp.mkd("/TRT/news")
    except ftplib.error_perm:
        pass
    ftp.storbinary("STOR /TRT/news/broken-tape.mxf", io.BytesIO(_os.urandom(300_000)))
    ftp.quit()

    def failed_listed() -> bool:  # in the failed previews' table, with a retry button
        page = admin.get("/console/previews").text
        failed = page.split("<h2>Failed</h2>", 1)[-1].split("<h2>", 1)[0]
        return "broken-tape.mxf" in failed and 'name="item"' in failed

    wait_for(failed_listed, timeout=90, what="the broken file's preview failure listed")
    page = admin.get("/console/previews")
    assert "ready" in page.text  # the good clip's state is counted too
    item = re.search(r'name="item" value="([^"]+)"', page.text).group(1)
    said = _flash(
        admin, admin.post("/console/previews/retry", data={"csrf_token": _csrf(page), "item": item})
    )
    assert said == "ok: 1 item(s) queued again"
    audit = admin.get("/console/audit", params={"action": "admin", "since": "1h"}).text
    assert f"previews retry {item}" in audit
    # a retry of an item whose previews have not failed says so
    said = _flash(
        admin,
        admin.post(
            "/console/previews/retry", data={"csrf_token": _csrf(page), "item": "QAZAQ-nope"}
        ),
    )
    assert said.startswith("error:")
