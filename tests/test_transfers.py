"""The core's count of transfers under way (pool_server/core/transfers.py): listeners
hear "some" and "none" once each, whatever the doors nest, and a failing listener never
reaches the door that began or ended the transfer."""

from __future__ import annotations

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
