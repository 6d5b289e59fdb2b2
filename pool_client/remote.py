"""A pool to talk to: makes connected transports and retries transient failures.

`Remote.transport()` gives a logged-in connection; `retrying(fn)` calls `fn` again after
a TransientError with a bounded exponential backoff. Workers of a parallel transfer each
take their own transport, so connections never exceed the worker count.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from .config import Endpoint
from .errors import TransientError
from .transport import Transport, make_transport
from .trust import Notify

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    """Tries in all, the first included."""
    first_delay: float = 0.5
    max_delay: float = 8.0

    def delays(self) -> list[float]:
        return [min(self.first_delay * 2**i, self.max_delay) for i in range(self.attempts - 1)]


@dataclass
class Remote:
    endpoint: Endpoint
    password: str
    config_folder: Path
    notify: Notify
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    on_retry: Callable[[Exception, float], None] | None = None
    """Told about each retry (the CLI prints it), unless a call brings its own."""
    _open: list[Transport] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _main: Transport | None = None

    def new_transport(self) -> Transport:
        """A new, not yet connected transport (it connects on first use)."""
        t = make_transport(
            self.endpoint, self.password, self.config_folder, self.notify, self.timeout
        )
        with self._lock:
            self._open.append(t)
        return t

    def adopt(self, transport: Transport) -> None:
        """Use an already connected transport as the shared connection."""
        with self._lock:
            self._open.append(transport)
        self._main = transport

    def transport(self) -> Transport:
        """The shared connection of this process, connected (with retries)."""
        if self._main is None:
            t = self.new_transport()
            self.retrying(t.connect)
            self._main = t
        return self._main

    def retrying(
        self, fn: Callable[[], T], on_retry: Callable[[Exception, float], None] | None = None
    ) -> T:
        delays = self.retry.delays()
        while True:
            try:
                return fn()
            except TransientError as exc:
                if not delays:
                    raise
                delay = delays.pop(0)
                notify = on_retry or self.on_retry
                if notify is not None:
                    notify(exc, delay)
                time.sleep(delay)

    def ops(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for t in self._open:
            total.update(t.ops)
        return dict(total)

    def bytes_in(self) -> int:
        return sum(t.bytes_in for t in self._open)

    def close(self) -> None:
        with self._lock:
            opened, self._open = self._open, []
        for t in opened:
            t.close()
        self._main = None
        self._open = opened  # keep the counters readable after close
