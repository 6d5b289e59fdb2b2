"""Fingerprints of the pool's SSH host keys and TLS certificate, for members to verify."""

from __future__ import annotations

import base64
import hashlib
import json
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


def describe(pool: Pool) -> dict[str, Any]:
    data = pool.data
    host_keys = []
    for rel in pool.config.get("sftp", "host_keys").split(","):
        pub = (data.path / rel.strip()).with_suffix(".pub")
        if pub.is_file():
            line = pub.read_text().strip()
            host_keys.append(f"{line.split()[0]} {ssh_fingerprint(line)}")
    tls = []
    cert_path = data.path / pool.config.get("ftp", "tls_cert")
    if cert_path.is_file():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        tls.append("SHA256:" + cert.fingerprint(hashes.SHA256()).hex(":").upper())
        tls.append(f"valid until {cert.not_valid_after_utc.date().isoformat()}")
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
        "ssh_host_keys": host_keys,
        "tls_certificate": tls,
        "signing_key": signing,
    }
