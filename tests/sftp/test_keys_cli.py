"""`pool-server user key add|list|remove` and the parsing behind them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pool_server.errors import UsageError
from pool_server.userkeys import parse_keys

from ..helpers import run_cli
from .util import make_client_key


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    return make_client_key(tmp_path / "id_ed25519").with_suffix(".pub")


def ssh_keygen_fingerprint(path: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return out.split()[1]


def test_add_list_remove(data: Path, pub: Path, tmp_path: Path) -> None:
    added = run_cli(data, "user", "key", "add", "trt-up", str(pub)).output
    fp = ssh_keygen_fingerprint(pub)
    assert fp in added
    rows = json.loads(run_cli(data, "user", "key", "list", "trt-up", "--json").output)
    assert [(r["fingerprint"], r["key_type"], r["comment"]) for r in rows] == [
        (fp, "ssh-ed25519", "id_ed25519@tests")
    ]
    assert fp in run_cli(data, "user", "key", "list", "trt-up").output
    again = run_cli(data, "user", "key", "add", "trt-up", str(pub), expect=1).output
    assert "already has key" in again
    missing = run_cli(data, "user", "key", "remove", "trt-up", "SHA256:nope", expect=1).output
    assert "has no key" in missing
    run_cli(data, "user", "key", "remove", "trt-up", fp)
    assert json.loads(run_cli(data, "user", "key", "list", "trt-up", "--json").output) == []
    audit = json.loads(run_cli(data, "audit", "--json", "--action", "admin").output)
    details = [r["detail"] for r in audit]
    assert f"user key add trt-up {fp}" in details and f"user key remove trt-up {fp}" in details
    unknown = run_cli(data, "user", "key", "add", "ghost", str(pub), expect=1).output
    assert "no user" in unknown


def test_authorized_keys_lines(tmp_path: Path) -> None:
    a = make_client_key(tmp_path / "a").with_suffix(".pub").read_text().strip()
    b = make_client_key(tmp_path / "b").with_suffix(".pub").read_text().strip()
    text = f"# keys of the TRT uploader\n\nno-pty,no-port-forwarding {a}\nrestrict {b}\n"
    keys = parse_keys(text)
    assert [k.comment for k in keys] == ["a@tests", "b@tests"]
    with pytest.raises(UsageError, match="from"):
        parse_keys(f'from="10.0.0.0/8" {a}')
    with pytest.raises(UsageError, match="command"):
        parse_keys(f'command="/bin/sh",no-pty {a}')
    with pytest.raises(UsageError, match="no public key"):
        parse_keys("# nothing\n")
    with pytest.raises(UsageError, match="not supported"):
        parse_keys("ssh-dss AAAAB3NzaC1kc3MAAACBAP= x")
    with pytest.raises(UsageError, match="base64"):
        parse_keys("ssh-ed25519 !!!notbase64 x")
    kind, blob = a.split()[:2]
    with pytest.raises(UsageError, match="does not hold"):
        parse_keys(f"ssh-rsa {blob}")
    with pytest.raises(UsageError):
        parse_keys(f"{kind} {blob[:20]}")
