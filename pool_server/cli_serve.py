"""`pool-server init`, `serve` and `info`."""

from __future__ import annotations

import time

import click

from .cli import CliContext, json_option, pass_ctx, print_json
from .init import initialise
from .samples import SamplesResult
from .serve import ServeOptions, Server


@click.command()
@click.option(
    "--demo",
    is_flag=True,
    help="Add six demo members with users (passwords printed once and kept in "
    "demo-passwords.txt) and a dozen sample items.",
)
@click.option(
    "--samples/--no-samples",
    default=True,
    show_default=True,
    help="With --demo: make the sample items (short generated clips with sidecars).",
)
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, exists=True),
    help="Serve this certificate (PEM, with its intermediates) instead of a self-signed one.",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, exists=True),
    help="The private key (PEM, unencrypted) of --tls-cert.",
)
@pass_ctx
def init(
    obj: CliContext, demo: bool, samples: bool, tls_cert: str | None, tls_key: str | None
) -> None:
    """Make the data folder: pool.toml, pool.db, TLS certificate, SSH host keys.

    Running it again completes what is missing and never destroys anything.
    """
    from pathlib import Path

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    started = time.monotonic()
    tls = (Path(tls_cert), Path(tls_key)) if tls_cert and tls_key else None
    result = initialise(obj.data, demo=demo, samples=samples, tls=tls)
    for item in result.created:
        click.echo(f"created {item}")
    made = result.samples.made if result.samples else []
    if not result.created and not result.passwords and not made:
        click.echo(f"{obj.data.path} is already initialised; nothing changed")
    if result.samples is not None:
        _report_samples(result.samples)
        if result.samples.made:
            from .cli_catalog import index_once

            stats = index_once(obj)
            click.echo(
                f"catalogued: {stats['processed']} files indexed, {stats['errors']} errors; "
                "the published catalog is ready for `pool update`"
            )
    if result.passwords:
        click.echo("\nDemo users (passwords are shown only this once):")
        for user, (password, role, member) in result.passwords.items():
            click.echo(f"  {user:<14} {role:<12} {member or '-':<6} {password}")
        if result.passwords_file is not None:
            click.echo(f"\nThe passwords are also in {result.passwords_file} (mode 0600).")
    if demo or result.created:
        obj.admin_change(
            f"init{' --demo' if demo else ''}: {len(result.created)} created, "
            f"{len(made)} sample files"
        )
    click.echo(f"init took {time.monotonic() - started:.1f} s", err=True)


def _report_samples(samples: SamplesResult) -> None:
    if samples.made:
        essences = [p for p in samples.made if p.rsplit(".", 1)[-1] in ("mp4", "mxf", "mov", "m4a")]
        click.echo(
            f"\nsample items: {len(essences)} made with ffmpeg ({samples.ffmpeg}), "
            f"{len(samples.made)} files:"
        )
        for path in samples.made:
            click.echo(f"sample {path}")
    for note in samples.notes:
        click.echo(f"note: {note}", err=True)


@click.command()
@click.option(
    "--host", default=None, help="Address to listen on (default from pool.toml: 127.0.0.1)."
)
@click.option("--ftp-port", type=int, default=None, help="FTP port; 0 picks a free one.")
@click.option("--sftp-port", type=int, default=None, help="SFTP port; 0 picks a free one.")
@click.option(
    "--http-port", type=int, default=None, help="HTTP port of the web door; 0 picks a free one."
)
@click.option("--no-ftp", is_flag=True, help="Do not serve FTP/FTPS.")
@click.option("--no-sftp", is_flag=True, help="Do not serve SFTP.")
@click.option("--no-http", is_flag=True, help="Do not serve the web door (HTTP).")
@click.option("--no-indexer", is_flag=True, help="Do not run the catalog indexer.")
@click.option(
    "--auth-failed-delay",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds before answering a failed FTP login.",
)
@pass_ctx
def serve(
    obj: CliContext,
    host: str | None,
    ftp_port: int | None,
    sftp_port: int | None,
    http_port: int | None,
    no_ftp: bool,
    no_sftp: bool,
    no_http: bool,
    no_indexer: bool,
    auth_failed_delay: float,
) -> None:
    """Serve the pool over FTP/FTPS, SFTP and HTTP until SIGINT or SIGTERM.

    Writes <data>/serve.json with the process id and ports once listening.
    """
    cfg = obj.pool.config
    options = ServeOptions(
        host=host or cfg.get("server", "host"),
        ftp_port=None
        if no_ftp
        else (cfg.get("server", "ftp_port") if ftp_port is None else ftp_port),
        sftp_port=None
        if no_sftp
        else (cfg.get("server", "sftp_port") if sftp_port is None else sftp_port),
        http_port=None
        if no_http
        else (cfg.get("http", "port") if http_port is None else http_port),
        indexer=not no_indexer,
        auth_failed_delay=auth_failed_delay,
    )
    server = Server(obj.pool, options)
    try:
        server.start()
    except OSError as exc:
        server.shutdown()
        raise click.ClickException(f"cannot listen on {options.host}: {exc.strerror}")
    if server.http is not None:
        click.echo(f"Web door: {server.http.url}", err=True)
    server.run()


@click.command()
@json_option
@pass_ctx
def info(obj: CliContext, as_json: bool) -> None:
    """Where the pool lives, its listeners and the fingerprints of its keys."""
    from .fingerprints import describe

    data = describe(obj.pool)
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        if isinstance(value, list):
            click.echo(f"{key}:")
            for item in value:
                click.echo(f"  {item}")
        else:
            click.echo(f"{key}: {value}")


@click.command()
@click.argument("dest", type=click.Path(dir_okay=False, writable=True))
@pass_ctx
def backup(obj: CliContext, dest: str) -> None:
    """Copy pool.db consistently to DEST, safe while the server runs."""
    from pathlib import Path

    path = Path(dest)
    if path.resolve() == obj.data.db_path.resolve():
        raise click.UsageError("DEST must not be the live pool.db")
    obj.pool.store.backup(path)
    obj.admin_change(f"backup to {path}")
    click.echo(f"pool.db backed up to {path} (integrity check ok)")


COMMANDS = [init, serve, info, backup]
