"""Members' signing keys in pool.db (`member_signing_keys`), which the indexer checks
member signatures (`pool put --sign`) against; and the pool's own key (catalog.signing).

A revoked key stays listed (with the time of revocation) so that the catalog can still
say which key a signature named; signatures by it are recorded as ``signature invalid``.
"""

from __future__ import annotations

from typing import Any

from catalog.manifest import MEMBER_KEYS_TABLE
from catalog.signing import (
    PoolSigner,
    SignatureError,
    fingerprint,
    load_public_key,
    ssh_public_line,
)

from .accounts import Accounts, now_iso
from .errors import AlreadyExists, NotFound, UsageError
from .store import Store


class MemberSigningKeys:
    def __init__(self, store: Store, accounts: Accounts) -> None:
        self.store = store
        self.accounts = accounts

    def add(self, member: str, text: str) -> dict[str, Any]:
        """Register the Ed25519 public key in `text` (an OpenSSH line as `pool keygen`
        writes it, or PEM) for `member`."""
        self.accounts.get_member(member)
        try:
            key = load_public_key(text.encode("utf-8"))
        except SignatureError as exc:
            raise UsageError(f"{exc}") from None
        fp = fingerprint(key)
        table = self.store.db.table(MEMBER_KEYS_TABLE)
        if table.count_where("fingerprint = ?", [fp]):
            raise AlreadyExists(f"key {fp} is already registered")
        parts = text.strip().split(None, 2)
        comment = parts[2] if text.startswith("ssh-") and len(parts) == 3 else ""
        row = {
            "fingerprint": fp,
            "member": member,
            "public_key": ssh_public_line(key, comment),
            "comment": comment,
            "added": now_iso(),
            "revoked": None,
        }
        table.insert(row)
        return row

    def list(self, member: str) -> list[dict[str, Any]]:
        self.accounts.get_member(member)
        return list(
            self.store.db[MEMBER_KEYS_TABLE].rows_where("member = ?", [member], order_by="added")
        )

    def revoke(self, member: str, fp: str) -> dict[str, Any]:
        rows = list(
            self.store.db[MEMBER_KEYS_TABLE].rows_where(
                "member = ? AND fingerprint = ?", [member, fp]
            )
        )
        if not rows:
            raise NotFound(f"member {member} has no signing key {fp} (see `member key list`)")
        if rows[0]["revoked"]:
            raise UsageError(f"key {fp} was already revoked at {rows[0]['revoked']}")
        when = now_iso()
        self.store.db.table(MEMBER_KEYS_TABLE).update(fp, {"revoked": when})
        return {**rows[0], "revoked": when}


def pool_signer(signing_dir: Any) -> PoolSigner:
    signer = PoolSigner(signing_dir)
    try:
        signer.load(force=True)
    except SignatureError as exc:
        raise UsageError(f"the pool's signing key: {exc}") from None
    return signer
