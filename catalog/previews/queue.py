"""The persistent job queue of the previews: huey, two lanes, priorities.

Storage is huey's: SQLite in the data folder by default (``previews-queue.db``), or
Redis (``[previews] broker = "redis://..."``, huey's PriorityRedisHuey) so preview
workers on other machines sharing the pool's storage can take jobs. Two queues:
``express`` (news and short items) and ``main`` (the rest); within a queue, huey
serves the highest priority first (news first, then shorter items first).

A job carries only the item id: what to do is read from the catalog when it runs
(the item's `preview` record in pool.db is the truth; the queue only says "look at
this item"), so a job queued twice, or for an item changed since, does no harm.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey, SqliteHuey
from huey.api import Task, TaskWrapper

QUEUE_FILE = "previews-queue.db"
LANES = ("express", "main")
TASK_NAME = "ortak_preview"
RETRIES = 3
RETRY_DELAY = 2


def priority(row: dict[str, Any]) -> float:
    """News first, then shorter first (higher runs first)."""
    news = (row.get("category") or "").lower() == "news"
    duration = float(row.get("duration") or 0.0)
    return (1e9 if news else 0.0) + max(0.0, 1e8 - duration)


def lane_of(row: dict[str, Any], express_max_seconds: float) -> str:
    news = (row.get("category") or "").lower() == "news"
    duration = row.get("duration")
    short = duration is not None and float(duration) <= express_max_seconds
    return "express" if news or short else "main"


def _huey(lane: str, data_dir: Path, broker: str) -> Huey:
    name = f"ortak-previews-{lane}"
    if broker:
        from huey import PriorityRedisHuey  # needs the `redis` package (extra: ortak[redis])

        return PriorityRedisHuey(name, url=broker, results=False)
    return SqliteHuey(
        name, filename=str(data_dir / QUEUE_FILE), results=False, fsync=True, timeout=30
    )


class PreviewQueue:
    """The two huey queues and the one task they carry: `run(item_id, task)`."""

    def __init__(
        self, data_dir: Path, broker: str, run: Callable[[str, Task], None] | None = None
    ) -> None:
        self.hueys = {lane: _huey(lane, data_dir, broker) for lane in LANES}
        self._run = run

        def ortak_preview(item_id: str, task: Task) -> None:
            """Make the previews of one item (defined here, so every process that
            queues or runs jobs names the task alike: catalog.previews.queue.…)."""
            if self._run is None:
                raise RuntimeError("preview jobs run in the preview service, not here")
            self._run(item_id, task)

        self.tasks: dict[str, TaskWrapper] = {
            lane: h.task(retries=RETRIES, retry_delay=RETRY_DELAY, context=True, name=TASK_NAME)(
                ortak_preview
            )
            for lane, h in self.hueys.items()
        }

    def enqueue(self, item_id: str, row: dict[str, Any], express_max_seconds: float) -> str:
        lane = lane_of(row, express_max_seconds)
        self.hueys[lane].enqueue(self.tasks[lane].s(item_id, priority=priority(row)))
        return lane

    def dequeue(self, lane: str) -> Task | None:
        return self.hueys[lane].dequeue()

    def execute(self, lane: str, task: Task) -> None:
        self.hueys[lane].execute(task)

    def promote_due(self) -> None:
        """Move retries whose delay has passed back into their queues."""
        for h in self.hueys.values():
            for task in h.read_schedule():
                h.enqueue(task)

    def queued_ids(self) -> dict[str, list[str]]:
        """Item ids waiting, per lane, in queue order (retries waiting included)."""
        out: dict[str, list[str]] = {}
        for lane, h in self.hueys.items():
            tasks = [*h.pending(), *h.scheduled()]
            out[lane] = [str(t.args[0]) for t in tasks if t.args]
        return out

    def length(self) -> int:
        return sum(h.pending_count() + h.scheduled_count() for h in self.hueys.values())

    def close(self) -> None:
        for h in self.hueys.values():
            storage = h.storage
            close = getattr(storage, "close", None)
            if close is not None:
                close()
