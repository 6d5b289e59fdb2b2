"""The FTP/FTPS front door (pyftpdlib) over the session core (`pool_server.core`)."""

from .server import build_ftp_server

__all__ = ["build_ftp_server"]
