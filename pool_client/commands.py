"""The `pool` commands: thin click commands over the library.

Errors become one line on stderr and an exit code (`errors.ExitCode`) in one place,
`PoolGroup.invoke`; `--debug` adds the traceback.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from catalog.units import format_duration, format_size

from . import output
from .app import App
from .cli_common import app_of, make_query, query_options
from .commands_alert import alert
from .commands_transfer import get, preview, put, sync
from .config import keyring_store, parse_url, save_profile
from .errors import ClientError, ExitCode, NotFound, Unsupported
from .localcat import find_item


class PoolGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClientError as exc:
            self._fail(ctx, f"pool: {exc}", exc.exit_code)
        except KeyboardInterrupt:
            self._fail(
                ctx,
                "pool: interrupted; partial downloads are kept (NAME.part) and "
                "resume on the next run",
                ExitCode.INTERRUPTED,
            )
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            self._fail(
                ctx,
                f"pool: unexpected error: {type(exc).__name__}: {exc} "
                "(run with --debug for details and report it)",
                ExitCode.ERROR,
            )

    @staticmethod
    def _fail(ctx: click.Context, message: str, code: int) -> None:
        app = ctx.obj if isinstance(ctx.obj, App) else None
        if app is not None and app.debug:
            import traceback  # only here: a run that goes well never needs it

            traceback.print_exc()
        click.echo(message, err=True)
        ctx.exit(int(code))


@click.group(cls=PoolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--profile",
    metavar="NAME",
    help="Profile to use (default: $POOL_PROFILE, else $POOL_URL, else the default profile).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, profile: str | None, password_stdin: bool, debug: bool) -> None:
    """Ortak pool client: update the catalog, search it offline, get, sync and put items
    over FTP, FTPS or SFTP."""
    app = ctx.ensure_object(App)
    app.profile, app.password_stdin, app.debug = profile, password_stdin, debug
    app.echo_err = lambda m: click.echo(m, err=True)
    ctx.call_on_close(app.close)


# -- login ---------------------------------------------------------------------------


@cli.command()
@click.argument("url")
@click.option("--profile", "name", metavar="NAME", help="Profile name (default: the host).")
@click.option("--user", metavar="USER", help="User name (default: from the URL).")
@click.option(
    "--member",
    metavar="CODE",
    help="Member area `pool put` uploads into (default: yours, as the pool says).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def login(
    ctx: click.Context,
    url: str,
    name: str | None,
    user: str | None,
    member: str | None,
    password_stdin: bool,
) -> None:
    """Check a connection (ftp, ftps, sftp, http or https://HOST:PORT); save it as a profile."""
    app = app_of(ctx)
    app.password_stdin = app.password_stdin or password_stdin
    endpoint = parse_url(url, user or None)
    parent = ctx.parent.params if ctx.parent else {}
    endpoint = replace(endpoint, name=name or parent.get("profile") or endpoint.host)
    remote = app.remote_for(endpoint)
    try:
        t = remote.transport()
        try:
            said = t.control("whoami")
            who = f" ({said.get('role')}" + (
                f" of {said['member']})" if said.get("member") else ")"
            )
        except Unsupported:
            who = ""  # not an Ortak pool, or an older one: nothing more to say
    finally:
        remote.close()
    path = save_profile(endpoint, make_default=True, member=member)
    stored = ""
    if (app.password_stdin or sys.stdin.isatty()) and keyring_store(endpoint, remote.password):
        stored = "; password kept in the OS keyring"
    click.echo(
        f"logged in to {endpoint.url} as {endpoint.user}{who}; profile "
        f"{endpoint.name!r} saved in {path}{stored}"
    )


# -- catalog -------------------------------------------------------------------------


@cli.command()
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def update(ctx: click.Context, json_out: bool) -> None:
    """Bring the local catalog up to date from the pool's published feed."""
    app = app_of(ctx)
    result = app.catalog.update(app.remote)
    if json_out:
        output.emit_json({**result.as_dict(), "requests": app.remote.ops()})
        return
    if result.seq == result.previous_seq:
        click.echo(f"catalog up to date (seq {result.seq})")
        return
    how = "snapshot + journal" if result.snapshot else "journal"
    click.echo(
        f"{result.added} added, {result.changed} changed, {result.removed} removed "
        f"(seq {max(result.previous_seq, 0)} → {result.seq}, from the {how})"
    )


@cli.command()
@click.argument("query", nargs=-1)
@query_options
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def search(
    ctx: click.Context, query: tuple[str, ...], limit: int, json_out: bool, **kw: Any
) -> None:
    """Search the local catalog (offline; run `pool update` first)."""
    from .query import search as run_search

    app = app_of(ctx)
    q = make_query(query, kw)
    with app.catalog.open() as db:
        rows = run_search(db, q, limit)
    if json_out:
        output.emit_json(rows)
        return
    if not rows:
        click.echo("no items match", err=True)
        return
    output.table(
        [
            {
                **r,
                "duration": format_duration(r.get("duration")),
                "size": format_size(r.get("size")),
                "languages": ",".join(r.get("languages") or []),
                "uploaded": (r.get("uploaded") or "")[:10],
            }
            for r in rows
        ],
        [
            ("id", "ID"),
            ("title", "TITLE"),
            ("member", "MEMBER"),
            ("category", "CATEGORY"),
            ("languages", "LANG"),
            ("duration", "DURATION"),
            ("size", "SIZE"),
            ("uploaded", "UPLOADED"),
        ],
    )


@cli.command()
@click.argument("item")
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def show(ctx: click.Context, item: str, json_out: bool) -> None:
    """Every field of an item (an id from search, or a pool path)."""
    app = app_of(ctx)
    with app.catalog.open() as db:
        row = find_item(db, item)
    if row is None:
        raise NotFound(f"{item}: no such item in the local catalog (run `pool update`?)")
    if json_out:
        output.emit_json(row)
        return
    for key, value in row.items():
        if key in ("rid", "attachments", "audio") or value in (None, "", []):
            continue
        if key == "size":
            value = f"{value} ({format_size(value)})"
        elif key == "duration":
            value = f"{value} ({format_duration(value)})"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        click.echo(f"{key:>20}: {value}")
    for track in row.get("audio") or []:
        click.echo(f"{'audio':>20}: " + ", ".join(f"{k}={v}" for k, v in track.items()))
    for att in row.get("attachments") or []:
        extra = f" [{att['language']}]" if att.get("language") else ""
        click.echo(
            f"{'attachment':>20}: {att['path']} ({att.get('role')}{extra}, "
            f"{format_size(att.get('size'))})"
        )


@cli.command("ls")
@click.argument("path", default="/")
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def ls_command(ctx: click.Context, path: str, json_out: bool) -> None:
    """List a folder of the pool."""
    app = app_of(ctx)
    remote = app.remote
    t = remote.transport()
    path = "/" + path.strip("/")
    entries = remote.retrying(lambda: t.list(path))
    if json_out:
        output.emit_json(
            [
                {
                    "name": e.name,
                    "path": e.path,
                    "type": "dir" if e.is_dir else "file",
                    "size": e.size,
                    "mtime": e.mtime,
                }
                for e in entries
            ]
        )
        return
    for e in entries:
        size = "" if e.is_dir else format_size(e.size)
        click.echo(f"{'d' if e.is_dir else '-'} {size:>10}  {e.name}{'/' if e.is_dir else ''}")


@cli.command()
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def whoami(ctx: click.Context, json_out: bool) -> None:
    """Who the pool says you are: user, role, member, and the pool's fingerprints."""
    app = app_of(ctx)
    remote = app.remote
    t = remote.transport()
    answer = remote.retrying(lambda: t.control("whoami"))
    if json_out:
        output.emit_json(answer)
        return
    member = answer.get("member")
    if member and answer.get("member_name"):
        member = f"{member} ({answer['member_name']})"
    rows = [
        ("user", answer.get("user")),
        ("role", answer.get("role")),
        ("member", member or "-"),
        ("connected", f"{app.endpoint.url} ({answer.get('protocol')})"),
        ("tls certificate", answer.get("tls_certificate") or "-"),
        ("tls valid until", answer.get("tls_valid_until") or "-"),
        *(("ssh host key", key) for key in answer.get("ssh_host_keys") or []),
    ]
    for key, value in rows:
        click.echo(f"{key:>16}: {value}")


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def verify(ctx: click.Context, folder: str, json_out: bool) -> None:
    """Re-hash the files in FOLDER against the local catalog's sha256."""
    from .errors import IntegrityError
    from .verify import verify_folder

    app = app_of(ctx)
    with app.catalog.open() as db:
        checked = verify_folder(db, Path(folder))
    if json_out:
        output.emit_json([c.as_dict() for c in checked])
    else:
        for c in checked:
            click.echo(f"{c.status:>8}  {c.name}" + (f"  ({c.item})" if c.item else ""))
    bad = [c.name for c in checked if c.status == "mismatch"]
    if bad:
        raise IntegrityError(
            f"{len(bad)} file(s) differ from the catalog: {', '.join(bad)}; "
            "fetch them again with `pool get`"
        )


for _command in (get, sync, put, alert, preview):
    cli.add_command(_command)
