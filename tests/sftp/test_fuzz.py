"""Untrusted input never crashes the door: any request body gets an SFTP reply, any
key line a UsageError or a key."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pool_server.accounts import Role, User
from pool_server.app import Pool
from pool_server.context import DataDir
from pool_server.errors import UsageError
from pool_server.sftp import protocol as p
from pool_server.sftp.limits import HandleLimits
from pool_server.sftp.subsystem import SFTPSession
from pool_server.userkeys import parse_line


class FakeConnection:
    """What `SFTPSession` reads from its connection: the pool, the address, the user."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.ip = "127.0.0.1"
        self.session = pool.core.session_for(User("news", Role.READER, "TRT"), self.ip, "sftp")
        self.limits = HandleLimits(64, 256)


@pytest.fixture
def sftp_session(data: Path):
    pool = Pool.open(DataDir(data))
    session = SFTPSession(FakeConnection(pool))  # type: ignore[arg-type]
    yield session
    session.drop_all()
    pool.close()


KINDS = st.sampled_from(
    [
        p.OPEN,
        p.CLOSE,
        p.READ,
        p.WRITE,
        p.LSTAT,
        p.FSTAT,
        p.SETSTAT,
        p.FSETSTAT,
        p.OPENDIR,
        p.READDIR,
        p.REMOVE,
        p.MKDIR,
        p.RMDIR,
        p.REALPATH,
        p.STAT,
        p.RENAME,
        p.READLINK,
        p.SYMLINK,
        p.EXTENDED,
        0,
        99,
        255,
    ]
)


def _strings(parts: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(x)) + x for x in parts)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=KINDS,
    body=st.one_of(
        st.binary(max_size=64),
        st.lists(st.binary(max_size=24), max_size=4).map(_strings),
    ),
)
def test_any_request_gets_a_reply(sftp_session: SFTPSession, kind: int, body: bytes) -> None:
    reply = sftp_session._answer(kind, 7, body)
    (length,) = struct.unpack(">I", reply[:4])
    assert length == len(reply) - 4
    assert reply[4] in (p.STATUS, p.HANDLE, p.DATA, p.NAME, p.ATTRS, p.EXTENDED_REPLY)
    assert struct.unpack(">I", reply[5:9])[0] == 7
    if reply[4] == p.STATUS:
        assert struct.unpack(">I", reply[9:13])[0] != p.FAILURE or b"internal error" not in reply


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_key_lines_parse_or_refuse(line: str) -> None:
    try:
        key = parse_line(line)
    except UsageError:
        return
    assert key.fingerprint.startswith("SHA256:")
