"""Why a delivery failed: to be tried again later, or never (a permanent refusal)."""

from __future__ import annotations

import errno

from ..errors import PoolError


class DeliveryError(PoolError):
    """A try failed and is worth retrying (relay down, SMTP 4xx, HTTP 5xx, timeout)."""

    permanent = False


class TargetRefused(DeliveryError):
    """Never worth retrying: a refused address, a bad URL, SMTP 5xx, HTTP 4xx."""

    permanent = True
    errno = errno.EACCES
