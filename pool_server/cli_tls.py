"""`pool-server tls set` and `tls show`: the certificate FTPS (and HTTPS) serve."""

from __future__ import annotations

from pathlib import Path

import click

from .cli import CliContext, json_option, pass_ctx, print_json
from .tls import CertificateInfo, check_pair, install


@click.group()
def tls() -> None:
    """The pool's TLS certificate (FTPS, and HTTPS with [http] tls)."""


def _print(info: CertificateInfo, where: Path) -> None:
    click.echo(f"certificate: {where}")
    click.echo(f"subject:     {info.subject}")
    click.echo(f"issuer:      {info.issuer}{'  (self-signed)' if info.self_signed else ''}")
    click.echo(f"valid until: {info.not_after:%Y-%m-%d %H:%M} UTC")
    click.echo(f"fingerprint: {info.fingerprint}")
    click.echo(f"key pin:     {info.public_key_pin}   (curl --pinnedpubkey)")
    if info.chain_length > 1:
        click.echo(f"chain:       {info.chain_length} certificates")


def _as_dict(info: CertificateInfo, where: Path) -> dict[str, object]:
    return {
        "path": str(where),
        "subject": info.subject,
        "issuer": info.issuer,
        "self_signed": info.self_signed,
        "valid_until": info.not_after.isoformat(),
        "fingerprint": info.fingerprint,
        "public_key_pin": info.public_key_pin,
        "chain_length": info.chain_length,
    }


@tls.command("set")
@click.argument("cert", type=click.Path(dir_okay=False, exists=True))
@click.argument("key", type=click.Path(dir_okay=False, exists=True))
@json_option
@pass_ctx
def tls_set(obj: CliContext, cert: str, key: str, as_json: bool) -> None:
    """Serve CERT (PEM, with its intermediates) and KEY (PEM, unencrypted) from now on.

    Checked first (readable, key matches, not expired); a running server uses them
    for every new FTPS and HTTPS connection, without a restart. Sessions already open
    keep theirs.
    """
    ftp = obj.pool.config.section("ftp")
    cert_dest, key_dest = obj.data.path / ftp["tls_cert"], obj.data.path / ftp["tls_key"]
    for dest in (cert_dest, key_dest):
        if dest.is_symlink() or not dest.resolve().is_relative_to(obj.data.path.resolve()):
            raise click.ClickException(
                f"{obj.pool.config.source} points at {dest}, outside the data folder: "
                "renew that file where it is (the server reloads it by itself), or point "
                "[ftp] tls_cert/tls_key back into the data folder to use `tls set`"
            )
    info = install(Path(cert), Path(key), cert_dest, key_dest)
    obj.admin_change(f"tls set: {info.fingerprint} ({info.subject})")
    if as_json:
        print_json(_as_dict(info, cert_dest))
        return
    _print(info, cert_dest)
    click.echo("installed: new FTPS and HTTPS connections use it now, no restart needed")


@tls.command("show")
@json_option
@pass_ctx
def tls_show(obj: CliContext, as_json: bool) -> None:
    """The certificate the pool serves, its fingerprint and public-key pin."""
    ftp = obj.pool.config.section("ftp")
    cert_path, key_path = obj.data.path / ftp["tls_cert"], obj.data.path / ftp["tls_key"]
    info = check_pair(cert_path, key_path)
    if as_json:
        print_json(_as_dict(info, cert_path))
        return
    _print(info, cert_path)


COMMANDS = [tls]
