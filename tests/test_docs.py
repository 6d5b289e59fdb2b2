"""Docs that cannot rot: every command has help text and appears in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from pool_server.cli import main as server_main

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        out.append((path, cmd))
        if isinstance(cmd, click.Group):
            out += commands(cmd, path)
    return out


SERVER = commands(server_main, "pool-server")


def mentioned(path: str) -> bool:
    """The README shows the command as typed, e.g. `pool-server user add`, allowing
    the data-folder option between the program and the command."""
    text = README.replace("--data DIR ", "")
    return path in text


@pytest.mark.parametrize(("path", "cmd"), SERVER, ids=[p for p, _ in SERVER])
def test_every_server_command_has_help_and_is_in_the_readme(path, cmd):
    assert (cmd.help or "").strip(), f"{path} has no help text"
    for param in cmd.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip() or param.name in ("help",), (
                f"{path} {param.opts[0]} has no help text"
            )
    assert mentioned(path), f"`{path}` is not in README.md"
