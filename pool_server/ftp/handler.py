"""The FTP/FTPS command handler: login through the session core, the data channel's
transfers on threads, and the end of each upload handed to the core's one decision.

Classes here are never configured by assigning to them globally: `server.py` builds a
subclass per server with the settings as class attributes (pyftpdlib's way).
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.exceptions import AuthenticationFailed as FtpAuthFailed
from pyftpdlib.exceptions import AuthorizerError
from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler
from pyftpdlib.log import logger
from pyftpdlib.utils import is_ssl_sock

from .. import control
from ..core import Core, Outcome, Session, Upload
from ..errors import AuthenticationFailed, Banned, PoolError
from ..listening import client_ip
from ..tls import ReloadingContext
from .commands import PoolCommands
from .filesystem import PoolAbstractedFS
from .replies import reply_for
from .workers import DataThread, FileReadError, FileWriteError, Workers

if TYPE_CHECKING:
    from ..app import Pool

_SENDERS_STOPPING = threading.Lock()  # a stopped sender's end vs. its transfer's log line


class PoolAuthorizer(DummyAuthorizer):
    """The session core's login behind pyftpdlib's authorizer interface.

    Permissions are not decided here: the core applies the access table on every call,
    for every door alike, so pyftpdlib's coarse per-command check always passes.
    """

    def __init__(self, core: Core) -> None:
        super().__init__()
        self.core = core

    def validate_authentication(self, username: str, password: str, handler: Any) -> None:
        protocol = "ftps" if is_ssl_sock(handler.socket) else "ftp"
        try:
            handler.session = self.core.login_password(
                username, password, handler.remote_ip, protocol
            )
        except Banned as err:
            raise FtpAuthFailed(str(err))
        except AuthenticationFailed:
            raise FtpAuthFailed("Login incorrect.")

    def get_home_dir(self, username: str) -> str:
        return str(self.core.root)

    def has_user(self, username: str) -> bool:
        return self.core.accounts.find_user(username) is not None

    def has_perm(self, username: str, perm: str, path: str | None = None) -> bool:
        return True

    def get_perms(self, username: str) -> str:
        return "elr"  # MLSx perm facts come from the access table (filesystem.py)

    def get_msg_login(self, username: str) -> str:
        return "Welcome to the pool."

    def get_msg_quit(self, username: str) -> str:
        return "Goodbye."


def peer_closed(sock: Any) -> bool:
    """True if the peer of `sock` (plain or TLS) has closed its side: a read would give
    EOF now. Peeks at the TCP socket without consuming anything."""
    try:
        fd = sock.fileno()
        with socket.socket(fileno=os.dup(fd)) as raw:
            return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class PoolPassiveDTP(TLS_FTPHandler.passive_dtp):  # type: ignore[misc]
    """The passive data listener. A connection from an address other than the control
    connection's is dropped without a word on the control connection (pyftpdlib answers
    it with an unsolicited 425, which fails the victim's transfer and shifts every later
    reply by one); the listener keeps waiting for the right client until `timeout` (the
    data timeout)."""

    foreign = 0  # foreign connections dropped so far

    def handle_accepted(self, sock: socket.socket, addr: Any) -> None:
        ip = client_ip(addr[0])
        if self.cmd_channel.connected and ip != self.cmd_channel.remote_ip:
            try:
                sock.close()
            except OSError:
                pass
            self.foreign += 1
            self.cmd_channel.log(
                f"dropped a data connection from foreign address {ip}:{addr[1]}",
                logfun=logger.warning if self.foreign == 1 else logger.debug,  # no flood
            )
            return
        super().handle_accepted(sock, (ip, *addr[1:]))


class PoolDTPHandler(TLS_DTPHandler):
    """The data channel: transfers moved by a thread each, uploads committed atomically.

    Threads. A binary transfer of a file over a plain (not TLS) data connection is moved
    by a `DataThread` of its own (`data_threads`, on by default): the event loop stays
    free for every other session meanwhile. The loop takes the socket back when the
    thread is done; closing the channel meanwhile (ABOR, the control connection lost,
    the data timeout) stops the thread first.

    Uploads. The upload is committed before the reply, and 552 answers a full quota or
    disk (the partial is discarded: it could never complete). In stream mode the end of
    a file is the end of the data connection, and a client that is killed closes it just
    the same. A killed client's control connection closes too — the kernel releases the
    sockets of a dead process in reverse order, so the data connection's end often
    arrives first. The decision therefore waits `eof_grace` seconds (without blocking
    anyone else) and then looks at the control connection: gone means the upload stays a
    hidden, resumable partial. A data connection reset by the client (not ended) never
    completes an upload.
    """

    eof_grace = 0.02
    data_threads = True
    _deciding = False
    _thread: DataThread | None = None
    # Called on the event loop once an upload stopped by `close` has been ended by the
    # core (ABOR waits for it before replying).
    when_ended: Callable[[], None] | None = None
    # A download's sender stopped by `close` (ABOR, the control connection lost): its
    # count is final only once it has stopped, and the transfer is logged then.
    _stopping_sender: DataThread | None = None
    _log_when_stopped: Callable[[int], None] | None = None

    # -- TLS: an empty listing (NLST, LIST, MLSD of an empty folder)

    def initiate_send(self) -> None:
        """pyftpdlib sends (and, at the end of the data, closes) as soon as the data is
        pushed, TLS handshake or not: an empty listing then closed the connection in the
        middle of the handshake, and the client failed (SHUTDOWN_WHILE_IN_INIT). The
        handshake is finished first (the channel stays writable and comes back here), so
        that the end of the data is a TLS close."""
        if self._ssl_accepting:
            return
        super().initiate_send()

    def send(self, data: Any) -> int:
        """Nothing to send is nothing sent: asynchat passes an empty listing on as an
        empty write, which TLS fails ("Unexpected EOF", so a 426 for the client)."""
        if not data:
            return 0
        result: int = super().send(data)
        return result

    # -- transfers on a thread of their own

    def _workers_for(self, type_: str) -> Workers | None:
        workers: Workers | None = self.cmd_channel.workers
        if workers is None or not self.data_threads or type_ != "i" or is_ssl_sock(self.socket):
            return None
        return workers

    def push_with_producer(self, producer: Any) -> None:
        workers = self._workers_for(self.cmd_channel._current_type)
        try:
            file_fd = self.file_obj.fileno()
        except (AttributeError, OSError, ValueError):
            workers = None  # not a file (a listing)
        if workers is None:
            super().push_with_producer(producer)
            return
        self._initialized = True
        self.del_channel()  # the thread owns the socket until it is done
        self._thread = workers.send_file(
            file_fd,
            producer.file.tell(),
            self.cmd_channel.use_sendfile,
            self.socket.fileno(),
            progress=self._count_sent,
            done=self._sent,
        )

    def enable_receiving(self, type: str, cmd: str) -> None:
        super().enable_receiving(type, cmd)
        workers = self._workers_for(type)
        upload = self.file_obj
        if workers is None or not isinstance(upload, Upload):
            return
        self.del_channel()  # the thread owns the socket until it is done
        self._thread = workers.receive(
            upload.write, self.socket.fileno(), progress=self._count_received, done=self._received
        )

    def receiving_on_thread(self) -> bool:
        """An upload is being moved by a data thread: `close` ends it only once the
        thread has stopped (`when_ended` is called then)."""
        return self._thread is not None and self.receive and isinstance(self.file_obj, Upload)

    def transfer_in_progress(self) -> bool:
        # From the moment a thread starts: its first bytes may reach the client (which
        # may answer with ABOR) before the thread has counted them.
        return self._thread is not None or super().transfer_in_progress()

    def _count_sent(self, n: int) -> None:
        self.tot_bytes_sent += n  # on the thread; the loop only reads it

    def _count_received(self, n: int) -> None:
        self.tot_bytes_received += n  # on the thread; the loop only reads it

    def _sent(self, error: Exception | None) -> None:
        self._thread = None
        if self._closed:
            return
        if error is None:
            self.transfer_finished = True
            self._resp = ("226 Transfer complete.", logger.debug)
        elif isinstance(error, FileReadError):
            self._resp = (f"426 {error.strerror}; transfer aborted.", logger.warning)
        elif isinstance(error, OSError):
            self._resp = (
                f"426 Transfer aborted; {self.tot_bytes_sent} bytes transmitted.",
                logger.debug,
            )
        else:
            self._internal_error("sending", error)
        self.close()

    def _received(self, error: Exception | None) -> None:
        self._thread = None
        if self._closed:
            return
        if error is None:
            self.handle_close()  # the end of the data: the end of the file
            return
        if isinstance(error, FileWriteError) and isinstance(error.error, PoolError):
            self._refuse(error.error)
            return
        if isinstance(error, FileWriteError):
            self._internal_error("receiving", error.error)
        elif isinstance(error, OSError):
            self._resp = ("426 Data connection reset; upload kept for resume.", logger.info)
        else:
            self._internal_error("receiving", error)
        self.close()

    def _internal_error(self, doing: str, error: BaseException) -> None:
        logger.error("%s %s failed", doing, self.file_obj.name, exc_info=error)
        self._resp = ("426 Internal error; transfer aborted.", logger.warning)

    # -- the end of an upload

    def handle_close(self) -> None:
        if (
            self._closed
            or self._deciding
            or not self.receive
            or not isinstance(self.file_obj, Upload)
        ):
            super().handle_close()
            return
        self._deciding = True
        self.del_channel()  # stop polling a socket that is at EOF
        self.ioloop.call_later(self.eof_grace, self._decide, _errback=self.handle_error)

    def _decide(self) -> None:
        if not self._closed:
            super().handle_close()

    def close(self) -> None:
        upload = self.file_obj if self.receive else None
        thread, self._thread = self._thread, None
        if not self._closed and isinstance(upload, Upload):
            if thread is not None:
                # Never waited for here (the event loop serves everyone): the upload is
                # ended by the thread once it has stopped, within one file operation.
                thread.stop(after=functools.partial(self._gone, upload, "transfer aborted"))
            elif self.transfer_finished and peer_closed(self.cmd_channel.socket):
                self.transfer_finished = False
                self._resp = ("426 Control connection lost; upload kept for resume.", logger.info)
                self._end(upload, Outcome.CLIENT_GONE, "control connection lost at the end")
            elif self.transfer_finished:
                error = self._end(upload, Outcome.COMPLETE)
                if error is not None:
                    self.transfer_finished = False
                    self._resp = (reply_for(error), logger.warning)
            else:
                self._end(upload, Outcome.CLIENT_GONE, "connection closed before the end")
        elif thread is not None:
            # Bytes the sender has handed to the kernel may have reached the client (and
            # its ABOR us) before the sender counted them: the count is read once the
            # sender has stopped (`log_transfer` waits for it), not now.
            self._stopping_sender = thread
            thread.stop(after=self._sender_stopped)
        super().close()

    def _sender_stopped(self) -> None:
        """The stopped sender is gone (on the event loop, or on its own thread if the
        loop is gone): its count is final."""
        with _SENDERS_STOPPING:
            self._stopping_sender = None
            log, self._log_when_stopped = self._log_when_stopped, None
        if log is not None:
            log(self.tot_bytes_sent)

    def log_when_sender_stopped(self, log: Callable[[int], None]) -> bool:
        """Have `log(bytes sent)` called once a sender stopped by `close` is gone; False
        (and nothing done) if none is stopping."""
        with _SENDERS_STOPPING:
            if self._stopping_sender is None:
                return False
            self._log_when_stopped = log
            return True

    def _gone(self, upload: Upload, why: str) -> None:
        try:
            self._end(upload, Outcome.CLIENT_GONE, why)
        finally:
            then, self.when_ended = self.when_ended, None
            if then is not None:
                then()

    def _end(self, upload: Upload, outcome: Outcome, why: str | None = None) -> PoolError | None:
        """The core decides what the upload becomes; its refusal, if any, is returned."""
        try:
            upload.end(outcome, why)
        except PoolError as err:
            return err
        return None

    def handle_error(self) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, PoolError) and isinstance(self.file_obj, Upload):
            self._refuse(exc)  # a write refused on the event loop (data_threads off)
            return
        super().handle_error()

    def _refuse(self, error: PoolError) -> None:
        """A write was refused (full disk or quota, a limit): the core ends the upload."""
        upload = self.file_obj
        assert isinstance(upload, Upload)
        error = self._end(upload, Outcome.FAILED, str(error)) or error
        self._resp = (reply_for(error, "transfer aborted"), logger.warning)
        self.close()


class PoolFTPHandler(PoolCommands, TLS_FTPHandler):
    """FTP and explicit FTPS (AUTH TLS) on one port."""

    abstracted_fs = PoolAbstractedFS
    dtp_handler = PoolDTPHandler
    pool: Pool
    core: Core
    proto_cmds: ClassVar[dict[str, Any]] = {
        **{k: v for k, v in TLS_FTPHandler.proto_cmds.items() if k not in ("STOU", "SITE CHMOD")},
        f"SITE {control.FTP_SITE}": dict(
            perm=None,
            auth=True,
            arg=True,
            help=f"Syntax: SITE {control.FTP_SITE} <SP> command [args] (JSON answer).",
        ),
    }

    session: Session | None = None
    workers: Workers | None = None  # set by server.py
    tls: ClassVar[ReloadingContext | None] = None  # set by server.py
    data_channel: Any  # pyftpdlib's, untyped
    _off_loop = False
    prelogin_timeout = 30.0
    _held_lines: list[bytes] | None = None
    _prelogin_timer: Any = None

    def __init__(self, conn: Any, server: Any, ioloop: Any = None) -> None:
        super().__init__(conn, server, ioloop)
        self.remote_ip: str = client_ip(str(self.remote_ip))  # "::ffff:1.2.3.4" -> "1.2.3.4"

    @classmethod
    def get_ssl_context(cls) -> Any:
        """Each new connection's TLS context: the certificate files as they are now
        (`pool-server tls set` replaces them while serving; see `tls.py`)."""
        if cls.tls is None:
            return super().get_ssl_context()
        return cls.tls.current()

    # --- before login: a short deadline and few slots

    def handle(self) -> None:
        try:
            self.core.check_address(self.remote_ip)
        except Banned as err:
            self.respond(f"421 {err}.")
            self.close_when_done()
            return
        admission = self.server.admit_prelogin(self)
        if not admission.accept:
            self.respond(f"421 {admission.reason.capitalize()}; try again later.")
            self.close_when_done()
            return
        # A deadline from the moment of connection: commands (NOOP) do not extend it.
        self._prelogin_timer = self.ioloop.call_later(
            self.prelogin_timeout, self._prelogin_expired, _errback=self.handle_error
        )
        super().handle()

    def _prelogin_expired(self) -> None:
        self._prelogin_timer = None
        if not self.authenticated:
            self.drop_prelogin("421 Login timeout; closing control connection.")

    def drop_prelogin(self, reply: str) -> None:
        """End this connection that has not logged in (timeout, or its slot given away)."""
        self._end_prelogin()
        if self._closed:
            return
        if self._off_loop:  # a check or a file operation on a worker: no reply now
            self.close()
            return
        self.respond(reply, logfun=logger.info)
        self.close_when_done()

    def _end_prelogin(self) -> None:
        self.server.prelogin.pop(self, None)
        if self._prelogin_timer is not None:
            self._prelogin_timer.cancel()
            self._prelogin_timer = None

    def handle_auth_success(self, home: str, password: str, msg_login: str) -> None:
        self._end_prelogin()
        super().handle_auth_success(home, password, msg_login)
        if self.session is not None:  # listed in the console, which may end it
            self.session.connected(self._end_from_elsewhere)

    def _end_from_elsewhere(self) -> None:
        """Called from another thread (an operator ended the session): shutting the
        socket down is safe there, and the event loop then closes the connection."""
        sock = self.socket
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._end_prelogin()
        if self.session is not None:
            self.session.disconnected()
        super().close()

    max_command_line = 4096
    _in_buffer: list[bytes]  # pyftpdlib's (asynchat's) line buffer
    _in_buffer_len: int

    def collect_incoming_data(self, data: bytes) -> None:
        """Cut off a client whose command line outgrows the limit (pyftpdlib only
        empties its buffer and reads on)."""
        self._in_buffer.append(data)
        self._in_buffer_len += len(data)
        if self._in_buffer_len > self.max_command_line:
            self._in_buffer, self._in_buffer_len = [], 0
            self.respond_w_warning("500 Command line too long; closing the connection.")
            self.close_when_done()

    def found_terminator(self) -> None:
        if self._off_loop:
            # Lines that came in the same read as a command being worked on off the
            # loop wait for its answer, as they would have had it been done inline.
            self._held_lines = [*(self._held_lines or []), b"".join(self._in_buffer)]
            self._in_buffer, self._in_buffer_len = [], 0
            return
        # pyftpdlib answers an undecodable line but keeps it in its buffer, so every
        # later command of the session would fail too: drop it here instead.
        try:
            b"".join(self._in_buffer).decode(self.encoding)
        except UnicodeDecodeError:
            self._in_buffer, self._in_buffer_len = [], 0
            self.respond("501 Command is not valid UTF-8.")
            return
        super().found_terminator()

    def pre_process_command(self, line: str, cmd: str, arg: str) -> None:
        if cmd in ("LIST", "NLST", "STAT") and arg.startswith("-"):
            _flags, _, arg = arg.partition(" ")  # 'LIST -la /path': ls options, ignored
        try:
            super().pre_process_command(line, cmd, arg)
        except PoolError as err:
            self.respond(reply_for(err))

    def run_off_loop(
        self, work: Callable[[], Any], then: Callable[[Any, BaseException | None], None]
    ) -> None:
        """Run `work()` on a worker thread, then `then(result, error)` on the event loop;
        the session reads no further command until then (lines already read are held)."""
        workers = self.workers
        if workers is None:
            try:
                result = work()
            except Exception as exc:
                then(None, exc)
            else:
                then(result, None)
            return
        self._hold()

        def done(result: Any, error: BaseException | None) -> None:
            if self._closed and isinstance(result, Upload):
                result.end(Outcome.CLIENT_GONE, "connection closed before the transfer")
            self._go_on(lambda: then(result, error))

        workers.jobs.submit(work, done)

    def _hold(self) -> None:
        """Read no further command until `_go_on` (lines already read are held)."""
        self._off_loop = True
        self.del_channel()

    def _go_on(self, then: Callable[[], None]) -> None:
        """On the event loop, after `_hold`: `then()`, then the commands held meanwhile
        (nothing if the connection was closed in between)."""
        self._off_loop = False
        if self._closed:
            return
        self.add_channel()
        try:
            then()
            self._replay_held()
        except Exception:
            self.handle_error()

    def ftp_ABOR(self, line: str) -> None:
        """pyftpdlib's ABOR, except while a data thread receives an upload: the thread
        stops within one file operation, and the core ends the upload (a resumable
        partial) before 426 and 226 are sent. The session reads no command meanwhile, so
        the next one (an APPE to resume) finds the upload ended and its partial free."""
        dtp = self.data_channel
        if not (isinstance(dtp, PoolDTPHandler) and dtp.receiving_on_thread()):
            super().ftp_ABOR(line)
            return
        self._hold()
        dtp.when_ended = functools.partial(self._go_on, self._aborted)
        self.data_channel = None
        dtp.close()

    def _aborted(self) -> None:
        self.respond("426 Transfer aborted via ABOR.", logfun=logger.info)
        self.respond("226 ABOR command successful.")

    def _replay_held(self) -> None:
        held, self._held_lines = self._held_lines or [], None
        for i, held_line in enumerate(held):
            if self._closed:
                break
            if self._off_loop:  # a held command went off the loop in turn
                self._held_lines = [*held[i:], *(self._held_lines or [])]
                break
            self._in_buffer, self._in_buffer_len = [held_line], len(held_line)
            self.found_terminator()

    def ftp_PASS(self, line: str) -> None:
        """pyftpdlib's PASS with the password check (scrypt) off the event loop."""
        if self.workers is None or self.authenticated or not self.username:
            super().ftp_PASS(line)
            return
        username = self.username

        def check() -> None:
            self.authorizer.validate_authentication(username, line, self)

        def then(_result: None, error: BaseException | None) -> None:
            if error is None:
                self.handle_auth_success(
                    self.authorizer.get_home_dir(username),
                    line,
                    self.authorizer.get_msg_login(username),
                )
            elif isinstance(error, FtpAuthFailed | AuthorizerError):
                self.handle_auth_failed(str(error), line)
            else:
                raise error

        self.run_off_loop(check, then)

    def push_dtp_data(
        self, data: Any, isproducer: bool = False, file: Any = None, cmd: str | None = None
    ) -> None:
        name = getattr(file, "name", None)
        if isinstance(name, str) and self.session is not None:
            self.session.transferring(f"download {self.core.vpath_of(name)}")
        super().push_dtp_data(data, isproducer, file, cmd)

    def _start_upload(self, upload: Upload, cmd: str) -> None:
        if self.session is not None:
            self.session.transferring(f"upload {upload.target.vpath}")
        if self.data_channel is not None:
            self.respond("125 Data connection already open. Transfer starting.")
            self.data_channel.file_obj = upload
            self.data_channel.enable_receiving(self._current_type, cmd)
        else:
            self.respond("150 File status okay. About to open data connection.")
            self._in_dtp_queue = (upload, cmd)

    def ftp_SITE_ORTAK(self, line: str) -> None:
        """The control channel (`pool_server.control`): a JSON answer in a multi-line
        200 reply."""
        assert self.session is not None
        try:
            result = control.run(self.pool, self.session, line)
        except PoolError as err:
            self.respond(reply_for(err))
            return
        name = line.split(None, 1)[0].lower()
        *body, last = control.ftp_reply_lines(name, result)
        self.push("".join(f"{text}\r\n" for text in body))
        self.respond(last)

    def log_transfer(
        self,
        cmd: str,
        filename: str,
        receive: bool,
        completed: bool,
        elapsed: float,
        bytes: int,
    ) -> None:
        if self.session is not None:
            self.session.transferring(None)
        dtp = self.data_channel  # still set while the data channel closes
        if (
            not receive
            and isinstance(dtp, PoolDTPHandler)
            and dtp.log_when_sender_stopped(
                functools.partial(self._log_transfer, cmd, filename, receive, completed, elapsed)
            )
        ):
            return  # logged with the final count once the sender has stopped
        self._log_transfer(cmd, filename, receive, completed, elapsed, bytes)

    def _log_transfer(
        self, cmd: str, filename: str, receive: bool, completed: bool, elapsed: float, bytes: int
    ) -> None:
        super().log_transfer(cmd, filename, receive, completed, elapsed, bytes)
        if not receive and self.session is not None:
            try:
                self.session.record_download(self.core.vpath_of(filename), bytes, completed)
            except PoolError:
                return

    def on_file_received(self, file: str) -> None:
        pass  # ended through the core by the data channel before the reply

    def on_incomplete_file_received(self, file: str) -> None:
        pass  # the partial stays hidden and resumable (or was discarded)
