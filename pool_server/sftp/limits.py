"""Bounds on what one SFTP client may hold open, so that no reader can exhaust the
server's file descriptors: handles per session, and per user over all their sessions
(and connections) together. Channels per connection are bounded in `auth.py`."""

from __future__ import annotations

import threading
from collections import Counter

from ..errors import PoolError


class TooManyOpen(PoolError):
    """A client holds as many files open as it may."""


class HandleLimits:
    """Open handles counted per user, shared by every connection of one SFTP door."""

    def __init__(self, per_session: int, per_user: int) -> None:
        self.per_session = per_session
        self.per_user = per_user
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def advertised(self) -> int:
        """The most handles a session may hope for (limits@openssh.com; 0: no limit)."""
        return min((n for n in (self.per_session, self.per_user) if n), default=0)

    def acquire(self, user: str, session_open: int) -> None:
        """Count one more handle of `user`, whose session holds `session_open` now;
        raise `TooManyOpen` past either limit."""
        if self.per_session and session_open >= self.per_session:
            raise TooManyOpen(
                f"too many open files in this session (at most {self.per_session}); "
                "close some first"
            )
        with self._lock:
            if self.per_user and self._open[user] >= self.per_user:
                raise TooManyOpen(
                    f"too many open files for {user} (at most {self.per_user} over all "
                    "sessions); close some first"
                )
            self._open[user] += 1

    def release(self, user: str, count: int = 1) -> None:
        with self._lock:
            left = self._open[user] - count
            if left > 0:
                self._open[user] = left
            else:
                del self._open[user]

    def open_count(self, user: str) -> int:
        with self._lock:
            return self._open[user]
