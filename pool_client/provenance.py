"""Checking what the pool signed, on the client: an item's manifest before a download,
and files on disk afterwards, offline (`pool verify`).

The local catalog keeps every manifest ever published (``manifests``) and the files they
name by sha256 (``manifest_files``), and the pool's verified key list beside it
(`poolkeys`), so a file can be traced to its item, version, member and signers years
later without a connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import NotFound, ProvenanceError
from .poolkeys import PoolTrust

if TYPE_CHECKING:
    import sqlite_utils

    from catalog.signing import PoolKey

MANIFEST_SUFFIX = ".manifest.json"


def item_manifest(db: sqlite_utils.Database, item_id: str) -> tuple[Any, Any]:
    row = db.execute(
        "SELECT manifest, manifest_signature FROM items WHERE id = ?", [item_id]
    ).fetchone()
    if row is None:
        raise NotFound(f"{item_id}: no such item in the local catalog")
    return (json.loads(row[0]) if row[0] else None, json.loads(row[1]) if row[1] else None)


def read_manifests(db_path: Path, ids: list[str]) -> dict[str, tuple[Any, Any]]:
    """id → (manifest, signature) with sqlite3 alone (a `get` starts at once)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        out = {}
        for item_id in ids:
            try:
                row = conn.execute(
                    "SELECT manifest, manifest_signature FROM items WHERE id = ?", [item_id]
                ).fetchone()
            except sqlite3.OperationalError:  # a copy from before manifests
                return {}
            if row is not None:
                out[item_id] = (
                    json.loads(row[0]) if row[0] else None,
                    json.loads(row[1]) if row[1] else None,
                )
        return out
    finally:
        conn.close()


class Checker:
    """Verifies manifests with the pool's keys as this client trusts them."""

    def __init__(self, trust: PoolTrust, fetch_keys: Callable[[], bytes] | None) -> None:
        self.trust = trust
        self.fetch_keys = fetch_keys
        self._keys: list[PoolKey] | None = None

    @property
    def required(self) -> bool:
        """True once the pool's key is pinned: unsigned items are refused from then on."""
        return self.trust.pinned() is not None

    def keys(self, fp: str) -> list[PoolKey]:
        if self._keys is None or not any(k.fingerprint == fp for k in self._keys):
            if self.fetch_keys is None:
                self._keys = self.trust.cached()
            else:
                self._keys = self.trust.keys_for(fp, self.fetch_keys)
        return self._keys

    def check(self, manifest: Any, signature: Any) -> PoolKey:
        from catalog.manifest import verify_manifest
        from catalog.signing import SignatureError

        fp = str(signature.get("key")) if isinstance(signature, dict) else ""
        try:
            return verify_manifest(manifest, signature, self.keys(fp))
        except SignatureError as exc:
            name = manifest.get("id") if isinstance(manifest, dict) else "an item"
            raise ProvenanceError(f"{name}: {exc}") from exc

    def expected_files(
        self, item: dict[str, Any], manifest: Any, signature: Any
    ) -> dict[str, tuple[int | None, str | None]]:
        """path → (size, sha256) of every file of `item`, from its verified manifest (or,
        for a pool that signs nothing and was never pinned, from the catalog row)."""
        if manifest is None and not self.required:
            files = {item["path"]: (item.get("size"), item.get("sha256"))}
            for att in item.get("attachments") or []:
                files[att["path"]] = (att.get("size"), att.get("sha256"))
            return files
        self.check(manifest, signature)
        if manifest.get("id") != item["id"]:
            raise ProvenanceError(f"{item['id']}: its manifest is for {manifest.get('id')}")
        files = {f["path"]: (f.get("size"), f.get("sha256")) for f in manifest["files"]}
        listed = [(item["path"], item.get("sha256"))] + [
            (a.get("path"), a.get("sha256")) for a in item.get("attachments") or []
        ]
        for path, sha in listed:
            if path in files and sha is not None and files[path][1] != sha:
                raise ProvenanceError(
                    f"{item['id']}: the local catalog's sha256 of {path} is not the one in "
                    "the item's signed manifest: run `pool update`"
                )
        return files


def bundle(manifest: Any, signature: Any, keys_doc: Any) -> bytes:
    """`pool get --manifest`: the signed manifest and the pool's key list, self-contained."""
    doc = {"manifest": manifest, "manifest_signature": signature, "pool_keys": keys_doc}
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


# -- what a file on disk is --------------------------------------------------------------


@dataclass
class Origin:
    """A published version of an item that holds a file with a given sha256."""

    item: str
    version: int
    path: str
    member: str
    uploaded: str | None
    current_version: int | None
    pool_key: str | None
    pool_signature: str
    """'verified', or why not."""
    member_signature: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def origins(db: sqlite_utils.Database, sha256: str, checker: Checker) -> list[Origin]:
    """Every published item version holding a file with this sha256, newest first."""
    from catalog.manifest import verify_manifest
    from catalog.signing import SignatureError

    rows = db.execute(
        "SELECT f.item_id, f.version, f.path, m.manifest, m.signature,"
        " (SELECT json_extract(i.manifest, '$.version') FROM items i WHERE i.id = f.item_id)"
        " FROM manifest_files f JOIN manifests m ON m.item_id = f.item_id"
        " AND m.version = f.version WHERE f.sha256 = ? ORDER BY f.version DESC",
        [sha256],
    ).fetchall()
    out = []
    for item_id, version, path, manifest_text, signature_text, current in rows:
        manifest = json.loads(manifest_text)
        signature = json.loads(signature_text) if signature_text else None
        fp = signature.get("key") if isinstance(signature, dict) else None
        try:
            verify_manifest(manifest, signature, checker.keys(str(fp)))
            status = "verified"
        except (SignatureError, ProvenanceError) as exc:
            status = f"NOT verified: {exc}"
        member_sig = {
            k: v for k, v in (manifest.get("member_signature") or {}).items() if k != "signature"
        }
        out.append(
            Origin(
                item_id,
                version,
                path,
                manifest.get("member", ""),
                manifest.get("uploaded"),
                current,
                fp,
                status,
                member_sig,
            )
        )
    return out


def check_bundle(path: Path, checker: Checker) -> str:
    """'ok' or the reason a `--manifest` file does not verify."""
    try:
        doc = json.loads(path.read_bytes())
        checker.check(doc["manifest"], doc["manifest_signature"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable manifest: {exc}"
    except ProvenanceError as exc:
        return str(exc)
    return "ok"
