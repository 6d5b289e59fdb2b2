"""Running ffmpeg for previews: the time limit, pausing for express work, the error
shown, and a child that dies by a foreign signal (the job runs again)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from catalog.errors import PreviewError, PreviewInterrupted
from catalog.previews import runner

from ..catalog.conftest import wait_for
from .conftest import TOOLS

ENDLESS = [TOOLS.ffmpeg, "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc=rate=25"]
ENDLESS += ["-f", "null", "-"]


def test_a_job_past_its_time_limit_is_stopped(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(PreviewError, match="took more than 1 s"):
        runner.run(ENDLESS, timeout=1.0, nice=5, log_path=tmp_path / "log", stop=threading.Event())
    assert time.monotonic() - t0 < 5


class Job(threading.Thread):
    """`ENDLESS` under `gate` with a 1-s limit of running time, on a thread."""

    def __init__(self, tmp_path: Path, gate: runner.Gate) -> None:
        super().__init__()
        self.log, self.gate = tmp_path / "log", gate
        self.pids: list[int] = []
        self.errors: list[Exception] = []

    def run(self) -> None:
        try:
            runner.run(
                ENDLESS,
                timeout=1.0,
                nice=5,
                log_path=self.log,
                stop=threading.Event(),
                gate=self.gate,
                on_start=self.pids.append,
            )
        except Exception as exc:
            self.errors.append(exc)

    def state(self) -> str:
        """The child's state letter ('T': stopped)."""
        return Path(f"/proc/{self.pids[0]}/stat").read_text().rsplit(") ", 1)[1][0]


def test_paused_time_does_not_count_and_the_child_is_stopped_while_paused(tmp_path):
    gate = runner.Gate()
    with gate.express():
        t = Job(tmp_path, gate)
        t0 = time.monotonic()
        t.start()
        assert wait_for(lambda: t.pids, timeout=30)
        assert wait_for(lambda: t.state() == "T", timeout=30), "ffmpeg was not paused"
        time.sleep(1.5)  # paused longer than the time limit: must not count
        assert t.is_alive()
    t.join(10)
    assert time.monotonic() - t0 > 2.4  # ~1.5 s paused + 1 s of running time
    assert len(t.errors) == 1 and "took more than" in str(t.errors[0])


def test_a_child_killed_from_outside_means_run_again(tmp_path):
    pids: list[int] = []
    threading.Timer(0.5, lambda: pids and os.kill(pids[0], signal.SIGKILL)).start()
    with pytest.raises(PreviewInterrupted, match="signal 9"):
        runner.run(
            ENDLESS,
            timeout=30,
            nice=5,
            log_path=tmp_path / "log",
            stop=threading.Event(),
            on_start=pids.append,
        )


def test_a_failing_ffmpeg_says_why(tmp_path):
    with pytest.raises(PreviewError, match="No such file or directory"):
        runner.run(
            [TOOLS.ffmpeg, "-v", "error", "-i", str(tmp_path / "missing.mxf"), "-f", "null", "-"],
            timeout=30,
            nice=0,
            log_path=tmp_path / "log",
            stop=threading.Event(),
        )


def test_while_files_move_the_child_runs_a_share_of_each_second(tmp_path):
    """Paused at once when a transfer starts, then run 0.1 of each second: 3 s of
    transfers cost ~0.3 s of the 1-s limit; once they end, the limit is reached."""
    gate = runner.Gate(share=0.1)
    gate.transfers(True)
    t = Job(tmp_path, gate)
    t.start()
    assert wait_for(lambda: t.pids, timeout=30)
    assert wait_for(lambda: t.state() == "T", timeout=5), "ffmpeg was not paused"
    assert wait_for(lambda: t.state() != "T", timeout=5), "ffmpeg never ran its share"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3:  # longer than the limit, but mostly paused
        assert t.is_alive(), t.errors
        time.sleep(0.05)
    gate.transfers(False)
    t.join(10)
    assert not t.is_alive()
    assert len(t.errors) == 1 and "took more than" in str(t.errors[0])


def test_the_gate_changes_at_once_and_wakes_waiters():
    gate = runner.Gate(share=0.25)
    assert gate.state(time.monotonic()) == (False, runner.POLL)
    seen = gate.generation()
    woke: list[float] = []
    waiter = threading.Thread(target=lambda: (gate.wait(seen, 30), woke.append(1.0)))
    waiter.start()
    gate.transfers(True)
    waiter.join(5)
    assert woke, "a waiter slept through the change"
    t0 = time.monotonic()
    grid = [t0 + i * runner.DUTY_PERIOD / 100 for i in range(100)]
    states = [gate.state(t) for t in grid]
    paused = sum(p for p, _ in states)
    assert 74 <= paused <= 76  # 0.75 of each period
    assert all(0 < left <= 0.75 * runner.DUTY_PERIOD for _, left in states)
    # Transfers that stop and start again do not start the period again: the job
    # keeps its share however often they come and go (many small files).
    gate.transfers(False)
    assert gate.state(t0) == (False, runner.POLL)
    gate.transfers(True)
    assert [gate.state(t) for t in grid] == states
    with gate.express():
        assert gate.state(t0)[0] and gate.closed
    gate.transfers(False)
    assert gate.state(t0 + 0.1) == (False, runner.POLL)
    assert runner.Gate(share=1.0).state(t0)[0] is False
    starved = runner.Gate(share=0.0)  # never below the least share: a job always moves on
    starved.transfers(True)
    assert starved.share == runner.MIN_SHARE
    assert not all(starved.state(t)[0] for t in grid)
