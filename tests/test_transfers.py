"""The core's count of transfers under way (pool_server/core/transfers.py): listeners
hear "some" and "none" once each, whatever the doors nest, and a failing listener never
reaches the door that began or ended the transfer."""

from __future__ import annotations

import threading

from pool_server.core.transfers import Transfers


def test_listeners_hear_the_edges_only():
    transfers = Transfers()
    heard: list[bool] = []
    transfers.listen(heard.append)
    assert heard == [False]  # told the state at once
    with transfers.running():
        transfers.begin()
        transfers.end()
        with transfers.running():
            assert transfers.count == 2
    assert heard == [False, True, False]
    transfers.end()  # more ends than begins never goes below none
    assert transfers.count == 0 and heard == [False, True, False]


def test_a_failing_listener_never_reaches_the_door(caplog):
    transfers = Transfers()
    heard: list[bool] = []

    def broken(active: bool) -> None:
        raise RuntimeError("listener bug")

    transfers.listen(broken)
    transfers.listen(heard.append)
    with transfers.running():
        pass
    assert heard == [False, True, False]
    assert "a transfer listener failed" in caplog.text


def test_the_last_word_is_the_state_when_doors_race():
    """One transfer ends on one thread while the next begins on another: listeners must
    hear "none" then "some", never the reverse (the gate would then let a job run free
    while a file moves)."""
    transfers = Transfers()
    heard: list[bool] = []
    telling_none, release = threading.Event(), threading.Event()

    def slow(active: bool) -> None:  # the ending door is still telling when the next begins
        if heard == [False, True] and not active:
            telling_none.set()
            assert release.wait(10)
        heard.append(active)

    transfers.listen(slow)
    transfers.begin()
    ending = threading.Thread(target=transfers.end)
    ending.start()
    assert telling_none.wait(10)
    beginning = threading.Thread(target=transfers.begin)
    beginning.start()
    beginning.join(0.5)  # before the fix it told "some" here, ahead of the ending "none"
    release.set()
    ending.join(10)
    beginning.join(10)
    assert transfers.count == 1
    assert heard == [False, True, False, True]
