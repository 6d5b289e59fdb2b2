"""Passive data theft as denial of service, and FTP on a dual-stack listener.

Before: a connection from another address to a victim's passive port made pyftpdlib
send an unsolicited 425 on the victim's control connection: the victim's transfer failed
and every later reply answered the command before it."""

from __future__ import annotations

import json
import socket

from .helpers import ftp_login, password, run_cli, start_server, wait_for


def test_a_foreign_connection_to_a_passive_port_is_dropped(data, ftp_server):
    (data / "pool" / "TRT" / "news").mkdir(parents=True, exist_ok=True)
    (data / "pool" / "TRT" / "news" / "story.txt").write_bytes(b"the story\n" * 1000)
    with ftp_login(ftp_server.ftp_port, "news") as ftp:
        for command in ("RETR /TRT/news/story.txt", "LIST /TRT/news"):
            host, port = ftp.makepasv()
            # The thief, from another address, gets there first: the server drops it.
            with socket.create_connection((host, port), 10, source_address=("127.0.0.2", 0)) as t:
                t.settimeout(10)
                assert t.recv(100) == b""
            # The victim's transfer goes ahead on the same port, answered in order.
            with socket.create_connection((host, port), 10) as conn:
                assert ftp.sendcmd(command)[:3] in ("125", "150")
                got = b""
                conn.settimeout(10)
                for _ in range(1000):  # bounded
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            assert ftp.voidresp().startswith("226")
            assert ftp.sendcmd("NOOP").startswith("200")  # no reply left over
            assert (b"the story" in got) if command.startswith("RETR") else (b"story.txt" in got)


def test_dual_stack_listener_records_ipv4_clients_as_ipv4(data):
    """`--host ::` accepts IPv6 and IPv4 clients on both doors; an IPv4 client is
    audited (and scored, and limited) as 1.2.3.4, never ::ffff:1.2.3.4."""
    srv = start_server(data, sftp=True, extra=("--host", "::"))
    try:
        assert srv.ftp_port and srv.sftp_port
        with ftp_login(srv.ftp_port, "news") as ftp:  # over IPv4, 127.0.0.1
            assert ftp.pwd() == "/"
            ftp.makepasv()  # a passive port answers IPv4 clients with an IPv4 address
            assert ftp.nlst("/")
        with socket.create_connection(("::1", srv.ftp_port), 10) as six:
            six.settimeout(10)
            assert six.recv(100).startswith(b"220")
        import paramiko

        for host in ("127.0.0.1", "::1"):
            transport = paramiko.Transport((host, srv.sftp_port))
            try:
                transport.start_client(timeout=10)
                transport.auth_password("news", password("news"))
                assert transport.is_authenticated()
            finally:
                transport.close()

        def ips() -> set[tuple[str, str]]:
            out = run_cli(data, "audit", "--action", "login", "--json").output
            return {(r["protocol"], r["ip"]) for r in json.loads(out)}

        wait_for(lambda: ("sftp", "::1") in ips(), what="the IPv6 SFTP login audited")
        assert {("ftp", "127.0.0.1"), ("sftp", "127.0.0.1"), ("sftp", "::1")} <= ips()
        assert not any(ip.startswith("::ffff:") for _p, ip in ips())
    finally:
        srv.stop()
