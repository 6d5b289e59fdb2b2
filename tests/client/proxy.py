"""A TCP proxy for an FTP control connection that records the commands going through it:
the server's view of what a client asked for, without touching the server."""

from __future__ import annotations

import contextlib
import socket
import threading


class CommandCounter:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.commands: list[str] = []
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._stopping = False
        self.drop_on: dict[str, int] = {}
        """verb → how many more times to cut the connection when a client sends it
        (fault injection: a reset in the middle of a session)."""
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def verbs(self) -> list[str]:
        with self._lock:
            return [c.split(" ", 1)[0].upper() for c in self.commands]

    def reset(self) -> None:
        with self._lock:
            self.commands.clear()

    def _serve(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream, timeout=10)
            server.settimeout(None)
            self._conns += [client, server]
            for src, dst, record in ((client, server, True), (server, client, False)):
                t = threading.Thread(target=self._pump, args=(src, dst, record), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        buf = b""
        try:
            while data := src.recv(65536):
                if record:
                    buf += data
                    while b"\r\n" in buf:
                        line, buf = buf.split(b"\r\n", 1)
                        text = line.decode("utf-8", "replace")
                        verb = text.split(" ", 1)[0].upper()
                        with self._lock:
                            self.commands.append(text)
                            cut = self.drop_on.get(verb, 0) > 0
                            if cut:
                                self.drop_on[verb] -= 1
                        if cut:
                            for sock in (src, dst):
                                with contextlib.suppress(OSError):
                                    sock.shutdown(socket.SHUT_RDWR)
                            return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._sock.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
        self._accept.join(5)
        for t in self._threads:
            t.join(5)
