"""`pool-server index / search / report usage` through click, as an admin runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from catalog.settings import SETTINGS
from pool_server.cli import PoolGroup
from pool_server.cli_catalog import COMMANDS
from pool_server.context import DataDir

from .conftest import FIXTURES, put


class Obj:
    """What pool_server's CLI passes as ctx.obj: the data folder and the [catalog] table."""

    def __init__(self, data: DataDir) -> None:
        self.data = data

    def catalog_settings(self) -> dict[str, Any]:
        return {name: default for name, default, _ in SETTINGS}

    def preview_settings(self) -> dict[str, Any]:
        """[previews], off: these tests are about the catalog (previews have their own)."""
        from catalog.previews.settings import SETTINGS as PREVIEWS

        return {**{name: default for name, default, _ in PREVIEWS}, "enabled": False}


@pytest.fixture
def cli(tmp_path: Path):
    group = PoolGroup("pool-server")  # pool-server's own: a PoolError is one "Error:" line
    for command in COMMANDS:
        group.add_command(command)
    data = DataDir(tmp_path / "data")
    data.pool_root.mkdir(parents=True)

    def run(*args: str, expect: int = 0) -> Any:
        result = CliRunner().invoke(group, list(args), obj=Obj(data))
        assert result.exit_code == expect, result.output + repr(result.exception)
        return result

    run.data = data  # type: ignore[attr-defined]
    return run


def test_index_once_then_search(cli):
    pool = cli.data.pool_root
    put(pool, "/TRT/news/TRT-0042.xml", (FIXTURES / "newsml_video.xml").read_bytes())
    put(pool, "/MTRK/culture/navruz.xml", (FIXTURES / "dc.xml").read_bytes())
    out = cli("index", "--once").output
    assert "2 files, 2 indexed, 0 removed, 0 errors" in out
    assert (pool / ".catalog/index.json").exists()
    text = cli("search", "istanbul").output
    assert "İstanbul'da Nevruz kutlaması" in text and "/TRT/news/TRT-0042.xml" in text
    items = json.loads(cli("search", "ozbekiston", "--json").output)
    assert [i["story_id"] for i in items] == ["UZ-MTRK-2025-0314-003"]
    assert json.loads(cli("search", "ozbekiston", "--member", "TRT", "--json").output) == []
    assert json.loads(cli("search", "--lang", "tr", "--json").output)[0]["member"] == "TRT"


def test_report_usage_formats(cli):
    cli("index", "--once")
    assert "member" in cli("report", "usage").output
    assert json.loads(cli("report", "usage", "--since", "7d", "--json").output) == []
    assert cli("report", "usage", "--csv").output.startswith("member,name,items")


def test_errors_are_one_line(cli, tmp_path: Path):
    cli("index", "--once")
    result = cli("search", "x", "--since", "yesterday", expect=1)
    assert result.stdout == "" and result.stderr == (
        "Error: --since 'yesterday': give a duration ago like 12h or 30d,"
        " or a date like 2026-11-01 or 2026-11-01T14:30\n"
    )
    assert "Traceback" not in result.output
    cli("report", "usage", "--json", "--csv", expect=2)
    result = cli("search", "x", "--lang", "??", expect=1)
    assert "not a language code" in result.output


def test_no_pool_yet(tmp_path: Path):
    group = click.Group("pool-server", commands=COMMANDS)
    result = CliRunner().invoke(group, ["search", "x"], obj=Obj(DataDir(tmp_path / "none")))
    assert result.exit_code == 1 and "pool-server init" in result.output


def test_every_command_has_help():
    for command in COMMANDS:
        assert command.help
