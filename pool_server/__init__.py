"""Ortak pool server: accounts, one access policy, FTP/FTPS and SFTP front doors, audit."""

__version__ = "0.1.0"
