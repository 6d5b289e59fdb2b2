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


def test_another_ftp_server_is_told_apart(tmp_path: Path) -> None:
    """Against a stock FTP server (pyftpdlib's own, no control channel) `pool login`
    still works, `pool whoami` says the server cannot tell, and `pool put` asks for
    --member instead of guessing."""
    import threading

    from click.testing import CliRunner
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    from pool_client.commands import cli

    root = tmp_path / "root"
    root.mkdir()
    authorizer = DummyAuthorizer()
    authorizer.add_user("someone", "a-long-password", str(root), perm="elradfmw")
    handler = type("StockHandler", (FTPHandler,), {"authorizer": authorizer})
    server = FTPServer(("127.0.0.1", 0), handler)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.05})
    thread.start()
    try:
        env = {
            "POOL_CONFIG_DIR": str(tmp_path / "config"),
            "POOL_CACHE_DIR": str(tmp_path / "cache"),
            "POOL_PASSWORD": "a-long-password",
            "POOL_PROFILE": "",
            "HOME": str(tmp_path),
        }
        url = f"ftp://127.0.0.1:{port}"
        runner = CliRunner()
        login = runner.invoke(cli, ["login", url, "--user", "someone"], env=env)
        assert login.exit_code == 0, login.output
        assert "as someone; profile" in login.output  # no role or member claimed
        who = runner.invoke(cli, ["whoami"], env=env)
        assert who.exit_code == 1 and "has no control channel" in who.output
        src = tmp_path / "clip.mp4"
        src.write_bytes(b"\0" * 100)
        put = runner.invoke(cli, ["put", str(src), "--category", "news"], env=env)
        assert put.exit_code == 2 and "which member's area? pass --member CODE" in put.output
        assert not any(root.iterdir())  # nothing uploaded anywhere
    finally:
        server.close_all()
        thread.join(10)
