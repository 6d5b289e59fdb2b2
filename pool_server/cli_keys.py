"""`pool-server user key add|list|remove`: SSH public keys for SFTP logins."""

from __future__ import annotations

from typing import IO

import click

from .cli import CliContext, json_option, pass_ctx, print_json, print_table
from .terminal import echo
from .userkeys import UserKeys


def _keys(obj: CliContext) -> UserKeys:
    return UserKeys(obj.pool.store, obj.pool.accounts)


@click.group("key")
def key_group() -> None:
    """SSH public keys a user may log in with over SFTP."""


@key_group.command("add")
@click.argument("name")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@pass_ctx
def key_add(obj: CliContext, name: str, file: IO[str]) -> None:
    """Add the keys in FILE (an OpenSSH .pub file or authorized_keys lines; '-' reads
    stdin) for user NAME."""
    rows = obj.admin.add_keys(name, file.read())
    for row in rows:
        echo(f"added {row['key_type']} key {row['fingerprint']} for {name}")


@key_group.command("list")
@click.argument("name")
@json_option
@pass_ctx
def key_list(obj: CliContext, name: str, as_json: bool) -> None:
    """List user NAME's SSH keys with their SHA256 fingerprints."""
    rows = _keys(obj).list(name)
    if as_json:
        print_json(rows)
        return
    if not rows:
        echo(f"user {name} has no SSH keys")
        return
    print_table(rows, ["fingerprint", "key_type", "comment", "added"])


@key_group.command("remove")
@click.argument("name")
@click.argument("fingerprint")
@pass_ctx
def key_remove(obj: CliContext, name: str, fingerprint: str) -> None:
    """Remove user NAME's key with FINGERPRINT (as `key list` shows it)."""
    obj.admin.remove_key(name, fingerprint)
    echo(f"removed key {fingerprint} from {name}")
