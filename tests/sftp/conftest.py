"""A running server with SFTP, per test module, with client keys registered and a
known_hosts file holding the pool's host keys (strict host key checking on)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import ServerProcess, copy_template, run_cli, start_server
from .util import SftpEnv, make_client_key, write_known_hosts

KEY_USERS = ("admin", "trt-up", "aztv-up", "news", "disabled-user")


@pytest.fixture(scope="session")
def client_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One ed25519 key pair per test user, plus one nobody registered ("stranger")."""
    where = tmp_path_factory.mktemp("client-keys")
    return {user: make_client_key(where / user) for user in (*KEY_USERS, "stranger")}


def _env(template: Path, where: Path, keys: dict[str, Path], **security: int) -> SftpEnv:
    data = copy_template(template, where / "data")
    if security:
        toml = data / "pool.toml"
        text = toml.read_text()
        for name, value in security.items():
            text = text.replace(f"\n{name} = ", f"\n{name} = {value}\n# was: ", 1)
        toml.write_text(text)
    for user in KEY_USERS:
        run_cli(data, "user", "key", "add", user, str(keys[user].with_suffix(".pub")))
    return SftpEnv(data=data, keys=keys, known_hosts=where / "known_hosts")


def _started(env: SftpEnv) -> Iterator[SftpEnv]:
    server: ServerProcess = start_server(env.data, sftp=True)
    env.server = server
    write_known_hosts(env.known_hosts, env.data, server.sftp_port)
    try:
        yield env
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sftp_env(
    template_data: Path, tmp_path_factory: pytest.TempPathFactory, client_keys: dict[str, Path]
) -> Iterator[SftpEnv]:
    """A server shared by one test module: tests use distinct paths."""
    env = _env(template_data, tmp_path_factory.mktemp("sftp"), client_keys)
    yield from _started(env)


@pytest.fixture
def fresh_env(
    template_data: Path, tmp_path: Path, client_keys: dict[str, Path]
) -> Iterator[SftpEnv]:
    """A server of the test's own, with a ban threshold low enough to reach quickly."""
    env = _env(template_data, tmp_path, client_keys, ban_threshold=3)
    yield from _started(env)
