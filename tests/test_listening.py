"""The listeners' shared rules, as plain functions: admission before login, client
addresses on dual-stack sockets, and log rate limits."""

from __future__ import annotations

import errno
import logging

import pytest

from pool_server.listening import (
    AcceptBackoff,
    RateLimit,
    address_group,
    admit_prelogin,
    client_ip,
)


@pytest.mark.parametrize(
    ("waiting", "ip", "accept", "evict"),
    [
        ([], "10.0.0.1", True, None),
        (["10.0.0.1"] * 3, "10.0.0.1", False, None),  # per address: 3
        (["10.0.0.1"] * 3 + ["10.0.0.2"] * 3, "10.0.0.9", True, "10.0.0.1"),  # full: evict
        (["10.0.0.1"] * 2 + ["10.0.0.2"] * 2 + ["10.0.0.3"] * 2, "10.0.0.3", False, None),
        (["10.0.0.1"] * 2 + ["10.0.0.2"] * 2 + ["10.0.0.3"] * 2, "10.0.0.9", True, "10.0.0.1"),
        (["10.0.0.1"] + ["10.0.0.2"] * 3 + ["10.0.0.3"] * 2, "10.0.0.3", False, None),
    ],
)
def test_admission_before_login(waiting, ip, accept, evict):
    """Total 6, 3 per address: a full house gives way to an address holding fewer."""
    decision = admit_prelogin(waiting, ip, max_total=6, max_per_ip=3)
    assert (decision.accept, decision.evict) == (accept, evict)
    assert decision.accept or decision.reason


def test_no_limits():
    assert admit_prelogin(["10.0.0.1"] * 1000, "10.0.0.1", 0, 0).accept


@pytest.mark.parametrize(
    ("raw", "seen"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::FFFF:10.1.2.3", "10.1.2.3"),
        ("::1", "::1"),
        ("2001:db8::ffff:1", "2001:db8::ffff:1"),
        ("192.0.2.7", "192.0.2.7"),
    ],
)
def test_client_ip(raw, seen):
    assert client_ip(raw) == seen


def test_ipv6_hosts_count_by_their_64():
    """One IPv6 host may use any address of its /64: pre-login limits count the /64."""
    assert address_group("192.0.2.7") == "192.0.2.7"
    assert address_group("::1") == "::/64"
    a, b = "2001:db8:1:2::10", "2001:db8:1:2:ffff:ffff:ffff:fffe"
    assert address_group(a) == address_group(b) == "2001:db8:1:2::/64"
    assert address_group("2001:db8:1:3::10") != address_group(a)
    waiting = [address_group(f"2001:db8:1:2::{i:x}") for i in range(1, 4)]
    assert not admit_prelogin(waiting, address_group("2001:db8:1:2::99"), 100, 3).accept


def test_accept_backoff_doubles_and_logs_once(caplog):
    log = logging.getLogger("test.backoff")
    backoff = AcceptBackoff(log, "FTP", 0.1)
    err = OSError(errno.EMFILE, "Too many open files")
    with caplog.at_level(logging.WARNING, logger="test.backoff"):
        delays = [backoff.exhausted(err) for _ in range(8)]
        backoff.accepted()
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "cannot accept connections: Too many open files" in lines[0]
    assert "accepting connections again (after 8 failed accepts)" in lines[1]
    assert backoff.delay == 0.0


def test_rate_limit_drops_beyond_the_burst_and_says_so():
    limit = RateLimit(burst=3, period=3600)
    records = [
        logging.LogRecord("x", logging.ERROR, "f", 1, f"m{i}", None, None) for i in range(10)
    ]
    passed = [r for r in records if limit.filter(r)]
    assert [r.msg for r in passed] == ["m0", "m1", "m2"]
    limit._start -= 3600  # the period is over
    after = logging.LogRecord("x", logging.ERROR, "f", 1, "later", None, None)
    assert limit.filter(after)
    assert after.msg == "[7 log records dropped before this] later"
