"""Rules the session core decides for every door, tried over FTP and SFTP alike:
symbolic links inside the pool, MLSx permission facts, reply codes, replies that name
virtual paths only, control characters in names, holes and oversized files."""

from __future__ import annotations

import contextlib
import ftplib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from .helpers import ServerProcess, ftp_login, password, set_setting


@contextlib.contextmanager
def sftp_client(srv: ServerProcess, user: str) -> Iterator[paramiko.SFTPClient]:
    assert srv.sftp_port
    transport = paramiko.Transport(("127.0.0.1", srv.sftp_port))
    try:
        transport.connect(username=user, password=password(user))
        client = paramiko.SFTPClient.from_transport(transport)
        assert client is not None
        client.get_channel().settimeout(20)
        yield client
        client.close()
    finally:
        transport.close()


@pytest.fixture
def srv(server_factory) -> ServerProcess:
    return server_factory(sftp=True)


@pytest.fixture
def linked(data: Path) -> Path:
    """AZTV's news, and a link to it planted in TRT's area (as `ln -s` on the server)."""
    aztv = data / "pool" / "AZTV" / "news"
    aztv.mkdir(parents=True)
    (aztv / "a.mxf").write_bytes(b"aztv's story")
    trt = data / "pool" / "TRT" / "news"
    trt.mkdir(parents=True)
    (trt / "x").symlink_to("../../AZTV/news")
    return aztv


def ftp_reply(ftp: ftplib.FTP, line: str) -> str:
    try:
        return ftp.sendcmd(line)
    except ftplib.Error as err:
        return str(err)


# --- a link inside the pool never lets a contributor change another member's area


def test_a_link_into_another_members_area_gives_no_write_access_over_ftp(srv, linked):
    with ftp_login(srv.ftp_port, "trt-up") as ftp:
        assert ftp_reply(ftp, "DELE /TRT/news/x/a.mxf").startswith("550 ")
        assert ftp_reply(ftp, "MKD /TRT/news/x/sub").startswith("550 ")
        assert ftp_reply(ftp, "RNFR /TRT/news/x/a.mxf").startswith("350 ")
        assert ftp_reply(ftp, "RNTO /TRT/news/stolen.mxf").startswith("550 ")
        with pytest.raises(ftplib.error_perm, match=r"^550 .*AZTV"):
            ftp.storbinary("STOR /TRT/news/x/planted.mxf", io.BytesIO(b"mine"))
        # Reading through the link is reading: allowed to everybody, as without it.
        got = bytearray()
        ftp.retrbinary("RETR /TRT/news/x/a.mxf", got.extend)
        assert bytes(got) == b"aztv's story"
        # The link itself lies in TRT's area: removing it touches nothing of AZTV's.
        assert ftp_reply(ftp, "DELE /TRT/news/x").startswith("250 ")
    assert sorted(os.listdir(linked)) == ["a.mxf"]
    assert (linked / "a.mxf").read_bytes() == b"aztv's story"


def test_a_link_into_another_members_area_gives_no_write_access_over_sftp(srv, linked):
    with sftp_client(srv, "trt-up") as sftp:
        with pytest.raises(PermissionError):
            sftp.remove("/TRT/news/x/a.mxf")
        with pytest.raises(PermissionError):
            sftp.mkdir("/TRT/news/x/sub")
        with pytest.raises(PermissionError):
            sftp.rename("/TRT/news/x/a.mxf", "/TRT/news/stolen.mxf")
        with pytest.raises(PermissionError):
            sftp.open("/TRT/news/x/planted.mxf", "w").close()
        with pytest.raises(OSError):
            sftp.rmdir("/TRT/news/x")  # a link, not a folder: nothing is emptied through it
        with sftp.open("/TRT/news/x/a.mxf") as fh:
            assert fh.read() == b"aztv's story"
    assert sorted(os.listdir(linked)) == ["a.mxf"]


# --- MLSD/MLST perm facts come from the access table


def _facts(ftp: ftplib.FTP, folder: str) -> dict[str, str]:
    return {name: facts["perm"] for name, facts in ftp.mlsd(folder, ["type", "perm"])}


def test_mlsd_perm_facts_follow_the_access_table(srv, data):
    for member in ("TRT", "AZTV"):
        (data / "pool" / member / "news").mkdir(parents=True)
        (data / "pool" / member / "news" / "story.mxf").write_bytes(b"x")
    with ftp_login(srv.ftp_port, "trt-up") as ftp:
        assert _facts(ftp, "/AZTV/news") == {"story.mxf": "r"}
        assert _facts(ftp, "/TRT/news") == {"story.mxf": "adfrw"}
        assert _facts(ftp, "/AZTV") == {"news": "el"}
        assert _facts(ftp, "/TRT") == {"news": "cdeflmp"}
        assert "perm=r;" in ftp.sendcmd("MLST /AZTV/news/story.mxf")
        # What the facts promise holds: 550 where no write permission was shown.
        assert ftp_reply(ftp, "DELE /AZTV/news/story.mxf").startswith("550 ")
        assert ftp_reply(ftp, "DELE /TRT/news/story.mxf").startswith("250 ")
    with ftp_login(srv.ftp_port, "news") as ftp:
        assert _facts(ftp, "/AZTV/news") == {"story.mxf": "r"}
        assert _facts(ftp, "/AZTV") == {"news": "el"}


# --- every reply code for a PoolError comes from ftp/replies.py


def test_mkd_rmd_dele_rnto_answer_from_the_reply_table(srv, data):
    folder = data / "pool" / "TRT" / "busy"
    folder.mkdir()
    with ftp_login(srv.ftp_port, "trt-up") as ftp, ftp_login(srv.ftp_port, "trt-up") as up:
        conn = up.transfercmd("STOR /TRT/busy/clip.mxf")  # an upload into it, in flight
        conn.sendall(b"x" * 1000)
        try:
            assert ftp_reply(ftp, "RMD /TRT/busy").startswith("450 ")  # Busy
        finally:
            conn.close()
            assert up.voidresp().startswith("226")
        assert ftp_reply(ftp, "DELE /TRT/busy").startswith("553 ")  # a folder: InvalidPath
        assert ftp_reply(ftp, "RNFR /TRT/busy").startswith("350 ")
        assert ftp_reply(ftp, "RNTO /TRT/busy/inner").startswith("553 ")  # into itself
        assert ftp_reply(ftp, "MKD /TRT/busy").startswith("550 ")  # exists
        assert ftp_reply(ftp, "MKD /AZTV/mine").startswith("550 ")  # AccessDenied


def test_sftp_statuses_come_from_the_status_table(srv, data):
    """Busy and a move into itself are FAILURE with the core's message (SFTP v3 has no
    code of their own); refusals are PERMISSION_DENIED, missing paths NO_SUCH_FILE."""
    (data / "pool" / "TRT" / "busy").mkdir()
    with sftp_client(srv, "trt-up") as sftp, sftp_client(srv, "trt-up") as up:
        upload = up.open("/TRT/busy/clip.mxf", "wb")  # an upload into it, in flight
        upload.write(b"x" * 1000)
        upload.flush()
        try:
            with pytest.raises(OSError, match="an upload into it is in progress") as caught:
                sftp.rmdir("/TRT/busy")
            assert type(caught.value) is OSError  # FAILURE: not a refusal, not missing
        finally:
            upload.close()
        with pytest.raises(OSError, match="into itself") as caught:
            sftp.rename("/TRT/busy", "/TRT/busy/inner")
        assert type(caught.value) is OSError
        with pytest.raises(PermissionError):
            sftp.mkdir("/AZTV/mine")
        with pytest.raises(FileNotFoundError):
            sftp.stat("/TRT/none")


# --- replies name virtual paths only


HOSTILE = ["/..x", "..x", "/TRT/..x", "/TRT/../..x", "/nope/..x/y", "/TRT/x/../../..x"]


def test_no_reply_names_the_servers_own_paths_over_ftp(srv, data):
    real = str(data.resolve())
    with ftp_login(srv.ftp_port, "trt-up") as ftp:
        for path in HOSTILE:
            for cmd in ("SIZE", "MDTM", "CWD", "DELE", "RMD", "MKD", "RNFR", "MLST", "STAT"):
                reply = ftp_reply(ftp, f"{cmd} {path}")
                assert real not in reply and "/tmp" not in reply, (cmd, path, reply)
        reply = ftp_reply(ftp, "SIZE /..x")
        assert reply.startswith("550 ") and "/..x" in reply


def test_no_status_names_the_servers_own_paths_over_sftp(srv, data):
    real = str(data.resolve())
    with sftp_client(srv, "news") as sftp:  # a reader: every change is refused
        for path in HOSTILE:
            for call in (sftp.stat, sftp.remove, sftp.rmdir, sftp.mkdir, sftp.listdir):
                with pytest.raises(OSError) as caught:
                    call(path)
                assert real not in str(caught.value) and "/tmp" not in str(caught.value)
        with pytest.raises(FileNotFoundError, match=r"/\.\.x"):
            sftp.stat("/..x")


# --- names with C1 controls or bidirectional overrides are refused


BAD_NAMES = ["evil\u202egpj.exe", "c1\u0085name.mxf", "iso\u2066late.mxf"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_with_c1_or_bidi_controls_are_refused_over_ftp(srv, data, name):
    with ftp_login(srv.ftp_port, "trt-up") as ftp:
        with pytest.raises(ftplib.error_perm, match=r"^553 .*control characters"):
            ftp.storbinary(f"STOR /TRT/{name}", io.BytesIO(b"x"))
        assert ftp_reply(ftp, f"MKD /TRT/{name}").startswith("553 ")
    assert os.listdir(data / "pool" / "TRT") == []


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_with_c1_or_bidi_controls_are_refused_over_sftp(srv, data, name):
    with sftp_client(srv, "trt-up") as sftp:
        with pytest.raises(OSError, match="control characters"):
            sftp.open(f"/TRT/{name}", "w").close()
        with pytest.raises(OSError, match="control characters"):
            sftp.mkdir(f"/TRT/{name}")
    assert os.listdir(data / "pool" / "TRT") == []


# --- holes and oversized files


def test_a_write_far_past_the_end_is_refused_over_sftp(srv, data):
    with sftp_client(srv, "trt-up") as sftp:
        for offset, why in ((1 << 30, "unwritten"), (16 << 40, "largest file accepted")):
            with pytest.raises(OSError, match=why), sftp.open("/TRT/sparse.mxf", "w") as fh:
                fh.write(b"head")
                fh.seek(offset)
                fh.write(b"tail")
        with sftp.open("/TRT/fine.mxf", "w") as fh:  # small gaps are what clients do
            fh.seek(1000)
            fh.write(b"tail")
            fh.seek(0)
            fh.write(b"head")
        assert sftp.stat("/TRT/fine.mxf").st_size == 1004
    sizes = [p.stat().st_size for p in (data / "pool" / "TRT").iterdir()]
    assert max(sizes) < 1 << 20  # nothing near 16 TiB, not even a hidden partial


def test_a_rest_far_past_the_end_is_refused_over_ftp(srv, data):
    with ftp_login(srv.ftp_port, "trt-up") as ftp:
        with pytest.raises(ftplib.error_perm, match=r"^552 .*largest file accepted"):
            ftp.storbinary("STOR /TRT/sparse.mxf", io.BytesIO(b"tail"), rest=16 << 40)
        with pytest.raises(ftplib.error_perm, match=r"^553 .*only 0 received"):
            ftp.storbinary("STOR /TRT/sparse.mxf", io.BytesIO(b"tail"), rest=1 << 30)
    assert os.listdir(data / "pool" / "TRT") == []


def test_max_file_size_bounds_uploads_without_a_quota(data, server_factory):
    set_setting(data, "uploads", "max_file_size", '"1M"')
    srv = server_factory(sftp=True)
    body = os.urandom(1536 * 1024)
    with ftp_login(srv.ftp_port, "trt-up") as ftp:
        # The server cuts the data connection at the limit: the client's send may fail
        # (EPIPE, reset) before it reads the 552, which is on the control connection.
        conn = ftp.transfercmd("STOR /TRT/big.mxf")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(body)
        conn.close()
        with pytest.raises(ftplib.error_perm, match=r"^552 .*largest file accepted"):
            ftp.voidresp()
        ftp.storbinary("STOR /TRT/small.mxf", io.BytesIO(body[:1000]))
    with sftp_client(srv, "trt-up") as sftp:
        with (
            pytest.raises(OSError, match="largest file accepted"),
            sftp.open("/TRT/big2.mxf", "w") as fh,
        ):
            fh.write(body)
        with (
            pytest.raises(OSError, match="largest file accepted"),
            sftp.open("/TRT/claim.mxf", "w") as fh,
        ):
            fh.seek(2 << 20)  # a claim past the limit, within the hole limit
            fh.write(b"x")
    assert sorted(os.listdir(data / "pool" / "TRT")) == ["small.mxf"]
