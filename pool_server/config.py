"""pool.toml: every setting declared once, as data.

The same table builds the defaults, validates the file and writes the commented
pool.toml that `pool-server init` creates. Lookup order: command-line flag (applied by
the caller) > pool.toml > the default here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.credentials import SETTINGS as PROVENANCE_SETTINGS
from catalog.previews.settings import SETTINGS as PREVIEW_SETTINGS
from catalog.settings import SETTINGS as CATALOG_SETTINGS

from .errors import ConfigError


@dataclass(frozen=True)
class Setting:
    section: str
    name: str
    default: Any
    help: str


def _table(section: str, rows: tuple[tuple[str, Any, str], ...]) -> list[Setting]:
    return [Setting(section, name, default, help_) for name, default, help_ in rows]


SETTINGS: list[Setting] = [
    *_table(
        "server",
        (
            ("host", "127.0.0.1", "address to listen on; 0.0.0.0 for every interface"),
            ("ftp_port", 2121, "FTP/FTPS control port (0 picks a free port)"),
            ("sftp_port", 2222, "SFTP port (0 picks a free port)"),
            ("max_connections", 512, "connections accepted at once, all addresses together"),
            ("max_connections_per_ip", 64, "connections accepted at once from one address"),
            ("idle_timeout", 600, "seconds a logged-in session may stay silent"),
            ("banner", "Ortak content-exchange pool", "greeting shown before login"),
            (
                "accept_backoff_ms",
                100,
                "when the process runs out of file descriptors, stop accepting for this long "
                "(doubling up to 2 s) instead of failing; the listening sockets stay open",
            ),
        ),
    ),
    *_table(
        "ftp",
        (
            ("require_tls", False, "refuse logins on connections without AUTH TLS"),
            ("passive_ports", "", "passive data port range, e.g. '60000-60999' (empty: any)"),
            ("masquerade_address", "", "public address announced in PASV replies (behind NAT)"),
            ("tls_cert", "tls/cert.pem", "TLS certificate (PEM), relative to the data folder"),
            ("tls_key", "tls/key.pem", "TLS private key (PEM), relative to the data folder"),
            ("data_timeout", 300, "seconds a data transfer may stall before it is cut"),
            ("max_command_line", 4096, "longest FTP command line accepted, in bytes"),
            (
                "data_threads",
                True,
                "move each plain-FTP transfer's bytes on a thread of its own, so the event loop "
                "stays free for every other session (and a slow disk holds up only that transfer)",
            ),
            (
                "use_sendfile",
                True,
                "plain-FTP downloads by zero-copy sendfile(); false: read and sent through a "
                "buffer (more CPU per byte on a real network; faster on loopback, see the "
                "benchmarks)",
            ),
            (
                "upload_end_grace_ms",
                20,
                "after an upload's data ends, wait this long to tell a finished client from a "
                "killed one (whose control connection closes too) before committing",
            ),
        ),
    ),
    *_table(
        "sftp",
        (
            (
                "host_keys",
                "keys/ssh_host_ed25519_key,keys/ssh_host_rsa_key",
                "SSH host keys, comma-separated, relative to the data folder",
            ),
            ("max_channels", 8, "SSH channels one connection may have open at once (0: no limit)"),
            (
                "max_open_handles",
                64,
                "files and folders one SFTP session may hold open at once (0: no limit)",
            ),
            (
                "max_open_handles_per_user",
                256,
                "files and folders one user may hold open at once, all sessions together "
                "(0: no limit)",
            ),
        ),
    ),
    *_table(
        "security",
        (
            ("min_password_length", 10, "shortest password accepted"),
            (
                "login_cache_seconds",
                300,
                "remember a successful password check this long (in memory, keyed HMAC; "
                "a password change forgets it; 0 = off)",
            ),
            ("ban_threshold", 10, "failure score within the window that bans an address"),
            ("ban_window_seconds", 600, "window over which failed logins are scored"),
            (
                "failure_score",
                1,
                "score of a failed login, scored before the password is checked (a success "
                "takes back its own score, nothing else's), for known and unknown names alike",
            ),
            (
                "unknown_user_score",
                3,
                "ignored (kept so older pool.toml files load): an unknown name scores "
                "failure_score like a known one, so scores and bans cannot tell which "
                "accounts exist",
            ),
            ("ban_seconds", 900, "length of a first ban; doubles on each repeat offence"),
            ("ban_max_seconds", 86400 * 7, "longest ban"),
            (
                "account_ban_threshold",
                30,
                "failure score within the window, from all addresses together, that locks "
                "an account name for password logins (SSH keys still work)",
            ),
            ("account_ban_seconds", 900, "how long a locked account name stays locked"),
            (
                "prelogin_timeout",
                30,
                "seconds a connection may take to log in, whatever it sends meanwhile "
                "(FTP and SFTP)",
            ),
            (
                "prelogin_max_connections",
                128,
                "connections not yet logged in accepted at once, per door; when full, the "
                "oldest of the address holding the most is dropped for a newcomer (0: no limit)",
            ),
            (
                "prelogin_max_per_ip",
                32,
                "connections not yet logged in accepted at once from one address, per door "
                "(0: no limit); room for a newsroom behind one NAT address starting many "
                "transfers at once",
            ),
        ),
    ),
    *_table(
        "uploads",
        (
            ("partial_max_age_hours", 72, "interrupted uploads older than this are swept"),
            ("sweep_minutes", 30, "minutes between sweeps of stale partial uploads"),
            ("max_path_depth", 16, "deepest folder nesting accepted below the pool root"),
            (
                "max_file_size",
                "1T",
                "largest file a member may upload (or claim by writing at an offset), with or "
                "without a quota; a size such as 500G or 2T, 0 for no limit",
            ),
            (
                "max_hole",
                "16M",
                "largest gap a write may leave past the end of an upload (SFTP writes at an "
                "offset): a sparse file would cost the indexer hours to hash",
            ),
            (
                "fsync_on_complete",
                False,
                "flush each completed upload to disk before it is renamed into place (slower)",
            ),
        ),
    ),
    *_table(
        "storage",
        (
            (
                "min_free",
                "1G",
                "free space kept in reserve on the pool's disk: below it uploads are refused "
                "(logins, listings, downloads and deletes keep working); 0 for no reserve",
            ),
        ),
    ),
    *_table(
        "mail",
        (
            ("host", "", "SMTP relay for alert e-mail (empty: e-mail alerts are not sent)"),
            ("port", 587, "SMTP relay port (587 for STARTTLS, 465 for TLS, 25 plain)"),
            ("security", "starttls", "starttls, tls (implicit, port 465) or none"),
            ("user", "", "SMTP login (empty: no login)"),
            ("password_env", "", "environment variable holding the SMTP password"),
            ("password_file", "", "file holding the SMTP password (relative to the data folder)"),
            ("from_address", "ortak@localhost", "sender address of alert e-mail"),
            (
                "ca_file",
                "",
                "CA certificates (PEM) the relay's certificate is checked against, relative "
                "to the data folder (empty: the system's)",
            ),
            ("timeout", 30.0, "seconds to wait for the relay before a try counts as failed"),
            (
                "poster_wait_seconds",
                5.0,
                "hold an alert e-mail this long for the item's poster to be made, if it has none",
            ),
        ),
    ),
    *_table(
        "webhooks",
        (
            (
                "allow_private",
                [],
                "addresses or networks (e.g. '127.0.0.1', '10.0.0.0/8') that webhooks may "
                "target although loopback, private or link-local; empty: none",
            ),
            ("timeout", 10.0, "seconds a receiver has to answer before the try counts as failed"),
        ),
    ),
    *_table(
        "alerts",
        (
            ("poll_seconds", 0.5, "how often new catalog changes and audit records are read"),
            (
                "settle_seconds",
                1.0,
                "changes younger than this wait, so an item uploaded as several files "
                "alerts once, complete",
            ),
            ("quota_warning_percent", 90, "quota.warning when a member's area passes this"),
            (
                "public_url",
                "",
                "the web door's address as users reach it, for links in alerts (empty: "
                "http(s)://[server] host:[http] port)",
            ),
        ),
    ),
    *_table(
        "delivery",
        (
            ("workers", 2, "threads delivering e-mail and webhooks"),
            (
                "keep_days",
                30,
                "finished deliveries and alert matches are kept this long (the lists users "
                "and admins see), then deleted",
            ),
            ("retry_hours", 24.0, "keep retrying a failing delivery this long, then give up"),
            ("backoff_seconds", 10.0, "wait before the first retry; doubles each time"),
            ("backoff_max_seconds", 1800.0, "longest wait between two tries"),
            (
                "lease_seconds",
                120.0,
                "a claimed delivery is retried by another worker after this long",
            ),
        ),
    ),
    *_table(
        "http",
        (
            ("port", 8080, "HTTP(S) port of the web door and JSON API (0 picks a free port)"),
            (
                "tls",
                False,
                "serve HTTPS with the pool's certificate ([ftp] tls_cert/tls_key); plain HTTP "
                "is for loopback and for deployments behind a reverse proxy",
            ),
            (
                "trusted_proxies",
                "",
                "comma-separated addresses of reverse proxies whose X-Forwarded-For and "
                "X-Forwarded-Proto are believed (empty: none)",
            ),
            ("session_idle_minutes", 60, "a web session unused this long is logged out"),
            ("session_max_hours", 12, "a web session ends this long after login, used or not"),
            ("token_days", 90, "lifetime of an API token when `token create` gets no --expires"),
            ("page_size", 24, "search results per page"),
            (
                "admin_totp_required",
                True,
                "admins must log in to the web door with a second factor (TOTP); one without "
                "is sent to enrol first",
            ),
            ("invitation_hours", 72, "how long an invitation link made in the console works"),
            ("upload_expire_hours", 24.0, "a tus upload left alone this long is removed (hours)"),
            (
                "metrics_bind",
                "",
                "also serve /metrics without a token on this address:port (e.g. "
                "'127.0.0.1:9464', for a local Prometheus); empty: only on the web door, for "
                "admins' tokens",
            ),
        ),
    ),
    *_table("catalog", CATALOG_SETTINGS),
    *_table("previews", PREVIEW_SETTINGS),
    *_table("provenance", PROVENANCE_SETTINGS),
]

_BY_KEY = {(s.section, s.name): s for s in SETTINGS}


def _check_type(setting: Setting, value: Any, source: Path) -> Any:
    want = type(setting.default)
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not want:
        raise ConfigError(
            f"{source}: [{setting.section}] {setting.name} must be {want.__name__}, got {value!r}"
        )
    return value


class Config:
    """Settings read from pool.toml, with the table's defaults for anything unset."""

    def __init__(self, values: dict[tuple[str, str], Any], source: Path) -> None:
        self._values = values
        self.source = source

    @classmethod
    def defaults(cls) -> Config:
        return cls({(s.section, s.name): s.default for s in SETTINGS}, Path("<defaults>"))

    @classmethod
    def load(cls, path: Path) -> Config:
        try:
            with path.open("rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path} not found: run `pool-server init` first")
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}")
        values = {(s.section, s.name): s.default for s in SETTINGS}
        for section, table in raw.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: top-level key {section!r} must be a [section]")
            for name, value in table.items():
                setting = _BY_KEY.get((section, name))
                if setting is None:
                    raise ConfigError(f"{path}: unknown setting [{section}] {name}")
                values[(section, name)] = _check_type(setting, value, path)
        return cls(values, path)

    def get(self, section: str, name: str) -> Any:
        return self._values[(section, name)]

    def section(self, section: str) -> dict[str, Any]:
        return {n: v for (s, n), v in self._values.items() if s == section}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_default_toml() -> str:
    """The commented pool.toml that `init` writes: every setting with its default."""
    lines = ["# Ortak pool configuration. Every setting is shown with its default.", ""]
    section = None
    for s in SETTINGS:
        if s.section != section:
            if section is not None:
                lines.append("")
            lines.append(f"[{s.section}]")
            section = s.section
        lines.append(f"# {s.help}")
        lines.append(f"{s.name} = {_toml_value(s.default)}")
    return "\n".join(lines) + "\n"
