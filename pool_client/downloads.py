"""Several verified downloads at once: at most `parallel` connections, one per worker."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ClientError
from .progress import Display
from .remote import Remote
from .transfer import Cancelled, FetchResult, RateLimiter, fetch
from .transport import Transport


@dataclass
class Job:
    remote_path: str
    dest: Path
    sha256: str | None
    size: int | None
    label: str
    tag: Any = None
    """The caller's own data, handed back with the result."""


@dataclass
class Outcome:
    job: Job
    result: FetchResult | None = None
    error: ClientError | None = None


M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
BIG_BUFFERS = 8 * 1024 * 1024


def _keep_big_buffers_in_the_heap() -> None:
    """Downloads move 1 MiB chunks; glibc would mmap and munmap each one (its threshold
    is 128 KiB until it adapts, per arena), which costs a third of the throughput of a
    fresh process. Raising the threshold keeps them in reusable heap memory. (Here, not
    at start-up: ctypes is not worth importing for a command that downloads nothing.)"""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, BIG_BUFFERS)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def run_downloads(
    remote: Remote,
    jobs: list[Job],
    *,
    parallel: int,
    limiter: RateLimiter,
    display: Display,
    on_retry: Callable[[Exception, float], None] | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Download every job; errors are collected per job, not raised. KeyboardInterrupt
    stops every worker at its next chunk (the `.part` files stay) and is re-raised."""
    _keep_big_buffers_in_the_heap()
    parallel = max(1, min(parallel, len(jobs) or 1))
    local = threading.local()
    made: list[Transport] = []

    def transport() -> Transport:
        if parallel == 1:
            return remote.transport()
        t = getattr(local, "t", None)
        if t is None:
            t = local.t = remote.new_transport()
            made.append(t)
        return t

    def work(job: Job) -> Outcome:
        bar = display.bar(job.label, job.size)
        try:
            result = fetch(
                remote,
                transport(),
                job.remote_path,
                job.dest,
                sha256=job.sha256,
                size=job.size,
                progress=bar.advance,
                reset_progress=bar.reset,
                limiter=limiter,
                on_retry=on_retry,
            )
            out = Outcome(job, result=result)
        except ClientError as exc:
            out = Outcome(job, error=exc)
        finally:
            bar.done()
        if on_done:
            on_done(out)
        return out

    outcomes: list[Outcome] = []
    if parallel == 1:  # on this thread: Ctrl-C stops the transfer where it is
        return [work(job) for job in jobs]
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="pool-get")
    try:
        futures = [pool.submit(work, job) for job in jobs]
        for fut in futures:
            try:
                outcomes.append(fut.result())
            except Cancelled:
                pass
    except KeyboardInterrupt:
        limiter.cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        for t in made:
            t.close()
    return outcomes
