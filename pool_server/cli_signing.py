"""`pool-server key rotate|list` (the pool's signing key) and `pool-server member key
add|list|revoke` (members' signing keys)."""

from __future__ import annotations

from typing import IO

import click

from .cli import CliContext, echo, json_option, pass_ctx, print_json, print_table
from .signing_keys import MemberSigningKeys, pool_signer


@click.group("key")
def pool_key() -> None:
    """The pool's signing key (Ed25519): it signs every manifest and the feed's head."""


@pool_key.command("rotate")
@pass_ctx
def key_rotate(obj: CliContext) -> None:
    """Make a new signing key, announced by the current one, which retires.

    Items signed by the old key still verify: the published key list keeps each key with
    its validity period. The running indexer takes the new key at once."""
    old, new = pool_signer(obj.pool.data.signing_dir).rotate()
    obj.admin_change(f"key rotate {old} -> {new}")
    echo(f"retired {old}\nnew signing key {new}")


@pool_key.command("list")
@json_option
@pass_ctx
def key_list(obj: CliContext, as_json: bool) -> None:
    """The pool's signing keys, oldest first, with their validity periods."""
    signer = pool_signer(obj.pool.data.signing_dir)
    rows = [
        {
            "fingerprint": k.fingerprint,
            "valid_from": k.valid_from,
            "valid_until": k.valid_until or "(current)",
        }
        for k in signer.keys
    ]
    if as_json:
        print_json(rows)
        return
    print_table(rows, ["fingerprint", "valid_from", "valid_until"])


@click.group("key")
def member_key() -> None:
    """Members' signing keys, checked against `pool put --sign` signatures."""


def _keys(obj: CliContext) -> MemberSigningKeys:
    return MemberSigningKeys(obj.pool.store, obj.pool.accounts)


@member_key.command("add")
@click.argument("code")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@pass_ctx
def member_key_add(obj: CliContext, code: str, file: IO[str]) -> None:
    """Register the Ed25519 public key in FILE (as `pool keygen` writes it; '-' reads
    stdin) for member CODE."""
    row = _keys(obj).add(code, file.read())
    obj.admin_change(f"member key add {code} {row['fingerprint']}")
    echo(f"added signing key {row['fingerprint']} for member {code}")


@member_key.command("list")
@click.argument("code")
@json_option
@pass_ctx
def member_key_list(obj: CliContext, code: str, as_json: bool) -> None:
    """Member CODE's signing keys (revoked ones with the time of revocation)."""
    rows = _keys(obj).list(code)
    if as_json:
        print_json(rows)
        return
    if not rows:
        echo(f"member {code} has no signing keys")
        return
    print_table(rows, ["fingerprint", "comment", "added", "revoked"])


@member_key.command("revoke")
@click.argument("code")
@click.argument("fingerprint")
@pass_ctx
def member_key_revoke(obj: CliContext, code: str, fingerprint: str) -> None:
    """Revoke member CODE's key FINGERPRINT: signatures made with it no longer count."""
    _keys(obj).revoke(code, fingerprint)
    obj.admin_change(f"member key revoke {code} {fingerprint}")
    echo(f"revoked signing key {fingerprint} of member {code}")


COMMANDS = [pool_key]
