"""The package's errors as SFTP status codes: the one place that decides them.

Version 3 knows only "no such file", "permission denied" and "failure"; everything else
(file exists, quota exceeded, disk full, folder not empty...) is a FAILURE whose message
says what happened — the message is what OpenSSH's `sftp`, rclone and paramiko show.
"""

from __future__ import annotations

import errno
import os

from ..errors import AccessDenied, NotFound, PoolError
from . import protocol as p

_BY_CLASS: tuple[tuple[type[PoolError], int], ...] = (
    (NotFound, p.NO_SUCH_FILE),
    (AccessDenied, p.PERMISSION_DENIED),  # includes PathOutsidePool's errno EACCES
)

_BY_ERRNO: dict[int, int] = {
    errno.ENOENT: p.NO_SUCH_FILE,
    errno.ENOTDIR: p.NO_SUCH_FILE,
    errno.EACCES: p.PERMISSION_DENIED,
    errno.EPERM: p.PERMISSION_DENIED,
    errno.EROFS: p.PERMISSION_DENIED,
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def status_for(err: BaseException) -> tuple[int, str]:
    """(status code, message) for an error raised while serving a request."""
    if isinstance(err, PoolError):
        for cls, code in _BY_CLASS:
            if isinstance(err, cls):
                return code, _sentence(str(err))
        return _BY_ERRNO.get(err.errno, p.FAILURE), _sentence(str(err) or type(err).__name__)
    if isinstance(err, OSError):
        code = err.errno or errno.EIO
        # Never the OS's text with a real path in it: only the errno's meaning.
        return _BY_ERRNO.get(code, p.FAILURE), os.strerror(code)
    if isinstance(err, p.BadMessage):
        return p.BAD_MESSAGE, _sentence(str(err))
    if isinstance(err, NotImplementedError):
        return p.OP_UNSUPPORTED, _sentence(str(err) or "operation not supported")
    return p.FAILURE, "internal error; the server's log has the details"
