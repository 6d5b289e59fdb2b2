"""Transfers under way in this process, on every door, and who wants to know.

Doors mark each data transfer (an FTP RETR/STOR, an SFTP file being read or written, an
HTTP download or tus PATCH) with `running()`, or `Session.transferring`. Listeners hear
each change between "no transfer" and "some transfer" at once, in order, on the door's
thread: the preview workers use it to give the CPU back to transfers while they run.
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
            self._tell(listener, self._count > 0)

    # Listeners are told under the lock: a transfer ending on one thread and the next
    # starting on another must reach them in the order the count changed, or the last
    # word could be "none" while one runs. Listeners must be quick and never call back.

    def begin(self) -> None:
        with self._lock:
            self._count += 1
            if self._count == 1:
                self._tell_all(True)

    def end(self) -> None:
        with self._lock:
            if self._count == 0:
                return
            self._count -= 1
            if self._count == 0:
                self._tell_all(False)

    def _tell_all(self, active: bool) -> None:
        for listener in self._listeners:
            self._tell(listener, active)

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
