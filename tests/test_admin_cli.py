"""Every `pool-server` admin command, with each bad input refused cleanly."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from .helpers import run_cli


def table_dump(data: Path) -> list[tuple]:
    with sqlite3.connect(data / "pool.db") as db:
        return [
            *db.execute("SELECT * FROM members ORDER BY code"),
            *db.execute("SELECT name, role, member, disabled, pw_hash FROM users ORDER BY name"),
        ]


def test_init_is_idempotent_and_demo_prints_passwords_once(tmp_path):
    data = tmp_path / "d"
    first = run_cli(data, "init", "--demo").output
    for path in (
        "pool.toml",
        "pool.db",
        "tls/cert.pem",
        "keys/ssh_host_ed25519_key",
        "keys/ssh_host_rsa_key",
    ):
        assert (data / path).is_file(), path
    assert "trt-upload" in first and "admin" in first
    toml = (data / "pool.toml").read_text()
    assert "require_tls = false" in toml and "# refuse logins" in toml
    cert = (data / "tls/cert.pem").read_bytes()
    users = json.loads(run_cli(data, "user", "list", "--json").output)
    assert len(users) == 13
    assert {u["role"] for u in users} == {"admin", "contributor", "reader"}
    members = json.loads(run_cli(data, "member", "list", "--json").output)
    assert [m["code"] for m in members] == ["AZTV", "KTRK", "MTRK", "MTVA", "QAZAQ", "TRT"]
    before = table_dump(data)
    again = run_cli(data, "init", "--demo").output
    assert "Demo users" not in again
    assert table_dump(data) == before
    assert (data / "tls/cert.pem").read_bytes() == cert
    with sqlite3.connect(data / "pool.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_member_commands(data):
    run_cli(data, "member", "add", "MTVA", "--name", "MTVA Hungary", "--country", "HU")
    assert (data / "pool" / "MTVA").is_dir()
    rows = json.loads(run_cli(data, "member", "list", "--json").output)
    assert {"code": "MTVA", "name": "MTVA Hungary", "country": "HU"}.items() <= next(
        r for r in rows if r["code"] == "MTVA"
    ).items()
    run_cli(data, "quota", "set", "MTVA", "1.5T")
    row = next(
        r
        for r in json.loads(run_cli(data, "member", "list", "--json").output)
        if r["code"] == "MTVA"
    )
    assert row["quota_bytes"] == int(1.5 * 1024**4)
    assert "1.5 TiB" in run_cli(data, "member", "list").output
    run_cli(data, "quota", "set", "MTVA", "0")
    run_cli(data, "member", "remove", "MTVA")
    assert not (data / "pool" / "MTVA").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["member", "add", "TRT", "--name", "again"], "member TRT already exists"),
        (["member", "add", "bad code", "--name", "x"], "must be 1-32 capital letters"),
        (["member", "add", "NEW", "--name", "x", "--country", "Turkey"], "two-letter ISO"),
        (["member", "remove", "NOPE"], "no member 'NOPE'"),
        (["member", "remove", "TRT"], "still has users"),
        (["quota", "set", "TRT", "lots"], "use a number with an optional unit"),
        (["quota", "set", "NOPE", "5G"], "no member 'NOPE'"),
        (
            ["user", "add", "x", "--role", "contributor", "--password-env", "PW"],
            "a contributor must belong to a member",
        ),
        (
            [
                "user",
                "add",
                "x",
                "--role",
                "contributor",
                "--member",
                "NOPE",
                "--password-env",
                "PW",
            ],
            "no member 'NOPE'",
        ),
        (
            ["user", "add", "trt-up", "--role", "reader", "--password-env", "PW"],
            "user trt-up already exists",
        ),
        (["user", "add", "x", "--role", "reader", "--password-env", "SHORT"], "too short"),
        (["user", "add", "x", "--role", "reader", "--password-env", "UNSET_VAR"], "is not set"),
        (["user", "add", "x y", "--role", "reader", "--password-env", "PW"], "user name"),
        (["user", "show", "ghost"], "no user 'ghost'"),
        (["user", "disable", "ghost"], "no user 'ghost'"),
        (["user", "remove", "ghost"], "no user 'ghost'"),
        (["user", "passwd", "news", "--password-env", "SHORT"], "too short"),
        (["unban", "10.9.9.9"], "is not banned"),
        (["audit", "--since", "yesterday-ish"], "--since"),
    ],
)
def test_bad_input_is_one_clear_line_and_changes_nothing(data, monkeypatch, args, message):
    monkeypatch.setenv("PW", "a-good-long-password")
    monkeypatch.setenv("SHORT", "short")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    before = table_dump(data)
    result = run_cli(data, *args, expect=1)
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([ln for ln in result.output.splitlines() if ln.strip()]) == 1
    assert table_dump(data) == before


def test_role_must_be_known(data):
    result = run_cli(data, "user", "add", "x", "--role", "boss", "--password-env", "PW", expect=2)
    assert "Invalid value for '--role'" in result.output


def test_user_lifecycle_and_password_sources(data, monkeypatch):
    run_cli(
        data,
        "user",
        "add",
        "ed",
        "--role",
        "reader",
        "--member",
        "AZTV",
        "--password-stdin",
        input="from-stdin-password\n",
    )
    monkeypatch.setenv("ED_PW", "from-env-password")
    run_cli(data, "user", "passwd", "ed", "--password-env", "ED_PW")
    run_cli(
        data,
        "user",
        "add",
        "prompted",
        "--role",
        "admin",
        input="prompted-password\nprompted-password\n",
    )
    info = json.loads(run_cli(data, "user", "show", "ed", "--json").output)
    assert info["role"] == "reader" and info["member"] == "AZTV" and not info["disabled"]
    assert "pw_hash" not in info
    run_cli(data, "user", "disable", "ed")
    assert json.loads(run_cli(data, "user", "show", "ed", "--json").output)["disabled"]
    run_cli(data, "user", "enable", "ed")
    assert "ed" in run_cli(data, "user", "list").output
    run_cli(data, "user", "remove", "ed")
    names = [u["name"] for u in json.loads(run_cli(data, "user", "list", "--json").output)]
    assert "ed" not in names and "prompted" in names
    with sqlite3.connect(data / "pool.db") as db:
        hashes = [r[0] for r in db.execute("SELECT pw_hash FROM users")]
    assert all(h.startswith("scrypt$") for h in hashes)
    assert not any("password" in h for h in hashes)


def test_admin_changes_are_audited(data):
    run_cli(data, "member", "add", "NEW", "--name", "New member")
    run_cli(data, "quota", "set", "NEW", "10G")
    rows = json.loads(run_cli(data, "audit", "--action", "admin", "--json").output)
    details = [r["detail"] for r in rows]
    assert "member add NEW" in details and f"quota set NEW {10 * 1024**3}" in details
    assert all(r["protocol"] == "cli" for r in rows)
    recent = json.loads(run_cli(data, "audit", "--since", "1h", "--json").output)
    assert len(recent) >= 2
    assert json.loads(run_cli(data, "audit", "--since", "2999-01-01", "--json").output) == []
    text = run_cli(data, "audit", "--user", "nobody").output
    assert text.startswith("TIME")


def test_info_prints_fingerprints(data):
    out = json.loads(run_cli(data, "info", "--json").output)
    assert any(k.startswith("ssh-ed25519 SHA256:") for k in out["ssh_host_keys"])
    assert any(k.startswith("ssh-rsa SHA256:") for k in out["ssh_host_keys"])
    assert out["tls_certificate"][0].startswith("SHA256:")


def test_backup_is_consistent_and_refuses_the_live_file(data, ftp_server, tmp_path):
    dest = tmp_path / "backup.db"
    run_cli(data, "backup", str(dest))
    with sqlite3.connect(dest) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 5
    result = run_cli(data, "backup", str(data / "pool.db"), expect=2)
    assert "must not be the live pool.db" in result.output


def test_display_names(data: Path):
    """The name the feed publishes for a user's uploads: set, shown, reset, and never
    one that could drive a terminal (bidi overrides, controls)."""
    run_cli(
        data,
        "user",
        "add",
        "ayse@trt.net.tr",
        "--role",
        "contributor",
        "--member",
        "TRT",
        "--display-name",
        "  TRT   Haber  ",
        "--password-stdin",
        input="ayse-secret-pw\n",
    )
    info = json.loads(run_cli(data, "user", "show", "ayse@trt.net.tr", "--json").output)
    assert info["display_name"] == "TRT Haber"
    out = run_cli(data, "user", "set", "ayse@trt.net.tr", "--display-name", "Ayşe (Ankara)")
    assert "Ayşe (Ankara)" in out.output
    for bad in ("evil\u202etxt", "x\x1b[2J", "y" * 81):
        result = run_cli(data, "user", "set", "ayse@trt.net.tr", "--display-name", bad, expect=1)
        assert "display name" in result.output
    info = json.loads(run_cli(data, "user", "show", "ayse@trt.net.tr", "--json").output)
    assert info["display_name"] == "Ayşe (Ankara)"
    run_cli(data, "user", "set", "ayse@trt.net.tr", "--display-name", "")
    info = json.loads(run_cli(data, "user", "show", "ayse@trt.net.tr", "--json").output)
    assert info["display_name"] is None
    run_cli(data, "user", "set", "nobody", "--display-name", "x", expect=1)
