"""The package's errors as FTP replies: the one place that decides the codes."""

from __future__ import annotations

from ..errors import (
    AccessDenied,
    AuthenticationFailed,
    Busy,
    InvalidPath,
    NotFound,
    PathOutsidePool,
    PoolError,
    QuotaExceeded,
    StorageFull,
    UsageError,
)

_CODES: tuple[tuple[type[PoolError], int], ...] = (
    (PathOutsidePool, 550),
    (InvalidPath, 553),
    (QuotaExceeded, 552),
    (StorageFull, 552),
    (Busy, 450),
    (AuthenticationFailed, 530),
    (AccessDenied, 550),
    (NotFound, 550),
    (UsageError, 501),
)


def code_for(err: PoolError) -> int:
    for cls, code in _CODES:
        if isinstance(err, cls):
            return code
    return 550


def reply_for(err: PoolError, then: str | None = None) -> str:
    """The reply line for `err`, e.g. '552 Quota of member TRT exceeded (...); transfer
    aborted.' (`then` says what became of the command)."""
    text = str(err) or type(err).__name__
    text = f"{text[0].upper()}{text[1:]}" + (f"; {then}" if then else "")
    return f"{code_for(err)} {text.rstrip('.')}."
