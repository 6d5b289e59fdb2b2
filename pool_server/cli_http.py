"""`pool-server token`: API tokens for the web door's JSON API (Bearer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .cli import CliContext, json_option, pass_ctx, print_json, print_table
from .errors import NotFound

if TYPE_CHECKING:
    from .http.auth import Tokens


def _tokens(obj: CliContext) -> Tokens:
    from .http.auth import Tokens, ensure_schema

    ensure_schema(obj.pool.store)
    return Tokens(obj.pool.store)


@click.group("token")
def token_group() -> None:
    """API tokens for `Authorization: Bearer` on the JSON API."""


@token_group.command("create")
@click.argument("user")
@click.option(
    "--expires", default=None, help="Lifetime, e.g. 90d, 12h, 4w, 1y (default: [http] token_days)."
)
@click.option("--name", default=None, help="A label to tell tokens apart (e.g. 'newsroom-sync').")
@json_option
@pass_ctx
def token_create(
    obj: CliContext, user: str, expires: str | None, name: str | None, as_json: bool
) -> None:
    """Issue a token for USER; it is shown once and stored only as a hash."""
    from datetime import timedelta

    from .http.auth import parse_expiry

    account = obj.pool.accounts.find_user(user)
    if account is None:
        raise NotFound(f"no user {user!r}")
    days = obj.pool.config.get("http", "token_days")
    lifetime = parse_expiry(expires) if expires else timedelta(days=days)
    secret, row = _tokens(obj).create(user, lifetime, name)
    obj.admin_change(f"token create {user} id {row['id']} expires {row['expires']}")
    if as_json:
        print_json({**row, "token": secret})
        return
    click.echo(f"token {row['id']} for {user}, expires {row['expires']} (shown only this once):")
    click.echo(secret)


@token_group.command("list")
@click.argument("user", required=False)
@json_option
@pass_ctx
def token_list(obj: CliContext, user: str | None, as_json: bool) -> None:
    """Tokens (of USER, or everyone's) with their state; never the secrets."""
    rows = _tokens(obj).list(user)
    if as_json:
        print_json(rows)
        return
    print_table(rows, ["id", "user", "name", "state", "created", "expires", "last_used"])


@token_group.command("revoke")
@click.argument("token_id", type=int)
@pass_ctx
def token_revoke(obj: CliContext, token_id: int) -> None:
    """Revoke token TOKEN_ID at once (on every running door)."""
    row = _tokens(obj).revoke(token_id)
    obj.admin_change(f"token revoke {token_id} ({row['user']})")
    click.echo(f"token {token_id} of {row['user']} revoked")


COMMANDS = [token_group]
