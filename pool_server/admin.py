"""Every administrative change, for every front end: one place per rule.

The `pool-server` commands and the web console both act through `Admin`: each method
checks its input, changes pool.db (and the member areas) through `Accounts`, the user
keys or the defender, and writes one audit row (action `admin`) naming the operator —
`cli:<login>` from a terminal, the admin's own account from the console.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .audit import Actor
from .userkeys import UserKeys

if TYPE_CHECKING:
    from .app import Pool


class Admin:
    def __init__(self, pool: Pool, actor: Actor) -> None:
        self.pool = pool
        self.actor = actor
        self.accounts = pool.accounts

    def record(self, detail: str) -> None:
        """One audit row for an administrative change, naming the operator."""
        self.pool.audit.record(self.actor, "admin", detail=detail)

    # --- members

    def add_member(self, code: str, name: str, country: str | None) -> dict[str, Any]:
        row = self.accounts.add_member(code, name, country)
        self.record(f"member add {code}")
        return row

    def edit_member(self, code: str, name: str, country: str | None) -> None:
        self.accounts.edit_member(code, name, country)
        self.record(f"member edit {code} name={name.strip()!r} country={country or '-'}")

    def remove_member(self, code: str) -> None:
        self.accounts.remove_member(code)
        self.record(f"member remove {code}")

    def set_quota(self, code: str, nbytes: int) -> None:
        self.accounts.set_quota(code, nbytes)
        self.record(f"quota set {code} {nbytes}")

    # --- users

    def add_user(
        self,
        name: str,
        role: str,
        member: str | None,
        password: str,
        display_name: str | None = None,
    ) -> None:
        self.accounts.add_user(name, role, member, password, display_name)
        self.record(f"user add {name} role={role} member={member or '-'}")

    def set_password(self, name: str, password: str) -> None:
        self.accounts.get_user(name)
        self.accounts.set_password(name, password)
        self.record(f"user passwd {name}")

    def set_disabled(self, name: str, disabled: bool) -> None:
        self.accounts.set_disabled(name, disabled)
        self.record(f"user {'disable' if disabled else 'enable'} {name}")

    def set_role(self, name: str, role: str, member: str | None) -> None:
        self.accounts.set_role(name, role, member)
        self.record(f"user set {name} role={role} member={member or '-'}")

    def set_display_name(self, name: str, display_name: str | None) -> str | None:
        self.accounts.set_display_name(name, display_name)
        shown: str | None = self.accounts.user_info(name)["display_name"]
        self.record(f"user set {name} display_name={shown or '-'}")
        return shown

    def remove_user(self, name: str) -> None:
        self.accounts.remove_user(name)
        self.record(f"user remove {name}")

    # --- SSH keys

    def keys(self) -> UserKeys:
        return UserKeys(self.pool.store, self.accounts)

    def add_keys(self, name: str, text: str) -> list[dict[str, Any]]:
        added = self.keys().add(name, text)
        for k in added:
            self.record(f"user key add {name} {k['fingerprint']}")
        return added

    def remove_key(self, name: str, fingerprint: str) -> None:
        self.keys().remove(name, fingerprint)
        self.record(f"user key remove {name} {fingerprint}")

    # --- defence

    def unban(self, ip: str) -> None:
        self.pool.defender.unban(ip)
        self.record(f"unban {ip}")

    def unlock(self, name: str) -> None:
        self.pool.defender.unlock(name)
        self.record(f"unban --user {name}")
