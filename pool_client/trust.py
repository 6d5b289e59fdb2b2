"""Trust on first use for the server's SSH host key and FTPS certificate.

Both are pinned in the config folder: SSH keys in ``known_hosts`` (OpenSSH format, so
`ssh-keygen -F` reads it), certificates in ``known_certs`` (``host:port sha256-hex``).
The first connection records what it saw and says so with the fingerprint; a later
mismatch is refused.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

from .errors import AuthError

Notify = Callable[[str], None]


def _host_entry(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def check_host_key(folder: Path, host: str, port: int, key, notify: Notify) -> None:
    """Accept `key` (a paramiko PKey) for host:port, recording it the first time."""
    import paramiko

    path = folder / "known_hosts"
    keys = paramiko.HostKeys()
    if path.exists():
        keys.load(str(path))
    entry = _host_entry(host, port)
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode()
    fingerprint = fingerprint.rstrip("=")
    known = keys.lookup(entry)
    if known is not None and key.get_name() in known:
        if known[key.get_name()] == key:
            return
        raise AuthError(
            f"the SSH host key of {entry} has CHANGED (now {key.get_name()} {fingerprint}); "
            f"this may be an attack. If the pool's operator confirms the new key, remove the "
            f"old line from {path} and connect again"
        )
    folder.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{entry} {key.get_name()} {key.get_base64()}\n")
    notify(
        f"new host {entry}: trusting its {key.get_name()} key {fingerprint} "
        f"(recorded in {path}; check it with the pool's operator: `pool-server info`)"
    )


def check_certificate(folder: Path, host: str, port: int, der: bytes, notify: Notify) -> None:
    """Accept a TLS certificate (DER bytes) for host:port, pinning it the first time."""
    path = folder / "known_certs"
    fingerprint = hashlib.sha256(der).hexdigest()
    entry = f"{host}:{port}"
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == entry:
                if parts[1] == fingerprint:
                    return
                raise AuthError(
                    f"the TLS certificate of {entry} has CHANGED (now sha256 {fingerprint}); "
                    f"this may be an attack. If the pool's operator confirms it, remove the "
                    f"line for {entry} from {path} and connect again"
                )
    folder.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{entry} {fingerprint}\n")
    pretty = ":".join(fingerprint[i : i + 2] for i in range(0, len(fingerprint), 2)).upper()
    notify(
        f"new host {entry}: trusting its TLS certificate SHA256:{pretty} "
        f"(recorded in {path}; check it with the pool's operator: `pool-server info`)"
    )
