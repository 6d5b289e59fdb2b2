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


def test_paused_time_does_not_count_and_the_child_is_stopped_while_paused(tmp_path):
    gate = runner.Gate()
    pids: list[int] = []
    errors: list[Exception] = []

    def work() -> None:
        try:
            runner.run(
                ENDLESS,
                timeout=1.0,
                nice=5,
                log_path=tmp_path / "log",
                stop=threading.Event(),
                gate=gate,
                on_start=pids.append,
            )
        except Exception as exc:
            errors.append(exc)

    with gate.express():
        t = threading.Thread(target=work)
        t0 = time.monotonic()
        t.start()
        assert wait_for(lambda: pids, timeout=30)

        def state() -> str:
            return Path(f"/proc/{pids[0]}/stat").read_text().split(") ")[1][0]

        assert wait_for(lambda: state() == "T", timeout=30), "ffmpeg was not paused"
        time.sleep(1.5)  # paused longer than the time limit: must not count
        assert t.is_alive()
    t.join(10)
    assert time.monotonic() - t0 > 2.4  # ~1.5 s paused + 1 s of running time
    assert len(errors) == 1 and "took more than" in str(errors[0])


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
