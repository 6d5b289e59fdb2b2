"""Downloads: a file open for reading, and the one audit event it ends with.

A download is a "take" (counted in the usage report) when the bytes read cover the file
to its end in one run: a client that resumes, or reads in ranges, is counted once.
The audit's bytes are the bytes of the file the client got, each counted once: a client
that reads a range twice (paramiko's prefetch does, under load) is not counted twice, and
the detail says how much it read in all.
"""

from __future__ import annotations

import bisect
import os
from typing import TYPE_CHECKING, BinaryIO

from ..paths import Target

if TYPE_CHECKING:
    from .session import Session

MAX_RANGES = 256
"""Past this many disjoint runs (random access), reads are no longer tracked."""


class Download:
    """`file` is the open file (doors may read it, send it with sendfile, or call
    `read_at`, which tracks what was read). `finish` records the audit event once."""

    def __init__(self, session: Session, target: Target, file: BinaryIO) -> None:
        self.session = session
        self.target = target
        self.file = file
        self.size = os.fstat(file.fileno()).st_size
        self.ranges: list[list[int]] = []  # disjoint [start, end) runs read, sorted
        self.nbytes = 0  # every byte read, re-reads included
        self.opened_only = True
        self.finished = False

    def read_at(self, offset: int, length: int) -> bytes:
        data = os.pread(self.file.fileno(), length, offset)
        self.note(offset, len(data))
        return data

    def note(self, offset: int, n: int) -> None:
        """`n` bytes from `offset` were read (by the door itself, e.g. a sendfile)."""
        self.opened_only = False
        self.nbytes += n
        if n and self.tracked:
            self._add(offset, offset + n)

    @property
    def tracked(self) -> bool:
        """False once reads left more than MAX_RANGES runs (no more are added then)."""
        return len(self.ranges) <= MAX_RANGES

    def _add(self, start: int, end: int) -> None:
        ranges = self.ranges
        if ranges and ranges[-1][0] <= start <= ranges[-1][1]:  # the usual: sequential
            ranges[-1][1] = max(ranges[-1][1], end)
            return
        bisect.insort(ranges, [start, end])
        merged: list[list[int]] = []
        for run in ranges:
            if merged and run[0] <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], run[1])
            else:
                merged.append(run)
        self.ranges = merged

    def fstat(self) -> os.stat_result:
        return os.fstat(self.file.fileno())

    def finish(self) -> None:
        """Close the file and record the download: complete when one run of reads
        reached the end of the file (a file of 0 bytes: when it was read at all)."""
        if self.finished:
            return
        self.finished = True
        try:
            self.file.close()
        except OSError:
            pass
        if self.tracked:
            got = sum(end - start for start, end in self.ranges)
        else:  # random access beyond tracking: at most the file, once
            got = min(self.nbytes, self.size)
        to_end = [run for run in self.ranges if run[1] >= self.size]
        if self.size == 0:
            complete, offset = not self.opened_only, 0
        elif to_end:
            complete, offset = True, to_end[0][0]
        else:
            complete, offset = False, self.ranges[0][0] if self.ranges else 0
        self.session.record_download(self.target, got, complete, offset, read=self.nbytes)
