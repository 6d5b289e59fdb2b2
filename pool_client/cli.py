"""Entry point of the `pool` command: starts the login early (`prewarm`), then runs the
click commands of `pool_client.commands`."""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def main() -> None:
    from . import prewarm

    warm = prewarm.start(sys.argv[1:])
    from .app import App
    from .commands import cli

    try:
        cli(prog_name="pool", obj=App(prewarm=warm))
    except SystemExit as done:
        _exit_now(done.code)
    _exit_now(0)


def _exit_now(code: object) -> NoReturn:
    """Leave without tearing the interpreter down, as mypy does: by now the command has
    closed its connections, files and threads, and freeing the objects of ~170 modules
    one by one took ~10 ms, a sixth of a no-op `pool sync`."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message")
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe (`pool search … | head`): nothing more can be said
    os._exit(status)
