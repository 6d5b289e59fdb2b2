"""`alert` on the control channel (pool_server/control.py): `pool alert ...` through
any door. The rules are the service layer's (`Notifications`); this only parses."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, NoReturn

from ..control import command
from ..errors import UsageError
from .service import MODES, Notifications

if TYPE_CHECKING:
    from ..app import Pool
    from ..core import Session

USAGE = (
    "alert add NAME QUERY [--member M] [--category C] [--lang L] [--since D] [--until D]"
    " [--min-duration S] [--max-duration S] [--email ADDR] [--webhook URL]"
    " [--digest hourly|daily] | alert list | alert remove NAME | alert matches [--limit N]"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"alert: {message}; usage: {USAGE}")


def _add_parser() -> _Parser:
    p = _Parser(prog="alert add", add_help=False)
    p.add_argument("name")
    p.add_argument("query")
    for flag in ("--member", "--category", "--lang", "--since", "--until"):
        p.add_argument(flag)
    p.add_argument("--min-duration", type=float)
    p.add_argument("--max-duration", type=float)
    p.add_argument("--email")
    p.add_argument("--webhook")
    p.add_argument("--digest", choices=MODES, default="immediate")
    return p


@command("alert", USAGE, "your saved searches: add, list, remove, and their matches")
def _alert(pool: Pool, session: Session, args: list[str]) -> dict[str, Any]:
    if not args:
        raise UsageError(f"usage: {USAGE}")
    service = Notifications(pool)
    user = session.user
    verb, rest = args[0].lower(), args[1:]
    if verb == "add":
        a = _add_parser().parse_args(rest)
        filters = {
            "member": a.member,
            "category": a.category,
            "language": a.lang,
            "since": a.since,
            "until": a.until,
            "min_duration": a.min_duration,
            "max_duration": a.max_duration,
        }
        alert = service.add_alert(
            user,
            a.name,
            a.query,
            filters,
            email=a.email,
            webhook=a.webhook,
            mode=a.digest,
        )
        return {"alert": alert}
    if verb == "list" and not rest:
        return {"alerts": service.list_alerts(user)}
    if verb == "remove" and len(rest) == 1:
        return {"removed": service.remove_alert(user, rest[0])}
    if verb == "matches":
        p = _Parser(prog="alert matches", add_help=False)
        p.add_argument("--limit", type=int, default=50)
        limit = max(1, min(500, p.parse_args(rest).limit))
        return {"matches": service.notifications(user, limit=limit)}
    raise UsageError(f"usage: {USAGE}")
