"""The defender in-process, with a real pool.db: many threads guessing at once from one
address never get more passwords checked than the threshold allows."""

from __future__ import annotations

import threading
from pathlib import Path

from pool_server.config import Config
from pool_server.defender import Defender
from pool_server.errors import Banned
from pool_server.store import Store


def test_parallel_failures_never_admit_more_than_the_threshold(tmp_path: Path) -> None:
    """Before: an attempt that had checked for a ban just before a failure wrote one (and
    forgot the address's scores) was scored against an empty slate: 11 checked of 10."""
    store = Store(tmp_path / "pool.db")
    store.create_schema()
    settings = Config.defaults().section("security")
    defender = Defender(store, settings)
    allowed = int(settings["ban_threshold"] // settings["failure_score"])

    def guess(ip: str, name: str, start: threading.Barrier, admitted: list[str]) -> None:
        start.wait(timeout=30)
        try:
            attempt = defender.attempt(ip, name)
        except Banned:
            return
        admitted.append(ip)  # its password would be checked now
        defender.failure(attempt)

    for round_ in range(30):
        ip, name = f"127.0.3.{round_ + 1}", f"guess-{round_}"
        admitted: list[str] = []
        start = threading.Barrier(40)
        threads = [
            threading.Thread(target=guess, args=(ip, name, start, admitted)) for _ in range(40)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert len(admitted) == allowed, f"round {round_}: {len(admitted)} checked"
        assert store.db.execute("SELECT count(*) FROM bans WHERE ip = ?", [ip]).fetchone()[0] == 1
    store.close()
