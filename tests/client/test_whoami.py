"""`pool whoami` and `pool put` without --member: the client asks the pool who the user
is, over FTP, FTPS and SFTP alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..helpers import run_cli
from .conftest import SCHEMES, Pool


@pytest.mark.parametrize("scheme", SCHEMES)
def test_whoami(pool: Pool, scheme: str) -> None:
    info = json.loads(run_cli(pool.server.data, "info", "--json").output)
    me = pool.json("whoami", user="aztv-up", scheme=scheme)
    assert (me["user"], me["role"], me["member"]) == ("aztv-up", "contributor", "AZTV")
    assert me["protocol"] == scheme
    assert me["tls_certificate"] == info["tls_certificate"][0]
    assert me["ssh_host_keys"] == info["ssh_host_keys"]
    assert me["signing_key"] == info["signing_key"][0]  # what `pool login` pins
    text = pool.run("whoami", user="news", scheme=scheme).stdout
    assert "user: news" in text and "role: reader" in text and "member: TRT (TRT)" in text
    assert info["tls_certificate"][0] in text
    assert all(key in text for key in info["ssh_host_keys"])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_put_needs_no_member_for_a_contributor(pool: Pool, scheme: str, tmp_path: Path) -> None:
    src = tmp_path / f"report_{scheme}.mp4"
    src.write_bytes(b"\0" * 4096)
    put = pool.json("put", str(src), "--category", "news", user="aztv-up", scheme=scheme)
    assert put["files"][0]["path"] == f"/AZTV/news/report_{scheme}.mp4"
    assert (pool.server.data / "pool" / "AZTV" / "news" / src.name).read_bytes() == b"\0" * 4096
    # --member still wins (refused here: not the user's area), and an admin must say it
    refused = pool.run(
        "put", str(src), "--category", "news", "--member", "TRT", user="aztv-up", expect=1
    )
    assert "refused" in refused.output
    admin = pool.run("put", str(src), "--category", "news", user="admin", scheme=scheme, expect=2)
    assert "admin (admin) belongs to no member: pass --member CODE" in admin.output
