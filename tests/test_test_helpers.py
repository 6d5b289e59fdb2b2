"""The helpers other tests stand on, where a wrong one would make them flaky."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .helpers import reserved_port


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_reserved_port_is_down_and_ours_alone():
    """What the relay-outage and server-down tests need of a port: a connection is
    refused; nobody else is given it (a kernel-picked port never is, a plain bind fails);
    the test's own server can listen on it, and after it stops the port is down again."""
    with reserved_port() as port:
        assert _refused(port)
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", port))
        picked = set()
        for _ in range(2000):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", 0))
                picked.add(s.getsockname()[1])
        assert port not in picked
        for _ in range(2):  # up, down, up again on the same port
            server = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
            thread = threading.Thread(target=server.serve_forever)
            thread.start()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
            finally:
                server.shutdown()
                server.server_close()
                thread.join(10)
            assert _refused(port)
