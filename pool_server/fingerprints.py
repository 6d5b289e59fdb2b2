"""Fingerprints of the pool's SSH host keys and TLS certificate, for members to verify."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from catalog.signing import PoolSigner, SignatureError

from .app import Pool


def ssh_fingerprint(pub_line: str) -> str:
    """OpenSSH's SHA256 fingerprint of an 'ssh-ed25519 AAAA... comment' line."""
    blob = base64.b64decode(pub_line.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """'SHA256:AB:CD:...', as `openssl x509 -fingerprint -sha256` prints it."""
    return "SHA256:" + cert.fingerprint(hashes.SHA256()).hex(":").upper()


def host_keys(pool: Pool) -> list[str]:
    """'ssh-ed25519 SHA256:...' for every host key the pool serves."""
    found = []
    for rel in pool.config.get("sftp", "host_keys").split(","):
        pub = (pool.data.path / rel.strip()).with_suffix(".pub")
        if rel.strip() and pub.is_file():
            line = pub.read_text().strip()
            found.append(f"{line.split()[0]} {ssh_fingerprint(line)}")
    return found


def certificate_path(pool: Pool) -> Path:
    return pool.data.path / pool.config.get("ftp", "tls_cert")


def certificate(pool: Pool) -> x509.Certificate | None:
    path = certificate_path(pool)
    if not path.is_file():
        return None
    return x509.load_pem_x509_certificate(path.read_bytes())


def public_fingerprints(pool: Pool) -> dict[str, Any]:
    """What a member checks a connection against: the SSH host keys' and the TLS
    certificate's SHA256 fingerprints (as `ssh-keygen -l` and `openssl x509
    -fingerprint -sha256` print them) and when the certificate expires."""
    from .tls import public_key_pin

    cert = certificate(pool)
    return {
        "ssh_host_keys": host_keys(pool),
        "tls_certificate": certificate_fingerprint(cert) if cert else None,
        "tls_public_key_pin": public_key_pin(cert) if cert else None,
        "tls_valid_until": cert.not_valid_after_utc.date().isoformat() if cert else None,
        "signing_key": signing_fingerprint(pool),
    }


def signing_fingerprint(pool: Pool) -> str | None:
    """The pool's current signing key (what `pool login` pins), or None."""
    signer = PoolSigner(pool.data.signing_dir)
    try:
        signer.load()
    except SignatureError:
        return None
    return signer.fingerprint


def describe(pool: Pool) -> dict[str, Any]:
    from .tls import public_key_pin

    data = pool.data
    cert = certificate(pool)
    tls = []
    if cert is not None:
        tls.append(certificate_fingerprint(cert))
        tls.append(f"valid until {cert.not_valid_after_utc.date().isoformat()}")
        tls.append(f"public key pin {public_key_pin(cert)} (curl --pinnedpubkey)")
    signing = []
    signer = PoolSigner(data.signing_dir)
    if signer.exists():
        try:
            signer.load()
            signing.append(signer.fingerprint)
            signing.append(f"valid from {signer.keys[-1].valid_from}")
        except SignatureError as exc:
            signing.append(f"unusable: {exc}")
    serving: Any = "not running"
    if data.serve_json.is_file():
        serving = json.loads(data.serve_json.read_text())
    return {
        "data": str(data.path),
        "pool": str(data.pool_root),
        "config": str(data.config_path),
        "host": pool.config.get("server", "host"),
        "serving": serving,
        "ssh_host_keys": host_keys(pool),
        "tls_certificate": tls,
        "signing_key": signing,
        "ffmpeg": _ffmpeg(pool),
    }


def _ffmpeg(pool: Pool) -> str:
    """Which ffmpeg the previews use, and its version."""
    from catalog.errors import CatalogError
    from catalog.previews.tools import find_tools

    try:
        tools = find_tools(str(pool.config.get("previews", "ffmpeg")))
    except CatalogError as exc:
        return f"none: {exc}"
    return f"{tools.ffmpeg} (version {tools.version}, {tools.source})"
