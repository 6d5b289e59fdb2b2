"""The web door's one error table: the core's exceptions → HTTP status codes.

Every route raises the package's own errors; the handlers below turn them into a JSON
body for the API and an error page for browsers, here and nowhere else.
"""

from __future__ import annotations

import logging

from catalog.errors import CatalogError, QueryError

from ..errors import (
    AccessDenied,
    AlreadyExists,
    AuthenticationFailed,
    Banned,
    Busy,
    ConfigError,
    InvalidPath,
    NotFound,
    PathOutsidePool,
    PoolError,
    QuotaExceeded,
    StorageFull,
    UsageError,
)

log = logging.getLogger("ortak.http")


class HttpError(PoolError):
    """A refusal that belongs to HTTP itself (bad CSRF token, unsupported method...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class LoginRequired(AuthenticationFailed):
    """No credentials on a route that needs them."""

    def __init__(self) -> None:
        super().__init__("log in first", known_user=False)


class EnrolmentRequired(HttpError):
    """An admin without a second factor where the pool requires one: enrol first."""

    def __init__(self) -> None:
        super().__init__(403, "set up two-factor login first: /account/2fa")


# Most specific first: the first class an error is an instance of decides.
STATUS_TABLE: tuple[tuple[type[BaseException], int], ...] = (
    (Banned, 403),
    (AuthenticationFailed, 401),
    (PathOutsidePool, 403),
    (AccessDenied, 403),
    (InvalidPath, 400),
    (NotFound, 404),
    (AlreadyExists, 409),
    (Busy, 409),
    (QuotaExceeded, 413),
    (StorageFull, 507),
    (UsageError, 400),
    (QueryError, 400),
    (ConfigError, 500),
    (CatalogError, 500),
    (PoolError, 500),
)


def status_for(exc: BaseException) -> int:
    if isinstance(exc, HttpError):
        return exc.status
    for cls, status in STATUS_TABLE:
        if isinstance(exc, cls):
            return status
    return 500


def public_message(exc: BaseException, status: int) -> str:
    """What the user is told: the error's own words, except for failed logins (never
    say whether the name exists) and internal errors (logged, not shown)."""
    if isinstance(exc, Banned):
        return str(exc)
    if isinstance(exc, LoginRequired):
        return "log in first"
    if isinstance(exc, AuthenticationFailed):
        text = str(exc)
        return text if "API token" in text else "login incorrect"
    if status >= 500 and not isinstance(exc, StorageFull):
        return "internal error: the server's log has the details"
    return str(exc)
