"""Item manifests: what the pool (and, if it signed, the member) vouches for.

A manifest is a JSON object (docs/provenance.md, catalog/FEED.md) serialised with RFC 8785:

    {"format": "ortak-manifest", "manifest_version": 1, "id", "member", "path", "version",
     "files": [{"path", "role", "size", "sha256"}, …],      # every file of the item
     "metadata": {"title": …, …},                           # descriptive fields as catalogued
     "uploaded", "signed",
     "member_signature": {"status": "signed by member" | "signature invalid" | "unsigned",
                          "key"?, "signature"?, "reason"?}}

The pool signs the whole manifest (``manifest_signature`` = {"key", "signature"}). A
member signs, before uploading, what it can know by then: the item id, its member and
every file it sends with size and sha256 (`member_payload`), sent as ``<stem>.sig``. The
pool's manifest records whether that signature verified against the member's registered
keys, and the pool's signature covers that verdict.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from .errors import CatalogError
from .signing import PoolKey, SignatureError, key_for, load_public_key, now_iso, verify

MANIFEST_FORMAT = "ortak-manifest"
MANIFEST_VERSION = 1
MEMBER_FORMAT = "ortak-member-manifest"
SIGNATURE_FORMAT = "ortak-member-signature"
MAX_SIGNATURE_BYTES = 64 * 1024

SIGNED_BY_MEMBER = "signed by member"
SIGNATURE_INVALID = "signature invalid"
UNSIGNED = "unsigned"

MEMBER_KEYS_TABLE = "member_signing_keys"
"""pool.db table of members' registered public keys (made by pool_server's store):
fingerprint, member, public_key (OpenSSH line), added, revoked (time or NULL)."""

DESCRIPTIVE = (
    "category",
    "series",
    "episode",
    "story_id",
    "slug",
    "title",
    "description",
    "shotlist",
    "languages",
    "location",
    "dateline",
    "keywords",
    "subjects",
    "restrictions",
    "embargo",
    "content_date",
    "creator",
)
"""Item fields a manifest carries as its descriptive metadata."""


def parse_member_signature(data: bytes) -> dict[str, str]:
    """The {"key", "signature"} of a ``.sig`` file; CatalogError when it is not one."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise CatalogError(f"signature file is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != SIGNATURE_FORMAT:
        raise CatalogError("not an Ortak member signature")
    key, sig = doc.get("key"), doc.get("signature")
    if not isinstance(key, str) or not isinstance(sig, str):
        raise CatalogError("member signature without key or signature")
    return {"key": key, "signature": sig}


def member_payload(item_id: str, member: str, files: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What a member signs: the item and every file it sends (path, size, sha256)."""
    return {
        "format": MEMBER_FORMAT,
        "id": item_id,
        "member": member,
        "files": sorted(
            ({"path": f["path"], "size": f["size"], "sha256": f["sha256"]} for f in files),
            key=lambda f: f["path"],
        ),
    }


def signature_file(key_fp: str, signature: str, payload: dict[str, Any]) -> bytes:
    """The ``.sig`` attachment `pool put --sign` sends."""
    doc = {"format": SIGNATURE_FORMAT, "key": key_fp, "signature": signature, "signed": payload}
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


MemberKeys = Callable[[str, str], tuple[str, bool] | None]
"""(member, fingerprint) → (public key text, revoked) or None if not registered."""


def member_keys_from_db(db: Any) -> MemberKeys:
    """A lookup of members' keys in pool.db (no keys when the table is absent)."""

    def lookup(member: str, fp: str) -> tuple[str, bool] | None:
        try:
            row = db.execute(
                f"SELECT public_key, revoked FROM {MEMBER_KEYS_TABLE}"
                " WHERE member = ? AND fingerprint = ?",
                [member, fp],
            ).fetchone()
        except sqlite3.OperationalError:
            return None
        return (row[0], row[1] is not None) if row else None

    return lookup


def member_verdict(
    item_id: str, member: str, files: list[dict[str, Any]], keys: MemberKeys
) -> dict[str, Any]:
    """The member_signature block for an item's file rows (the indexer's `item_files`)."""
    sigs = [f for f in files if (f["info"].get("role") or f["role"]) == "signature"]
    if not sigs:
        return {"status": UNSIGNED}
    info = sigs[0]["info"]
    found = info.get("member_signature")
    if not isinstance(found, dict):
        return {"status": SIGNATURE_INVALID, "reason": info.get("error") or "unreadable"}
    out: dict[str, Any] = {"key": found["key"], "signature": found["signature"]}
    signed = [f for f in files if f not in sigs]
    if any(f["sha256"] is None for f in signed):
        return {"status": SIGNATURE_INVALID, **out, "reason": "a file could not be hashed"}
    registered = keys(member, found["key"])
    if registered is None:
        return {"status": SIGNATURE_INVALID, **out, "reason": f"key not registered for {member}"}
    text, revoked = registered
    if revoked:
        return {"status": SIGNATURE_INVALID, **out, "reason": "key revoked"}
    try:
        pub = load_public_key(text.encode())
    except SignatureError as exc:
        return {"status": SIGNATURE_INVALID, **out, "reason": str(exc)}
    if not verify(pub, member_payload(item_id, member, signed), found["signature"]):
        return {"status": SIGNATURE_INVALID, **out, "reason": "does not match the files"}
    return {"status": SIGNED_BY_MEMBER, **out}


def build_manifest(
    row: dict[str, Any],
    files: list[dict[str, Any]],
    version: int,
    member_signature: dict[str, Any],
) -> dict[str, Any]:
    """The manifest of an item row (catalog/items.build_item) and its file rows."""
    metadata = {k: row[k] for k in DESCRIPTIVE if row.get(k) not in (None, "", [])}
    return {
        "format": MANIFEST_FORMAT,
        "manifest_version": MANIFEST_VERSION,
        "id": row["id"],
        "member": row["member"],
        "path": row["path"],
        "version": version,
        "files": sorted(
            (
                {
                    "path": f["path"],
                    "role": f["info"].get("role") or f["role"],
                    "size": f["size"],
                    "sha256": f["sha256"],
                }
                for f in files
            ),
            key=lambda f: f["path"],
        ),
        "metadata": metadata,
        "uploaded": row.get("uploaded"),
        "member_signature": member_signature,
    }


_UNVERSIONED = frozenset({"version", "signed"})


def same_content(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    """True when two manifests differ at most in version and signing time."""
    if a is None:
        return False
    return {k: v for k, v in a.items() if k not in _UNVERSIONED} == {
        k: v for k, v in b.items() if k not in _UNVERSIONED
    }


class Notary:
    """Makes and signs manifests for the indexer (`store.rebuild_item`)."""

    def __init__(self, signer: Any, member_keys: MemberKeys) -> None:
        self.signer = signer
        """A `signing.PoolSigner`, or None to publish unsigned manifests."""
        self.member_keys = member_keys

    def seal(
        self, row: dict[str, Any], old: dict[str, Any] | None, files: list[dict[str, Any]]
    ) -> None:
        """Set row['manifest'] and row['manifest_signature'] (a new version if changed)."""
        verdict = member_verdict(row["id"], row["member"], files, self.member_keys)
        previous = (old or {}).get("manifest")
        version = int(previous["version"]) if isinstance(previous, dict) else 0
        manifest = build_manifest(row, files, version, verdict)
        same = isinstance(previous, dict) and same_content(previous, manifest)
        old_signature = (old or {}).get("manifest_signature")
        if same and (old_signature or self.signer is None):
            row["manifest"] = previous
            row["manifest_signature"] = old_signature
            return
        manifest["version"] = version if same else version + 1  # same: now signed
        manifest["signed"] = now_iso()
        row["manifest"] = manifest
        row["manifest_signature"] = self.signer.sign(manifest) if self.signer else None


def verify_manifest(manifest: Any, signature: Any, keys: list[PoolKey]) -> PoolKey:
    """The pool key that signed `manifest` (checked against a verified key list, valid
    when it signed). SignatureError when it does not verify."""
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise SignatureError("the item has no manifest")
    if not isinstance(signature, dict):
        raise SignatureError(f"the manifest of {manifest.get('id')} is not signed")
    key = key_for(keys, str(signature.get("key")), str(manifest.get("signed")))
    if not verify(key.public, manifest, signature.get("signature")):
        raise SignatureError(f"the signature of {manifest.get('id')}'s manifest does not verify")
    return key


def manifest_file(manifest: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The entry of pool path `path` in a manifest's file list."""
    return next((f for f in manifest.get("files") or [] if f.get("path") == path), None)
