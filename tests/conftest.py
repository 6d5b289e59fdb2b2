from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import ServerProcess, copy_template, make_template, start_server


@pytest.fixture(scope="session")
def template_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once per run: init (TLS certificate, host keys) is the slow part."""
    return make_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def data(template_data: Path, tmp_path: Path) -> Path:
    """A fresh pool data folder with the test members and users (helpers.USERS)."""
    return copy_template(template_data, tmp_path / "data")


@pytest.fixture
def server_factory(data: Path) -> Iterator:
    started: list[ServerProcess] = []

    def factory(**kwargs) -> ServerProcess:
        srv = start_server(data, **kwargs)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()


@pytest.fixture
def ftp_server(server_factory) -> ServerProcess:
    """A running server with FTP only (no SFTP, no indexer)."""
    return server_factory(sftp=False)
