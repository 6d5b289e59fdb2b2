"""Transfers under way in this process, on every door, and who wants to know.

Doors mark each data transfer (an FTP RETR/STOR, an SFTP file being read or written, an
HTTP download or tus PATCH) with `running()`, or `Session.transferring`. Listeners hear
each change between "no transfer" and "some transfer" at once, on the door's thread:
the preview workers use it to give the CPU back to transfers while they run.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger("ortak.transfers")

Listener = Callable[[bool], None]


class Transfers:
    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def listen(self, listener: Listener) -> None:
        """Call `listener(active)` now and on every change between none and some."""
        with self._lock:
            self._listeners.append(listener)
            active = self._count > 0
        self._tell(listener, active)

    def begin(self) -> None:
        with self._lock:
            self._count += 1
            first = self._count == 1
            listeners = list(self._listeners) if first else []
        for listener in listeners:
            self._tell(listener, True)

    def end(self) -> None:
        with self._lock:
            if self._count == 0:
                return
            self._count -= 1
            last = self._count == 0
            listeners = list(self._listeners) if last else []
        for listener in listeners:
            self._tell(listener, False)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        finally:
            self.end()

    @staticmethod
    def _tell(listener: Listener, active: bool) -> None:
        try:
            listener(active)
        except Exception:  # a listener never takes a door down
            log.exception("a transfer listener failed")
