"""What the pool published, as the pool itself can vouch for it: an item's signed
manifest (verified with the pool's own key list) and, by sha256, every published item
version holding a file with those bytes. Used by the web door (item page, manifest API,
the public /verify page)."""

from __future__ import annotations

import json
import re
from typing import Any

from catalog.manifest import verify_manifest
from catalog.signing import PoolKey, PoolSigner, SignatureError

from .context import DataDir
from .errors import UsageError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def pool_keys(data: DataDir) -> tuple[list[PoolKey], Any]:
    """The pool's verified key list and the document as published."""
    signer = PoolSigner(data.signing_dir)
    try:
        signer.load()
    except SignatureError:
        return [], None
    return signer.keys, json.loads(signer.published())


def verdict(manifest: Any, signature: Any, keys: list[PoolKey]) -> dict[str, Any]:
    """{"verified": bool, "key": fingerprint, "reason"?} for a manifest and signature."""
    if manifest is None:
        return {"verified": False, "reason": "no manifest"}
    try:
        key = verify_manifest(manifest, signature, keys)
    except SignatureError as exc:
        return {"verified": False, "reason": str(exc)}
    return {"verified": True, "key": key.fingerprint}


def provenance_of(
    item: dict[str, Any], keys: list[PoolKey], data: DataDir | None = None
) -> dict[str, Any]:
    """The item page's provenance block: contributed by, signed by, verified, and
    whether a copy with C2PA Content Credentials is published."""
    manifest = item.get("manifest") if isinstance(item.get("manifest"), dict) else None
    pool = verdict(manifest, item.get("manifest_signature"), keys)
    member = dict((manifest or {}).get("member_signature") or {"status": "unsigned"})
    member.pop("signature", None)
    credentialed = False
    if data is not None:
        from catalog.credentials import delivery_path

        name = str(item.get("path") or "").rsplit("/", 1)[-1]
        credentialed = bool(name) and delivery_path(data.pool_root, item["id"], name).is_file()
    return {
        "credentialed": credentialed,
        "contributed_by": item.get("member"),
        "version": (manifest or {}).get("version"),
        "signed": (manifest or {}).get("signed"),
        "pool": pool,
        "member": member,
    }


def by_sha256(db: Any, sha256: str, keys: list[PoolKey]) -> list[dict[str, Any]]:
    """Every published item version with a file of these bytes, newest first: what an
    anonymous visitor of /verify may learn (no titles, no paths beyond the file name)."""
    sha256 = sha256.strip().lower()
    if not _SHA256.match(sha256):
        raise UsageError("give a sha256 as 64 hexadecimal digits")
    rows = db.execute(
        "SELECT f.item_id, f.version, f.path, m.manifest, m.signature"
        " FROM manifest_files f JOIN manifests m"
        " ON m.item_id = f.item_id AND m.version = f.version"
        " WHERE f.sha256 = ? ORDER BY f.version DESC LIMIT 20",
        [sha256],
    ).fetchall()
    out = []
    for item_id, version, path, manifest_text, signature_text in rows:
        manifest = json.loads(manifest_text)
        signature = json.loads(signature_text) if signature_text else None
        member = dict(manifest.get("member_signature") or {"status": "unsigned"})
        member.pop("signature", None)
        out.append(
            {
                "item": item_id,
                "version": version,
                "file": path.rsplit("/", 1)[-1],
                "contributed_by": manifest.get("member"),
                "uploaded": manifest.get("uploaded"),
                "pool_signature": verdict(manifest, signature, keys),
                "member_signature": member,
            }
        )
    return out
