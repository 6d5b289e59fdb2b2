"""`pool-server init`: make a data folder, or complete one, never destroying anything."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from catalog.layout import FEED_DIR
from catalog.signing import PoolSigner

from .accounts import Accounts, Role
from .config import Config, render_default_toml
from .context import DataDir
from .errors import UsageError
from .keys import make_host_keys, make_tls_certificate
from .samples import SamplesResult, make_samples
from .store import Store
from .tls import check_pair
from .tls import install as install_tls

DEMO_MEMBERS = (
    ("TRT", "Türkiye Radyo-Televizyon Kurumu", "TR"),
    ("AZTV", "Azərbaycan Televiziyası", "AZ"),
    ("QAZAQ", "Qazaqstan Ulttyq Arnasy", "KZ"),
    ("MTRK", "Oʻzbekiston Milliy Teleradiokompaniyasi", "UZ"),
    ("KTRK", "Кыргыз Телерадиоберүү Корпорациясы", "KG"),
    ("MTVA", "Médiaszolgáltatás-támogató és Vagyonkezelő Alap", "HU"),
)


PASSWORDS_FILE = "demo-passwords.txt"
"""In the data folder (mode 0600): the demo users' passwords, as printed by init."""


@dataclass
class InitResult:
    created: list[str] = field(default_factory=list)
    passwords: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)
    passwords_file: Path | None = None
    samples: SamplesResult | None = None


def initialise(
    data: DataDir,
    demo: bool = False,
    samples: bool = True,
    tls: tuple[Path, Path] | None = None,
) -> InitResult:
    """Make (or complete) the data folder; with `demo`, six members and their users,
    and unless `samples` is false, the sample items (`samples.py`). `tls` is a
    (certificate, key) pair of PEM files to serve instead of a self-signed certificate:
    checked before anything is made."""
    if tls is not None:
        _check_new_certificate(data, *tls)
    result = InitResult()
    for folder in (
        data.path,
        data.pool_root,
        data.pool_root / FEED_DIR,
        data.keys_dir,
        data.tls_dir,
    ):
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            result.created.append(f"{folder}/")
    if not data.config_path.exists():
        data.config_path.write_text(render_default_toml(), encoding="utf-8")
        result.created.append(str(data.config_path))
    config = Config.load(data.config_path)
    new_db = not data.db_path.exists()
    store = Store(data.db_path)
    try:
        store.create_schema()
        if new_db:
            result.created.append(str(data.db_path))
        ftp = config.section("ftp")
        if tls is not None:
            install_tls(*tls, data.path / ftp["tls_cert"], data.path / ftp["tls_key"])
            result.created.append(f"{data.path / ftp['tls_cert']} (from {tls[0]})")
        elif make_tls_certificate(data.path / ftp["tls_cert"], data.path / ftp["tls_key"]):
            result.created.append(str(data.path / ftp["tls_cert"]))
        result.created += [str(p) for p in make_host_keys(data.keys_dir)]
        if PoolSigner(data.signing_dir).ensure():
            result.created.append(f"{data.signing_dir}/ (the pool's signing key)")
        if demo:
            _add_demo(
                Accounts(store, data.pool_root, config.get("security", "min_password_length")),
                result,
            )
    finally:
        store.close()
    if demo and result.passwords:
        result.passwords_file = _save_passwords(data.path / PASSWORDS_FILE, result.passwords)
    if demo and samples:
        result.samples = make_samples(data.path, data.pool_root)
    return result


def _check_new_certificate(data: DataDir, cert: Path, key: Path) -> None:
    """`init --tls-cert/--tls-key`: a usable pair, for a pool that has none yet."""
    check_pair(cert, key)
    if data.config_path.exists():
        ftp = Config.load(data.config_path).section("ftp")
        existing = data.path / ftp["tls_cert"]
        if existing.exists():
            raise UsageError(
                f"{existing} exists already; init never replaces anything: use "
                "`pool-server tls set CERT KEY` to replace it"
            )


def _save_passwords(path: Path, passwords: dict[str, tuple[str, str, str | None]]) -> Path:
    """Append the new demo users' passwords to `path`, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        if fh.tell() == 0:
            fh.write("# Ortak demo users (made by `pool-server init --demo`)\n")
            fh.write(f"# {'user':<14} {'role':<12} {'member':<6} password\n")
        for user, (password, role, member) in passwords.items():
            fh.write(f"{user:<16} {role:<12} {member or '-':<6} {password}\n")
    return path


def _add_demo(accounts: Accounts, result: InitResult) -> None:
    """Six members, each with a contributor and a newsroom reader, and one admin.
    Existing members and users are left as they are (their passwords too)."""
    existing = {m["code"] for m in accounts.list_members()}
    wanted: list[tuple[str, Role, str | None]] = [("admin", Role.ADMIN, None)]
    for code, name, country in DEMO_MEMBERS:
        if code not in existing:
            accounts.add_member(code, name, country)
            result.created.append(f"member {code}")
        wanted += [
            (f"{code.lower()}-upload", Role.CONTRIBUTOR, code),
            (f"{code.lower()}-news", Role.READER, code),
        ]
    for user, role, member in wanted:
        if accounts.find_user(user) is not None:
            continue
        password = secrets.token_urlsafe(12)
        accounts.add_user(user, role.value, member, password)
        result.passwords[user] = (password, role.value, member)
