"""The SFTP front door (paramiko) over the session core (`pool_server.core`)."""

from .server import build_sftp_server

__all__ = ["build_sftp_server"]
