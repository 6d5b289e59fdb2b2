"""Webhook delivery: Standard Webhooks signatures and a guard against SSRF.

Each request carries ``webhook-id`` (the delivery's stable id: the same on every try, so
a receiver drops repeats), ``webhook-timestamp`` (seconds since the epoch, for the
receiver to refuse replays) and ``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256
(secret, id.timestamp.body)), made by the `standardwebhooks` library.

A target is resolved once per try, every address it resolves to is checked, and the
connection goes to that checked address (the host name kept for the Host header, TLS
SNI and certificate check), so a name that resolves to a public address when checked
cannot turn into a private one when connected. Loopback, private, link-local,
multicast, reserved and unspecified addresses are refused unless the admin allowed them
(`[webhooks] allow_private`, or an endpoint's admin-set flag).
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from standardwebhooks.webhooks import Webhook

from ..errors import ConfigError
from .errors import DeliveryError, TargetRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

USER_AGENT = "Ortak-Webhooks/1"


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` + base64 of 24 bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header value for one request."""
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body)


def parse_networks(values: Iterable[str]) -> list[Network]:
    """`[webhooks] allow_private` entries ('127.0.0.1', '10.0.0.0/8', '::1') as networks."""
    out: list[Network] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"[webhooks] allow_private: {value!r} is not an address or network"
            ) from None
    return out


def _is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: where to connect (the pinned address) and what to say."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: IPAddress

    def pinned_url(self) -> str:
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path+query) of an http(s) URL; TargetRefused if it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"{url!r}: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"{url!r}: webhooks must be http:// or https:// URLs")
    if not parts.hostname:
        raise TargetRefused(f"{url!r}: no host name")
    if parts.username or parts.password:
        raise TargetRefused(f"{url!r}: credentials in the URL are not accepted")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str, allowed: Sequence[Network] = (), *, allow_private: bool = False) -> Target:
    """Check `url` and resolve its host; every address must be public or allowed.

    Raises TargetRefused (a permanent failure) for a bad URL or a refused address, and
    DeliveryError (to be retried) when the name does not resolve now.
    """
    scheme, host, port, path = check_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DeliveryError(f"{host}: cannot resolve ({exc.strerror})") from None
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise DeliveryError(f"{host}: resolves to no address")
    for ip in addresses:
        if not (allow_private or _is_public(ip) or any(ip in net for net in allowed)):
            where = f"{ip} is" if host == str(ip) else f"{host} resolves to {ip},"
            raise TargetRefused(
                f"{url}: {where} a loopback, private or link-local address; "
                "an admin must allow it ([webhooks] allow_private or the endpoint's "
                "--allow-private)"
            )
    return Target(url, scheme, host, port, path, addresses[0])


def new_client(timeout: float) -> httpx.Client:
    """An HTTP client for deliveries: no proxies from the environment, no redirects. A
    worker keeps one (making one costs a TLS context); `post` pins each request's
    address itself."""
    return httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)


@dataclass(frozen=True)
class WebhookResult:
    status: int
    body: str


def post(
    target: Target,
    body: str,
    msg_id: str,
    secret: str,
    timeout: float,
    *,
    timestamp: int | None = None,
    client: httpx.Client | None = None,
) -> WebhookResult:
    """POST a signed JSON body to the pinned address of `target`.

    2xx is success. 408, 425, 429 and 5xx raise DeliveryError (tried again later); any
    other answer, redirects included (never followed), raises TargetRefused.
    """
    ts = int(datetime.now(UTC).timestamp()) if timestamp is None else timestamp
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    own = client is None
    http = new_client(timeout) if client is None else client
    try:
        response = http.post(
            target.pinned_url(),
            content=body.encode("utf-8"),
            headers=headers,
            extensions=extensions,
        )
    except httpx.TimeoutException:
        raise DeliveryError(f"{target.url}: no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{target.url}: {type(exc).__name__}: {exc}") from None
    finally:
        if own:
            http.close()
    text = response.text[:200]
    if 200 <= response.status_code < 300:
        return WebhookResult(response.status_code, text)
    message = f"{target.url}: HTTP {response.status_code} {text}".strip()
    if response.status_code in (408, 425, 429) or response.status_code >= 500:
        raise DeliveryError(message)
    raise TargetRefused(message)
