"""Limits every upload obeys, whatever the door: the disk's reserve, the largest file,
the largest hole a write may leave."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import Config
from ..errors import ConfigError, InvalidPath, PoolError, QuotaExceeded, StorageFull
from ..quota import format_size, parse_size


@dataclass(frozen=True)
class Limits:
    min_free: int = 0
    """Bytes kept free on the pool's disk ([storage] min_free); 0: no reserve."""
    max_file_size: int = 0
    """Largest file an upload may make ([uploads] max_file_size); 0: no limit."""
    max_hole: int = 16 * 1024 * 1024
    """Largest gap a write may leave beyond the end of what was written ([uploads] max_hole)."""

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        def size(section: str, name: str) -> int:
            text = config.get(section, name)
            try:
                return parse_size(str(text))
            except PoolError as err:
                raise ConfigError(f"{config.source}: [{section}] {name}: {err}")

        return cls(
            min_free=size("storage", "min_free"),
            max_file_size=size("uploads", "max_file_size"),
            max_hole=size("uploads", "max_hole"),
        )

    def check_size(self, vpath: str, end: int) -> None:
        """Refuse a file that would grow past `max_file_size`."""
        if self.max_file_size and end > self.max_file_size:
            raise QuotaExceeded(
                f"{vpath}: {end} bytes ({format_size(end)}) is larger than the largest file "
                f"accepted ({self.max_file_size} bytes, {format_size(self.max_file_size)})"
            )

    def check_hole(self, vpath: str, have: int, offset: int) -> None:
        """Refuse a write at `offset` into a file of `have` bytes that leaves a big hole."""
        if offset - have > self.max_hole:
            raise InvalidPath(
                f"{vpath}: a write at byte {offset} would leave {format_size(offset - have)} "
                f"unwritten after byte {have}; write the file in order "
                f"(gaps of at most {format_size(self.max_hole)})"
            )

    def check_free(self, folder: str | os.PathLike[str], vpath: str, growth: int) -> None:
        """Refuse `growth` more bytes if that would leave less than `min_free` on the disk."""
        if not self.min_free or growth <= 0:
            return
        try:
            vfs = os.statvfs(folder)
        except OSError:
            return  # the write itself will tell
        free = vfs.f_bavail * vfs.f_frsize
        if free - growth < self.min_free:
            raise StorageFull(
                f"{vpath}: the pool's disk is full ({format_size(free)} free; uploads stop at "
                f"the reserve of {format_size(self.min_free)}); try again later"
            )
