"""C2PA Content Credentials on proxies and MP4/MOV deliveries: a throwaway CA and leaf
certificate made with cryptography (the EKUs and extensions C2PA requires), the real
preview pipeline, and the result read back and validated by c2pa-python."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from catalog.credentials import ASSERTION, ContentCredentials, CredentialsError, delivery_path
from catalog.credentials import read as read_credentials

from .conftest import Rig

DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def _usage(**on: bool) -> x509.KeyUsage:
    names = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    return x509.KeyUsage(**{n: on.get(n, False) for n in names})


def make_chain() -> tuple[bytes, bytes, bytes]:
    """(CA certificate, leaf + CA chain, leaf private key), PEM."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ortak test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "Ortak pool"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ortak test"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(digital_signature=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return (
        ca.public_bytes(pem),
        leaf.public_bytes(pem) + ca.public_bytes(pem),
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


@pytest.fixture(scope="module")
def chain() -> tuple[bytes, bytes, bytes]:
    return make_chain()


def _assertion(store: dict, label: str) -> dict:
    active = store["manifests"][store["active_manifest"]]
    return next(a["data"] for a in active["assertions"] if a["label"] == label)


def test_proxy_and_delivery_carry_credentials_naming_the_member(
    rig_factory: Callable[..., Rig], media: dict[str, Path], chain, tmp_path: Path
) -> None:
    ca, certs, key = chain
    (tmp_path / "c2pa.pem").write_bytes(certs)
    (tmp_path / "c2pa.key").write_bytes(key)
    rig = rig_factory(start=False)
    rig.previews.credentials = ContentCredentials.from_settings(
        tmp_path, {"c2pa_cert": "c2pa.pem", "c2pa_key": "c2pa.key", "pool_name": "Test pool"}
    )
    original = rig.put("/TRT/news/h264.mp4", media["h264.mp4"])
    before = hashlib.sha256(original.read_bytes()).hexdigest()
    rig.start()
    rig.wait_state("/TRT/news/h264", "ready")
    item = rig.item("/TRT/news/h264")
    assert item is not None

    proxy = read_credentials(rig.folder("/TRT/news/h264") / "proxy.mp4", trust_anchors=ca)
    assert proxy["validation_state"] == "Trusted", proxy.get("validation_status")
    work = _assertion(proxy, "stds.schema-org.CreativeWork")
    assert work["author"] == [{"@type": "Organization", "name": "TRT"}]
    assert work["publisher"]["name"] == "Test pool"
    ours = _assertion(proxy, ASSERTION)
    assert ours["item"] == item["id"] and ours["original_sha256"] == before
    assert ours["what"] == "proxy"

    copy = delivery_path(rig.pool, item["id"], "h264.mp4")
    delivered = read_credentials(copy, trust_anchors=ca)
    assert delivered["validation_state"] == "Trusted"
    assert _assertion(delivered, "stds.schema-org.CreativeWork")["author"][0]["name"] == "TRT"
    # the original essence is never rewritten
    assert hashlib.sha256(original.read_bytes()).hexdigest() == before == item["sha256"]


def test_an_untrusted_reader_still_reads_the_member_and_bad_keys_are_refused(
    media: dict[str, Path], chain, tmp_path: Path
) -> None:
    _, certs, key = chain
    creds = ContentCredentials(certs, key, "Test pool")
    item = {"id": "AZTV-0123456789", "member": "AZTV", "sha256": "0" * 64, "manifest": {}}
    out = tmp_path / "signed.mp4"
    creds.embed(media["h264.mp4"], out, item, media["xdcam.mxf"], "proxy")
    store = read_credentials(out)  # no trust anchors: valid, but the CA is unknown
    assert store["validation_state"] == "Valid"
    assert _assertion(store, "stds.schema-org.CreativeWork")["author"][0]["name"] == "AZTV"
    with pytest.raises(CredentialsError, match="MP4/MOV only"):
        creds.embed(media["xdcam.mxf"], tmp_path / "x.mxf", item, media["xdcam.mxf"], "proxy")
    with pytest.raises(CredentialsError, match="not a PEM private key"):
        ContentCredentials(certs, b"not a key", "Test pool")
