"""The FTP/FTPS front door (pyftpdlib) over the shared `PoolFS` policy."""

from .server import build_ftp_server

__all__ = ["build_ftp_server"]
