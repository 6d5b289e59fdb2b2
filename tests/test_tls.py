"""The pool's certificate: `init --tls-cert/--tls-key`, `tls set` while serving (new
connections get the new certificate, open sessions keep working), checked with curl
(pinned public key, CA file), lftp (CA file) and ftplib — and bad pairs refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import socket
import ssl
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .helpers import (
    ServerProcess,
    ftp_login,
    password,
    run_cli,
    set_setting,
    start_server,
)

NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def make_ca_and_server(folder: Path, days: int = 90) -> dict[str, Path]:
    """A private CA and a certificate it issued for 127.0.0.1, as a real CA would."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Root CA"))
        .issuer_name(_name("Test Root CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("pool.test"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=2))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {
        "ca": folder / "ca.pem",
        "cert": folder / "fullchain.pem",
        "key": folder / "privkey.pem",
        "other_key": folder / "other.pem",
        "encrypted_key": folder / "encrypted.pem",
    }
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(_pem_key(key))
    paths["other_key"].write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1())))
    paths["encrypted_key"].write_bytes(_pem_key(key, b"secret"))
    return paths


def served_fingerprint(port: int) -> str:
    """SHA-256 of the certificate a new FTPS connection gets."""
    ftp = ftp_login(port, "admin", tls=True)
    try:
        der = ftp.sock.getpeercert(binary_form=True)
    finally:
        ftp.quit()
    return hashlib.sha256(der).hexdigest()


def curl(port: int, *tls_args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "curl", "-sS", "--ssl-reqd", *tls_args, "-u", f"admin:{password('admin')}",
            f"ftp://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip


def test_tls_set_while_serving(ftp_server: ServerProcess, tmp_path: Path) -> None:
    data, port = ftp_server.data, ftp_server.ftp_port
    old = json.loads(run_cli(data, "tls", "show", "--json").output)
    assert old["self_signed"]
    # self-signed: the member checks the fingerprint, or pins the key, or trusts the file
    assert curl(port, "-k", "--pinnedpubkey", old["public_key_pin"]).returncode == 0
    assert curl(port, "--cacert", str(data / "tls" / "cert.pem")).returncode == 0
    lftp = subprocess.run(
        [
            "lftp", "-u", f"admin,{password('admin')}", "-e",
            f"set ftp:ssl-force true; set ssl:ca-file {data / 'tls' / 'cert.pem'}; cls -1; bye",
            f"ftp://127.0.0.1:{port}",
        ],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert lftp.returncode == 0, lftp.stderr
    open_session = ftp_login(port, "trt-up", tls=True)
    try:
        real = make_ca_and_server(tmp_path)
        done = run_cli(data, "tls", "set", str(real["cert"]), str(real["key"]), "--json")
        new = json.loads(done.output)
        assert not new["self_signed"] and new["fingerprint"] != old["fingerprint"]
        # the next connection gets the new certificate, verified against the CA
        leaf = x509.load_pem_x509_certificate(real["cert"].read_bytes())
        assert served_fingerprint(port) == leaf.fingerprint(hashes.SHA256()).hex()
        assert curl(port, "--cacert", str(real["ca"])).returncode == 0
        pinned_old = curl(port, "-k", "--pinnedpubkey", old["public_key_pin"])
        assert pinned_old.returncode == 90, pinned_old.stderr  # the pin no longer matches
        # a session opened before goes on with its own
        assert open_session.pwd() == "/"
        assert "TRT" in open_session.nlst("/")
    finally:
        open_session.quit()
    info = json.loads(run_cli(data, "info", "--json").output)
    assert info["tls_certificate"][0] == new["fingerprint"]
    audit = run_cli(data, "audit", "--action", "admin", "--json").output
    assert f"tls set: {new['fingerprint']}" in audit


def test_init_with_a_real_certificate_and_bad_pairs(tmp_path: Path) -> None:
    real = make_ca_and_server(tmp_path)
    data = tmp_path / "data"
    for key, message in (
        (real["other_key"], "is not the key of the certificate"),
        (real["encrypted_key"], "the key is encrypted"),
        (real["ca"], "not a PEM private key"),
    ):
        bad = run_cli(
            data, "init", "--tls-cert", str(real["cert"]), "--tls-key", str(key), expect=1
        )
        assert message in bad.output
        assert not data.exists()  # nothing made
    half = run_cli(data, "init", "--tls-cert", str(real["cert"]), expect=2)
    assert "--tls-cert and --tls-key go together" in half.output
    run_cli(data, "init", "--tls-cert", str(real["cert"]), "--tls-key", str(real["key"]))
    assert (data / "tls" / "cert.pem").read_bytes() == real["cert"].read_bytes()
    assert (data / "tls" / "key.pem").stat().st_mode & 0o777 == 0o600
    shown = json.loads(run_cli(data, "tls", "show", "--json").output)
    assert shown["issuer"] == "CN=Test Root CA" and not shown["self_signed"]
    again = run_cli(
        data, "init", "--tls-cert", str(real["cert"]), "--tls-key", str(real["key"]), expect=1
    )
    assert "use `pool-server tls set CERT KEY`" in again.output
    (tmp_path / "old").mkdir()
    expired = make_ca_and_server(tmp_path / "old", days=-1)
    refused = run_cli(data, "tls", "set", str(expired["cert"]), str(expired["key"]), expect=1)
    assert "the certificate expired on" in refused.output
    assert (data / "tls" / "cert.pem").read_bytes() == real["cert"].read_bytes()  # unchanged


def https_fingerprint(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with context.wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def test_https_door_takes_the_new_certificate_too(data: Path, tmp_path: Path) -> None:
    set_setting(data, "http", "tls", "true")
    srv = start_server(data, sftp=False, http=True)
    try:
        assert srv.http_port is not None
        before = https_fingerprint(srv.http_port)
        own = x509.load_pem_x509_certificate((data / "tls" / "cert.pem").read_bytes())
        assert before == own.fingerprint(hashes.SHA256()).hex()
        real = make_ca_and_server(tmp_path)
        run_cli(data, "tls", "set", str(real["cert"]), str(real["key"]))
        leaf = x509.load_pem_x509_certificate(real["cert"].read_bytes())
        assert https_fingerprint(srv.http_port) == leaf.fingerprint(hashes.SHA256()).hex()
        verified = ssl.create_default_context(cafile=str(real["ca"]))
        with (
            socket.create_connection(("127.0.0.1", srv.http_port), timeout=10) as raw,
            verified.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert tls.recv(12).startswith(b"HTTP/1.1")
    finally:
        srv.stop()


def test_tls_set_leaves_certificates_outside_the_data_folder_alone(
    data: Path, tmp_path: Path
) -> None:
    """pool.toml may point at certbot's files; `tls set` never writes there."""
    real = make_ca_and_server(tmp_path)
    set_setting(data, "ftp", "tls_cert", f'"{real["cert"]}"')
    set_setting(data, "ftp", "tls_key", f'"{real["key"]}"')
    before = real["cert"].read_bytes()
    other = tmp_path / "other"
    other.mkdir()
    new = make_ca_and_server(other)
    refused = run_cli(data, "tls", "set", str(new["cert"]), str(new["key"]), expect=1)
    assert "outside the data folder" in refused.output
    assert real["cert"].read_bytes() == before
    shown = json.loads(run_cli(data, "tls", "show", "--json").output)
    assert shown["path"] == str(real["cert"]) and shown["issuer"] == "CN=Test Root CA"
