"""The private names of pyftpdlib and paramiko the doors rely on, in one table.

Both libraries offer no public hook for these (pyftpdlib keeps a command's state, such
as REST's offset or RNFR's source, in private attributes; paramiko tells nobody when
authentication has succeeded). A release that renames one would break a door quietly:
`tests/test_private_names.py` reads this table and fails loudly instead, naming the
module that relies on the name. pyproject.toml pins both libraries to the versions
tested; widen a pin only with this test and the door suites passing.
"""

from __future__ import annotations

PRIVATE_NAMES: tuple[tuple[str, str, str, str], ...] = (
    # (module, class, name, where it is used)
    ("pyftpdlib.handlers", "FTPHandler", "_restart_position", "ftp/commands.py (REST)"),
    ("pyftpdlib.handlers", "FTPHandler", "_rnfr", "ftp/commands.py (RNFR/RNTO)"),
    ("pyftpdlib.handlers", "FTPHandler", "_current_type", "ftp/commands.py, handler.py"),
    ("pyftpdlib.handlers", "FTPHandler", "_in_dtp_queue", "ftp/handler.py (STOR)"),
    ("pyftpdlib.handlers", "FTPHandler", "_in_buffer", "ftp/handler.py (line limits)"),
    ("pyftpdlib.handlers", "FTPHandler", "_in_buffer_len", "ftp/handler.py (line limits)"),
    ("pyftpdlib.handlers", "FTPHandler", "_closed", "ftp/handler.py"),
    ("pyftpdlib.handlers", "DTPHandler", "_resp", "ftp/handler.py (transfer replies)"),
    ("pyftpdlib.handlers", "DTPHandler", "_initialized", "ftp/handler.py (data threads)"),
    ("pyftpdlib.servers", "FTPServer", "_map_len", "ftp/server.py (connection count)"),
    ("pyftpdlib.servers", "FTPServer", "_fileno", "ftp/server.py (accept backoff)"),
    ("pyftpdlib.ioloop", "_CallLater", "_errback", "ftp/handler.py, server.py (timers)"),
    ("paramiko", "Transport", "_auth_trigger", "sftp/server.py (login noticed)"),
    ("paramiko", "Transport", "_send_user_message", "sftp/server.py (request replies)"),
    ("paramiko", "Transport", "_channels", "sftp/server.py (channel count)"),
)
