"""Entry point of the `pool` command: starts the login early (`prewarm`), then runs the
click commands of `pool_client.commands`."""

from __future__ import annotations

import sys

M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
BIG_BUFFERS = 8 * 1024 * 1024


def _keep_big_buffers_in_the_heap() -> None:
    """Downloads move 1 MiB chunks; glibc would mmap and munmap each one (its threshold
    is 128 KiB until it adapts, per arena), which costs a third of the throughput of a
    fresh process. Raising the threshold keeps them in reusable heap memory."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, BIG_BUFFERS)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def main() -> None:
    from . import prewarm

    warm = prewarm.start(sys.argv[1:])
    _keep_big_buffers_in_the_heap()
    from .app import App
    from .commands import cli

    cli(prog_name="pool", obj=App(prewarm=warm))
