"""Users' SSH public keys in pool.db (`user_keys`): parsing, fingerprints, lookup.

Keys are given as OpenSSH public key files or authorized_keys lines. Options that only
narrow what a session may do (the pool refuses shells and forwarding anyway) are
accepted and dropped; options the pool cannot enforce (`from=`, `command=`...) are
refused rather than silently ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Any

from .accounts import Accounts, now_iso
from .errors import AlreadyExists, NotFound, UsageError
from .store import Store

KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
    }
)
"""Key types the SFTP door (paramiko) can verify."""

HARMLESS_OPTIONS = frozenset(
    {
        "restrict",
        "no-pty",
        "no-port-forwarding",
        "no-agent-forwarding",
        "no-x11-forwarding",
        "no-user-rc",
    }
)
"""authorized_keys options that the pool enforces for everybody anyway."""

_OPTION = re.compile(r'[A-Za-z0-9-]+(?:="(?:[^"\\]|\\.)*")?')


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob: 'SHA256:base64-no-padding'."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class PublicKey:
    key_type: str
    blob: bytes
    comment: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    @property
    def key_data(self) -> str:
        return base64.b64encode(self.blob).decode()


def _split_options(line: str) -> tuple[list[str], str]:
    """Leading authorized_keys options (comma-separated, quotes allowed) and the rest."""
    options: list[str] = []
    rest = line
    while True:
        m = _OPTION.match(rest)
        if not m:
            break
        options.append(m.group(0))
        rest = rest[m.end() :]
        if rest.startswith(","):
            rest = rest[1:]
            continue
        break
    return options, rest.lstrip()


def parse_line(line: str) -> PublicKey:
    """One 'type base64 [comment]' line, optionally led by authorized_keys options."""
    text = line.strip()
    first = text.split(None, 1)[0] if text else ""
    if first not in KEY_TYPES and not first.startswith(("sk-", "ssh-dss")):
        options, text = _split_options(text)
        bad = [o for o in options if o.split("=", 1)[0].lower() not in HARMLESS_OPTIONS]
        if bad:
            raise UsageError(
                f"option {bad[0].split('=', 1)[0]!r} is not supported by the pool; "
                "remove it from the key line"
            )
    fields = text.split(None, 2)
    if len(fields) < 2:
        raise UsageError(f"not an OpenSSH public key line: {line.strip()[:60]!r}")
    key_type, data = fields[0], fields[1]
    comment = fields[2].strip() if len(fields) > 2 else ""
    if key_type not in KEY_TYPES:
        raise UsageError(
            f"key type {key_type!r} is not supported; use one of {', '.join(sorted(KEY_TYPES))}"
        )
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"the {key_type} key's data is not valid base64")
    if len(blob) < 4:
        raise UsageError(f"the {key_type} key's data is too short")
    (n,) = struct.unpack(">I", blob[:4])
    if blob[4 : 4 + n].decode("ascii", "replace") != key_type:
        raise UsageError(f"the key data does not hold a {key_type} key")
    _check_loadable(key_type, blob)
    return PublicKey(key_type, blob, comment)


def _check_loadable(key_type: str, blob: bytes) -> None:
    import paramiko

    try:
        paramiko.PKey.from_type_string(key_type, blob)
    except Exception as exc:  # paramiko raises several types for a mangled key
        raise UsageError(f"the {key_type} key cannot be read: {exc}")


def parse_keys(text: str) -> list[PublicKey]:
    """Every key in a public key file or authorized_keys text (blank and # lines skipped)."""
    keys = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keys.append(parse_line(line))
    if not keys:
        raise UsageError("no public key found (expected lines like 'ssh-ed25519 AAAA... me@host')")
    return keys


class UserKeys:
    """The `user_keys` table: which public keys may log in as which user."""

    def __init__(self, store: Store, accounts: Accounts) -> None:
        self.store = store
        self.accounts = accounts

    def add(self, user: str, text: str) -> list[dict[str, Any]]:
        """Add every key in `text` for `user`; all or nothing."""
        self.accounts.get_user(user)
        keys = parse_keys(text)
        seen: set[str] = set()
        for key in keys:
            if key.fingerprint in seen or self.store.db["user_keys"].count_where(
                "user = ? AND fingerprint = ?", [user, key.fingerprint]
            ):
                raise AlreadyExists(f"user {user} already has key {key.fingerprint}")
            seen.add(key.fingerprint)
        rows = [
            {
                "user": user,
                "fingerprint": k.fingerprint,
                "key_type": k.key_type,
                "key_data": k.key_data,
                "comment": k.comment,
                "added": now_iso(),
            }
            for k in keys
        ]
        self.store.db.table("user_keys").insert_all(rows)
        return rows

    def list(self, user: str) -> list[dict[str, Any]]:
        self.accounts.get_user(user)
        return list(
            self.store.db["user_keys"].rows_where(
                "user = ?",
                [user],
                order_by="added, fingerprint",
                select="user, fingerprint, key_type, comment, added",
            )
        )

    def remove(self, user: str, fp: str) -> None:
        self.accounts.get_user(user)
        fp = fp if fp.startswith("SHA256:") else f"SHA256:{fp}"
        if not self.store.db["user_keys"].count_where("user = ? AND fingerprint = ?", [user, fp]):
            raise NotFound(f"user {user} has no key {fp} (see `pool-server user key list {user}`)")
        self.store.db.table("user_keys").delete_where("user = ? AND fingerprint = ?", [user, fp])

    def has_key(self, user: str, key_type: str, blob: bytes) -> bool:
        """True if `blob` is one of `user`'s keys (compared in full, not by fingerprint)."""
        row = self.store.db.execute(
            "SELECT key_data FROM user_keys WHERE user = ? AND fingerprint = ?",
            [user, fingerprint(blob)],
        ).fetchone()
        return bool(row) and base64.b64decode(row[0]) == blob
