"""The control channel: small commands a client asks the pool, answered with JSON.

One table, `COMMANDS`, serves every door. A door only carries the command line in and
the answer out:

- FTP/FTPS: ``SITE ORTAK <command> [ARG...]``. The answer is a multi-line 200 reply
  whose middle lines, each after its leading space, join into one JSON object (ASCII
  only: non-ASCII text is escaped), e.g.::

      200-ortak whoami
       {"user": "trt-upload", "role": "contributor", ...}
      200 OK

  An error is one line with the code of the door's error table (501 for an unknown
  command or bad arguments, 550 for a refusal).
- SFTP: an exec request ``ortak <command> [ARG...]`` (as ``sha256sum`` is one). The
  JSON object and a newline go to stdout and the exit status is 0; an error is one
  line on stderr and exit status 2 (unknown command, bad arguments) or 1 (refused...).

Arguments are split as a POSIX shell would (``shlex``). Stock clients never send
either form, so their behaviour is unchanged; `SITE HELP` lists ``ORTAK``.

Adding a command: write a function ``(pool, session, args) -> dict`` (JSON-able values
only) that raises the package's errors (`UsageError` for bad arguments, `AccessDenied`
for a refusal...), and register it with ``@command("name", "usage", "one line of help")``
below. Every door serves it at once; `pool_client`'s ``Transport.control("name",
*args)`` calls it and returns the dict. Rules belong in the session core or the library
the handler calls, never in a door.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    from .app import Pool
    from .core import Session

Handler = Callable[["Pool", "Session", list[str]], dict[str, Any]]

FTP_SITE = "ORTAK"
"""The FTP SITE command that carries control commands."""
SSH_EXEC = "ortak"
"""The first word of an SFTP exec request that carries control commands."""
REPLY_LINE = 400
"""Characters of JSON per line of a multi-line FTP reply."""


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    handler: Handler


COMMANDS: dict[str, Command] = {}
"""The dispatch table: command name -> Command. Filled by `@command` below."""


def command(name: str, usage: str, help: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in COMMANDS:
            raise ValueError(f"control command {name!r} registered twice")
        COMMANDS[name] = Command(name, usage, help, handler)
        return handler

    return register


def run(pool: Pool, session: Session, line: str) -> dict[str, Any]:
    """Run one command line ('whoami', 'help whoami'...) for a logged-in session."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse the command line: {exc}")
    if not argv:
        raise UsageError("which command? try 'help'")
    found = COMMANDS.get(argv[0].lower())
    if found is None:
        raise UsageError(f"unknown command {argv[0]!r}; try 'help'")
    return found.handler(pool, session, argv[1:])


def encode(result: dict[str, Any]) -> str:
    """The answer as one line of ASCII JSON."""
    return json.dumps(result, ensure_ascii=True, sort_keys=True, default=str)


def ftp_reply_lines(name: str, result: dict[str, Any]) -> list[str]:
    """The lines of FTP's multi-line 200 reply carrying `result` (see the module doc)."""
    text = encode(result)
    chunks = [text[i : i + REPLY_LINE] for i in range(0, len(text), REPLY_LINE)] or [""]
    return [f"200-ortak {name}", *(f" {chunk}" for chunk in chunks), "200 OK"]


def exec_line(command_line: str) -> str | None:
    """The control command line of an SSH exec request, or None if it is not one."""
    word, _, rest = command_line.strip().partition(" ")
    return rest.strip() if word == SSH_EXEC else None


# --- the commands


def _no_args(name: str, args: list[str]) -> None:
    if args:
        raise UsageError(f"{name} takes no arguments")


@command("help", "help [COMMAND]", "the commands of the control channel")
def _help(pool: Pool, session: Session, args: list[str]) -> dict[str, Any]:
    if len(args) > 1:
        raise UsageError("usage: help [COMMAND]")
    names = [args[0].lower()] if args else sorted(COMMANDS)
    missing = [n for n in names if n not in COMMANDS]
    if missing:
        raise UsageError(f"unknown command {missing[0]!r}")
    return {"commands": {n: {"usage": COMMANDS[n].usage, "help": COMMANDS[n].help} for n in names}}


@command("whoami", "whoami", "your user, role and member, and the pool's key fingerprints")
def _whoami(pool: Pool, session: Session, args: list[str]) -> dict[str, Any]:
    from .fingerprints import public_fingerprints

    _no_args("whoami", args)
    user = session.user
    member_name = pool.accounts.get_member(user.member)["name"] if user.member else None
    return {
        "user": user.name,
        "role": user.role.value,
        "member": user.member,
        "member_name": member_name,
        "protocol": session.protocol,
        "address": session.ip,
        **public_fingerprints(pool),
    }


# Commands of other parts of the server register themselves in the same table.
from .notify import control_commands as _notify_commands  # noqa: E402,F401
