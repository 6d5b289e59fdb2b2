"""Work the FTP door does off its event loop: password checks and data transfers.

pyftpdlib serves every session from one event loop. Anything slow there stalls everyone:
an scrypt check costs tens of milliseconds of CPU, and a transfer driven by the loop
makes every other session wait behind its system calls (and behind the disk, when a
download is not in the page cache or an upload meets a slow disk). Both therefore run on
threads, and their outcomes come back to the loop through one `LoopInbox`.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import mmap
import os
import select
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyftpdlib.log import logger

# Bytes a data thread moves per step through its buffer (uploads; downloads with
# `use_sendfile` off): one buffer per transfer in flight. 1 MiB was a little ahead of
# 256 KiB with 50 parallel downloads (benchmarks/README.md).
CHUNK = 1024 * 1024
# The most one sendfile() call may send (`use_sendfile`, the default). Smaller steps kept
# the client's copy ahead of the kernel's queue on loopback: 256 KiB gave 1.3x the
# throughput of 4 MiB with a 1 GiB file (benchmarks/README.md).
SENDFILE_CHUNK = 256 * 1024
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s
_NO_SENDFILE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)
_CONNECTION_GONE = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN)
_POLL_MS = 1000  # a stopped thread wakes at once (its socket is shut down); this is a cap


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

    def call(self, fn: Callable[[], None]) -> bool:
        """Queue `fn` for the loop; False if the inbox is closed (`fn` will not run)."""
        with self._lock:
            if self._fileno is None:
                return False
            self._queue.append(fn)
            try:
                os.write(self._wfd, b"\0")
            except BlockingIOError:
                pass  # the pipe is full: a wake-up is pending anyway
        return True

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


class Jobs:
    """Blocking work (password checks, opening an upload) on worker threads, each
    outcome handed back to the event loop.

    `hashlib.scrypt` releases the GIL, and the session core is shared with SFTP's
    threads already (the store gives each thread its own SQLite connection), so the
    work also uses more than one core.
    """

    def __init__(self, inbox: LoopInbox, workers: int) -> None:
        self._inbox = inbox
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ftp-work")

    def submit(
        self, work: Callable[[], Any], then: Callable[[Any, BaseException | None], None]
    ) -> None:
        """Run `work()` on a worker; then `then(result, exception)` on the event loop."""

        def run() -> None:
            result: Any = None
            error: BaseException | None = None
            try:
                result = work()
            except BaseException as exc:
                error = exc
            self._inbox.call(lambda: then(result, error))

        self._pool.submit(run)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)  # one job at most


@contextlib.contextmanager
def _buffer() -> Iterator[memoryview]:
    """A transfer's buffer, mapped for it alone and unmapped after: outside malloc's
    arenas, which the short-lived data threads would otherwise fill and fragment."""
    area = mmap.mmap(-1, CHUNK)
    view = memoryview(area)
    try:
        yield view
    finally:
        try:
            view.release()
            area.close()
        except BufferError:
            pass  # a slice is still referenced (by a traceback): unmapped when it goes


class FileReadError(OSError):
    """Reading the file being sent failed (as opposed to the connection)."""


class FileWriteError(Exception):
    """Writing the upload failed (refused by the core, or a bug), not the socket:
    `error` is what the write raised."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class DataThread(threading.Thread):
    """Moves one transfer's bytes between a data connection and a file, on its own thread.

    It works on a duplicate of the socket's descriptor, so the event loop may close its
    own at any time. `stop(after)` (from any thread) cuts the connection (a reset) and
    ends the thread within one file operation; `done` is then not called, `after` is
    (on the event loop, or on this thread once the loop is gone). `progress(n)` is
    called on this thread as bytes move; `done(error or None)` runs on the event loop at
    the end; `exited(self)` on this thread, last.
    """

    def __init__(
        self,
        sock_fd: int,
        inbox: LoopInbox,
        progress: Callable[[int], None],
        done: Callable[[Exception | None], None],
        exited: Callable[[DataThread], None],
    ) -> None:
        super().__init__(name=f"ftp-{type(self).__name__}", daemon=True)
        self._lock = threading.Lock()  # the duplicate is never used once closed
        self._sock: int | None = os.dup(sock_fd)
        self._inbox = inbox
        self._progress = progress
        self._done = done
        self._exited = exited
        self._stopping = False
        self._after: Callable[[], None] | None = None

    def stop(self, after: Callable[[], None] | None = None) -> None:
        with self._lock:
            self._stopping = True
            if after is not None:  # a later stop() without one (the server closing) keeps it
                self._after = after
            if self._sock is None:  # done already (its `done` is queued): `after` now
                if after is not None and not self._inbox.call(after):
                    after()
                return
            sock = socket.socket(fileno=self._sock)
            try:
                # Reset, not close, once the last descriptor goes: bytes still queued
                # either way would otherwise hold the connection open in the kernel long
                # after it was cut.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                sock.shutdown(socket.SHUT_RDWR)  # wakes a poll() at once
            except OSError:
                pass  # not connected any more
            finally:
                sock.detach()

    def run(self) -> None:
        error: Exception | None = None
        try:
            assert self._sock is not None
            self._move(self._sock)
        except Exception as exc:  # an OSError, or a bug: either ends this transfer
            error = exc
        finally:
            with self._lock:
                assert self._sock is not None
                os.close(self._sock)
                self._sock = None
                stopped, after = self._stopping, self._after
                self._release()
            if not stopped:
                self._inbox.call(lambda: self._done(error))
            elif after is not None and not self._inbox.call(after):
                try:
                    after()  # the loop is gone: here, then
                except Exception:
                    logger.exception("ending a stopped transfer failed")
            self._exited(self)

    def _move(self, sock: int) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        """Close what else the thread holds (under the lock, once)."""


class FileSender(DataThread):
    """Sends a file (a duplicate of `file_fd`) from `offset` to its end: by sendfile()
    when `zero_copy`, else read into a buffer and written on."""

    def __init__(self, file_fd: int, offset: int, zero_copy: bool, *args: Any) -> None:
        super().__init__(*args)
        self._file = os.dup(file_fd)
        self._offset = offset
        self._zero_copy = zero_copy

    def _release(self) -> None:
        os.close(self._file)

    def _move(self, sock: int) -> None:
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        if self._zero_copy and self._sendfile(sock, poller):
            return
        self._copy(sock, poller)

    def _sendfile(self, sock: int, poller: select.poll) -> bool:
        """Send by sendfile(); False if the system cannot (then nothing was sent)."""
        while not self._stopping:
            try:
                n = os.sendfile(sock, self._file, self._offset, SENDFILE_CHUNK)
            except BlockingIOError:
                poller.poll(_POLL_MS)
                continue
            except OSError as exc:
                if exc.errno in _NO_SENDFILE and self._offset == 0:
                    return False
                if exc.errno in _CONNECTION_GONE:
                    raise
                raise FileReadError(exc.errno, exc.strerror) from exc
            if n == 0:
                return True
            self._offset += n
            self._progress(n)
        return True

    def _copy(self, sock: int, poller: select.poll) -> None:
        with _buffer() as view:
            self._copy_through(sock, poller, view)

    def _copy_through(self, sock: int, poller: select.poll, view: memoryview) -> None:
        while not self._stopping:
            try:
                n = os.preadv(self._file, [view], self._offset)
            except OSError as exc:
                raise FileReadError(exc.errno, exc.strerror) from exc
            if n == 0:
                return
            sent = 0
            while sent < n:
                if self._stopping:
                    return
                try:
                    k = os.write(sock, view[sent:n])
                except BlockingIOError:
                    poller.poll(_POLL_MS)
                    continue
                sent += k
                self._progress(k)
            self._offset += n


class FileReceiver(DataThread):
    """Receives an upload until the client ends the data connection, writing each chunk
    through `write` (the upload's own, which charges the quota)."""

    def __init__(self, write: Callable[[memoryview], Any], *args: Any) -> None:
        super().__init__(*args)
        self._write = write

    def _move(self, sock: int) -> None:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        with _buffer() as view:
            while not self._stopping:
                try:
                    n = os.readv(sock, [view])
                except BlockingIOError:
                    poller.poll(_POLL_MS)
                    continue
                if n == 0:
                    return  # the end of the data connection: the end of the file
                try:
                    self._write(view[:n])
                except Exception as exc:
                    raise FileWriteError(exc) from exc
                self._progress(n)


class Workers:
    """The FTP server's threads: one inbox, the jobs, the transfers in flight."""

    def __init__(self, ioloop: Any, job_workers: int) -> None:
        self.inbox = LoopInbox(ioloop)
        self.jobs = Jobs(self.inbox, job_workers)
        self._transfers: set[DataThread] = set()
        self._lock = threading.Lock()

    def send_file(
        self,
        file_fd: int,
        offset: int,
        zero_copy: bool,
        sock_fd: int,
        progress: Callable[[int], None],
        done: Callable[[Exception | None], None],
    ) -> DataThread:
        """Send a file from `offset` on a thread; `done` runs on the event loop."""
        return self._start(
            FileSender(
                file_fd, offset, zero_copy, sock_fd, self.inbox, progress, done, self._exited
            )
        )

    def receive(
        self,
        write: Callable[[memoryview], Any],
        sock_fd: int,
        progress: Callable[[int], None],
        done: Callable[[Exception | None], None],
    ) -> DataThread:
        """Receive an upload on a thread; `done` runs on the event loop."""
        return self._start(FileReceiver(write, sock_fd, self.inbox, progress, done, self._exited))

    def _start(self, transfer: DataThread) -> DataThread:
        with self._lock:
            self._transfers.add(transfer)
        transfer.start()
        return transfer

    def _exited(self, transfer: DataThread) -> None:
        with self._lock:
            self._transfers.discard(transfer)

    def close(self, wait: float = 5.0) -> None:
        """Stop the transfers (their connections are cut), the checks, then the inbox."""
        with self._lock:
            transfers = list(self._transfers)
        for transfer in transfers:
            transfer.stop()
        for transfer in transfers:
            transfer.join(wait)
        self.jobs.close()
        self.inbox.close()
