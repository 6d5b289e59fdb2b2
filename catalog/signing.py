"""Ed25519 signatures over canonical JSON, and the pool's signed key list.

Everything the pool signs is a JSON object serialised with RFC 8785 (JCS, the `rfc8785`
package), so anyone can re-create the exact signed bytes from the parsed JSON.

The pool's key list (``keys.json``, published as ``pool/.catalog/keys.json``) is a chain:
the first key is the pool's original key; every later key is announced by the one before
it (a signature by the old key over the new key's entry) and acknowledges its place in
the chain (the same entry signed by the new key). A key is valid from its own
``valid_from`` until the next key's. A client that pinned any key of the chain can thus
follow rotations forward and trust the keys before it, and nobody without the current
key can insert one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import CatalogError

KEYS_FORMAT = "ortak-pool-keys"
KEYS_VERSION = 1
KEYS_NAME = "keys.json"
ANNOUNCEMENT = "ortak-key-announcement"


class SignatureError(CatalogError):
    """A signature, a key or a key list does not verify."""


def canonical(doc: Any) -> bytes:
    """RFC 8785 canonical JSON of `doc` (the bytes that are signed and hashed)."""
    try:
        return rfc8785.dumps(doc)
    except rfc8785.CanonicalizationError as exc:
        raise SignatureError(f"cannot canonicalise: {exc}") from exc


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise SignatureError("expected a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise SignatureError(f"not base64: {exc}") from exc


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey | bytes) -> str:
    """OpenSSH's fingerprint of the key (``SHA256:<base64>`` of its ssh-ed25519 blob), so
    ``ssh-keygen -lf member.pub`` shows the same."""
    raw = key if isinstance(key, bytes) else raw_public(key)
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", len(raw)) + raw
    return "SHA256:" + b64(hashlib.sha256(blob).digest()).rstrip("=")


def public_from_b64(text: Any) -> Ed25519PublicKey:
    raw = unb64(text)
    if len(raw) != 32:
        raise SignatureError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from an OpenSSH line (``ssh-ed25519 AAAA… comment``), a PEM
    SubjectPublicKeyInfo, or 32 raw bytes in base64."""
    text = data.strip()
    try:
        if text.startswith(b"ssh-"):
            key: Any = serialization.load_ssh_public_key(b" ".join(text.split()[:2]))
        elif text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(text)
        else:
            key = public_from_b64(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError, TypeError, SignatureError) as exc:
        raise SignatureError(
            f"not a public key (give the `ssh-ed25519 AAAA…` line `pool keygen` wrote, "
            f"or a PEM public key): {exc}"
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError("not an Ed25519 public key (make one with `pool keygen`)")
    return key


def ssh_public_line(key: Ed25519PublicKey, comment: str) -> str:
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{line.decode('ascii')} {comment}".strip()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"not a private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError("not an Ed25519 private key")
    return key


def sign(key: Ed25519PrivateKey, doc: Any) -> str:
    """Base64 Ed25519 signature over the canonical JSON of `doc`."""
    return b64(key.sign(canonical(doc)))


def verify(key: Ed25519PublicKey, doc: Any, signature: Any) -> bool:
    try:
        key.verify(unb64(signature), canonical(doc))
    except (InvalidSignature, SignatureError):
        return False
    return True


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SignatureError(f"not a time: {text!r}") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def write_private(path: Path, data: bytes) -> None:
    """Create `path` readable by its owner only (0600); never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


# -- the key list ------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolKey:
    fingerprint: str
    public: Ed25519PublicKey
    valid_from: str
    valid_until: str | None


def _entry_body(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": ANNOUNCEMENT,
        "fingerprint": entry["fingerprint"],
        "public_key": entry["public_key"],
        "valid_from": entry["valid_from"],
        "previous": entry.get("previous"),
    }


def new_entry(
    key: Ed25519PrivateKey, previous: Ed25519PrivateKey | None, previous_fp: str | None
) -> dict[str, Any]:
    """A key list entry for `key`, announced by `previous` (None for the first key)."""
    pub = key.public_key()
    entry: dict[str, Any] = {
        "fingerprint": fingerprint(pub),
        "algorithm": "ed25519",
        "public_key": b64(raw_public(pub)),
        "valid_from": now_iso(),
        "previous": previous_fp,
    }
    body = _entry_body(entry)
    entry["signature"] = sign(key, body)
    if previous is not None:
        entry["announced_by_previous"] = sign(previous, body)
    return entry


def key_list(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The published document: entries with their validity periods filled in."""
    out = []
    for i, entry in enumerate(entries):
        shown = dict(entry)
        shown["valid_until"] = entries[i + 1]["valid_from"] if i + 1 < len(entries) else None
        out.append(shown)
    return {"format": KEYS_FORMAT, "version": KEYS_VERSION, "keys": out}


def verify_key_list(doc: Any) -> list[PoolKey]:
    """Every key of a key list, oldest first, once each link of its chain verifies."""
    if not isinstance(doc, dict) or doc.get("format") != KEYS_FORMAT:
        raise SignatureError("not an Ortak pool key list")
    if doc.get("version") != KEYS_VERSION:
        raise SignatureError(f"key list version {doc.get('version')} is not supported")
    entries = doc.get("keys")
    if not isinstance(entries, list) or not entries:
        raise SignatureError("the key list is empty")
    keys: list[PoolKey] = []
    previous: Ed25519PublicKey | None = None
    previous_fp: str | None = None
    try:
        for entry in entries:
            pub = public_from_b64(entry["public_key"])
            fp = fingerprint(pub)
            body = _entry_body(entry)
            if fp != entry["fingerprint"] or entry.get("previous") != previous_fp:
                raise SignatureError(f"key {entry.get('fingerprint')} is out of its chain")
            if not verify(pub, body, entry.get("signature")):
                raise SignatureError(f"key {fp}: its own signature does not verify")
            if previous is not None and not verify(
                previous, body, entry.get("announced_by_previous")
            ):
                raise SignatureError(f"key {fp} was not announced by {previous_fp}")
            if keys and _when(str(entry["valid_from"])) < _when(keys[-1].valid_from):
                raise SignatureError(f"key {fp} starts before the key it replaces")
            keys.append(PoolKey(fp, pub, str(entry["valid_from"]), None))
            previous, previous_fp = pub, fp
    except (KeyError, TypeError) as exc:
        raise SignatureError(f"malformed key list entry: {exc}") from exc
    return [
        PoolKey(k.fingerprint, k.public, k.valid_from, keys[i + 1].valid_from)
        if i + 1 < len(keys)
        else k
        for i, k in enumerate(keys)
    ]


def trusted_chain(doc: Any, pinned: str) -> list[PoolKey]:
    """The verified key list, provided `pinned` (a fingerprint the user trusts) is in it."""
    keys = verify_key_list(doc)
    if pinned not in {k.fingerprint for k in keys}:
        raise SignatureError(
            f"the pool's key list does not contain the key pinned at login ({pinned}): "
            "its signing key changed without being announced"
        )
    return keys


def key_for(keys: Iterable[PoolKey], fp: str, when: str | None = None) -> PoolKey:
    """The key `fp` of a verified list; with `when`, it must have been valid then."""
    for key in keys:
        if key.fingerprint != fp:
            continue
        if when is not None and (
            _when(when) < _when(key.valid_from)
            or (key.valid_until is not None and _when(when) >= _when(key.valid_until))
        ):
            raise SignatureError(
                f"key {fp} was not the pool's key at {when} "
                f"(valid {key.valid_from} to {key.valid_until or 'now'})"
            )
        return key
    raise SignatureError(f"key {fp} is not one of the pool's keys")


# -- the pool's own keys on disk -----------------------------------------------------------


class PoolSigner:
    """The pool's signing keys in a folder of the server's data (``<data>/keys/signing``):
    ``pool-signing-<n>.pem`` (0600, the private keys, newest = current) and ``keys.json``
    (the public chain)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._stamp: tuple[int, int] | None = None
        self._key: Ed25519PrivateKey | None = None
        self.fingerprint = ""
        self.keys: list[PoolKey] = []

    @property
    def list_path(self) -> Path:
        return self.folder / KEYS_NAME

    def exists(self) -> bool:
        return self.list_path.is_file()

    def _private_paths(self) -> list[Path]:
        return sorted(
            self.folder.glob("pool-signing-*.pem"), key=lambda p: int(p.stem.rsplit("-", 1)[1])
        )

    def _entries(self) -> list[dict[str, Any]]:
        if not self.list_path.is_file():
            return []
        return list(json.loads(self.list_path.read_text("utf-8"))["keys"])

    def _write_list(self, entries: list[dict[str, Any]]) -> None:
        tmp = self.list_path.with_name(f".{KEYS_NAME}.tmp")
        tmp.write_text(json.dumps(key_list(entries), indent=1) + "\n", "utf-8")
        os.replace(tmp, self.list_path)

    def ensure(self) -> bool:
        """Make the first key if there is none. Returns True if it made one."""
        if self.exists():
            return False
        key = Ed25519PrivateKey.generate()
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        write_private(self.folder / "pool-signing-1.pem", private_pem(key))
        self._write_list([new_entry(key, None, None)])
        return True

    def rotate(self) -> tuple[str, str]:
        """Make a new key announced by the current one. Returns (old, new) fingerprints."""
        self.load(force=True)
        old = self._key
        assert old is not None
        entries = self._entries()
        paths = self._private_paths()
        n = int(paths[-1].stem.rsplit("-", 1)[1]) + 1 if paths else 1
        key = Ed25519PrivateKey.generate()
        write_private(self.folder / f"pool-signing-{n}.pem", private_pem(key))
        entries.append(new_entry(key, old, entries[-1]["fingerprint"]))
        self._write_list(entries)
        old_fp = self.fingerprint
        self.load(force=True)
        return old_fp, self.fingerprint

    def load(self, force: bool = False) -> None:
        """(Re)read the keys when the list changed on disk (a rotation by another process)."""
        try:
            st = self.list_path.stat()
        except FileNotFoundError as exc:
            raise SignatureError(
                f"no pool signing key in {self.folder} (run `pool-server init`)"
            ) from exc
        stamp = (st.st_mtime_ns, st.st_size)
        if not force and stamp == self._stamp:
            return
        doc = json.loads(self.list_path.read_text("utf-8"))
        keys = verify_key_list(doc)
        paths = self._private_paths()
        if not paths:
            raise SignatureError(f"no private signing key in {self.folder}")
        key = load_private_key(paths[-1].read_bytes())
        if fingerprint(key.public_key()) != keys[-1].fingerprint:
            raise SignatureError(f"{paths[-1]} is not the newest key of {self.list_path}")
        self._key, self.keys, self.fingerprint = key, keys, keys[-1].fingerprint
        self._stamp = stamp

    def published(self) -> bytes:
        """The key list as published in the feed."""
        return self.list_path.read_bytes()

    def sign(self, doc: Any) -> dict[str, str]:
        """{"key": fingerprint, "signature": base64} over the canonical `doc`."""
        self.load()
        assert self._key is not None
        return {"key": self.fingerprint, "signature": sign(self._key, doc)}
