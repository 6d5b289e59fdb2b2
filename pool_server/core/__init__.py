"""The session core: the one place every door (FTP/FTPS, SFTP, HTTP) acts through.

A door only translates its protocol to these calls and the `PoolError`s they raise to
its replies (one table per door: `ftp/replies.py`, `sftp/status.py`). Nothing here
knows a protocol. Paths are virtual ('/TRT/news/a.mxf', or relative to `Session.cwd`);
the rules are decided on the path as resolved on disk (`paths.confine`).

Logging in (`core = pool.core`, one per pool)::

    core.check_address(ip)                              # on connect: Banned?
    s = core.login_password(name, password, ip, "ftp")  # -> Session, or raises
                                                        #    AuthenticationFailed/Banned
    offers = KeyOffers()                                 # SSH: one per connection
    user = core.check_key(name, key_type, blob, ip, "sftp", offers)  # key registered?
    s = core.start(user, ip, "sftp", "publickey SHA256:...")  # ... signature verified
    s = core.session_for(user, ip, "https")             # a user the door logged in itself

The defender (an attempt scored before each check), the audit and the last-login time
are handled inside those calls.

File operations (`s` is a `Session`)::

    s.stat(path, own_partial=False) -> os.stat_result   s.size(path) -> int (SIZE)
    s.listdir(path) -> Iterator[os.DirEntry]            s.chdir(path) -> vpath
    s.may(Action.DELETE, path) -> bool                  # for permission facts
    d = s.open_read(path) -> Download   # d.file, d.read_at(off, n) / d.note(off, n),
                                        # d.finish(): one "download" audit row (a take
                                        # when the reads covered the file to its end)
    s.mkdir(path)  s.remove(path)  s.rmdir(path)  s.set_mtime(path, t)
    s.rename(src, dst, replace=True)

Uploads (`uploads.py`: partial naming, claims, resume, sweep)::

    s.resume_size(path, key="") -> int | None   # the owner's interrupted upload
    u = s.open_upload(path, offset=0, append=False, length=None, key="") -> Upload
        # offset/append resume; `length` (tus Upload-Length) is refused up front past
        # [uploads] max_file_size or the member's remaining quota; `key` (tus: the
        # upload id) keeps a door's uploads its own. May copy a file to seed a resume:
        # call it off an event loop.
    u.write(data) / u.write_at(offset, data)   # PoolError: QuotaExceeded, StorageFull
                                               # ([storage] min_free), InvalidPath (holes)
    u.size                                     # bytes so far (tus: Upload-Offset)
    u.end(Outcome.COMPLETE)      # rename into place (raises PoolError if it cannot)
    u.end(Outcome.CLIENT_GONE)   # keep the partial, resumable by the same user
    u.end(Outcome.FAILED, why)   # after a write error: full disk/quota discards
    s.discard_upload(path, key="")            # tus: terminate
"""

from __future__ import annotations

from .downloads import Download
from .limits import Limits
from .oserror import os_error
from .service import Core, KeyOffers
from .session import Session
from .uploads import Outcome, Upload, Uploads

__all__ = [
    "Core",
    "Download",
    "KeyOffers",
    "Limits",
    "Outcome",
    "Session",
    "Upload",
    "Uploads",
    "os_error",
]
