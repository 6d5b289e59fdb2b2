"""Threads that must keep running: whatever kills one, it is started again and logged.

The indexer's workers, its housekeeping and its feed publisher each catch what they
expect and go on; this is for everything else (a bug, a SystemExit raised deep in a
library). `check()` is called by more than one of the supervised threads, so no single
death goes unnoticed.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger("catalog.indexer")


class Supervisor:
    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Callable[[], None], threading.Thread]] = {}
        self._all: list[threading.Thread] = []
        self.restarts = 0

    def start(self, name: str, target: Callable[[], None]) -> threading.Thread:
        """Run `target` on a daemon thread called `name`, restarted whenever it dies."""
        with self._lock:
            return self._start(name, target)

    def _start(self, name: str, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._running[name] = (target, thread)
        self._all.append(thread)
        return thread

    def check(self) -> int:
        """Start again every supervised thread that died; returns how many."""
        if self._stop.is_set():
            return 0
        restarted = 0
        with self._lock:
            for name, (target, thread) in list(self._running.items()):
                if not thread.is_alive() and not self._stop.is_set():
                    log.error("%s died; starting it again", name)
                    self._start(name, target)
                    restarted += 1
            self.restarts += restarted
        return restarted

    def alive(self, prefix: str = "") -> int:
        with self._lock:
            return sum(
                1 for n, (_, t) in self._running.items() if n.startswith(prefix) and t.is_alive()
            )

    def join(self) -> None:
        """Wait for every thread ever started (the stop event must be set)."""
        while True:
            with self._lock:
                threads, self._all = self._all, []
            if not threads:
                return
            for thread in threads:
                thread.join()


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still runs (a lease or a row it left is stale
    otherwise). A process of another user counts as running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
