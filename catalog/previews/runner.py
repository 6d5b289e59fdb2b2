"""Running ffmpeg for a preview job: low CPU and I/O priority, a time limit, a pause.

The child runs in its own process group (so it can be paused and ended as a whole), at
`nice` and in the lowest best-effort I/O class (ionice), and dies with the thread that
started it (Linux PR_SET_PDEATHSIG): a SIGKILLed server leaves no transcode behind. Its
error output goes to a file, so a chatty hostile file cannot fill a pipe and hang it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import PreviewError, PreviewInterrupted
from .tools import last_line

PR_SET_PDEATHSIG = 1
POLL = 0.1


def _child_setup(nice: int) -> Callable[[], None]:
    def setup() -> None:
        if nice:
            os.nice(nice)
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return setup


def low_priority(cmd: list[str]) -> list[str]:
    """`cmd` in the lowest best-effort I/O class when util-linux's ionice is there."""
    ionice = shutil.which("ionice")
    return [ionice, "-c", "2", "-n", "7", *cmd] if ionice else cmd


DUTY_PERIOD = 1.0
"""Seconds of one pause-and-run cycle while transfers are under way."""
MIN_SHARE = 0.05
"""The least share a job runs while transfers are under way: it always moves on."""


class Gate:
    """When a long job's ffmpeg may run (it is paused by SIGSTOP/SIGCONT of its group):
    never while express work runs, and while the pool moves files (transfers first)
    only in the last `share` of each `DUTY_PERIOD`. The periods run on one clock from
    the gate's start, so transfers that start and stop all the time (a sync of many
    small files) cannot keep a job paused: it still gets its share. `transfers(active)`
    is the door's listener; `wait` wakes a runner as soon as either changes."""

    def __init__(self, share: float = 1.0) -> None:
        self.share = min(1.0, max(MIN_SHARE, share))
        self._express = 0
        self._busy = False
        self._origin = time.monotonic()
        self._generation = 0
        self._cond = threading.Condition()

    def express(self) -> contextlib.AbstractContextManager[None]:
        gate = self

        class _Hold(contextlib.AbstractContextManager[None]):
            def __enter__(self) -> None:
                gate._change(express=+1)

            def __exit__(self, *exc: object) -> None:
                gate._change(express=-1)

        return _Hold()

    def transfers(self, active: bool) -> None:
        """Files are moving (True) or no longer (False)."""
        self._change(busy=active)

    def _change(self, express: int = 0, busy: bool | None = None) -> None:
        with self._cond:
            self._express += express
            if busy is not None:
                self._busy = busy
            self._generation += 1
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Whether express work is running (long jobs are paused throughout)."""
        with self._cond:
            return self._express > 0

    def state(self, now: float) -> tuple[bool, float]:
        """(pause now?, seconds until that may change unless `wait` wakes first)."""
        with self._cond:
            if self._express > 0:
                return True, POLL
            busy = self._busy
        if not busy or self.share >= 1.0:
            return False, POLL
        phase = (now - self._origin) % DUTY_PERIOD
        off = (1.0 - self.share) * DUTY_PERIOD
        if phase < off:
            return True, off - phase
        return False, DUTY_PERIOD - phase

    def generation(self) -> int:
        with self._cond:
            return self._generation

    def wait(self, seen: int, timeout: float) -> None:
        """Up to `timeout` seconds, or until the gate changes after generation `seen`."""
        with self._cond:
            self._cond.wait_for(lambda: self._generation != seen, timeout)


def run(
    cmd: list[str],
    *,
    timeout: float,
    nice: int,
    log_path: Path,
    stop: threading.Event,
    gate: Gate | None = None,
    on_start: Callable[[int], None] | None = None,
) -> None:
    """Run `cmd` to its end. PreviewError when it fails or takes longer than `timeout`
    seconds of running time (paused time does not count); PreviewInterrupted when
    `stop` is set or the child is killed by a signal not of our making (the job should
    run again). `gate`: when to pause (express work, transfers)."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            low_priority(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            preexec_fn=_child_setup(nice),
        )
    if on_start is not None:
        on_start(proc.pid)
    ran = 0.0
    paused = False
    ours = False
    try:
        last = time.monotonic()
        while proc.poll() is None:
            now = time.monotonic()
            if not paused:
                ran += now - last
            last = now
            if stop.is_set():
                ours = True
                _signal(proc, signal.SIGKILL)
                proc.wait()
                raise PreviewInterrupted("the preview service is stopping")
            if ran > timeout:
                ours = True
                _signal(proc, signal.SIGKILL)
                proc.wait()
                raise PreviewError(f"ffmpeg took more than {timeout:.0f} s; stopped")
            if gate is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(POLL)
                continue
            seen = gate.generation()
            want_pause, for_how_long = gate.state(now)
            if want_pause != paused:
                _signal(proc, signal.SIGSTOP if want_pause else signal.SIGCONT)
                paused = want_pause
            gate.wait(seen, min(POLL, for_how_long))
    finally:
        if proc.poll() is None:
            _signal(proc, signal.SIGKILL)
            proc.wait()
        elif paused:
            _signal(proc, signal.SIGCONT)
    code = proc.returncode
    if code < 0 and not ours:
        raise PreviewInterrupted(f"ffmpeg was killed by signal {-code}")
    if code != 0:
        raise PreviewError(f"ffmpeg failed: {last_line(log_path.read_bytes())}")


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
