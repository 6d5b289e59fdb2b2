"""FTP commands that act on the pool, each translated to one session-core call and its
errors to `replies.reply_for` (pyftpdlib's own versions answer every failure with 550).

Mixed into `handler.PoolFTPHandler`. pyftpdlib has already confined the path argument
(`PoolAbstractedFS.ftp2fs`) into a real path; `_vpath` turns it back.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pyftpdlib.handlers.ftp.producers import FileProducer

from ..core import Session, Upload
from ..errors import PoolError
from .replies import reply_for

if TYPE_CHECKING:
    from ..core import Core

_MFMT = "%Y%m%d%H%M%S"


class PoolCommands:
    """The file commands of `PoolFTPHandler` (see there for the attributes used)."""

    core: Core
    session: Session | None
    fs: Any
    _restart_position: int
    _rnfr: str | None
    _current_type: str
    use_gmt_times: bool

    if TYPE_CHECKING:  # provided by pyftpdlib's FTPHandler and by handler.py

        def respond(self, resp: str, logfun: Any = ...) -> None: ...
        def push_dtp_data(self, *args: Any, **kwargs: Any) -> None: ...
        def run_off_loop(self, work: Any, then: Any) -> None: ...
        def _start_upload(self, upload: Upload, cmd: str) -> None: ...

    @property
    def _s(self) -> Session:
        session = self.session
        assert session is not None  # pyftpdlib runs these only after a login
        return session

    def _vpath(self, real: str) -> str:
        return self.core.vpath_of(real)

    def _call(self, fn: Any, *args: Any) -> tuple[bool, Any]:
        try:
            return True, fn(*args)
        except PoolError as err:
            self.respond(reply_for(err))
            return False, None

    # --- folders

    def ftp_CWD(self, path: str) -> str | None:
        ok, cwd = self._call(self._s.chdir, self._vpath(path))
        if not ok:
            return None
        self.fs.cwd = cwd
        self.respond(f'250 "{cwd}" is the current directory.')
        return path

    def ftp_MKD(self, path: str) -> str | None:
        ok, target = self._call(self._s.mkdir, self._vpath(path))
        if not ok:
            return None
        self.respond('257 "{}" directory created.'.format(target.vpath.replace('"', '""')))
        return path

    def ftp_RMD(self, path: str) -> str | None:
        ok, _ = self._call(self._s.rmdir, self._vpath(path))
        if not ok:
            return None
        self.respond("250 Directory removed.")
        return path

    # --- files

    def ftp_DELE(self, path: str) -> str | None:
        ok, _ = self._call(self._s.remove, self._vpath(path))
        if not ok:
            return None
        self.respond("250 File removed.")
        return path

    def ftp_RNFR(self, path: str) -> None:
        ok, _ = self._call(self._s.stat, self._vpath(path))
        if ok:
            self._rnfr = path
            self.respond("350 Ready for destination name.")

    def ftp_RNTO(self, path: str) -> tuple[str, str] | None:
        if not self._rnfr:
            self.respond("503 Bad sequence of commands: use RNFR first.")
            return None
        src, self._rnfr = self._rnfr, None
        ok, _ = self._call(self._s.rename, self._vpath(src), self._vpath(path))
        if not ok:
            return None
        self.respond("250 Renaming ok.")
        return (src, path)

    def ftp_SIZE(self, path: str) -> None:
        """The size in bytes of a file — or, to its owner, of an interrupted upload of
        it, so stock clients (curl -C -, lftp put -c) resume where they stopped.
        Answered in ASCII mode too, as vsftpd and ProFTPD do (pyftpdlib refuses)."""
        ok, size = self._call(self._s.size, self._vpath(path))
        if ok:
            self.respond(f"213 {size}")

    def _mtime(self, secs: float) -> str:
        return time.strftime(_MFMT, (time.gmtime if self.use_gmt_times else time.localtime)(secs))

    def ftp_MDTM(self, path: str) -> str | None:
        ok, st = self._call(self._s.stat, self._vpath(path))
        if not ok:
            return None
        self.respond(f"213 {self._mtime(st.st_mtime)}")
        return path

    def ftp_MFMT(self, path: str, timeval: str) -> tuple[str, str] | None:
        try:
            when = datetime.strptime(timeval, _MFMT).replace(tzinfo=UTC)
        except ValueError:
            self.respond("501 Invalid time format; expected: YYYYMMDDHHMMSS.")
            return None
        vpath = self._vpath(path)
        ok, _ = self._call(self._s.set_mtime, vpath, when.timestamp())
        if not ok:
            return None
        ok, st = self._call(self._s.stat, vpath)
        if not ok:
            return None
        lmt = self._mtime(st.st_mtime)
        self.respond(f"213 Modify={lmt}; {vpath}.")
        return (lmt, path)

    # --- transfers

    def ftp_RETR(self, file: str) -> str | None:
        rest, self._restart_position = self._restart_position, 0
        ok, download = self._call(self._s.open_read, self._vpath(file))
        if not ok:
            return None
        fh = download.file
        if rest > download.size:
            fh.close()
            self.respond(f"554 REST position ({rest}) > file size ({download.size}).")
            return None
        try:
            fh.seek(rest)
            self.push_dtp_data(FileProducer(fh, self._current_type), True, fh, "RETR")
        except BaseException:
            fh.close()
            raise
        return file

    def ftp_STOR(self, file: str, mode: str = "w") -> str | None:
        """STOR/APPE (and REST+STOR) into a hidden partial, renamed on completion. The
        upload is opened off the event loop (seeding a resume may copy a whole file)."""
        offset, self._restart_position = self._restart_position, 0
        append = "a" in mode
        vpath = self._vpath(file)
        session = self._s
        cmd = "APPE" if append else "STOR"

        def work() -> Upload:
            return session.open_upload(vpath, offset, append)

        def then(upload: Upload | None, error: BaseException | None) -> None:
            if isinstance(error, PoolError):
                self.respond(reply_for(error))
            elif error is not None:
                raise error
            elif upload is not None:
                self._start_upload(upload, cmd)

        self.run_off_loop(work, then)
        return file
