"""Every cell of the permission matrix (tests/matrix.py, shared with FTP) over SFTP,
with the disk checked after each."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import paramiko
import pytest

from ..matrix import AREAS, CELLS, EXISTING, ROLES, effect_seen, expected, prepare
from .util import SftpEnv, paramiko_sftp


@pytest.fixture(scope="module")
def clients(sftp_env: SftpEnv) -> Iterator[dict[str, paramiko.SFTPClient]]:
    """One logged-in client per role (key auth), kept for the whole module."""
    with ExitStack() as stack:
        yield {
            role: stack.enter_context(paramiko_sftp(sftp_env, user, key=user))
            for role, user in ROLES.items()
        }


def run_sftp(sftp: paramiko.SFTPClient, action: str, base: str) -> None:
    if action == "list":
        sftp.listdir(base or "/")
    elif action == "download":
        with sftp.open(f"{base}/existing.bin") as fh:
            fh.read()
    elif action == "mkdir":
        sftp.mkdir(f"{base}/newdir")
    elif action == "upload":
        sftp.putfo(io.BytesIO(b"new"), f"{base}/new.bin")
    elif action == "overwrite":
        sftp.putfo(io.BytesIO(b"overwritten"), f"{base}/existing.bin")
    elif action == "rename":
        sftp.rename(f"{base}/existing.bin", f"{base}/renamed.bin")
    elif action == "delete":
        sftp.remove(f"{base}/existing.bin")


@pytest.mark.parametrize(("role", "action", "area"), CELLS)
def test_sftp_permission_cell(
    sftp_env: SftpEnv, clients: dict[str, paramiko.SFTPClient], role: str, action: str, area: str
) -> None:
    root: Path = sftp_env.root
    prepare(root)
    allowed = expected(role, action, area)
    if allowed:
        run_sftp(clients[role], action, AREAS[area])
    else:
        with pytest.raises(PermissionError, match="ermission denied"):
            run_sftp(clients[role], action, AREAS[area])
    assert effect_seen(root, area, action) == (allowed and action not in ("list", "download"))
    if not allowed:
        existing = root / AREAS[area].lstrip("/") / "existing.bin"
        assert existing.read_bytes() == EXISTING
