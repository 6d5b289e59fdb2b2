"""`pool-server`: a thin click layer over the library. Errors become one line on
stderr and a non-zero exit here, and nowhere else."""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

from catalog.errors import QueryError

from . import __version__
from .admin import Admin
from .app import Pool
from .audit import Actor
from .context import DataDir
from .errors import PoolError, UsageError
from .terminal import SafeFormatter, echo, json_text, printable

__all__ = ["echo", "json_text", "print_json", "print_table", "printable"]

T = TypeVar("T")


class CliContext:
    """What every command is given: the data folder, and the pool opened once on use."""

    def __init__(self, data: DataDir) -> None:
        self.data = data
        self._pool: Pool | None = None

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            self._pool = Pool.open(self.data)
        return self._pool

    def catalog_settings(self) -> dict[str, Any]:
        return self.pool.catalog_settings()

    def preview_settings(self) -> dict[str, Any]:
        return self.pool.preview_settings()

    @property
    def admin(self) -> Admin:
        """The administrative changes (`pool_server/admin.py`), as the local operator:
        the same functions the web console calls, audited the same way."""
        return Admin(self.pool, Actor(f"cli:{getpass.getuser()}", None, "local", "cli"))

    def admin_change(self, detail: str) -> None:
        """An admin change made outside `Admin` goes to the audit trail too."""
        self.admin.record(detail)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


pass_ctx = click.make_pass_decorator(CliContext)


class PoolGroup(click.Group):
    """Turns the library's errors into a clear message and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PoolError as err:
            raise click.ClickException(printable(err, newlines=True)) from None


@click.group(cls=PoolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False),
    default=None,
    help="Data folder (default: $POOL_DATA, else ./pool-data).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every command and transfer.")
@click.version_option(__version__, prog_name="pool-server")
@click.pass_context
def main(ctx: click.Context, data: str | None, verbose: bool) -> None:
    """Ortak pool server: FTP/FTPS and SFTP over one pool, its accounts and catalog."""
    log_handler = logging.StreamHandler(sys.stderr)  # log lines name users and files too
    log_handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[log_handler])
    logging.getLogger("pyftpdlib").setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("paramiko").setLevel(logging.INFO if verbose else logging.WARNING)
    obj = CliContext(DataDir.resolve(data))
    ctx.obj = obj
    ctx.call_on_close(obj.close)


# --- output helpers, shared by every listing command


def print_json(data: Any) -> None:
    click.echo(json_text(data, indent=2))


def print_table(rows: Sequence[dict[str, Any]], columns: Iterable[str]) -> None:
    cols = list(columns)
    cells = [[("" if r.get(c) is None else printable(r.get(c))) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def parsed(parse: Callable[[str], T], text: str | None, option: str) -> T | None:
    """`text` read by one of `catalog.units`' parsers (the same as `pool`'s), or None;
    a bad value is one line naming the option."""
    if text is None:
        return None
    try:
        return parse(text)
    except QueryError as err:
        raise UsageError(f"{option} {err}")


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)


def _register() -> None:
    from . import (
        cli_accounts,
        cli_catalog,
        cli_http,
        cli_notify,
        cli_previews,
        cli_serve,
        cli_signing,
        cli_tls,
    )

    for command in (
        *cli_serve.COMMANDS,
        *cli_accounts.COMMANDS,
        *cli_catalog.COMMANDS,
        *cli_previews.COMMANDS,
        *cli_http.COMMANDS,
        *cli_notify.COMMANDS,
        *cli_signing.COMMANDS,
        *cli_tls.COMMANDS,
    ):
        main.add_command(command)
    cli_accounts.member.add_command(cli_signing.member_key)


_register()
