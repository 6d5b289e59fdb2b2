"""C2PA Content Credentials (c2pa-python) on the pool's proxies and MP4/MOV deliveries.

With ``[provenance] c2pa_cert`` (an X.509 chain, PEM, leaf first, that the operator
obtains from a CA trusted by Content Credentials tools) and ``c2pa_key`` (its private
key, PEM), a file the pool makes from an item — the proxy, a delivery copy — gets a C2PA
manifest naming the contributing member (schema.org CreativeWork author) and the pool
(publisher, signer), the item's id, version and the pool's own manifest hash
(``org.ortak.provenance``), with the original as its parent ingredient. The original
essence is never rewritten: the manifest goes into a new file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .errors import CatalogError
from .signing import canonical

SETTINGS: tuple[tuple[str, object, str], ...] = (
    (
        "c2pa_cert",
        "",
        "X.509 certificate chain (PEM, leaf first) for C2PA Content Credentials on proxies "
        "and MP4/MOV deliveries; empty: none",
    ),
    ("c2pa_key", "", "the private key (PEM) of c2pa_cert"),
    ("pool_name", "Ortak pool", "the pool's name in Content Credentials (publisher)"),
)
"""The ``[provenance]`` section of pool.toml."""

ASSERTION = "org.ortak.provenance"
MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}
INGREDIENT_MIME = {**MIME, ".mxf": "application/mxf", ".m4a": "audio/mp4", ".wav": "audio/wav"}
DELIVERY_EXT = frozenset({".mp4", ".mov", ".m4v"})


class CredentialsError(CatalogError):
    """Content Credentials could not be made (bad certificate or key, unsupported file)."""


def _alg(key_pem: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CredentialsError(f"c2pa_key is not a PEM private key: {exc}") from exc
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return b"ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: b"es256", 384: b"es384", 521: b"es512"}[key.curve.key_size]
    if isinstance(key, rsa.RSAPrivateKey):
        return b"ps256"
    raise CredentialsError("c2pa_key: use an EC (P-256/384/521), Ed25519 or RSA key")


class ContentCredentials:
    def __init__(self, cert_chain: bytes, key: bytes, pool_name: str) -> None:
        self.chain = cert_chain
        self.key = key
        self.alg = _alg(key)
        self.pool_name = pool_name

    @classmethod
    def from_settings(cls, base: Path, settings: dict[str, Any]) -> ContentCredentials | None:
        """None unless both c2pa_cert and c2pa_key are set (paths relative to `base`)."""
        cert, key = str(settings.get("c2pa_cert") or ""), str(settings.get("c2pa_key") or "")
        if not cert or not key:
            return None
        try:
            chain = (base / cert).read_bytes()
            private = (base / key).read_bytes()
        except OSError as exc:
            raise CredentialsError(f"[provenance] c2pa_cert/c2pa_key: {exc}") from exc
        return cls(chain, private, str(settings.get("pool_name") or "Ortak pool"))

    def manifest_json(self, item: dict[str, Any], what: str) -> str:
        found = item.get("manifest")
        manifest: dict[str, Any] = found if isinstance(found, dict) else {}
        member = str(item.get("member") or manifest.get("member") or "")
        return json.dumps(
            {
                "claim_generator_info": [{"name": "Ortak", "version": "0.1"}],
                "title": f"{item.get('title') or item.get('id')} ({what})",
                "assertions": [
                    {
                        "label": "stds.schema-org.CreativeWork",
                        "data": {
                            "@context": "https://schema.org",
                            "@type": "CreativeWork",
                            "author": [{"@type": "Organization", "name": member}],
                            "publisher": {"@type": "Organization", "name": self.pool_name},
                            "identifier": item.get("id"),
                        },
                    },
                    {
                        "label": "c2pa.actions",
                        "data": {
                            "actions": [
                                {"action": "c2pa.opened", "parameters": {"ingredientIds": ["o"]}},
                                *([{"action": "c2pa.transcoded"}] if what == "proxy" else []),
                                {"action": "c2pa.published"},
                            ]
                        },
                    },
                    {
                        "label": ASSERTION,
                        "data": {
                            "item": item.get("id"),
                            "member": member,
                            "pool": self.pool_name,
                            "version": manifest.get("version"),
                            "original_sha256": item.get("sha256"),
                            "manifest_sha256": hashlib.sha256(canonical(manifest)).hexdigest()
                            if manifest
                            else None,
                            "what": what,
                        },
                    },
                ],
            }
        )

    def embed(
        self, source: Path, dest: Path, item: dict[str, Any], original: Path, what: str
    ) -> None:
        """Write `source` with a C2PA manifest into `dest` (via a temporary name)."""
        import c2pa

        mime = MIME.get(source.suffix.lower())
        if mime is None:
            raise CredentialsError(f"{source.name}: Content Credentials go on MP4/MOV only")
        ingredient_mime = INGREDIENT_MIME.get(original.suffix.lower(), "application/octet-stream")
        tmp = dest.with_name(f".{dest.name}.c2pa.tmp")
        try:
            info = c2pa.C2paSignerInfo(
                alg=self.alg, sign_cert=self.chain, private_key=self.key, ta_url=None
            )
            signer = c2pa.Signer.from_info(info)
            builder = c2pa.Builder(self.manifest_json(item, what))
            with open(original, "rb") as ing:
                builder.add_ingredient(
                    json.dumps(
                        {
                            "title": original.name,
                            "relationship": "parentOf",
                            "label": "o",
                            "instance_id": f"ortak:{item.get('id')}:{item.get('sha256')}",
                        }
                    ),
                    ingredient_mime,
                    ing,
                )
            with open(source, "rb") as src, open(tmp, "w+b") as dst:
                builder.sign(signer, mime, src, dst)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, dest)
        except c2pa.C2paError as exc:
            raise CredentialsError(f"C2PA signing of {source.name} failed: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)


def read(path: Path, trust_anchors: bytes | None = None) -> dict[str, Any]:
    """The C2PA manifest store of `path` as c2pa-python reads it (validation included)."""
    import c2pa

    mime = MIME.get(path.suffix.lower(), "video/mp4")
    context = None
    if trust_anchors is not None:
        settings = c2pa.Settings.from_dict(
            {"verify": {"verify_trust": True}, "trust": {"trust_anchors": trust_anchors.decode()}}
        )
        context = c2pa.Context(settings)
    with open(path, "rb") as f:
        reader = c2pa.Reader(mime, f, context=context)
        return dict(json.loads(reader.json()))


def delivery_path(pool_root: Path, item_id: str, name: str) -> Path:
    """Where the Content Credentials copy of an MP4/MOV original is published."""
    from .layout import FEED_DIR

    return pool_root / FEED_DIR / "credentials" / item_id / name
