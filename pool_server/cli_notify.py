"""Admin commands for event webhooks and users' alerts: `pool-server webhook ...`,
`pool-server alert ...`."""

from __future__ import annotations

import click

from .cli import CliContext, json_option, pass_ctx, print_json, print_table
from .notify.events import EVENTS
from .notify.service import Notifications
from .terminal import echo


def _service(obj: CliContext) -> Notifications:
    return Notifications(obj.pool)


# --- webhooks


@click.group()
def webhook() -> None:
    """Event webhooks for members' systems (signed, retried, never to private addresses
    unless allowed)."""


@webhook.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(["*", *EVENTS]),
    help="Event to send (repeat for several; default: all).",
)
@click.option("--member", metavar="CODE", help="Only events about this member (default: all).")
@click.option(
    "--allow-private",
    is_flag=True,
    help="Let this endpoint reach loopback, private or link-local addresses.",
)
@click.option("--description", metavar="TEXT", help="What the endpoint is for.")
@json_option
@pass_ctx
def webhook_add(
    obj: CliContext,
    url: str,
    events: tuple[str, ...],
    member: str | None,
    allow_private: bool,
    description: str | None,
    as_json: bool,
) -> None:
    """Register URL for events; prints the signing secret once."""
    endpoint = _service(obj).add_endpoint(
        None,
        url,
        list(events) or None,
        member=member,
        allow_private=allow_private,
        description=description,
    )
    obj.admin_change(f"webhook add {endpoint['id']} {url}")
    if as_json:
        print_json(endpoint)
        return
    echo(f"webhook {endpoint['id']} added: {url} ({', '.join(endpoint['events'])})")
    echo(f"signing secret (shown only now): {endpoint['secret']}")


@webhook.command("list")
@json_option
@pass_ctx
def webhook_list(obj: CliContext, as_json: bool) -> None:
    """Endpoints with their last delivery and failures."""
    rows = _service(obj).list_endpoints(None)
    if as_json:
        print_json(rows)
        return
    print_table(
        [
            {
                **r,
                "events": ",".join(r["events"]),
                "member": r["member"] or "*",
                "private": "yes" if r["allow_private"] else "",
            }
            for r in rows
        ],
        ["id", "url", "events", "member", "private", "last_delivery", "pending", "failed"],
    )


@webhook.command("remove")
@click.argument("endpoint_id", metavar="ID", type=int)
@pass_ctx
def webhook_remove(obj: CliContext, endpoint_id: int) -> None:
    """Remove endpoint ID; its pending deliveries are cancelled."""
    endpoint = _service(obj).remove_endpoint(None, endpoint_id)
    obj.admin_change(f"webhook remove {endpoint_id} {endpoint['url']}")
    echo(f"webhook {endpoint_id} removed ({endpoint['url']})")


@webhook.command("test")
@click.argument("endpoint_id", metavar="ID", type=int)
@json_option
@pass_ctx
def webhook_test(obj: CliContext, endpoint_id: int, as_json: bool) -> None:
    """Send a signed `webhook.test` event to endpoint ID now and show the outcome."""
    result = _service(obj).test_endpoint(None, endpoint_id)
    if as_json:
        print_json(result)
    elif result["state"] == "delivered":
        echo(f"delivered to {result['target']} ({result['msg_id']})")
    if result["state"] != "delivered":
        raise click.ClickException(f"test delivery failed: {result['last_error']}")


@webhook.command("deliveries")
@click.argument("endpoint_id", metavar="[ID]", type=int, required=False)
@click.option(
    "--state",
    type=click.Choice(["pending", "delivered", "failed", "cancelled"]),
    help="Only deliveries in this state.",
)
@click.option(
    "--limit", type=click.IntRange(1), default=50, show_default=True, help="At most N rows."
)
@json_option
@pass_ctx
def webhook_deliveries(
    obj: CliContext, endpoint_id: int | None, state: str | None, limit: int, as_json: bool
) -> None:
    """Recent deliveries (of endpoint ID), newest first, with tries and errors."""
    rows = _service(obj).endpoint_deliveries(None, endpoint_id, state=state, limit=limit)
    if as_json:
        print_json(rows)
        return
    print_table(
        rows,
        ["id", "endpoint_id", "event", "state", "attempts", "created", "delivered", "last_error"],
    )


# --- users' alerts, as the admin sees them


@click.group()
def alert() -> None:
    """Users' saved searches and their deliveries (users manage theirs with `pool alert`)."""


@alert.command("list")
@click.option("--user", "user_name", metavar="NAME", help="Only this user's alerts.")
@json_option
@pass_ctx
def alert_list(obj: CliContext, user_name: str | None, as_json: bool) -> None:
    """Every saved search with its last match, last delivery and failures."""
    rows = _service(obj).list_alerts(None, everyone=True)
    if user_name:
        rows = [r for r in rows if r["user"] == user_name]
    if as_json:
        print_json(rows)
        return
    print_table(
        [{**r, "to": r["email"] or r["webhook_url"] or "web"} for r in rows],
        ["id", "user", "name", "query", "mode", "to", "last_match", "last_delivery", "failed"],
    )


@alert.command("remove")
@click.argument("alert_id", metavar="ID", type=int)
@pass_ctx
def alert_remove(obj: CliContext, alert_id: int) -> None:
    """Remove alert ID (any user's); its pending deliveries are cancelled."""
    removed = _service(obj).remove_alert(None, str(alert_id))
    obj.admin_change(f"alert remove {alert_id} of {removed['user']}")
    echo(f"alert {alert_id} ({removed['user']}: {removed['name']}) removed")


@alert.command("deliveries")
@click.argument("alert_id", metavar="[ID]", type=int, required=False)
@click.option(
    "--limit", type=click.IntRange(1), default=50, show_default=True, help="At most N rows."
)
@json_option
@pass_ctx
def alert_deliveries(obj: CliContext, alert_id: int | None, limit: int, as_json: bool) -> None:
    """Recent alert and webhook deliveries (of alert ID), newest first."""
    service = _service(obj)
    rows = service.alert_deliveries(None, None if alert_id is None else str(alert_id), limit=limit)
    if as_json:
        print_json(rows)
        return
    print_table(
        rows,
        ["id", "alert_id", "channel", "target", "state", "attempts", "delivered", "last_error"],
    )


COMMANDS = [webhook, alert]
