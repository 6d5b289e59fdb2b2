"""What every command shares, opened once per run: the connection, the local catalog."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Endpoint, cache_dir, config_dir, find_password, resolve_endpoint
from .errors import UsageError
from .localcat import LocalCatalog
from .remote import Remote, RetryPolicy

if TYPE_CHECKING:
    from .poolkeys import PoolTrust
    from .prewarm import Prewarm
    from .provenance import Checker


def retry_policy() -> RetryPolicy:
    """`POOL_RETRIES` (default 3) retries of a transient failure, backing off 0.5 s, 1 s,
    2 s… up to 8 s."""
    raw = os.environ.get("POOL_RETRIES", "")
    try:
        retries = int(raw) if raw else 3
    except ValueError:
        raise UsageError(f"POOL_RETRIES={raw!r}: give a number of retries such as 3") from None
    return RetryPolicy(attempts=max(0, retries) + 1)


@dataclass
class App:
    profile: str | None = None
    debug: bool = False
    password_stdin: bool = False
    echo_err: Callable[[str], None] = field(default=lambda m: print(m, file=sys.stderr))
    _endpoint: Endpoint | None = None
    _remote: Remote | None = None
    _stdin_password: str | None = None
    prewarm: Prewarm | None = None
    """A login started at process start (see `prewarm`), used if it fits."""

    @property
    def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            self._endpoint = resolve_endpoint(self.profile)
        return self._endpoint

    def read_stdin_password(self) -> str | None:
        if self.password_stdin and self._stdin_password is None:
            self._stdin_password = sys.stdin.readline().rstrip("\r\n")
        return self._stdin_password

    def password(self, endpoint: Endpoint) -> str:
        return find_password(endpoint, self.read_stdin_password(), interactive=sys.stdin.isatty())

    def remote_for(self, endpoint: Endpoint) -> Remote:
        password = self.password(endpoint)
        remote = Remote(
            endpoint,
            password,
            config_dir(),
            self.echo_err,
            retry=retry_policy(),
            on_retry=self.on_retry,
        )
        if self.prewarm is not None:
            warm, self.prewarm = self.prewarm, None
            transport = warm.take(endpoint, password)
            if transport is not None:
                remote.adopt(transport)
        return remote

    @property
    def remote(self) -> Remote:
        if self._remote is None:
            self._remote = self.remote_for(self.endpoint)
        return self._remote

    @property
    def catalog(self) -> LocalCatalog:
        return LocalCatalog(cache_dir() / self.endpoint.cache_key)

    def trust(self) -> PoolTrust:
        """The pool's keys as pinned for this endpoint (no connection needed)."""
        from .poolkeys import PoolTrust

        ep = self.endpoint
        return PoolTrust(config_dir(), f"{ep.host}:{ep.port}", self.catalog.folder, self.echo_err)

    def checker(self, online: bool = True) -> Checker:
        """Manifest checks; `online` lets it fetch the pool's key list after a rotation."""
        from .poolkeys import KEYS_PATH
        from .provenance import Checker

        def fetch() -> bytes:
            t = self.remote.transport()
            return self.remote.retrying(lambda: t.read_bytes(KEYS_PATH))

        return Checker(self.trust(), fetch if online else None)

    def on_retry(self, exc: Exception, delay: float) -> None:
        self.echo_err(f"{exc}; retrying in {delay:g} s")

    def close(self) -> None:
        if self.prewarm is not None:
            self.prewarm.close()
            self.prewarm = None
        if self._remote is not None:
            self._remote.close()

    @staticmethod
    def path(p: str) -> Path:
        return Path(p).expanduser()
