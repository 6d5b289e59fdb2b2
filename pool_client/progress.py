"""Progress display: rich bars (rate, ETA) on a terminal, nothing otherwise."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol


class Bar(Protocol):
    def advance(self, nbytes: int) -> None: ...
    def reset(self) -> None: ...
    def done(self) -> None: ...


class Display(Protocol):
    def bar(self, label: str, total: int | None) -> Bar: ...


class _NullBar:
    def advance(self, nbytes: int) -> None:
        pass

    def reset(self) -> None:
        pass

    def done(self) -> None:
        pass


class NullDisplay:
    def bar(self, label: str, total: int | None) -> Bar:
        return _NullBar()


class _RichBar:
    def __init__(self, progress, task) -> None:  # type: ignore[no-untyped-def]
        self.progress, self.task = progress, task

    def advance(self, nbytes: int) -> None:
        self.progress.advance(self.task, nbytes)

    def reset(self) -> None:
        self.progress.reset(self.task)

    def done(self) -> None:
        self.progress.remove_task(self.task)


class RichDisplay:
    def __init__(self, progress) -> None:  # type: ignore[no-untyped-def]
        self.progress = progress

    def bar(self, label: str, total: int | None) -> Bar:
        from rich.markup import escape

        from .output import printable

        # the label (a file name from the pool) goes into a markup template: escape it
        task = self.progress.add_task(escape(printable(label)), total=total)
        return _RichBar(self.progress, task)


@contextlib.contextmanager
def display(enabled: bool) -> Iterator[Display]:
    """A rich display when `enabled` (stdout is a terminal and not --json), else none."""
    if not enabled:
        yield NullDisplay()
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}", justify="left"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as progress:
        yield RichDisplay(progress)
