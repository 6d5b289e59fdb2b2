"""Fixtures of the web door's tests: a pool with real media (ffmpeg), catalogued and
previewed by the real indexer and preview workers of a real `pool-server serve` with
HTTP on a free port."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..helpers import ServerProcess, copy_template, password, set_setting, start_server, wait_for

TITLE = "Қазақстан: көктемгі су тасқыны"
"""The test item's title, in Kazakh Cyrillic (found by `qazaqstan` through folding)."""


def ffmpeg(*args: str) -> None:
    exe = shutil.which("ffmpeg")
    assert exe, "ffmpeg is a test prerequisite (apt-get install ffmpeg)"
    subprocess.run([exe, "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="session")
def web_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 4-second H.264/AAC clip with timecode, its JSON sidecar and Turkish subtitles."""
    d = tmp_path_factory.mktemp("webmedia")
    src = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4"]
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4"]
    ffmpeg(
        *src,
        *tone,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-timecode",
        "10:00:00:00",
        "-shortest",
        str(d / "sel.mp4"),
    )
    (d / "sel.json").write_text(
        json.dumps(
            {
                "title": TITLE,
                "description": "Dope sheet: the river rose overnight.",
                "shotlist": "1. Wide of the river\n2. Close-up of sandbags",
                "languages": ["kk"],
                "location": "Almaty",
                "restrictions": "No archive use",
            },
            ensure_ascii=False,
        )
    )
    (d / "sel.tr.srt").write_text("1\n00:00:00,000 --> 00:00:02,000\nNehir taştı\n")
    return {"clip": d / "sel.mp4", "sidecar": d / "sel.json", "subs": d / "sel.tr.srt"}


def catalogued(data: Path, path: str) -> dict | None:
    """The item row of a pool path (id, sha256, preview) once the indexer has it."""
    conn = sqlite3.connect(f"file:{data / 'pool.db'}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute(
            "SELECT id, sha256, preview, title FROM items WHERE path = ?", ["/" + path.lstrip("/")]
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if row is None:
        return None
    return {"id": row[0], "sha256": row[1], "preview": json.loads(row[2] or "{}"), "title": row[3]}


def item_id_of(data: Path, path: str) -> str:
    row = catalogued(data, path)
    assert row, f"{path} was not catalogued"
    return str(row["id"])


def wait_catalogued(data: Path, path: str, title: str | None = None, timeout: float = 30) -> dict:
    """Wait (bounded) until the running server's indexer has catalogued `path` (with
    `title`, when given: its sidecar read too)."""
    found: list[dict] = []

    def check() -> bool:
        row = catalogued(data, path)
        if row and (title is None or row["title"] == title):
            found.append(row)
            return True
        return False

    wait_for(check, timeout, f"{path} catalogued")
    return found[-1]


def add_file(data: Path, path: str, source: Path, text: str | None = None) -> None:
    """Place a file in the pool as a finished upload (written aside, renamed into place)."""
    dest = data / "pool" / path.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".ortak-part-test-{dest.name}"
    if text is not None:
        tmp.write_text(text)
    else:
        shutil.copy(source, tmp)
    tmp.rename(dest)


@pytest.fixture(scope="module")
def web_data(template_data: Path, web_media: dict[str, Path], tmp_path_factory) -> Path:
    """A pool data folder holding the clip; small, quick previews."""
    data = copy_template(template_data, tmp_path_factory.mktemp("web") / "data")
    for name, value in {
        "enabled": "true",
        "proxy_height": "180",
        "proxy_video_bitrate": '"300k"',
        "strip_interval_seconds": "1.0",
    }.items():
        set_setting(data, "previews", name, value)
    set_setting(data, "catalog", "settle_seconds", "0.3")
    area = data / "pool" / "QAZAQ" / "news"
    area.mkdir(parents=True)
    for key in ("clip", "sidecar", "subs"):
        shutil.copy(web_media[key], area / web_media[key].name)
    return data


@pytest.fixture(scope="module")
def web_server(web_data: Path) -> Iterator[ServerProcess]:
    """The server with its indexer and preview workers; up once the clip's previews
    (made by the catalog's own pipeline) are ready."""
    srv = start_server(web_data, sftp=True, http=True, indexer=True)
    try:
        wait_for(
            lambda: (
                (catalogued(web_data, "QAZAQ/news/sel.mp4") or {}).get("preview", {}).get("state")
                in ("ready", "failed")
            ),
            90,
            "the clip's previews",
        )
        state = catalogued(web_data, "QAZAQ/news/sel.mp4")
        assert state and state["preview"]["state"] == "ready", state
    except BaseException:
        srv.stop()
        raise
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def base_url(web_server: ServerProcess) -> str:
    return f"http://127.0.0.1:{web_server.http_port}"


def enrol_totp(data: Path, user: str) -> str:
    """Turn on two-factor login for `user` in the pool's database, as the enrolment page
    would; returns the secret (the test plays the authenticator app with pyotp)."""
    from pool_server.store import Store
    from pool_server.totp import TwoFactor

    store = Store(data / "pool.db")
    try:
        tf = TwoFactor(store)
        tf.create_schema()
        tf.reset(user)
        secret = tf.begin(user).secret
        tf.confirm(user, totp_code(secret))
    finally:
        store.close()
    return secret


_USED_STEP: dict[str, int] = {}
"""The last TOTP time step each test secret has used: the pool accepts each step once."""


def totp_code(secret: str) -> str:
    """A code the pool has not seen yet: this step's or the next one's (the pool allows
    one step of clock skew), else wait (bounded) for a new step."""
    import time

    import pyotp

    totp = pyotp.TOTP(secret)
    deadline = time.monotonic() + 2 * totp.interval + 5
    while time.monotonic() < deadline:
        now = int(time.time()) // totp.interval
        for step in (now, now + 1):
            if step > _USED_STEP.get(secret, -1):
                _USED_STEP[secret] = step
                return totp.generate_otp(step)
        time.sleep(0.25)
    raise AssertionError("no unused TOTP step came up")


def login(
    base: str, user: str, pw: str | None = None, totp_secret: str | None = None
) -> httpx.Client:
    """An httpx client logged in through the form (CSRF token and cookie included), and
    through the second-factor step when `totp_secret` is given."""
    client = httpx.Client(base_url=base, timeout=15)
    page = client.get("/login")
    assert page.status_code == 200
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/login",
        data={
            "csrf_token": token,
            "username": user,
            "password": pw if pw is not None else password(user),
        },
    )
    assert r.status_code == 303, r.text
    if totp_secret is not None:
        assert r.headers["location"].startswith("/login/2fa"), r.headers["location"]
        step = client.get(r.headers["location"])
        token = step.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = client.post("/login/2fa", data={"csrf_token": token, "code": totp_code(totp_secret)})
        assert r.status_code == 303, r.text
    return client


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/search")
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
