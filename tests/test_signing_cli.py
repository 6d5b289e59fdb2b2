"""`pool-server` and the pool's signing keys: made by init (and for an older data folder
on first open), shown by info, rotated; members' keys added, listed, revoked; bad input
refused with a clear message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from catalog.signing import fingerprint, ssh_public_line

from .helpers import copy_template, run_cli


def test_signing_keys_from_init_to_rotation(template_data: Path, tmp_path: Path) -> None:
    data = copy_template(template_data, tmp_path / "data")
    signing = data / "keys" / "signing"
    assert (signing / "pool-signing-1.pem").stat().st_mode & 0o777 == 0o600
    shutil.rmtree(signing)  # a data folder from before signing keys
    info = json.loads(run_cli(data, "info", "--json").output)
    assert info["signing_key"][0].startswith("SHA256:") and signing.is_dir()
    first = info["signing_key"][0]
    rotated = run_cli(data, "key", "rotate").output
    assert f"retired {first}" in rotated
    keys = json.loads(run_cli(data, "key", "list", "--json").output)
    assert keys[0]["fingerprint"] == first and keys[1]["valid_until"] == "(current)"
    assert (
        json.loads(run_cli(data, "info", "--json").output)["signing_key"][0]
        == (keys[1]["fingerprint"])
    )
    audit = run_cli(data, "audit", "--json").output
    assert "key rotate" in audit


def test_member_keys_add_list_revoke_and_bad_input(template_data: Path, tmp_path: Path) -> None:
    data = copy_template(template_data, tmp_path / "data")
    key = Ed25519PrivateKey.generate()
    pub = tmp_path / "member.pub"
    pub.write_text(ssh_public_line(key.public_key(), "desk@trt") + "\n")
    fp = fingerprint(key.public_key())
    assert fp in run_cli(data, "member", "key", "add", "TRT", str(pub)).output
    again = run_cli(data, "member", "key", "add", "TRT", str(pub), expect=1)
    assert "already registered" in again.output
    rows = json.loads(run_cli(data, "member", "key", "list", "TRT", "--json").output)
    assert rows[0]["fingerprint"] == fp and rows[0]["comment"] == "desk@trt"
    assert "no signing keys" in run_cli(data, "member", "key", "list", "AZTV").output
    run_cli(data, "member", "key", "revoke", "TRT", fp)
    twice = run_cli(data, "member", "key", "revoke", "TRT", fp, expect=1)
    assert "already revoked" in twice.output
    assert "no signing key" in run_cli(data, "member", "key", "revoke", "AZTV", fp, expect=1).output

    rsa = tmp_path / "rsa.pub"
    from cryptography.hazmat.primitives import serialization

    rsa.write_bytes(
        generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    refused = run_cli(data, "member", "key", "add", "TRT", str(rsa), expect=1)
    assert "not an Ed25519 public key" in refused.output
    junk = tmp_path / "junk.pub"
    junk.write_text("hello")
    assert (
        "not a public key"
        in run_cli(data, "member", "key", "add", "TRT", str(junk), expect=1).output
    )
    assert "no member" in run_cli(data, "member", "key", "add", "NOPE", str(pub), expect=1).output
