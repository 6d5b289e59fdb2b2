"""The member's own signing key (`pool keygen`, `pool put --sign`).

The private key (Ed25519, PEM) goes to the OS keyring when the optional ``keyring``
package has a usable backend, else to ``signing_key.pem`` in the config folder, readable
by its owner only (0600). The public key is written beside it as ``signing_key.pub``
(an OpenSSH line, so ``ssh-keygen -lf`` shows the same fingerprint as the pool).
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import config_dir
from .errors import UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEYRING_SERVICE = "ortak-pool-signing"
KEY_NAME = "signing_key.pem"
PUB_NAME = "signing_key.pub"


@dataclass
class Made:
    fingerprint: str
    public_path: Path
    where: str


def _keyring() -> Any:
    try:
        import keyring  # optional
        from keyring.backends import fail

        if isinstance(keyring.get_keyring(), fail.Keyring):
            return None
    except Exception:  # not installed, or no backend here
        return None
    return keyring


def _account() -> str:
    return str(config_dir())


def generate(force: bool = False, folder: Path | None = None) -> Made:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from catalog.signing import fingerprint, private_pem, ssh_public_line, write_private

    folder = folder or config_dir()
    pem_path, pub_path = folder / KEY_NAME, folder / PUB_NAME
    if not force and (pub_path.exists() or pem_path.exists()):
        raise UsageError(
            f"a signing key exists already ({pub_path}); --force replaces it "
            "(the pool's operator must then register the new one)"
        )
    key = Ed25519PrivateKey.generate()
    pem = private_pem(key)
    where = ""
    kr = _keyring()
    if kr is not None:
        try:
            kr.set_password(KEYRING_SERVICE, _account(), pem.decode("ascii"))
            where = f"in the OS keyring (service {KEYRING_SERVICE})"
            pem_path.unlink(missing_ok=True)
        except Exception:
            where = ""
    if not where:
        pem_path.unlink(missing_ok=True)
        write_private(pem_path, pem)
        where = f"in {pem_path} (mode 0600)"
    comment = f"{getpass.getuser()}@{socket.gethostname()}"
    tmp = pub_path.with_name(pub_path.name + ".tmp")
    tmp.write_text(ssh_public_line(key.public_key(), comment) + "\n", "utf-8")
    os.replace(tmp, pub_path)
    return Made(fingerprint(key.public_key()), pub_path, where)


def load(folder: Path | None = None) -> Ed25519PrivateKey:
    """The member's private signing key; UsageError if there is none."""
    from catalog.signing import SignatureError, load_private_key

    folder = folder or config_dir()
    pem_path = folder / KEY_NAME
    data: bytes | None = None
    if pem_path.exists():
        if pem_path.stat().st_mode & 0o077:
            raise UsageError(f"{pem_path} is readable by others: chmod 600 it")
        data = pem_path.read_bytes()
    else:
        kr = _keyring()
        if kr is not None:
            text = kr.get_password(KEYRING_SERVICE, _account())
            data = text.encode("ascii") if text else None
    if data is None:
        raise UsageError("no signing key: make one with `pool keygen` and have it registered")
    try:
        return load_private_key(data)
    except SignatureError as exc:
        raise UsageError(f"the signing key: {exc}") from None
