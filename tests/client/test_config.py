"""Profiles and where passwords come from."""

from __future__ import annotations

import os

import pytest

from pool_client.config import parse_url
from pool_client.errors import UsageError

from ..helpers import password
from .conftest import Pool


def test_parse_url() -> None:
    e = parse_url("sftp://pool.example.org:2222", "news")
    assert (e.scheme, e.host, e.port, e.user) == ("sftp", "pool.example.org", 2222, "news")
    assert parse_url("ftps://trt-up@h").port == 21 and parse_url("ftps://trt-up@h").user == "trt-up"
    assert parse_url("https://news@h").port == 443 and parse_url("http://h", "x").port == 80
    for bad in ("gopher://h", "ftp://u:secret@h", "ftp://h", "sftp://:22"):
        with pytest.raises(UsageError):
            parse_url(bad, None if "u:" in bad or bad == "ftp://h" else "x")


def test_profiles_and_password_sources(pool: Pool) -> None:
    none = {"POOL_URL": "", "POOL_PASSWORD": ""}
    pool.run(
        "login",
        pool.url("ftp"),
        "--user",
        "news",
        "--profile",
        "newsroom",
        "--password-stdin",
        input=password("news") + "\n",
        **none,
    )
    pool.run(
        "login",
        pool.url("sftp"),
        "--user",
        "trt-up",
        "--profile",
        "uploads",
        "--password-stdin",
        input=password("trt-up") + "\n",
        **none,
    )
    text = (pool.home / "config" / "profiles.toml").read_text()
    assert 'default = "uploads"' in text and "secret" not in text

    # --password-stdin on any command; --profile / POOL_PROFILE pick the profile
    out = pool.run(
        "--profile",
        "newsroom",
        "--password-stdin",
        "ls",
        "/",
        "--json",
        input=password("news") + "\n",
        **none,
    )
    assert "TRT" in out.stdout
    pool.run(
        "ls", "/", input=password("news") + "\n", POOL_PROFILE="newsroom", expect=3, **none
    )  # no --password-stdin: stdin is not read, no prompt
    # ~/.netrc (mode 600) for the profile's host and user
    netrc = pool.home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login news password {password('news')}\n")
    os.chmod(netrc, 0o600)
    assert "TRT" in pool.run("ls", "/", POOL_PROFILE="newsroom", **none).stdout
    # the default profile is uploads (trt-up): netrc's login does not match it
    assert "POOL_PASSWORD" in pool.run("ls", "/", expect=3, **none).stderr
    unknown = pool.run("--profile", "nope", "ls", expect=2, **none)
    assert "no profile 'nope'" in unknown.stderr and "newsroom" in unknown.stderr
