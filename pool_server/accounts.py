"""Members and users in pool.db: the admin operations and password checks."""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlite_utils.db import NotFoundError

from .errors import AlreadyExists, AuthenticationFailed, NotFound, UsageError
from .passwords import LoginCache, burn_time, hash_password
from .store import Store

MEMBER_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
log = logging.getLogger("ortak.accounts")

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


DISPLAY_NAME_MAX = 80


def check_display_name(text: str | None) -> str | None:
    """A display name as stored: trimmed, printable, at most 80 characters; None for ""."""
    if text is None or not text.strip():
        return None
    text = " ".join(text.split())
    if (
        len(text) > DISPLAY_NAME_MAX
        or not text.isprintable()
        or any(unicodedata.category(c) == "Cf" for c in text)
    ):
        raise UsageError(
            f"display name must be at most {DISPLAY_NAME_MAX} printable characters "
            "(no control or bidi formatting characters)"
        )
    return text


class Role(StrEnum):
    ADMIN = "admin"
    CONTRIBUTOR = "contributor"
    READER = "reader"


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    member: str | None
    disabled: bool = False

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(row["name"], Role(row["role"]), row["member"] or None, bool(row["disabled"]))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Accounts:
    def __init__(
        self,
        store: Store,
        pool_root: Path,
        min_password_length: int = 10,
        login_cache_seconds: float = 0,
    ) -> None:
        self.store = store
        self.pool_root = pool_root
        self.min_password_length = min_password_length
        self.logins = LoginCache(login_cache_seconds)

    # --- members

    def add_member(self, code: str, name: str, country: str | None = None) -> dict[str, Any]:
        if not MEMBER_CODE.match(code):
            raise UsageError(
                f"member code {code!r} must be 1-32 capital letters, digits, '-' or '_'"
            )
        if not name.strip():
            raise UsageError("member name must not be empty")
        if country is not None and not re.match(r"^[A-Z]{2}$", country):
            raise UsageError(f"country {country!r} must be a two-letter ISO code such as TR")
        if self.store.db["members"].count_where("code = ?", [code]):
            raise AlreadyExists(f"member {code} already exists")
        row = {
            "code": code,
            "name": name.strip(),
            "country": country,
            "quota_bytes": 0,
            "created": now_iso(),
        }
        self.store.db["members"].insert(row)
        (self.pool_root / code).mkdir(parents=True, exist_ok=True)
        return row

    def edit_member(self, code: str, name: str, country: str | None) -> None:
        """New full name and country of a member (its code and area stay)."""
        self.get_member(code)
        if not name.strip():
            raise UsageError("member name must not be empty")
        if country is not None and not re.match(r"^[A-Z]{2}$", country):
            raise UsageError(f"country {country!r} must be a two-letter ISO code such as TR")
        self.store.db["members"].update(code, {"name": name.strip(), "country": country})

    def get_member(self, code: str) -> dict[str, Any]:
        try:
            return dict(self.store.db["members"].get(code))
        except NotFoundError:
            raise NotFound(f"no member {code!r} (see `pool-server member list`)")

    def list_members(self) -> list[dict[str, Any]]:
        return list(self.store.db["members"].rows_where(order_by="code"))

    def remove_member(self, code: str) -> None:
        self.get_member(code)
        users = [r["name"] for r in self.store.db["users"].rows_where("member = ?", [code])]
        if users:
            raise UsageError(
                f"member {code} still has users ({', '.join(users)}); remove them first"
            )
        area = self.pool_root / code
        if area.is_dir() and any(area.iterdir()):
            raise UsageError(f"member {code} still has files in {area}; remove them first")
        self.store.db["members"].delete(code)
        if area.is_dir():
            shutil.rmtree(area)

    def set_quota(self, code: str, quota_bytes: int) -> None:
        self.get_member(code)
        self.store.db["members"].update(code, {"quota_bytes": quota_bytes})

    def quota_of(self, code: str) -> int:
        row = self.store.db.execute(
            "SELECT quota_bytes FROM members WHERE code = ?", [code]
        ).fetchone()
        return int(row[0]) if row else 0

    # --- users

    def check_password(self, password: str) -> None:
        if len(password) < self.min_password_length:
            raise UsageError(
                f"password is too short: at least {self.min_password_length} characters"
            )

    def add_user(
        self,
        name: str,
        role: str,
        member: str | None,
        password: str,
        display_name: str | None = None,
    ) -> User:
        if not USER_NAME.match(name):
            raise UsageError(
                f"user name {name!r} must be 1-64 letters, digits, '.', '_', '@' or '-'"
            )
        try:
            role_ = Role(role)
        except ValueError:
            raise UsageError(f"role {role!r} is not one of admin, contributor, reader")
        if role_ is Role.CONTRIBUTOR and not member:
            raise UsageError("a contributor must belong to a member: add --member CODE")
        if member:
            self.get_member(member)
        if self.store.db["users"].count_where("name = ?", [name]):
            raise AlreadyExists(f"user {name} already exists")
        self.check_password(password)
        display_name = check_display_name(display_name)
        self.store.db["users"].insert(
            {
                "name": name,
                "role": role_.value,
                "member": member,
                "disabled": 0,
                "pw_hash": hash_password(password),
                "created": now_iso(),
                "last_login": None,
                "display_name": display_name,
            }
        )
        return User(name, role_, member)

    def _row(self, name: str) -> dict[str, Any]:
        try:
            return dict(self.store.db["users"].get(name))
        except NotFoundError:
            raise NotFound(f"no user {name!r} (see `pool-server user list`)")

    def get_user(self, name: str) -> User:
        return User.from_row(self._row(name))

    def user_info(self, name: str) -> dict[str, Any]:
        row = self._row(name)
        row.pop("pw_hash")
        row["disabled"] = bool(row["disabled"])
        row["keys"] = self.store.db["user_keys"].count_where("user = ?", [name])
        return row

    def list_users(self) -> list[dict[str, Any]]:
        return [
            self.user_info(r["name"])
            for r in self.store.db["users"].rows_where(select="name", order_by="name")
        ]

    def set_disabled(self, name: str, disabled: bool) -> None:
        self._row(name)
        self.store.db["users"].update(name, {"disabled": int(disabled)})

    def set_role(self, name: str, role: str, member: str | None) -> None:
        """A user's role and member, under the same rules as `add_user`."""
        self._row(name)
        try:
            role_ = Role(role)
        except ValueError:
            raise UsageError(f"role {role!r} is not one of admin, contributor, reader")
        if role_ is Role.CONTRIBUTOR and not member:
            raise UsageError("a contributor must belong to a member")
        if member:
            self.get_member(member)
        self.store.db["users"].update(name, {"role": role_.value, "member": member})

    def set_password(self, name: str, password: str) -> None:
        self._row(name)
        self.check_password(password)
        self.store.db["users"].update(name, {"pw_hash": hash_password(password)})

    def set_display_name(self, name: str, display_name: str | None) -> None:
        """The name the published catalog shows for NAME's uploads (None: the default)."""
        self._row(name)
        self.store.db["users"].update(name, {"display_name": check_display_name(display_name)})

    def remove_user(self, name: str) -> None:
        self._row(name)
        self.store.db["user_keys"].delete_where("user = ?", [name])
        self.store.db["users"].delete(name)

    def authenticate(self, name: str, password: str) -> User:
        """The user, if the password is right and the account enabled.

        Raises `AuthenticationFailed` (its `known_user` says if the name existed).
        """
        row = self.store.db.execute(
            "SELECT name, role, member, disabled, pw_hash FROM users WHERE name = ?", [name]
        ).fetchone()
        if row is None:
            burn_time(password)
            raise AuthenticationFailed(known_user=False)
        if not self.logins.verify(password, row[4]):
            raise AuthenticationFailed()
        if row[3]:
            raise AuthenticationFailed("account disabled")
        self.record_login(name)
        return User(row[0], Role(row[1]), row[2] or None, False)

    def record_login(self, name: str) -> None:
        """Note the time of a login. Best effort: a full disk never stops a login."""
        try:
            self.store.db.execute(
                "UPDATE users SET last_login = ? WHERE name = ?", [now_iso(), name]
            )
        except sqlite3.Error as exc:
            log.warning("last login of %s not noted: %s", name, exc)

    def find_user(self, name: str) -> User | None:
        row = self.store.db.execute(
            "SELECT name, role, member, disabled FROM users WHERE name = ?", [name]
        ).fetchone()
        return User(row[0], Role(row[1]), row[2] or None, bool(row[3])) if row else None
