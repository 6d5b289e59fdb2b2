"""Client test fixtures: a pool server with SFTP and the indexer, and `pool` runners
(in-process through click's CliRunner, or as a real subprocess)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pool_client.commands import cli

from ..helpers import ServerProcess, ftp_login, password

POOL = str(Path(sys.executable).parent / "pool")
SCHEMES = ("ftp", "ftps", "sftp")


def wait_for(predicate: Callable[[], object], timeout: float = 15, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.1)


@dataclass
class Pool:
    """A running server plus a client environment (config and cache folders)."""

    server: ServerProcess
    home: Path

    def url(self, scheme: str, port: int | None = None) -> str:
        if port is None:
            port = self.server.sftp_port if scheme == "sftp" else self.server.ftp_port
        return f"{scheme}://127.0.0.1:{port}"

    def env(
        self,
        user: str = "news",
        scheme: str = "ftp",
        *,
        port: int | None = None,
        cache: str | None = None,
        **extra: str,
    ) -> dict[str, str]:
        return {
            "POOL_CONFIG_DIR": str(self.home / "config"),
            "POOL_CACHE_DIR": str(self.home / (cache or f"cache-{user}")),
            "POOL_URL": self.url(scheme, port),
            "POOL_USER": user,
            "POOL_PASSWORD": password(user),
            "POOL_PROFILE": "",
            "HOME": str(self.home),
            **extra,
        }

    def run(self, *args: str, expect: int | None = 0, input: str | None = None, **env_kw) -> Result:
        """`pool ARGS` in-process; fails showing the output unless the exit code is
        `expect` (None: any)."""
        env = self.env(**env_kw)
        result = CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, (
                f"pool {' '.join(args)} → {result.exit_code}, wanted {expect}\n{result.output}"
            )
        return result

    def json(self, *args: str, **kw):
        return json.loads(self.run(*args, "--json", **kw).stdout)

    def spawn(self, *args: str, cwd: Path | None = None, **env_kw) -> subprocess.Popen:
        env = {**os.environ, **self.env(**env_kw)}
        return subprocess.Popen(
            [POOL, *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # -- the pool's side -----------------------------------------------------------

    @property
    def feed_dir(self) -> Path:
        return self.server.data / "pool" / ".catalog"

    def feed_seq(self) -> int:
        try:
            return json.loads((self.feed_dir / "index.json").read_text())["seq"]
        except (OSError, ValueError):
            return -1

    def upload(self, path: str, data: bytes, user: str = "trt-up") -> None:
        """Upload with a stock client (ftplib), making folders as needed."""
        ftp = ftp_login(self.server.ftp_port, user)
        try:
            folder = ""
            for part in path.strip("/").split("/")[:-1]:
                folder += "/" + part
                try:
                    ftp.mkd(folder)
                except Exception:
                    pass
            ftp.storbinary(f"STOR {path}", io.BytesIO(data))
        finally:
            ftp.quit()

    def wait_indexed(
        self, predicate: Callable[[dict], bool], timeout: float = 60, what: str = ""
    ) -> None:
        """Wait until the published feed's index satisfies `predicate`."""

        def check() -> bool:
            try:
                return predicate(json.loads((self.feed_dir / "index.json").read_text()))
            except (OSError, ValueError):
                return False

        wait_for(check, timeout, what or "the feed")

    def wait_items(self, n: int, timeout: float = 60, where: str = "1") -> None:
        """Wait until the feed lists `n` items (counted from the server's catalog) for
        which the SQL condition `where` holds."""
        import sqlite3

        def count() -> bool:
            conn = sqlite3.connect(
                f"file:{self.server.data / 'pool.db'}?mode=ro", uri=True, timeout=5
            )
            try:
                items = conn.execute(
                    "SELECT count(*), (SELECT coalesce(max(rid), 0) FROM items)"
                    f" FROM items WHERE {where}"
                ).fetchone()
            except sqlite3.Error:
                return False
            finally:
                conn.close()
            return items[0] >= n and self.feed_seq() >= items[1]

        wait_for(count, timeout, f"{n} items in the feed")


@pytest.fixture
def pool(server_factory, tmp_path: Path) -> Pool:
    """A server with FTP/FTPS, SFTP and the indexer, and a client home."""
    home = tmp_path / "client"
    home.mkdir()
    return Pool(server_factory(sftp=True, indexer=True), home)
