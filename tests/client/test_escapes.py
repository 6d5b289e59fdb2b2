"""Issue 10, "terminal escapes": titles, locations, file names and login names with
ESC/CSI/OSC sequences, C1 controls, bidi overrides or rich markup used to reach the
terminal raw through `pool search`, `pool show`, `pool ls`, `pool-server search` and
`pool-server audit` (a login name sent before authentication was enough). The real
programs run here against a real server, indexer and feed; human output shows such
characters as escapes, `--json` as \\u escapes that decode to the same text."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import termios
import time
import unicodedata

import paramiko
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pool_client.output import printable as client_printable
from pool_server.terminal import printable as server_printable

from ..helpers import POOL_SERVER
from .conftest import POOL, Pool, wait_for

CSI = "\x1b[2J\x1b[31m"  # clear the screen, turn red
OSC = "\x1b]0;pwned\x07"  # set the window title
HYPERLINK = "\x1b]8;;https://evil.example/\x1b\\here\x1b]8;;\x1b\\"
C1 = "\x9b31m\x9d0;x\x9c"  # 8-bit CSI and OSC
BIDI = "\u202eevil\u202c\u2066x\u2069"  # right-to-left override, isolates
MARKUP = "[link=https://evil.example/]click[/link] [bold red on white]x[/]"
TITLE = f"Nevruz {CSI}{OSC}{C1}{BIDI} {MARKUP}"
LOCATION = f"İstanbul{HYPERLINK}"
# Dropped into a member's area on disk (by an operator's rsync, say). The server lists no
# name with a C0/C1 control or a bidi override; other format characters and the line
# separator (U+2028, which some terminals break the line at) still reach `pool ls`.
ESC_NAME = f"haber\x1b[5m{OSC}.json"
LISTED_NAME = "haber\u2028gpj.exe\ufeff\u200b\U000e0041[link=mailto:x@evil.example]x.json"
RAW = ("\x1b", "\x07", "\x9b", "\x9c", "\x9d", "\u202e", "\u202c", "\u2066", "\u2069")


def assert_neutral(text: str, *, allow_sgr: bool = False) -> None:
    """No raw control, C1 or bidi character; with `allow_sgr`, only rich's own colour
    and style sequences (ESC [ digits ; m), never CSI commands, OSC or hyperlinks."""
    body = text
    if allow_sgr:
        import re

        body = re.sub(r"\x1b\[[0-9;]*m", "", text)
    found = sorted({hex(ord(c)) for c in body if c in RAW or (c < " " and c not in "\n\r\t")})
    assert not found, f"raw {found} in output:\n{text!r}"
    for ch in body:
        cat = unicodedata.category(ch)
        assert cat not in ("Cc", "Cf", "Zl", "Zp") or ch in "\n\r\t", (hex(ord(ch)), text)


def run_on_tty(args: list[str], env: dict[str, str], timeout: float = 60) -> str:
    """Run a program with its stdout on a pseudo-terminal 250 columns wide (so `pool`
    uses rich, as on a user's screen); returns what the terminal received."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
    proc = subprocess.Popen(
        args, env={**env, "TERM": "xterm-256color", "COLUMNS": "250"}, stdout=slave, stderr=slave
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError as exc:  # EIO: the program closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=10) == 0, b"".join(chunks).decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return b"".join(chunks).decode("utf-8")


def pool_cli(pool: Pool, *args: str) -> str:
    env = {**os.environ, **pool.env()}
    done = subprocess.run([POOL, *args], env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode("utf-8")


@pytest.fixture
def hostile_pool(pool: Pool) -> Pool:
    """A pool holding a story with a hostile title and location (uploaded over FTP)
    and a file with a hostile name (dropped into the member's area on disk)."""
    sidecar = {"title": TITLE, "location": LOCATION, "description": f"dope {CSI}"}
    pool.upload("/TRT/news/nevruz.json", json.dumps(sidecar).encode())
    # and one whose duration was once published as Infinity (invalid JSON for every
    # reader, an OverflowError in `pool search`)
    pool.upload("/TRT/news/sonsuz.json", b'{"title": "Nevruz sonsuz", "duration": 1e999}')
    for name in (ESC_NAME, LISTED_NAME):
        (pool.server.data / "pool" / "TRT" / "news" / name).write_text('{"title": "dosya"}')
    pool.wait_items(4, where="member = 'TRT'")
    pool_cli(pool, "update")
    return pool


def test_pool_search_show_and_ls_show_escapes(hostile_pool: Pool) -> None:
    pool = hostile_pool
    env = {**os.environ, **pool.env()}
    plain = pool_cli(pool, "search", "nevruz")
    on_tty = run_on_tty([POOL, "search", "nevruz"], env)
    for out in (plain, on_tty):
        assert_neutral(out, allow_sgr=out is on_tty)
        assert "\\x1b[2J" in out and "\\u202e" in out and "\\x9b" in out
    # rich read no markup in the title: it is shown as typed, and made no hyperlink
    assert "[link=https://evil.example/]click[/link]" in on_tty
    assert "[bold red on white]x[/]" in on_tty

    found = json.loads(pool_cli(pool, "search", "nevruz", "--json"))
    endless = next(r for r in found if r["title"] == "Nevruz sonsuz")
    assert endless["duration"] is None
    item = next(r for r in found if r["title"] == TITLE)
    assert item["title"] == TITLE  # --json is lossless: the same text once decoded
    raw_json = pool_cli(pool, "show", item["id"], "--json")
    assert_neutral(raw_json)
    assert json.loads(raw_json)["location"] == LOCATION

    for out in (pool_cli(pool, "show", item["id"]), run_on_tty([POOL, "show", item["id"]], env)):
        assert_neutral(out, allow_sgr=True)
        assert "İstanbul\\x1b]8;;https://evil.example/" in out

    shown = pool_cli(pool, "show", f"/TRT/news/{ESC_NAME}")  # its path, in every field
    assert_neutral(shown)
    assert "/TRT/news/haber\\x1b[5m\\x1b]0;pwned\\x07.json" in shown

    listing = pool_cli(pool, "ls", "/TRT/news")
    assert_neutral(listing)
    assert "haber\\u2028gpj.exe\\ufeff\\u200b\\U000e0041[link=mailto:x@" in listing
    names = [e["name"] for e in json.loads(pool_cli(pool, "ls", "/TRT/news", "--json"))]
    assert LISTED_NAME in names


def test_pool_server_search_and_audit_show_escapes(hostile_pool: Pool) -> None:
    server = hostile_pool.server
    login = f"evil{CSI}{OSC}{C1}{BIDI}"
    # a login name sent before authentication, over a raw FTP control connection
    with socket.create_connection(("127.0.0.1", server.ftp_port), timeout=10) as s:
        f = s.makefile("rwb")
        assert f.readline().startswith(b"220")
        f.write(f"USER {login}\r\n".encode())
        f.flush()
        assert f.readline().startswith(b"331")
        f.write(b"PASS wrong-password-1\r\n")
        f.flush()
        assert f.readline().startswith(b"530")

    # and one over SSH
    sftp_login = f"sftp{OSC}\u202e"
    transport = paramiko.Transport(("127.0.0.1", server.sftp_port))
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.AuthenticationException):
            transport.auth_password(sftp_login, "wrong-password-2")
    finally:
        transport.close()

    def cli(*args: str) -> str:
        done = subprocess.run(
            [POOL_SERVER, "--data", str(server.data), *args],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout.decode("utf-8")

    def users() -> list[str]:
        return [r["user"] for r in json.loads(cli("audit", "--json"))]

    wait_for(lambda: {login, sftp_login} <= set(users()), 10, "the failed logins in the audit")
    audit = cli("audit")
    assert_neutral(audit)
    assert "evil\\x1b[2J\\x1b[31m\\x1b]0;pwned\\x07\\x9b31m" in audit and "\\u202eevil" in audit
    assert "sftp\\x1b]0;pwned\\x07\\u202e" in audit
    assert_neutral(cli("audit", "--json"))

    found = cli("search", "nevruz")
    assert_neutral(found)
    assert "Nevruz \\x1b[2J" in found and "[link=https://evil.example/]" in found
    as_json = cli("search", "nevruz", "--json")
    assert_neutral(as_json)
    assert TITLE in [r["title"] for r in json.loads(as_json)]


@pytest.mark.parametrize("printable", [client_printable, server_printable])
def test_printable_escapes_every_control_and_format_character(printable) -> None:
    """Checked against the Unicode database: every Cc (C0, DEL, C1), Cf (bidi, BOM,
    tags...; ZWNJ and ZWJ excepted, Persian and emoji need them), Cs, Zl and Zp
    character is shown as an escape; letters of the pool's languages are not."""
    for cp in range(0x110000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        unsafe = cat in ("Cc", "Cs", "Zl", "Zp") or (cat == "Cf" and ch not in "\u200c\u200d")
        if unsafe:
            assert printable(ch).startswith("\\"), hex(cp)
    assert printable("\x1b") == "\\x1b" and printable("\u202e") == "\\u202e"
    assert printable("\U000e0041") == "\\U000e0041"
    text = "İstanbul'da ə Қазақстан O‘zbekiston می\u200cخواهم 👨\u200d👩"
    assert printable(text) == text
    assert printable("a\nb\tc") == "a\\x0ab\\x09c"
    assert printable("a\nb\x1b", newlines=True) == "a\nb\\x1b"


def test_server_log_lines_are_neutralised() -> None:
    """The formatter `pool-server` logs through: names in log messages (a login sent
    before authentication, a file name) cannot drive the operator's terminal."""
    import io
    import logging

    from pool_server.terminal import SafeFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("ortak.test-escapes")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("login failed for %s from %s", f"evil{CSI}{OSC}", "127.0.0.1")
        log.error("indexing %s failed", f"/TRT/news/{LISTED_NAME}")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert_neutral(text)
    assert "evil\\x1b[2J" in text and "haber\\u2028gpj" in text and text.count("\n") == 2


TEXT = st.text(st.characters(exclude_categories=()), max_size=60) | st.text(
    st.characters(categories=["Cc", "Cf", "Cs", "Zl", "Zp"]) | st.sampled_from("aə İ[]/\\"),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_printable_and_json_text_for_any_text(text: str) -> None:
    """Whatever the text: printable output has no character a terminal acts on and
    stays on one line; json_text decodes to exactly the same text."""
    from pool_client.output import json_text as client_json
    from pool_server.terminal import json_text as server_json

    for printable, json_text in ((client_printable, client_json), (server_printable, server_json)):
        shown = printable(text)
        assert "\n" not in shown
        for ch in shown:
            assert unicodedata.category(ch) not in ("Cc", "Cs", "Zl", "Zp")
            assert unicodedata.category(ch) != "Cf" or ch in "\u200c\u200d"
        encoded = json_text({"title": text})
        # (two surrogate code points in a row are one character to any JSON reader)
        assert json.loads(encoded) == json.loads(json.dumps({"title": text}))
        assert not [
            c
            for c in encoded
            if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") and c not in "\n"
        ]
