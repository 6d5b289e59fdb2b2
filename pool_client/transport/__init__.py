"""One transport interface, four implementations: FTP, FTPS, SFTP and HTTP(S)."""

from __future__ import annotations

from pathlib import Path

from ..config import Endpoint
from ..trust import Notify
from .base import RemoteEntry, Transport


def make_transport(
    endpoint: Endpoint, password: str, config_folder: Path, notify: Notify, timeout: float = 30.0
) -> Transport:
    """An unconnected transport for the endpoint's scheme."""
    if endpoint.scheme in ("http", "https"):
        from .http import HTTPSTransport, HTTPTransport

        web = HTTPSTransport if endpoint.scheme == "https" else HTTPTransport
        return web(endpoint, password, config_folder, notify, timeout)
    if endpoint.scheme == "sftp":
        from .sftp import SFTPTransport

        return SFTPTransport(endpoint, password, config_folder, notify, timeout)
    from .ftp import FTPSTransport, FTPTransport

    cls = FTPSTransport if endpoint.scheme == "ftps" else FTPTransport
    return cls(endpoint, password, config_folder, notify, timeout)


__all__ = ["RemoteEntry", "Transport", "make_transport"]
