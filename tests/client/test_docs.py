"""Every `pool` command and option has help text and is documented in the README."""

from __future__ import annotations

from pathlib import Path

from pool_client.commands import cli

USAGE = Path(__file__).resolve().parents[2] / "README.md"


def test_every_command_has_help_and_is_documented() -> None:
    text = USAGE.read_text()
    for name, command in cli.commands.items():
        assert command.help, name
        assert f"`pool {name}" in text, f"pool {name} is missing from {USAGE.name}"
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt not in ("--help",):
                    assert opt in text, f"pool {name} {opt} is missing from {USAGE.name}"
