"""Moving bytes: verified, resumable downloads and resumable, checked uploads.

A download goes to ``NAME.part`` beside its destination and continues from there on the
next run (FTP REST, SFTP seek). The sha256 covers the bytes already in the part and
those received; it must equal the catalog's, or the part is discarded and fetched once
more from zero, and a second mismatch is an IntegrityError. Only then is the part
renamed to NAME (atomically, so a file under its final name is always complete).
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import IntegrityError, TransientError, UsageError
from .remote import Remote
from .transport import Transport
from .transport.base import Progress

PART_SUFFIX = ".part"
HASH_CHUNK = 1024 * 1024


def parse_rate(text: str | None) -> float | None:
    """'500k', '10M', '1.5MB/s', '2MiB' → bytes per second (powers of 1024, as every
    size: catalog.units.parse_size); None = no limit."""
    from catalog.errors import QueryError
    from catalog.units import parse_size

    if text is None or text == "" or text == "0":
        return None
    try:
        value = parse_size(text)
    except QueryError:
        raise UsageError(f"--bwlimit {text!r}: give a rate such as 500k, 10M or 1G (bytes/s)")
    return float(value) or None


class Cancelled(Exception):
    """The command is stopping (Ctrl-C): transfers end at the next chunk, parts kept."""


class RateLimiter:
    """A token bucket shared by every transfer of one command (thread-safe); also where
    transfers notice that the command is being cancelled."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def take(self, nbytes: int) -> None:
        if self.cancel.is_set():
            raise Cancelled()
        if not self.rate:
            return
        with self._lock:
            now = time.monotonic()
            start = max(self._next, now - 0.25)  # a little burst, not an unbounded one
            self._next = start + nbytes / self.rate
            wait = self._next - now
        if wait > 0:
            time.sleep(wait)


def sha256_file(path: Path, limit: int | None = None) -> tuple[str, int]:
    digest = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK if limit is None else min(HASH_CHUNK, limit - n)):
            digest.update(chunk)
            n += len(chunk)
    return digest.hexdigest(), n


@dataclass
class FetchResult:
    remote_path: str
    dest: Path
    size: int
    transferred: int
    """Bytes received over the network (less than `size` after a resume)."""
    resumed_from: int
    retried: bool
    """True if a checksum mismatch made us fetch it again from zero."""
    sha256: str
    skipped: bool = False
    """The destination already held exactly these bytes."""


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + PART_SUFFIX)


def _hash_part(part: Path) -> tuple[hashlib._Hash, int]:
    digest = hashlib.sha256()
    n = 0
    with open(part, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
            n += len(chunk)
    return digest, n


class _HashThread:
    """Hashes chunks on a thread of its own while the caller receives and writes the
    next ones (hashlib releases the GIL): verification costs next to no wall time."""

    def __init__(self, digest: hashlib._Hash) -> None:
        self.digest = digest
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self._thread = threading.Thread(target=self._run, name="pool-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self.digest.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def finish(self) -> str:
        self._queue.put(None)
        self._thread.join()
        return self.digest.hexdigest()


def _stream_into(
    remote: Remote,
    t: Transport,
    remote_path: str,
    part: Path,
    size: int | None,
    progress: Progress | None,
    limiter: RateLimiter,
    on_retry: Callable[[Exception, float], None] | None,
) -> tuple[str, int, int]:
    """Append the rest of `remote_path` to `part`. Returns (sha256, total size, received)."""
    if part.exists() and size is not None and part.stat().st_size > size:
        part.unlink()  # longer than the file can be: not a part of it
    if part.exists():
        digest, have = _hash_part(part)
    else:
        digest, have = hashlib.sha256(), 0
    start = have
    if progress and have:
        progress(have)
    hasher = _HashThread(digest)

    def attempt() -> None:
        nonlocal have
        if size is not None and have >= size:
            return
        with open(part, "ab") as f:
            f.truncate(have)
            try:
                for chunk in t.read(remote_path, have):
                    f.write(chunk)
                    hasher.update(chunk)
                    have += len(chunk)
                    limiter.take(len(chunk))
                    if progress:
                        progress(len(chunk))
            finally:
                f.flush()

    try:
        remote.retrying(attempt, on_retry)
    finally:
        hexdigest = hasher.finish()
    if size is not None and have < size:
        raise TransientError(
            f"{remote_path}: the transfer ended early at {have} of {size} "
            "bytes; run again to resume"
        )
    return hexdigest, have, have - start


def fetch(
    remote: Remote,
    t: Transport,
    remote_path: str,
    dest: Path,
    *,
    sha256: str | None,
    size: int | None,
    progress: Progress | None = None,
    reset_progress: Callable[[], None] | None = None,
    limiter: RateLimiter | None = None,
    on_retry: Callable[[Exception, float], None] | None = None,
) -> FetchResult:
    """Download `remote_path` to `dest` through `dest.part`, verified (see the module)."""
    limiter = limiter or RateLimiter(None)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    if (
        sha256
        and not part.exists()
        and dest.exists()
        and (size is None or dest.stat().st_size == size)
        and sha256_file(dest)[0] == sha256
    ):
        return FetchResult(
            remote_path, dest, dest.stat().st_size, 0, 0, False, sha256, skipped=True
        )
    received = 0
    resumed_from = part.stat().st_size if part.exists() else 0
    for attempt in (1, 2):
        digest, total, got = _stream_into(
            remote, t, remote_path, part, size, progress, limiter, on_retry
        )
        received += got
        if (sha256 is None or digest == sha256) and (size is None or total == size):
            os.replace(part, dest)
            return FetchResult(
                remote_path, dest, total, received, resumed_from, attempt > 1, digest
            )
        part.unlink(missing_ok=True)  # bad bytes: never resume from them
        if reset_progress:
            reset_progress()
        if attempt == 2:
            raise IntegrityError(
                f"{remote_path}: the bytes received do not match the catalog "
                f"(sha256 {digest[:16]}…, expected {(sha256 or '')[:16]}…, size {total}, "
                f"expected {size}) even after a fresh download; the partial file was "
                "discarded. Run `pool update` and try again, or tell the pool's operator"
            )
    raise AssertionError("unreachable")


@dataclass
class PutResult:
    local: Path | None
    """None for bytes made by `pool put` itself (the generated sidecar)."""
    remote_path: str
    size: int
    sent: int
    resumed_from: int
    sha256: str
    verified: str
    """'sha256' when the server confirmed the checksum, else 'size'."""


def upload(
    remote: Remote,
    t: Transport,
    local: Path | bytes,
    remote_path: str,
    *,
    progress: Progress | None = None,
    limiter: RateLimiter | None = None,
    on_retry: Callable[[Exception, float], None] | None = None,
) -> PutResult:
    """Upload a file (or bytes made here, such as a sidecar) to `remote_path`,
    continuing an interrupted upload of ours; then check the size, and the sha256 when
    the server offers one."""
    if isinstance(local, bytes):
        size, local_sha = len(local), hashlib.sha256(local).hexdigest()
    else:
        size = local.stat().st_size
        local_sha, _ = sha256_file(local)
    limiter = limiter or RateLimiter(None)
    state = {"resumed_from": -1, "sent": 0}

    def counted(n: int) -> None:
        limiter.take(n)
        if progress:
            progress(n)

    def attempt() -> None:
        offset = t.resume_offset(remote_path)
        if offset > size:
            offset = 0
        if state["resumed_from"] < 0:
            state["resumed_from"] = offset
            if progress and offset:
                progress(offset)
        with io.BytesIO(local) if isinstance(local, bytes) else open(local, "rb") as src:
            state["sent"] += t.write(remote_path, src, offset, counted)

    remote.retrying(attempt, on_retry)
    entry = remote.retrying(lambda: t.stat(remote_path))
    if entry.size != size:
        raise IntegrityError(
            f"{remote_path}: the server holds {entry.size} bytes, "
            f"the local file has {size}; run `pool put` again"
        )
    remote_sha = remote.retrying(lambda: t.remote_sha256(remote_path))
    if remote_sha is not None and remote_sha != local_sha:
        raise IntegrityError(
            f"{remote_path}: the server's sha256 {remote_sha[:16]}… differs "
            f"from the local {local_sha[:16]}…; run `pool put` again"
        )
    return PutResult(
        None if isinstance(local, bytes) else local,
        remote_path,
        size,
        state["sent"],
        max(state["resumed_from"], 0),
        local_sha,
        "sha256" if remote_sha else "size",
    )
