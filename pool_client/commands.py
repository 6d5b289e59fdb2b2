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
from .errors import ClientError, ExitCode, NotFound, ProvenanceError
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
        output.echo(message, err=True)
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
    app.echo_err = lambda m: output.echo(m, err=True)
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
        except ClientError:  # not an Ortak pool, an older one, a refusal: login is fine
            who = ""
        pinned = _pin_pool_key(remote, t)
    finally:
        remote.close()
    path = save_profile(endpoint, make_default=True, member=member)
    stored = ""
    if (app.password_stdin or sys.stdin.isatty()) and keyring_store(endpoint, remote.password):
        stored = "; password kept in the OS keyring"
    output.echo(
        f"logged in to {endpoint.url} as {endpoint.user}{who}; profile "
        f"{endpoint.name!r} saved in {path}{stored}"
    )
    output.echo(pinned)


def _pin_pool_key(remote: Any, t: Any) -> str:
    """Pin the pool's signing key on first use; a key it did not announce is refused."""
    from .config import cache_dir
    from .poolkeys import KEYS_PATH, trust_for

    trust = trust_for(remote, cache_dir() / remote.endpoint.cache_key)
    try:
        raw = remote.retrying(lambda: t.read_bytes(KEYS_PATH))
    except NotFound:
        return "the pool publishes no signing key: its catalog is not signed"
    keys = trust.accept(raw, at_login=True)
    return f"the pool's signing key: {keys[-1].fingerprint}"


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
        output.echo(f"catalog up to date (seq {result.seq})")
        return
    how = "snapshot + journal" if result.snapshot else "journal"
    output.echo(
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
        output.echo("no items match", err=True)
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
        output.echo(f"{key:>20}: {value}")
    for track in row.get("audio") or []:
        output.echo(f"{'audio':>20}: " + ", ".join(f"{k}={v}" for k, v in track.items()))
    for att in row.get("attachments") or []:
        extra = f" [{att['language']}]" if att.get("language") else ""
        output.echo(
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
        output.echo(f"{'d' if e.is_dir else '-'} {size:>10}  {e.name}{'/' if e.is_dir else ''}")


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
        ("tls key pin", answer.get("tls_public_key_pin") or "-"),
        ("tls valid until", answer.get("tls_valid_until") or "-"),
        *(("ssh host key", key) for key in answer.get("ssh_host_keys") or []),
        ("signing key", answer.get("signing_key") or "-"),
    ]
    for key, value in rows:
        output.echo(f"{key:>16}: {value}")


@cli.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def verify(ctx: click.Context, path: str, json_out: bool) -> None:
    """Check files offline against what the pool signed.

    PATH a folder: re-hash every file and check it, its item's manifest and signatures
    (exit 5 naming any file that differs). PATH a file: say which item and version it
    is, who contributed and signed it, or that the pool never published it (exit 5)."""
    from .errors import IntegrityError
    from .verify import identify_file, verify_folder

    app = app_of(ctx)
    checker = app.checker(online=False)
    target = Path(path)
    if target.is_file():
        with app.catalog.open() as db:
            sha, found = identify_file(db, target, checker)
            seq = app.catalog.seq()
        if json_out:
            output.emit_json(
                {"file": str(target), "sha256": sha, "published": [o.as_dict() for o in found]}
            )
        if not found:
            raise ProvenanceError(
                f"{target.name}: the pool never published this file (sha256 {sha}; "
                f"catalog at seq {seq}: `pool update` first if it may be new)"
            )
        if not json_out:
            _describe_origins(target.name, sha, found)
        if not any(o.pool_signature == "verified" for o in found) and checker.required:
            raise ProvenanceError(f"{target.name}: {found[0].pool_signature}")
        return
    with app.catalog.open() as db:
        checked = verify_folder(db, target, checker)
    if json_out:
        output.emit_json([c.as_dict() for c in checked])
    else:
        for c in checked:
            where = (
                f"  ({c.item} v{c.version})" if c.version else (f"  ({c.item})" if c.item else "")
            )
            extra = f"  {c.detail}" if c.detail else ""
            output.echo(f"{c.status:>17}  {c.name}{where}{extra}")
    bad = [c.name for c in checked if c.status in ("mismatch", "signature invalid")]
    if bad:
        raise IntegrityError(
            f"{len(bad)} file(s) differ from what the pool signed: {', '.join(bad)}; "
            "fetch them again with `pool get`"
        )


def _describe_origins(name: str, sha: str, found: list) -> None:
    output.echo(f"{name}  sha256 {sha}")
    for o in found:
        current = (
            ""
            if o.current_version in (None, o.version)
            else f" (superseded by version {o.current_version})"
        )
        output.echo(f"  item {o.item} version {o.version}{current}: {o.path}")
        output.echo(f"    contributed by {o.member}, uploaded {o.uploaded or '?'}")
        output.echo(f"    signed by the pool ({o.pool_key}): {o.pool_signature}")
        ms = o.member_signature
        who = f" ({ms['key']})" if ms.get("key") else ""
        why = f": {ms['reason']}" if ms.get("reason") else ""
        output.echo(f"    member signature: {ms.get('status', 'unsigned')}{who}{why}")


@cli.command()
@click.option(
    "--force", is_flag=True, help="Replace an existing key (the old one stops being usable)."
)
@click.pass_context
def keygen(ctx: click.Context, force: bool) -> None:
    """Make a signing key for `pool put --sign` (Ed25519).

    The private key stays in your config folder (0600), or in the OS keyring when one is
    available; give the public key file to the pool's operator for
    `pool-server member key add CODE FILE`."""
    from .signkey import generate

    made = generate(force=force)
    output.echo(f"signing key {made.fingerprint}")
    output.echo(f"private key kept {made.where}")
    output.echo(f"public key: {made.public_path}")
    output.echo(
        "ask the pool's operator to register it: "
        f"pool-server member key add <MEMBER> {made.public_path.name}"
    )


for _command in (get, sync, put, alert, preview):
    cli.add_command(_command)
