"""The transfer commands: `pool get`, `pool sync` and `pool put` (thin: the work is in
`downloads`, `sync`, `put` and `transfer`)."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

from catalog.units import format_size

from . import output
from .app import App
from .cli_common import app_of, make_query, progress_for, query_options
from .errors import (
    ClientError,
    ExitCode,
    FeedError,
    NetworkError,
    NotFound,
    ProvenanceError,
    Unsupported,
    UsageError,
)
from .localcat import file_of, find_item, find_item_quick
from .query import parse_date
from .transfer import RateLimiter, parse_rate


def _lookup(app: App, refs: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    """Items for ids or pool paths; updates the catalog once if one is not known."""
    catalog = app.catalog
    if not catalog.exists:
        catalog.update(app.remote)
    found: list[tuple[str, dict[str, Any]]] = []
    missing: list[str] = []
    slow = []
    for ref in refs:
        item = find_item_quick(catalog.db_path, ref)
        if item is None:
            slow.append(ref)
        else:
            found.append((ref, item))
    if slow:
        with catalog.open() as db:
            for ref in slow:
                item = find_item(db, ref)
                if item is None:
                    missing.append(ref)
                else:
                    found.append((ref, item))
    if missing:
        catalog.update(app.remote)
        with catalog.open() as db:
            for ref in missing:
                item = find_item(db, ref)
                if item is None:
                    raise NotFound(
                        f"{ref}: no such item in the catalog (try `pool search`, "
                        "or an id such as TRT-0123456789)"
                    )
                found.append((ref, item))
    return found


# -- transfers -----------------------------------------------------------------------


def _transfer_options(f):
    f = click.option(
        "--bwlimit", metavar="RATE", help="Total bandwidth limit in bytes/s (500k, 10M, 1G)."
    )(f)
    f = click.option(
        "--parallel",
        type=click.IntRange(1, 16),
        default=2,
        show_default=True,
        help="Downloads at once (and connections at most).",
    )(f)
    return f


def _fail_worst(errors: list[ClientError]) -> None:
    if not errors:
        return
    order = [ExitCode.INTEGRITY, ExitCode.NOT_FOUND, ExitCode.AUTH, ExitCode.NETWORK]
    worst = min(
        errors, key=lambda e: order.index(e.exit_code) if e.exit_code in order else len(order)
    )
    for err in errors:
        if err is not worst:
            output.echo(f"pool: {err}", err=True)
    raise worst


@click.command()
@click.argument("items", nargs=-1, required=True)
@click.option(
    "--dest",
    type=click.Path(file_okay=False),
    default=".",
    help="Folder to download into (default: here).",
)
@click.option("--attachments", is_flag=True, help="Also sidecars, subtitles and scripts.")
@click.option(
    "--manifest",
    "with_manifest",
    is_flag=True,
    help="Also save the item's signed manifest (ID.manifest.json) for offline checks.",
)
@_transfer_options
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def get(
    ctx: click.Context,
    items: tuple[str, ...],
    dest: str,
    attachments: bool,
    with_manifest: bool,
    parallel: int,
    bwlimit: str | None,
    json_out: bool,
) -> None:
    """Download items (ids or pool paths): resumable; the manifest's signature and every
    file's sha256 are verified before a file takes its name."""
    from .downloads import Job, run_downloads
    from .provenance import bundle, read_manifests

    app = app_of(ctx)
    limiter = RateLimiter(parse_rate(bwlimit))
    folder = app.path(dest)
    jobs: list[Job] = []
    seen: set[str] = set()
    checker = app.checker()
    found = _lookup(app, items)
    manifests = read_manifests(app.catalog.db_path, [item["id"] for _, item in found])
    verified = "sha256"
    for ref, item in found:
        manifest, signature = manifests.get(item["id"], (None, None))
        expected = checker.expected_files(item, manifest, signature)
        if manifest is not None:
            verified = "signature+sha256"
        files = [file_of(item, ref)[0]]
        if attachments:
            files += [a["path"] for a in item.get("attachments") or []]
        if with_manifest and manifest is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{item['id']}.manifest.json").write_bytes(
                bundle(manifest, signature, checker.trust.cached_document())
            )
        for path in files:
            if path in seen:
                continue
            seen.add(path)
            if path not in expected:
                raise ProvenanceError(f"{item['id']}: {path} is not in the item's manifest")
            size, sha = expected[path]
            name = path.rsplit("/", 1)[-1]
            jobs.append(Job(path, folder / name, sha, size, name, tag=item["id"]))
    with progress_for(json_out) as disp:
        outcomes = run_downloads(
            app.remote,
            jobs,
            parallel=parallel,
            limiter=limiter,
            display=disp,
            on_retry=app.on_retry,
        )
    results = []
    for out in outcomes:
        row: dict[str, Any] = {
            "id": out.job.tag,
            "path": out.job.remote_path,
            "file": str(out.job.dest),
        }
        if out.result is not None:
            r = out.result
            row.update(
                ok=True,
                size=r.size,
                transferred=r.transferred,
                resumed_from=r.resumed_from,
                retried=r.retried,
                sha256=r.sha256,
                skipped=r.skipped,
                verified=verified if out.job.sha256 else "size",
            )
        else:
            row.update(ok=False, error=str(out.error))
        results.append(row)
    if json_out:
        output.emit_json({"files": results, "requests": app.remote.ops()})
    else:
        for row in results:
            if not row["ok"]:
                continue
            note = (
                "already here"
                if row["skipped"]
                else (
                    f"resumed at {format_size(row['resumed_from'])}" if row["resumed_from"] else ""
                )
            )
            if row["retried"]:
                note = "fetched again after a checksum mismatch"
            output.echo(
                f"{row['id']}  {row['file']}  {format_size(row['size'])}  "
                f"{row['verified']} ok" + (f"  ({note})" if note else "")
            )
    _fail_worst([o.error for o in outcomes if o.error is not None])


@click.command()
@click.option(
    "--dest", type=click.Path(file_okay=False), required=True, help="The folder to keep in sync."
)
@click.argument("query", nargs=-1)
@query_options
@click.option("--watch", is_flag=True, help="Repeat every --interval seconds until Ctrl-C.")
@click.option(
    "--interval", type=click.FloatRange(0.1), default=60.0, show_default=True, metavar="SECONDS"
)
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@click.option("--delete", is_flag=True, help="Remove files of withdrawn items.")
@_transfer_options
@click.option(
    "--json", "json_out", is_flag=True, help="Machine-readable output (JSON lines with --watch)."
)
@click.pass_context
def sync(
    ctx: click.Context,
    dest: str,
    query: tuple[str, ...],
    watch: bool,
    interval: float,
    dry_run: bool,
    delete: bool,
    parallel: int,
    bwlimit: str | None,
    json_out: bool,
    **kw: Any,
) -> None:
    """Keep DEST holding exactly the items matching QUERY and the filters."""
    import json as jsonlib

    from .sync import SyncInterrupted, SyncResult, sync_once
    from .sync import watch as watch_loop

    app = app_of(ctx)
    q = make_query(query, kw)
    limiter = RateLimiter(parse_rate(bwlimit))
    folder = app.path(dest)

    def run() -> SyncResult:
        with progress_for(json_out) as disp:
            return sync_once(
                app.remote,
                app.catalog,
                folder,
                q,
                dry_run=dry_run,
                delete=delete,
                parallel=parallel,
                limiter=limiter,
                display=disp,
                on_retry=app.on_retry,
                checker=app.checker,
            )

    def report(result: SyncResult) -> None:
        if json_out:
            doc = {**result.as_dict(), "requests": app.remote.ops()}
            output.echo(
                jsonlib.dumps(doc, ensure_ascii=False, default=str)
                if watch
                else jsonlib.dumps(doc, ensure_ascii=False, indent=1, default=str)
            )
        else:
            verb = "would fetch" if dry_run else "fetched"
            for kind, label in (
                ("fetched", verb),
                ("replaced", "would replace" if dry_run else "replaced"),
                ("withdrawn", "withdrawn"),
                ("deleted", "deleted"),
            ):
                for row in getattr(result, kind):
                    output.echo(f"{label:>13}  {row['id']}  {row['name']}")
            for row in result.failed:
                output.echo(f"pool: {row['name']}: {row['error']}", err=True)
            if result.nothing_to_do and not result.interrupted:
                output.echo(f"in sync: {result.matched} items (catalog seq {result.update.seq})")
            elif result.withdrawn and not delete:
                output.echo("withdrawn items are kept; --delete removes them")
        sys.stdout.flush()

    if not watch:
        try:
            result = run()
        except SyncInterrupted as stop:
            report(stop.result)  # what it finished, then "interrupted" (exit 130)
            raise
        report(result)
        _fail_worst(result.errors)
        return

    def report_round(result: SyncResult | None) -> None:
        if result is not None:
            report(result)

    def run_round() -> SyncResult | None:
        """One round; a network or feed failure is reported and the watch goes on (a
        hot folder outlives a server restart)."""
        try:
            return run()
        except (NetworkError, FeedError) as exc:
            output.echo(f"pool: {exc}; trying again in {interval:g} s", err=True)
            app.remote.close()
            return None

    with contextlib.suppress(KeyboardInterrupt):
        watch_loop(run_round, interval, report_round)
    output.echo("stopped; partial downloads are kept and resume on the next run", err=True)
    ctx.exit(int(ExitCode.INTERRUPTED))


def member_from_server(app: App) -> str:
    """The member the pool says the user belongs to (the control channel's `whoami`)."""
    remote = app.remote
    t = remote.transport()
    try:
        answer = remote.retrying(lambda: t.control("whoami"))
    except Unsupported as exc:
        raise UsageError(f"which member's area? pass --member CODE ({exc})")
    member = answer.get("member")
    if not isinstance(member, str) or not member:
        raise UsageError(
            f"{answer.get('user')} ({answer.get('role')}) belongs to no member: pass "
            "--member CODE to say whose area to upload into"
        )
    return member


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--category", required=True, metavar="C", help="Category folder (news, …).")
@click.option("--series", metavar="S", help="Series folder under the category.")
@click.option("--episode", metavar="N", help="Episode number within the series.")
@click.option("--title", metavar="T", help="Headline of the item.")
@click.option("--description", metavar="D", help="Description or dope sheet.")
@click.option("--lang", metavar="L", help="Language(s), comma-separated (tr, kk).")
@click.option("--location", metavar="L")
@click.option("--restrictions", metavar="R", help="Usage terms.")
@click.option("--embargo", metavar="DATETIME", help="Not to be used before (ISO 8601).")
@click.option(
    "--sidecar",
    type=click.Path(dir_okay=False),
    help="Send this sidecar instead of one made from the options.",
)
@click.option(
    "--member",
    metavar="CODE",
    help="Member area (default: $POOL_MEMBER, the profile's, else yours as the pool says).",
)
@click.option("--bwlimit", metavar="RATE", help="Bandwidth limit in bytes/s (10M).")
@click.option(
    "--sign",
    is_flag=True,
    help="Sign each item with your key (`pool keygen`): sends <stem>.sig beside the sidecar.",
)
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def put(
    ctx: click.Context,
    files: tuple[str, ...],
    category: str,
    series: str | None,
    episode: str | None,
    title: str | None,
    description: str | None,
    lang: str | None,
    location: str | None,
    restrictions: str | None,
    embargo: str | None,
    sidecar: str | None,
    member: str | None,
    bwlimit: str | None,
    sign: bool,
    json_out: bool,
) -> None:
    """Upload files with metadata into your member's area (resumes interrupted uploads)."""
    from .config import member_for
    from .put import Metadata, put_files

    app = app_of(ctx)
    if embargo:
        embargo = parse_date(embargo, "--embargo")
    meta = Metadata(
        category, series, episode, title, description, lang, location, restrictions, embargo
    )
    code = member or member_for(app.endpoint) or member_from_server(app)
    key = None
    if sign:
        from .signkey import load

        key = load()
    with progress_for(json_out) as disp:
        results = put_files(
            app.remote,
            [app.path(f) for f in files],
            code,
            meta,
            sidecar=app.path(sidecar) if sidecar else None,
            limiter=RateLimiter(parse_rate(bwlimit)),
            display=disp,
            on_retry=app.on_retry,
            sign_with=key,
        )
    rows = [
        {
            "file": str(r.local) if r.local else None,
            "path": r.remote_path,
            "size": r.size,
            "sent": r.sent,
            "resumed_from": r.resumed_from,
            "sha256": r.sha256,
            "verified": r.verified,
        }
        for r in results
    ]
    if json_out:
        output.emit_json({"files": rows, "requests": app.remote.ops()})
        return
    for r in rows:
        resumed, size = r["resumed_from"], r["size"]
        note = f" (resumed at {format_size(int(resumed))})" if resumed else ""
        output.echo(f"{r['path']}  {format_size(int(size or 0))}  {r['verified']} ok{note}")


@click.command()
@click.argument("item")
@click.option(
    "--dest",
    type=click.Path(file_okay=False),
    default=".",
    help="Folder to download into; the files go to DEST/ITEM-ID/ (default: here).",
)
@click.option("--open", "open_", is_flag=True, help="Then open the proxy in the desktop's player.")
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def preview(ctx: click.Context, item: str, dest: str, open_: bool, json_out: bool) -> None:
    """Download an item's previews (poster, strip, proxy): resumable, size-checked."""
    from .preview import fetch_previews, open_in_player

    app = app_of(ctx)
    [(_, row)] = _lookup(app, (item,))
    with progress_for(json_out) as disp:
        result = fetch_previews(
            app.remote, row, app.path(dest), display=disp, on_retry=app.on_retry
        )
    rows = [
        {"file": name, "path": str(result.folder / name), "skipped": True}
        for name in result.skipped
    ]
    for out in result.outcomes:
        row_out: dict[str, Any] = {"file": out.job.tag, "path": str(out.job.dest)}
        if out.result is not None:
            row_out.update(
                ok=True, size=out.result.size, resumed_from=out.result.resumed_from, skipped=False
            )
        else:
            row_out.update(ok=False, error=str(out.error))
        rows.append(row_out)
    if json_out:
        output.emit_json(
            {
                "id": result.item_id,
                "state": result.state,
                "folder": str(result.folder),
                "files": rows,
            }
        )
    else:
        for r in rows:
            if r.get("ok", True):
                note = " (already here)" if r["skipped"] else ""
                output.echo(f"{result.item_id}  {r['path']}{note}")
        if result.state != "ready":
            output.echo(
                f"pool: {result.item_id}: previews are {result.state}; these are "
                "of an earlier version",
                err=True,
            )
    _fail_worst([o.error for o in result.outcomes if o.error is not None])
    if open_:
        proxy = result.proxy
        if proxy is None:
            raise NotFound(f"{result.item_id}: has no proxy to open")
        open_in_player(proxy)
