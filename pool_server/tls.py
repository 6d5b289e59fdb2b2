"""The pool's TLS certificate: checked before it is installed, installed atomically, and
picked up by a running server for its next connection.

`check_pair` refuses what the server could not serve (unreadable PEM, an encrypted or
mismatched key, an expired certificate) with a clear message, before anything changes.
`install` writes the key, then the certificate, each through a temporary file and a
rename. `ReloadingContext` gives the FTP door its pyOpenSSL context and, when the files
have changed since (their size, mtime and inode), builds a new one; `sni_reloader` does
the same for the HTTPS door at each handshake. Sessions already open keep theirs; a
new context that does not load (say the key and certificate are caught between two
writes) is reported and the current one kept until the next try.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from .errors import UsageError

log = logging.getLogger("ortak.tls")


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    not_after: dt.datetime
    fingerprint: str
    """'SHA256:AB:CD:…' of the leaf certificate (`openssl x509 -fingerprint -sha256`)."""
    public_key_pin: str
    """'sha256//BASE64' of the public key, as `curl --pinnedpubkey` takes it."""
    self_signed: bool
    chain_length: int


def public_key_pin(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256//" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def describe(chain: list[x509.Certificate]) -> CertificateInfo:
    from .fingerprints import certificate_fingerprint

    leaf = chain[0]
    return CertificateInfo(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
        fingerprint=certificate_fingerprint(leaf),
        public_key_pin=public_key_pin(leaf),
        self_signed=leaf.issuer == leaf.subject,
        chain_length=len(chain),
    )


def check_pair(cert_file: Path, key_file: Path) -> CertificateInfo:
    """What `cert_file` (PEM, the server's certificate first, then any intermediates)
    and `key_file` (PEM, unencrypted) hold; UsageError if they cannot be served."""
    try:
        cert_pem, key_pem = cert_file.read_bytes(), key_file.read_bytes()
    except OSError as exc:
        raise UsageError(f"{exc.filename}: {exc.strerror}")
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise UsageError(f"{cert_file}: not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise UsageError(
            f"{key_file}: the key is encrypted; the server cannot ask for a passphrase "
            "(decrypt it: openssl pkey -in KEY -out KEY.plain)"
        )
    except ValueError:
        raise UsageError(f"{key_file}: not a PEM private key (-----BEGIN PRIVATE KEY-----)")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != chain[0].public_key().public_bytes(
        der, public
    ):
        raise UsageError(f"{key_file} is not the key of the certificate in {cert_file}")
    info = describe(chain)
    if info.not_after <= dt.datetime.now(dt.UTC):
        raise UsageError(f"{cert_file}: the certificate expired on {info.not_after:%Y-%m-%d}")
    try:
        _context(cert_file, key_file)  # what the FTP door will do with them
    except SSL.Error as exc:
        raise UsageError(f"{cert_file}: OpenSSL refuses the pair: {exc}")
    return info


def install(cert_file: Path, key_file: Path, cert_dest: Path, key_dest: Path) -> CertificateInfo:
    """Check the pair, then put it in place: the key first (mode 0600), then the
    certificate, each written beside its destination and renamed over it."""
    info = check_pair(cert_file, key_file)
    key_pem, cert_pem = key_file.read_bytes(), cert_file.read_bytes()
    _replace(key_dest, key_pem, 0o600)
    _replace(cert_dest, cert_pem, 0o644)
    return info


def _replace(dest: Path, data: bytes, mode: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _context(cert_file: Path, key_file: Path) -> SSL.Context:
    """pyOpenSSL's context as pyftpdlib builds it (TLS_FTPHandler.get_ssl_context)."""
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.use_certificate_chain_file(os.fspath(cert_file))
    context.use_privatekey_file(os.fspath(key_file))
    context.check_privatekey()
    context.set_options(SSL.OP_NO_SSLv2 | SSL.OP_NO_SSLv3 | SSL.OP_NO_COMPRESSION)
    return context


def _signature(*paths: Path) -> tuple[tuple[int, int, int], ...]:
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            out.append((0, 0, 0))
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


class ReloadingContext:
    """The current SSL context for `cert_file` and `key_file`, rebuilt when they change
    (checked with two stat calls per new connection)."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self.cert_file, self.key_file = cert_file, key_file
        self._lock = threading.Lock()
        self._signature = _signature(cert_file, key_file)
        self._context = _context(cert_file, key_file)
        self.reloads = 0

    def current(self) -> SSL.Context:
        signature = _signature(self.cert_file, self.key_file)
        if signature == self._signature:
            return self._context
        with self._lock:
            if signature != self._signature:
                try:
                    self._context = _context(self.cert_file, self.key_file)
                except (SSL.Error, OSError) as exc:
                    log.warning("TLS certificate not reloaded (keeping the current one): %s", exc)
                    return self._context
                self._signature = signature
                self.reloads += 1
                log.info("TLS certificate reloaded from %s", self.cert_file)
        return self._context


def sni_reloader(
    cert_file: Path, key_file: Path, context: ssl.SSLContext
) -> Callable[[ssl.SSLObject | ssl.SSLSocket, str | None, ssl.SSLContext], None]:
    """An `sni_callback` for a standard-library server context (the HTTPS door): at
    each handshake, if the certificate files have changed, the connection is switched
    to a context loaded from the new files (kept for the next ones too)."""
    state = {"signature": _signature(cert_file, key_file), "context": context}
    lock = threading.Lock()

    def callback(
        conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, current: ssl.SSLContext
    ) -> None:
        signature = _signature(cert_file, key_file)
        if signature != state["signature"]:
            with lock:
                if signature != state["signature"]:
                    fresh = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    try:
                        fresh.load_cert_chain(cert_file, key_file)
                    except (ssl.SSLError, OSError) as exc:
                        log.warning("HTTPS certificate not reloaded (keeping it): %s", exc)
                        return
                    fresh.sni_callback = callback
                    state["signature"], state["context"] = signature, fresh
                    log.info("HTTPS certificate reloaded from %s", cert_file)
        if state["context"] is not current:
            conn.context = state["context"]  # type: ignore[assignment]

    return callback
