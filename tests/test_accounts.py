"""Accounts: password checks and the cache of successful ones."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pool_server.app import Pool
from pool_server.context import DataDir
from pool_server.errors import AuthenticationFailed
from pool_server.passwords import LoginCache, hash_password

from .helpers import password


@pytest.fixture
def pool(data: Path):
    p = Pool.open(DataDir(data))
    yield p
    p.close()


def test_cache_remembers_success_only_and_forgets_on_password_change(pool):
    accounts = pool.accounts
    assert accounts.authenticate("trt-up", password("trt-up")).member == "TRT"
    assert accounts.authenticate("trt-up", password("trt-up")).name == "trt-up"  # cached
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate("trt-up", "not-the-password")
    accounts.set_password("trt-up", "a-brand-new-password")
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate("trt-up", password("trt-up"))  # the old one, cached before
    assert accounts.authenticate("trt-up", "a-brand-new-password").name == "trt-up"
    accounts.set_disabled("trt-up", True)
    with pytest.raises(AuthenticationFailed, match="disabled"):
        accounts.authenticate("trt-up", "a-brand-new-password")


def test_unknown_user_scores_as_unknown(pool):
    with pytest.raises(AuthenticationFailed) as info:
        pool.accounts.authenticate("nobody", "whatever-password")
    assert info.value.known_user is False


class CountingCache(LoginCache):
    """Counts the real scrypt checks it makes."""

    def __init__(self, ttl: float) -> None:
        super().__init__(ttl)
        self.calls: list[str] = []

    def _check(self, password: str, stored: str) -> bool:
        self.calls.append(password)
        return super()._check(password, stored)


def test_concurrent_checks_of_one_password_share_one_scrypt():
    stored = hash_password("the-right-password")
    cache = CountingCache(300)
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.verify("the-right-password", stored)))
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [True] * 20
    assert len(cache.calls) < 20  # the waiters took the first check's answer
    assert cache.verify("wrong-password", stored) is False
    assert cache.verify("wrong-password", stored) is False
    assert cache.calls.count("wrong-password") == 2  # failures are never remembered
    off = CountingCache(0)
    assert off.verify("the-right-password", stored) and off.verify("the-right-password", stored)
    assert len(off.calls) == 2
