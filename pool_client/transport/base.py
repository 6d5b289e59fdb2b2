"""The one interface every transport implements; sync, get and put only see this.

Paths are pool paths (POSIX, absolute: ``/TRT/news/story.mxf``). Implementations
translate their library's errors into `pool_client.errors` in one helper each, and
count the commands they send in `ops` (what a no-op sync costs is checked with it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from ..config import Endpoint
    from ..trust import Notify

CHUNK = 256 * 1024
"""Bytes per write of an upload."""
READ_CHUNK = 1024 * 1024
"""Largest chunk a download yields (big reads: fewer system calls and Python steps)."""

CONTROL_FTP_SITE = "ORTAK"
"""FTP: control commands travel as `SITE ORTAK <command> [args]` (pool_server/control.py)."""
CONTROL_SSH_EXEC = "ortak"
"""SFTP: control commands travel as an exec request `ortak <command> [args]`."""

Progress = Callable[[int], None]
"""Called with the number of bytes just moved."""


@dataclass(frozen=True)
class RemoteEntry:
    name: str
    path: str
    is_dir: bool
    size: int | None = None
    mtime: float | None = None


class Transport(ABC):
    """A logged-in connection to a pool. Not thread-safe: one per worker."""

    scheme = ""

    def __init__(
        self,
        endpoint: Endpoint,
        password: str,
        config_folder: Path,
        notify: Notify,
        timeout: float = 30.0,
    ) -> None:
        self.endpoint, self._password = endpoint, password
        self.config_folder, self.notify, self.timeout = config_folder, notify, timeout
        self.ops: Counter[str] = Counter()
        """Commands sent, by kind: 'list', 'stat', 'read', 'write', 'hash', 'mkdir'."""
        self.bytes_in = 0
        self.bytes_out = 0
        self._ahead: dict[str, bytes] = {}

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def connect(self) -> None:
        """Connect and log in (AuthError, NetworkError)."""

    @abstractmethod
    def close(self) -> None:
        """Log out and close; never raises."""

    @abstractmethod
    def list(self, path: str) -> list[RemoteEntry]:
        """The entries of a folder (NotFound if there is none)."""

    @abstractmethod
    def stat(self, path: str) -> RemoteEntry:
        """One file or folder (NotFound if there is none)."""

    @abstractmethod
    def read(self, path: str, offset: int = 0) -> Iterator[bytes]:
        """Stream a file's bytes from `offset` to its end, in chunks."""

    def read_bytes(self, path: str, offset: int = 0) -> bytes:
        if offset == 0 and path in self._ahead:
            return self._ahead.pop(path)
        return b"".join(self.read(path, offset))

    def read_ahead(self, path: str) -> None:
        """Read a small file now and keep it for the next `read_bytes(path)`, once: a
        command starting up overlaps the read with its own imports (see prewarm)."""
        self._ahead[path] = self.read_bytes(path)

    @abstractmethod
    def resume_offset(self, path: str) -> int:
        """How many bytes of an interrupted upload of ours to `path` the server holds
        (0 when there is none: the upload starts afresh)."""

    @abstractmethod
    def write(self, path: str, src: BinaryIO, offset: int, progress: Progress | None) -> int:
        """Upload `src` from `offset` to its end to `path`, continuing an interrupted
        upload when `offset` > 0 and starting afresh otherwise. Returns bytes sent."""

    @abstractmethod
    def mkdirs(self, path: str) -> None:
        """Make a folder and its parents; existing ones are fine."""

    def remote_sha256(self, path: str) -> str | None:
        """The server's sha256 of a file when it offers one, else None."""
        return None

    @abstractmethod
    def control(self, command: str, *args: str) -> dict[str, Any]:
        """Ask the pool a control command (`whoami`, `help`...; the server's table is
        `pool_server/control.py`) and return its JSON answer. `Unsupported` when the
        server has no control channel, `UsageError` for a command it does not know."""
