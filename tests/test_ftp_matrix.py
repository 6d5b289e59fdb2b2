"""Every cell of the permission matrix over FTP, with the disk checked after each."""

from __future__ import annotations

import ftplib
import io
from pathlib import Path

import pytest

from .helpers import make_template, password, start_server
from .matrix import AREAS, CELLS, EXISTING, ROLES, effect_seen, expected, prepare


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = make_template(tmp_path_factory.mktemp("matrix"))
    srv = start_server(data, sftp=False)
    yield srv
    srv.stop()


def run_ftp(ftp: ftplib.FTP, action: str, base: str) -> None:
    if action == "list":
        ftp.nlst(base or "/")
    elif action == "download":
        ftp.retrbinary(f"RETR {base}/existing.bin", io.BytesIO().write)
    elif action == "mkdir":
        ftp.mkd(f"{base}/newdir")
    elif action == "upload":
        ftp.storbinary(f"STOR {base}/new.bin", io.BytesIO(b"new"))
    elif action == "overwrite":
        ftp.storbinary(f"STOR {base}/existing.bin", io.BytesIO(b"overwritten"))
    elif action == "rename":
        ftp.rename(f"{base}/existing.bin", f"{base}/renamed.bin")
    elif action == "delete":
        ftp.delete(f"{base}/existing.bin")


@pytest.mark.parametrize(("role", "action", "area"), CELLS)
def test_ftp_permission_cell(server, role: str, action: str, area: str) -> None:
    root: Path = server.data / "pool"
    prepare(root)
    user = ROLES[role]
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", server.ftp_port, timeout=10)
        ftp.login(user, password(user))
        allowed = expected(role, action, area)
        if allowed:
            run_ftp(ftp, action, AREAS[area])
        else:
            with pytest.raises(ftplib.error_perm, match=r"^55\d .*ermission denied"):
                run_ftp(ftp, action, AREAS[area])
    assert effect_seen(root, area, action) == (allowed and action not in ("list", "download"))
    if not allowed:
        existing = root / AREAS[area].lstrip("/") / "existing.bin"
        assert existing.read_bytes() == EXISTING
