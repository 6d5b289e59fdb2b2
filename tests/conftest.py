from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import ServerProcess, copy_template, make_template, start_server

SLOW_TIMEOUT = 1800
"""Seconds a `slow` test may take (10,000 cases each; ~1-2 min on a quiet 2-core machine,
several times that under load): the suite's 120-s limit is for hangs in normal tests."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


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
