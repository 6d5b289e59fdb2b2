"""The client's exceptions and exit codes: one base class, one table of codes.

Library code raises these; `pool_client.cli` turns them into one line on stderr and the
exit code below, in exactly one place.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    INTEGRITY = 5
    NETWORK = 6
    INTERRUPTED = 130


class ClientError(Exception):
    """Base class of every error the client raises on purpose."""

    exit_code = ExitCode.ERROR


class UsageError(ClientError):
    """The command line or the configuration does not make sense."""

    exit_code = ExitCode.USAGE


class AuthError(ClientError):
    """Login refused, no password to be had, or the server's key/certificate changed."""

    exit_code = ExitCode.AUTH


class PermissionDenied(ClientError):
    """The server refused an operation for this user."""


class NotFound(ClientError):
    """No such item in the catalog, or no such file on the server."""

    exit_code = ExitCode.NOT_FOUND


class IntegrityError(ClientError):
    """Bytes do not match the catalog's sha256 (or size), even after a retry."""

    exit_code = ExitCode.INTEGRITY


class ProvenanceError(IntegrityError):
    """A signature, a manifest or the feed's hash chain does not verify (exit 5)."""


class NetworkError(ClientError):
    """The server cannot be reached or the connection failed."""

    exit_code = ExitCode.NETWORK


class TransientError(NetworkError):
    """A failure worth retrying: timeout, reset, FTP 4xx (421 too many connections)."""


class Unsupported(ClientError):
    """The server does not offer what was asked (e.g. no control channel: not an Ortak
    pool, or an older one)."""


class FeedError(ClientError):
    """The published catalog feed could not be read or applied."""
