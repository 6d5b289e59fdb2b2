"""An `OSError` from the disk as the package's error, naming the virtual path only."""

from __future__ import annotations

import errno
import os

from ..errors import (
    AccessDenied,
    AlreadyExists,
    InvalidPath,
    NotFound,
    PoolError,
    QuotaExceeded,
    StorageFull,
)


def os_error(exc: OSError, vpath: str) -> PoolError:
    """`exc` as a `PoolError` whose message names `vpath` (never the real path)."""
    code = exc.errno or errno.EIO
    if code == errno.ENOENT:
        return NotFound(f"{vpath}: no such file or folder")
    if code == errno.EEXIST:
        return AlreadyExists(f"{vpath} already exists")
    if code == errno.ENOSPC:
        return StorageFull(f"{vpath}: the pool's disk is full")
    if code == errno.EDQUOT:
        return QuotaExceeded(f"{vpath}: disk quota exceeded")
    if code == errno.ENOTEMPTY:
        return PoolError(f"{vpath}: folder is not empty")
    if code == errno.EISDIR:
        return InvalidPath(f"{vpath} is a folder")
    if code == errno.ENOTDIR:
        return InvalidPath(f"{vpath}: not a folder")
    if code in (errno.EACCES, errno.EPERM):
        return AccessDenied(f"{vpath}: permission denied on the server's disk")
    return PoolError(f"{vpath}: {os.strerror(code)}")
