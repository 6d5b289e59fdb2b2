"""The SFTP front door (paramiko) over the shared `PoolFS` policy."""

from .server import build_sftp_server

__all__ = ["build_sftp_server"]
