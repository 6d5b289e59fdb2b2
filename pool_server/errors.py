"""The server's exceptions: one base class, translated to replies at one boundary per
protocol (FTP replies in `ftp.replies`, SFTP codes in `sftp`, CLI messages in `cli`)."""

from __future__ import annotations

import errno


class PoolError(Exception):
    """Base of every error the pool server raises on purpose. `str()` is for users."""

    errno: int = errno.EIO


class UsageError(PoolError):
    """Bad input to an admin command (unknown member, duplicate user, bad size...)."""

    errno = errno.EINVAL


class ConfigError(PoolError):
    """pool.toml is missing, unreadable or has a bad value."""

    errno = errno.EINVAL


class NotFound(PoolError):
    errno = errno.ENOENT


class AlreadyExists(PoolError):
    errno = errno.EEXIST


class AccessDenied(PoolError):
    """The access rules do not allow this user this action on this path."""

    errno = errno.EACCES


class InvalidPath(PoolError):
    """A name or path the pool refuses: outside the root, control characters, too long."""

    errno = errno.EINVAL


class PathOutsidePool(InvalidPath):
    errno = errno.EACCES


class QuotaExceeded(PoolError):
    errno = errno.EDQUOT


class AuthenticationFailed(PoolError):
    """Wrong name or password, or a disabled account. `known_user` says whether the name
    existed, for the audit only: the defender scores both alike (no account enumeration)."""

    errno = errno.EACCES

    def __init__(self, message: str = "login incorrect", known_user: bool = True) -> None:
        super().__init__(message)
        self.known_user = known_user


class Banned(AuthenticationFailed):
    """The source address is banned, or the name locked, for too many failed logins."""


class Busy(PoolError):
    """Another transfer holds this file (e.g. the same upload resumed twice at once)."""

    errno = errno.EBUSY


class StorageFull(PoolError):
    """The disk under the pool is full."""

    errno = errno.ENOSPC
