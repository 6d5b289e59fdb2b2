"""Alert e-mail: the message (text and HTML, the poster inline) and its SMTP relay.

Settings are `[mail]` in pool.toml: host, port, security (starttls, tls or none), user,
the password from an environment variable or a file, the from-address. The Message-ID
is made from the delivery's id, so a message sent twice (a crash between the relay's
acceptance and its record) is one message to a mail client.
"""

from __future__ import annotations

import html
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from catalog.units import format_duration

from ..errors import ConfigError
from .errors import DeliveryError, TargetRefused

SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    security: str
    user: str
    password_env: str
    password_file: str
    from_address: str
    ca_file: str
    timeout: float
    poster_wait_seconds: float
    data_dir: Path

    @classmethod
    def from_section(cls, section: dict[str, Any], data_dir: Path) -> MailSettings:
        if str(section["security"]).lower() not in SECURITY:
            raise ConfigError(
                f"[mail] security {section['security']!r}: use one of {', '.join(SECURITY)}"
            )
        return cls(
            host=str(section["host"]),
            port=int(section["port"]),
            security=str(section["security"]).lower(),
            user=str(section["user"]),
            password_env=str(section["password_env"]),
            password_file=str(section["password_file"]),
            from_address=str(section["from_address"]),
            ca_file=str(section["ca_file"]),
            timeout=float(section["timeout"]),
            poster_wait_seconds=float(section["poster_wait_seconds"]),
            data_dir=data_dir,
        )

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name checked, against `ca_file` when one is set."""
        if not self.ca_file:
            return ssl.create_default_context()
        path = self.data_dir / self.ca_file
        try:
            return ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"[mail] ca_file {path}: {exc}") from None

    def password(self) -> str | None:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise DeliveryError(f"[mail] password_env: ${self.password_env} is not set")
            return value
        if self.password_file:
            path = self.data_dir / self.password_file
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise DeliveryError(f"[mail] password_file {path}: {exc.strerror}") from None
        return None


def _duration(seconds: Any) -> str:
    """The pool's one duration format (catalog.units), empty when unknown."""
    return format_duration(seconds) if isinstance(seconds, int | float) else ""


def _item_text(item: dict[str, Any]) -> str:
    lines = [item.get("title") or item["id"]]
    facts = [
        item.get("member"),
        item.get("category"),
        _duration(item.get("duration")),
        ",".join(item.get("languages") or []),
    ]
    lines.append("  " + " · ".join(f for f in facts if f))
    if item.get("excerpt"):
        lines.append("  " + item["excerpt"])
    links = item.get("links") or {}
    for label in ("page", "api"):
        if links.get(label):
            lines.append(f"  {label}: {links[label]}")
    lines.append(f"  id: {item['id']}   path: {item.get('path')}")
    return "\n".join(lines)


def _item_html(item: dict[str, Any], cid: str | None) -> str:
    e = html.escape
    links = item.get("links") or {}
    title = e(item.get("title") or item["id"])
    if links.get("page"):
        title = f'<a href="{e(links["page"])}">{title}</a>'
    facts = [
        item.get("member"),
        item.get("category"),
        _duration(item.get("duration")),
        ",".join(item.get("languages") or []),
    ]
    poster = f'<img src="cid:{cid}" alt="" width="320"><br>' if cid else ""
    api = f' · <a href="{e(links["api"])}">API</a>' if links.get("api") else ""
    return (
        f"<div style='margin:1em 0'>{poster}<b>{title}</b><br>"
        f"<small>{e(' · '.join(f for f in facts if f))}{api}</small>"
        f"<p>{e(item.get('excerpt') or '')}</p>"
        f"<small>{e(item['id'])} — {e(item.get('path') or '')}</small></div>"
    )


def poster_path(pool_root: Path, item_id: str) -> Path:
    return pool_root / ".catalog" / "previews" / item_id / "poster.jpg"


def build_message(
    payload: dict[str, Any], msg_id: str, from_address: str, pool_root: Path
) -> EmailMessage:
    """The alert e-mail of one delivery; posters present on disk go inline."""
    alert = payload["alert"]
    items: list[dict[str, Any]] = payload["items"]
    if len(items) == 1 and not payload.get("digest"):
        subject = f"[Ortak] {alert['name']}: {items[0].get('title') or items[0]['id']}"
    else:
        subject = f"[Ortak] {alert['name']}: {len(items)} new item(s)"
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = from_address
    msg["To"] = payload["to"]
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = from_address.rpartition("@")[2] or "ortak.invalid"
    msg["Message-ID"] = f"<{msg_id}@{domain}>"
    msg["X-Ortak-Alert"] = str(alert["id"])
    intro = f"Your saved search «{alert['name']}» ({alert.get('query') or '*'}) matches:"
    msg.set_content(intro + "\n\n" + "\n\n".join(_item_text(i) for i in items) + "\n")
    posters: list[tuple[str, bytes]] = []
    parts = []
    for n, item in enumerate(items):
        cid = None
        path = poster_path(pool_root, item["id"])
        if path.is_file():
            try:
                data = path.read_bytes()
            except OSError:
                data = b""
            if data:
                cid = f"poster{n}.{msg_id}@ortak"
                posters.append((cid, data))
        parts.append(_item_html(item, cid))
    msg.add_alternative(
        f"<html><body><p>{html.escape(intro)}</p>{''.join(parts)}</body></html>", subtype="html"
    )
    html_part = msg.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    for cid, data in posters:
        html_part.add_related(data, "image", "jpeg", cid=f"<{cid}>", filename="poster.jpg")
    return msg


def send(settings: MailSettings, msg: EmailMessage) -> None:
    """Hand `msg` to the relay. DeliveryError to retry (down, 4xx), TargetRefused (5xx)."""
    if not settings.host:
        raise DeliveryError("[mail] host is not set: e-mail alerts cannot be sent")
    try:
        smtp: smtplib.SMTP
        if settings.security == "tls":
            smtp = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout,
                context=settings.tls_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=settings.tls_context())
            if settings.user:
                smtp.login(settings.user, settings.password() or "")
            refused = smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        _raise(min(codes), f"recipient refused: {exc.recipients}")
    except smtplib.SMTPResponseException as exc:
        error = exc.smtp_error
        _raise(exc.smtp_code, error.decode(errors="replace") if isinstance(error, bytes) else error)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(
            f"SMTP {settings.host}:{settings.port}: {type(exc).__name__}: {exc}"
        ) from None
    if refused:
        raise TargetRefused(f"recipient refused: {refused}")


def _raise(code: int, text: str) -> None:
    message = f"SMTP {code} {text}".strip()
    if 400 <= code < 500:
        raise DeliveryError(message)
    raise TargetRefused(message)
