"""What every door's listener shares: source addresses as the audit and the defender
should see them, backing off when the process runs out of file descriptors, and the
admission rule for connections that have not logged in yet.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""accept() errors that mean "out of descriptors or memory": wait, do not give up."""
BACKOFF_MAX = 2.0
LOG_EVERY = 10.0
"""Seconds between two log lines about running out of descriptors (one door)."""


def client_ip(address: str) -> str:
    """An IPv4 client of a dual-stack (`::`) listener as IPv4: '::ffff:1.2.3.4' ->
    '1.2.3.4'. Any other address unchanged."""
    if address.lower().startswith("::ffff:") and "." in address:
        return address[7:]
    return address


def address_group(ip: str) -> str:
    """The unit that pre-login limits count by: an IPv4 address itself, an IPv6 address
    by its /64 (one subscriber's network: a single host may use any address in it)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return ip


def listening_socket(host: str, port: int, backlog: int = 128) -> socket.socket:
    """A listening TCP socket on (host, port); IPv6 hosts too, and `::` accepts IPv4
    clients as well where the system allows it (dual stack)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    dual = family == socket.AF_INET6 and host in ("::", "") and socket.has_dualstack_ipv6()
    return socket.create_server(
        (host, port), family=family, backlog=backlog, dualstack_ipv6=dual, reuse_port=False
    )


class AcceptBackoff:
    """Back-off for a listener whose accept() failed for lack of descriptors: the first
    pause is `first` seconds, doubling to `BACKOFF_MAX`, reset by the next accept that
    works. Logs at most one line per `LOG_EVERY` seconds, counting what it held back."""

    def __init__(self, log: logging.Logger, door: str, first: float) -> None:
        self.log = log
        self.door = door
        self.first = max(0.001, first)
        self.delay = 0.0
        self.failures = 0
        self._logged_at = -LOG_EVERY
        self._held_back = 0

    def exhausted(self, err: OSError) -> float:
        """Note a failed accept(); the seconds to wait before trying again."""
        self.failures += 1
        self.delay = min(BACKOFF_MAX, self.delay * 2 if self.delay else self.first)
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY:
            more = f" ({self._held_back} more since the last message)" if self._held_back else ""
            self.log.warning(
                "%s: cannot accept connections: %s; pausing accepts for %.1f s%s",
                self.door,
                err.strerror or err,
                self.delay,
                more,
            )
            self._logged_at = now
            self._held_back = 0
        else:
            self._held_back += 1
        return self.delay

    def accepted(self) -> None:
        if self.delay:
            self.log.warning(
                "%s: accepting connections again (after %d failed accepts)",
                self.door,
                self.failures,
            )
        self.delay = 0.0
        self.failures = 0


@dataclass(frozen=True)
class Admission:
    """The answer for a newcomer that has not logged in: accept it (after dropping
    `evict`'s oldest pre-login connection, if set), or refuse it with `reason`."""

    accept: bool
    evict: str | None = None
    reason: str = ""


def admit_prelogin(waiting: Iterable[str], ip: str, max_total: int, max_per_ip: int) -> Admission:
    """Decide on a new connection from `ip`, given the source addresses of the
    connections that have not logged in yet (`waiting`, this one not included).

    At most `max_per_ip` from one address. When `max_total` are waiting, the address
    holding the most of them gives up its oldest for the newcomer, provided it holds more
    than the newcomer's address would: so a few addresses holding every slot cannot keep
    anyone else out, and whoever opens the most connections loses them first."""
    counts = Counter(waiting)
    mine = counts[ip]
    if max_per_ip and mine >= max_per_ip:
        return Admission(False, reason=f"too many connections from {ip} not logged in")
    if not max_total or sum(counts.values()) < max_total:
        return Admission(True)
    top, top_count = counts.most_common(1)[0]
    if top != ip and top_count > mine + 1:
        return Admission(True, evict=top)
    return Admission(False, reason="too many connections not logged in")


class RateLimit(logging.Filter):
    """Lets at most `burst` records of a logger through per `period` seconds; the first
    record let through after a quiet spell says how many were dropped."""

    def __init__(self, burst: int = 40, period: float = LOG_EVERY) -> None:
        super().__init__()
        self.burst = burst
        self.period = period
        self._start = -period
        self._count = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._start >= self.period:
                if self._dropped:
                    record.msg = f"[{self._dropped} log records dropped before this] {record.msg}"
                self._start, self._count, self._dropped = now, 0, 0
            self._count += 1
            if self._count > self.burst:
                self._dropped += 1
                return False
            return True


def quiet_flood(logger: logging.Logger, burst: int = 40) -> None:
    """Rate-limit `logger` to `burst` records per 10 s (once per logger, however many
    doors ask)."""
    if not any(isinstance(f, RateLimit) for f in logger.filters):
        logger.addFilter(RateLimit(burst))
