"""Work the FTP door does off its event loop: password checks and download senders.

pyftpdlib serves every session from one event loop. Anything slow there stalls everyone:
an scrypt check costs tens of milliseconds of CPU, and a download pushed from the loop
makes every other session wait behind its `sendfile()` calls (and behind the disk, when
the file is not in the page cache). Both therefore run on threads, and their outcomes
come back to the loop through one `LoopInbox`.
"""

from __future__ import annotations

import collections
import os
import select
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyftpdlib.log import logger

# Bytes a sender reads from the file and writes to the socket per step: one buffer per
# download in flight. On loopback, reading into a buffer on the sender's core and copying
# it on to the socket beat zero-copy sendfile() from the loop by ~1.3x (the receiver then
# copies from cache rather than from memory); 1 MiB was a little ahead of 256 KiB with 50
# parallel downloads. See benchmarks/README.md.
SEND_CHUNK = 1024 * 1024
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s
_POLL_MS = 1000  # a stopped sender wakes at once (its socket is shut down); this is a cap


class LoopInbox:
    """Runs callables on the FTP event loop on behalf of other threads.

    `call(fn)` may be used from any thread; the loop is woken through a pipe and runs the
    callables in order. After `close()` further calls are dropped (the loop is gone).
    """

    def __init__(self, ioloop: Any) -> None:
        self.ioloop = ioloop
        self._queue: collections.deque[Callable[[], None]] = collections.deque()
        self._lock = threading.Lock()  # the pipe's descriptors are never used once closed
        self._rfd, self._wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._fileno: int | None = self._rfd
        ioloop.register(self._rfd, self, ioloop.READ)

    def call(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if self._fileno is None:
                return
            self._queue.append(fn)
            try:
                os.write(self._wfd, b"\0")
            except BlockingIOError:
                pass  # the pipe is full: a wake-up is pending anyway

    @property
    def registered(self) -> bool:
        return self._fileno is not None

    # pyftpdlib's IOLoop interface for the read end of the pipe
    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def handle_read_event(self) -> None:
        try:
            while os.read(self._rfd, 4096):
                pass
        except BlockingIOError:
            pass
        while self._queue:
            self._queue.popleft()()

    def handle_error(self) -> None:
        logger.exception("unhandled error in work handed back to the FTP event loop")

    def handle_close(self) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._fileno is None:
                return
            self._fileno = None
            self.ioloop.unregister(self._rfd)
            os.close(self._rfd)
            os.close(self._wfd)
            self._queue.clear()


class PasswordChecks:
    """Password checks on worker threads, each outcome handed back to the event loop.

    `hashlib.scrypt` releases the GIL, and the accounts, the defender and the audit are
    shared with SFTP's threads already (the store gives each thread its own SQLite
    connection), so checks also use more than one core.
    """

    def __init__(self, inbox: LoopInbox, workers: int) -> None:
        self._inbox = inbox
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ftp-auth")

    def submit(self, check: Callable[[], None], then: Callable[[BaseException | None], None]
               ) -> None:
        """Run `check()` on a worker; then `then(exception or None)` on the event loop."""
        def work() -> None:
            error: BaseException | None = None
            try:
                check()
            except BaseException as exc:
                error = exc
            self._inbox.call(lambda: then(error))

        self._pool.submit(work)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)  # one scrypt at most


class FileReadError(OSError):
    """Reading the file being sent failed (as opposed to the connection)."""


class FileSender(threading.Thread):
    """Sends a file from `offset` to its end over a data connection, on its own thread.

    It works on duplicates of the file's and the socket's descriptors, so the event loop
    may close its own at any time. `stop()` (from any thread) cuts the connection (a
    reset) and ends the sender within one read of the file; `done` is then not called.
    `progress(n)` is called on this thread as bytes go out; `done(error or None)` runs on
    the event loop at the end; `exited(self)` on this thread, last.
    """

    def __init__(
        self, file_fd: int, sock_fd: int, offset: int, inbox: LoopInbox,
        progress: Callable[[int], None], done: Callable[[Exception | None], None],
        exited: Callable[[FileSender], None],
    ) -> None:
        super().__init__(name="ftp-send", daemon=True)
        self._lock = threading.Lock()  # the duplicates are never used once closed
        self._in = os.dup(file_fd)
        self._out: int | None = os.dup(sock_fd)
        self._offset = offset
        self._inbox = inbox
        self._progress = progress
        self._done = done
        self._exited = exited
        self._stopping = False

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            if self._out is not None:
                sock = socket.socket(fileno=self._out)
                try:
                    # Reset, not close, once the last descriptor goes: the bytes still
                    # queued for a client that stopped reading would otherwise hold
                    # the connection open in the kernel long after it was cut.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a poll() or write() at once
                except OSError:
                    pass  # not connected any more
                finally:
                    sock.detach()

    def run(self) -> None:
        error: Exception | None = None
        try:
            self._send()
        except Exception as exc:  # an OSError, or a bug: either ends this transfer
            error = exc
        finally:
            with self._lock:
                assert self._out is not None
                os.close(self._in)
                os.close(self._out)
                self._out = None
                stopped = self._stopping
            if not stopped:
                self._inbox.call(lambda: self._done(error))
            self._exited(self)

    def _send(self) -> None:
        buf = bytearray(SEND_CHUNK)
        view = memoryview(buf)
        poller = select.poll()
        out = self._out
        assert out is not None
        poller.register(out, select.POLLOUT)
        offset = self._offset
        while not self._stopping:
            try:
                n = os.preadv(self._in, [buf], offset)
            except OSError as exc:
                raise FileReadError(exc.errno, exc.strerror) from exc
            if n == 0:
                return
            sent = 0
            while sent < n:
                if self._stopping:
                    return
                try:
                    k = os.write(out, view[sent:n])
                except BlockingIOError:
                    poller.poll(_POLL_MS)
                    continue
                sent += k
                self._progress(k)
            offset += n


class Workers:
    """The FTP server's threads: one inbox, the password checks, the senders in flight."""

    def __init__(self, ioloop: Any, password_workers: int) -> None:
        self.inbox = LoopInbox(ioloop)
        self.password_checks = PasswordChecks(self.inbox, password_workers)
        self._senders: set[FileSender] = set()
        self._lock = threading.Lock()

    def send_file(
        self, file_fd: int, sock_fd: int, offset: int, progress: Callable[[int], None],
        done: Callable[[Exception | None], None],
    ) -> FileSender:
        """Start sending on a thread; `done` runs on the event loop (see FileSender)."""
        sender = FileSender(file_fd, sock_fd, offset, self.inbox, progress, done,
                            self._exited)
        with self._lock:
            self._senders.add(sender)
        sender.start()
        return sender

    def _exited(self, sender: FileSender) -> None:
        with self._lock:
            self._senders.discard(sender)

    @property
    def sending(self) -> int:
        with self._lock:
            return len(self._senders)

    def close(self, wait: float = 5.0) -> None:
        """Stop the senders (their connections are cut), the checks, then the inbox."""
        with self._lock:
            senders = list(self._senders)
        for sender in senders:
            sender.stop()
        for sender in senders:
            sender.join(wait)
        self.password_checks.close()
        self.inbox.close()
