"""Exit codes and messages: auth 3, network 6, not found 4, usage 2; pinned keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import reserved_port
from .conftest import SCHEMES, Pool


@pytest.mark.parametrize("scheme", SCHEMES)
def test_wrong_password_is_exit_3(pool: Pool, scheme: str) -> None:
    result = pool.run("ls", "/", expect=3, scheme=scheme, POOL_PASSWORD="not-the-password")
    lines = [line for line in result.stderr.splitlines() if not line.startswith("new host")]
    assert len(lines) == 1
    assert "login refused" in result.stderr and "password" in result.stderr
    assert "Traceback" not in result.output


def test_no_password_anywhere_is_exit_3(pool: Pool) -> None:
    result = pool.run("ls", expect=3, POOL_PASSWORD="")
    assert "POOL_PASSWORD" in result.stderr


def test_server_down_is_exit_6(pool: Pool, tmp_path: Path) -> None:
    with reserved_port() as port:  # nothing listens there, and nobody else can
        result = pool.run("update", expect=6, port=port, POOL_RETRIES="1")
    assert "connection refused" in result.stderr and "retrying" in result.stderr
    assert "Traceback" not in result.output


def test_a_pool_with_no_catalog_yet_is_exit_4(server_factory, tmp_path: Path) -> None:
    # No indexer: with one, its first pass may publish an (empty) catalog at any moment.
    pool = Pool(server_factory(sftp=True, indexer=False), tmp_path)
    assert "publishes no catalog yet" in pool.run("update", expect=4).stderr


def test_unknown_item_is_exit_4(pool: Pool, tmp_path: Path) -> None:
    pool.upload("/TRT/news/known.mp4", b"x" * 1000)
    pool.wait_items(1)
    result = pool.run("get", "TRT-0000000000", "--dest", str(tmp_path), expect=4)
    assert "TRT-0000000000: no such item" in result.stderr
    assert pool.run("show", "/TRT/nothing/here.mxf", expect=4).stderr
    assert "not on the server" in pool.run("ls", "/NOPE", expect=4).stderr


@pytest.mark.parametrize(
    "args",
    [
        ("get",),
        ("sync", "some query"),
        ("search", "--limit", "zero"),
        ("put", "x.mp4"),
        ("login", "gopher://example.org"),
        ("get", "X", "--bwlimit", "fast"),
        ("search", "--since", "yesterday-ish"),
    ],
)
def test_usage_errors_are_exit_2(pool: Pool, args: tuple[str, ...]) -> None:
    result = pool.run(*args, expect=2)
    assert "Traceback" not in result.output
    assert result.stderr.strip()


def test_no_connection_configured_is_exit_2(pool: Pool) -> None:
    result = pool.run("update", expect=2, POOL_URL="")
    assert "pool login URL" in result.stderr


def test_changed_host_key_is_refused(pool: Pool) -> None:
    pool.run("ls", scheme="sftp")
    known = pool.home / "config" / "known_hosts"
    host, kind, _ = known.read_text().split()
    fake = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    known.write_text(f"{host} {kind} {fake}\n")
    result = pool.run("ls", expect=3, scheme="sftp")
    assert "host key" in result.stderr and "CHANGED" in result.stderr


def test_changed_certificate_is_refused(pool: Pool) -> None:
    pool.run("ls", scheme="ftps")
    known = pool.home / "config" / "known_certs"
    entry, _ = known.read_text().split()
    known.write_text(f"{entry} {'ab' * 32}\n")
    result = pool.run("ls", expect=3, scheme="ftps")
    assert "TLS certificate" in result.stderr and "CHANGED" in result.stderr


def test_debug_shows_the_traceback(pool: Pool) -> None:
    result = pool.run("--debug", "ls", expect=3, POOL_PASSWORD="wrong-password-x")
    assert "Traceback" in result.stderr


def test_real_process_wrong_password_and_no_op(pool: Pool, tmp_path: Path) -> None:
    """Through the console script (which logs in while it starts up)."""
    proc = pool.spawn("ls", "/", POOL_PASSWORD="not-the-password-x")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert err.strip().splitlines()[-1].startswith("pool: login refused")
    assert "Traceback" not in err
    proc = pool.spawn("ls", "/")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "TRT/" in out, err
