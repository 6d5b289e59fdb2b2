"""Admin commands: members, users, quotas, bans and the audit trail."""

from __future__ import annotations

import os
import sys

import click

from catalog.units import format_size, parse_when

from .accounts import check_display_name
from .cli import CliContext, json_option, parsed, pass_ctx, print_json, print_table
from .cli_keys import key_group
from .errors import UsageError
from .quota import parse_size, tree_size
from .terminal import echo

DISPLAY_NAME_HELP = (
    "Name the published catalog shows for this user's uploads (e.g. 'TRT Haber "
    "desk'); the login name is never published. Default: the member's name."
)

# --- members


@click.group()
def member() -> None:
    """Members: the broadcasters and agencies that share the pool."""


@member.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Full name, e.g. 'Türkiye Radyo-Televizyon'.")
@click.option("--country", default=None, help="Two-letter ISO country code, e.g. TR.")
@pass_ctx
def member_add(obj: CliContext, code: str, name: str, country: str | None) -> None:
    """Add member CODE and make its area /CODE/ in the pool."""
    obj.admin.add_member(code, name, country)
    echo(f"member {code} added; its area is /{code}/")


@member.command("list")
@json_option
@pass_ctx
def member_list(obj: CliContext, as_json: bool) -> None:
    """List members with their quota and the space their area uses."""
    rows = []
    for m in obj.pool.accounts.list_members():
        used = tree_size(obj.data.pool_root / m["code"])
        rows.append({**m, "used_bytes": used})
    if as_json:
        print_json(rows)
        return
    print_table(
        [
            {
                **r,
                "quota": format_size(r["quota_bytes"]) if r["quota_bytes"] else "unlimited",
                "used": format_size(r["used_bytes"]),
            }
            for r in rows
        ],
        ["code", "name", "country", "quota", "used"],
    )


@member.command("remove")
@click.argument("code")
@pass_ctx
def member_remove(obj: CliContext, code: str) -> None:
    """Remove member CODE (refused while it has users or files)."""
    obj.admin.remove_member(code)
    echo(f"member {code} removed")


# --- quotas


@click.group()
def quota() -> None:
    """Storage quotas of members' areas."""


@quota.command("set")
@click.argument("code")
@click.argument("size")
@pass_ctx
def quota_set(obj: CliContext, code: str, size: str) -> None:
    """Set member CODE's quota to SIZE (e.g. 500G, 2T; 0 = unlimited)."""
    nbytes = parse_size(size)
    obj.admin.set_quota(code, nbytes)
    echo(f"quota of {code}: {format_size(nbytes) if nbytes else 'unlimited'}")


# --- users


def _read_password(stdin: bool, env: str | None) -> str:
    """From stdin, an environment variable, or a prompt (twice) — never from argv."""
    if stdin and env:
        raise UsageError("use either --password-stdin or --password-env, not both")
    if stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if env:
        value = os.environ.get(env)
        if value is None:
            raise UsageError(f"environment variable {env} is not set")
        return value
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def password_options(f):
    f = click.option(
        "--password-env",
        metavar="VAR",
        default=None,
        help="Read the password from environment variable VAR.",
    )(f)
    return click.option(
        "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
    )(f)


@click.group()
def user() -> None:
    """Users: admins, members' contributors and newsroom readers."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "contributor", "reader"]),
    help="admin: everything; contributor: writes in its member's area; "
    "reader: lists and downloads.",
)
@click.option("--member", default=None, help="Member CODE (required for a contributor).")
@click.option("--display-name", default=None, help=DISPLAY_NAME_HELP)
@password_options
@pass_ctx
def user_add(
    obj: CliContext,
    name: str,
    role: str,
    member: str | None,
    display_name: str | None,
    password_stdin: bool,
    password_env: str | None,
) -> None:
    """Add user NAME with a role (the password is never taken from the command line)."""
    accounts = obj.pool.accounts
    # Check everything that needs no password first, so a prompt is not wasted.
    if role == "contributor" and not member:
        raise UsageError("a contributor must belong to a member: add --member CODE")
    if member:
        accounts.get_member(member)
    if accounts.find_user(name) is not None:
        raise UsageError(f"user {name} already exists")
    display_name = check_display_name(display_name)
    password = _read_password(password_stdin, password_env)
    obj.admin.add_user(name, role, member, password, display_name)
    echo(f"user {name} added ({role}{', member ' + member if member else ''})")


@user.command("list")
@json_option
@pass_ctx
def user_list(obj: CliContext, as_json: bool) -> None:
    """List users."""
    rows = obj.pool.accounts.list_users()
    if as_json:
        print_json(rows)
        return
    print_table(
        [{**r, "disabled": "yes" if r["disabled"] else ""} for r in rows],
        ["name", "role", "member", "display_name", "disabled", "keys", "last_login"],
    )


@user.command("show")
@click.argument("name")
@json_option
@pass_ctx
def user_show(obj: CliContext, name: str, as_json: bool) -> None:
    """Show one user."""
    info = obj.pool.accounts.user_info(name)
    if as_json:
        print_json(info)
        return
    for key, value in info.items():
        echo(f"{key}: {'' if value is None else value}")


def _toggle(name: str, disabled: bool) -> click.Command:
    verb = "disable" if disabled else "enable"

    @click.command(verb, help=f"{verb.capitalize()} user NAME's logins.")
    @click.argument("name")
    @pass_ctx
    def command(obj: CliContext, name: str) -> None:
        obj.admin.set_disabled(name, disabled)
        echo(f"user {name} {verb}d")

    return command


user.add_command(_toggle("disable", True))
user.add_command(_toggle("enable", False))


@user.command("passwd")
@click.argument("name")
@password_options
@pass_ctx
def user_passwd(obj: CliContext, name: str, password_stdin: bool, password_env: str | None) -> None:
    """Set user NAME's password."""
    obj.pool.accounts.get_user(name)
    obj.admin.set_password(name, _read_password(password_stdin, password_env))
    echo(f"password of {name} changed")


@user.command("set")
@click.argument("name")
@click.option("--display-name", required=True, help=DISPLAY_NAME_HELP + " '' for the default.")
@pass_ctx
def user_set(obj: CliContext, name: str, display_name: str) -> None:
    """Change user NAME's settings: the name the catalog shows for its uploads."""
    shown = obj.admin.set_display_name(name, display_name)
    echo(
        f"uploads of {name} are shown as {shown!r}"
        if shown
        else f"uploads of {name} are shown under its member's name"
    )


@user.command("remove")
@click.argument("name")
@pass_ctx
def user_remove(obj: CliContext, name: str) -> None:
    """Remove user NAME (its files stay in its member's area)."""
    obj.admin.remove_user(name)
    echo(f"user {name} removed")


# --- bans and audit


@click.command()
@json_option
@pass_ctx
def bans(obj: CliContext, as_json: bool) -> None:
    """List addresses banned and account names locked for failed logins."""
    rows = obj.pool.defender.bans()
    if as_json:
        print_json(rows)
        return
    if not rows:
        echo("no address is banned and no name is locked")
        return
    print_table(rows, ["ip", "user", "until", "offences", "reason"])


@click.command()
@click.argument("ip", required=False)
@click.option("--user", "user_", default=None, help="Lift the lock on this account name.")
@pass_ctx
def unban(obj: CliContext, ip: str | None, user_: str | None) -> None:
    """Lift the ban on address IP (or, with --user, the lock on an account name)."""
    if (ip is None) == (user_ is None):
        raise click.UsageError("give an address IP or --user NAME")
    if user_ is not None:
        obj.admin.unlock(user_)
        echo(f"{user_} unlocked")
        return
    assert ip is not None
    obj.admin.unban(ip)
    echo(f"{ip} unbanned")


@click.command()
@click.option("--since", default=None, help="Events since: 12h, 30d (ago) or 2026-11-01.")
@click.option("--user", "user_", default=None, help="Only this user's events.")
@click.option(
    "--action",
    default=None,
    help="Only this action (login, upload, download, delete, rename, mkdir, rmdir, admin...).",
)
@click.option("--limit", type=int, default=None, help="At most this many events.")
@json_option
@pass_ctx
def audit(
    obj: CliContext,
    since: str | None,
    user_: str | None,
    action: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Show the audit trail: logins, transfers, changes, admin actions."""
    rows = obj.pool.audit.query(parsed(parse_when, since, "--since"), user_, action, limit)
    if as_json:
        print_json(rows)
        return
    print_table(
        rows, ["time", "user", "ip", "protocol", "action", "path", "bytes", "status", "detail"]
    )


COMMANDS = [member, quota, user, bans, unban, audit]

user.add_command(key_group)
