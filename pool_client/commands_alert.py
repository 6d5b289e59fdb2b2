"""`pool alert`: saved searches kept on the pool, which tells you of new matches.

Each command is one control-channel request (`alert ...`, pool_server/control.py) over
the profile's transport: FTP `SITE ORTAK`, or an SSH exec request over SFTP."""

from __future__ import annotations

from typing import Any

import click

from . import output
from .cli_common import app_of, make_query, query_options


def _ask(ctx: click.Context, *args: str) -> dict[str, Any]:
    remote = app_of(ctx).remote
    t = remote.transport()
    return remote.retrying(lambda: t.control("alert", *args))


@click.group()
def alert() -> None:
    """Saved searches on the pool: be told (e-mail, webhook, the web door) of new
    matching items."""


@alert.command("add")
@click.argument("name")
@click.argument("query")
@query_options
@click.option("--email", metavar="ADDR", help="E-mail the alert to ADDR.")
@click.option("--webhook", metavar="URL", help="POST the alert, signed, to URL.")
@click.option(
    "--digest",
    type=click.Choice(["hourly", "daily"]),
    help="Collect matches into one message an hour or a day (default: each at once).",
)
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def alert_add(
    ctx: click.Context,
    name: str,
    query: str,
    email: str | None,
    webhook: str | None,
    digest: str | None,
    json_out: bool,
    **kw: Any,
) -> None:
    """Save QUERY (with the same filters as `pool search`) as alert NAME."""
    q = make_query(query, kw)
    args = ["add", name, q.text]
    for flag, value in (
        ("--member", q.member),
        ("--category", q.category),
        ("--lang", q.language),
        ("--since", q.since),
        ("--until", q.until),
        ("--min-duration", q.min_duration),
        ("--max-duration", q.max_duration),
        ("--email", email),
        ("--webhook", webhook),
        ("--digest", digest),
    ):
        if value is not None:
            args += [flag, str(value)]
    answer = _ask(ctx, *args)["alert"]
    if json_out:
        output.emit_json(answer)
        return
    how = [x for x in (answer.get("email"), answer.get("webhook_url")) if x] or ["the web door"]
    output.echo(
        f"alert {answer['name']!r} saved ({answer['mode']}); matches go to {', '.join(how)}"
    )
    if answer.get("webhook_secret"):
        output.echo(f"webhook signing secret (shown only now): {answer['webhook_secret']}")


@alert.command("list")
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def alert_list(ctx: click.Context, json_out: bool) -> None:
    """Your saved searches, with their last match, last delivery and failures."""
    rows = _ask(ctx, "list")["alerts"]
    if json_out:
        output.emit_json(rows)
        return
    if not rows:
        output.echo("no alerts; add one with `pool alert add NAME QUERY`", err=True)
        return
    output.table(
        [
            {
                **r,
                "filters": " ".join(f"{k}={v}" for k, v in r["filters"].items()),
                "to": ", ".join(x for x in (r.get("email"), r.get("webhook_url")) if x) or "web",
                "last_match": (r.get("last_match") or "")[:19],
                "last_delivery": (r.get("last_delivery") or "")[:19],
                "failed": r.get("failed") or "",
            }
            for r in rows
        ],
        [
            ("name", "NAME"),
            ("query", "QUERY"),
            ("filters", "FILTERS"),
            ("mode", "MODE"),
            ("to", "TO"),
            ("last_match", "LAST MATCH"),
            ("last_delivery", "LAST DELIVERY"),
            ("failed", "FAILED"),
            ("last_error", "LAST ERROR"),
        ],
    )


@alert.command("remove")
@click.argument("name")
@click.pass_context
def alert_remove(ctx: click.Context, name: str) -> None:
    """Remove your alert NAME."""
    removed = _ask(ctx, "remove", name)["removed"]
    output.echo(f"alert {removed['name']!r} removed")


@alert.command("matches")
@click.option(
    "--limit", type=click.IntRange(1, 500), default=50, show_default=True, help="At most N."
)
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def alert_matches(ctx: click.Context, limit: int, json_out: bool) -> None:
    """Your alerts' latest matches, newest first."""
    rows = _ask(ctx, "matches", "--limit", str(limit))["matches"]
    if json_out:
        output.emit_json(rows)
        return
    output.table(
        [{**r, "time": (r.get("time") or "")[:19]} for r in rows],
        [("time", "TIME"), ("alert", "ALERT"), ("item_id", "ITEM"), ("title", "TITLE")],
    )
