"""Sending a file over HTTP: Range (one range; `206 Partial Content`), a strong ETag
(the catalog's sha256 where known), If-Range, If-None-Match, Content-Disposition with the
original UTF-8 name (RFC 6266 / RFC 5987), and a callback told how the transfer ended so
that a complete download is audited as a take exactly once.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import anyio
import anyio.to_thread
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from ..core.transfers import Transfers

CHUNK = 1024 * 1024
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)

Done = Callable[[int, bool, int], Awaitable[None] | None]
"""Called with (bytes sent, reached the end of the file, first byte) once a body ends."""


def content_disposition(name: str, inline: bool = False) -> str:
    """RFC 6266: an ASCII fallback `filename` and the exact UTF-8 `filename*`."""
    kind = "inline" if inline else "attachment"
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%' else "_" for c in name)
    fallback = fallback.strip() or "download"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(first, last+1) of one satisfiable byte range; None to send the whole file
    (no header, a syntax we do not serve, several ranges); 'unsatisfiable' for 416."""
    if not header:
        return None
    m = _RANGE.match(header)
    if not m:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # the final N bytes
        n = int(last)
        if n == 0:
            return "unsatisfiable"
        return (max(0, size - n), size)
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if last and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return (start, end)


class FileSend:
    """An ASGI response streaming one file (the route has already authorized it)."""

    def __init__(
        self,
        path: str,
        size: int,
        etag: str,
        media_type: str,
        *,
        filename: str | None = None,
        inline: bool = False,
        on_done: Done | None = None,
        headers: dict[str, str] | None = None,
        transfers: Transfers | None = None,
    ) -> None:
        self.path, self.size, self.etag, self.media_type = path, size, etag, media_type
        self.filename, self.inline, self.on_done = filename, inline, on_done
        self.extra = headers or {}
        self.transfers = transfers
        """Counted in while the body is sent (for a take, not for a poster)."""

    def _headers(self, length: int) -> list[tuple[bytes, bytes]]:
        out = {
            "content-type": self.media_type,
            "content-length": str(length),
            "accept-ranges": "bytes",
            "etag": self.etag,
            "x-content-type-options": "nosniff",
            **self.extra,
        }
        if self.filename is not None:
            out["content-disposition"] = content_disposition(self.filename, self.inline)
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = Headers(scope=scope)
        head = scope["method"] == "HEAD"
        inm = req.get("if-none-match")
        if inm and (inm.strip() == "*" or self.etag in [t.strip() for t in inm.split(",")]):
            await send(
                {"type": "http.response.start", "status": 304, "headers": self._headers(0)[2:]}
            )
            await send({"type": "http.response.body", "body": b""})
            return
        wanted = parse_range(req.get("range"), self.size)
        if_range = req.get("if-range")
        if wanted is not None and if_range is not None and if_range.strip() != self.etag:
            wanted = None  # the client's copy is of another version: send it all
        if wanted == "unsatisfiable":
            headers = [*self._headers(0), (b"content-range", f"bytes */{self.size}".encode())]
            await send({"type": "http.response.start", "status": 416, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if isinstance(wanted, tuple):
            start, end = wanted
            status = 206
            headers = [
                *self._headers(end - start),
                (b"content-range", f"bytes {start}-{end - 1}/{self.size}".encode()),
            ]
        else:
            start, end, status, headers = 0, self.size, 200, self._headers(self.size)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if head:
            await send({"type": "http.response.body", "body": b""})
            return
        with self.transfers.running() if self.transfers else contextlib.nullcontext():
            sent, complete = await self._body(receive, send, start, end)
        if self.on_done is not None:
            result = self.on_done(sent, complete and end == self.size, start)
            if result is not None:
                await result

    async def _body(self, receive: Receive, send: Send, start: int, end: int) -> tuple[int, bool]:
        gone = anyio.Event()

        async def watch() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        sent = 0
        fd = os.open(self.path, os.O_RDONLY)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                pos = start
                while pos < end and not gone.is_set():
                    n = min(CHUNK, end - pos)
                    data = await anyio.to_thread.run_sync(os.pread, fd, n, pos)
                    if not data:
                        break  # the file shrank under us: end short
                    pos += len(data)
                    # Counted unless the client had gone before this chunk: once the
                    # body's last chunk is sent, the server reports a disconnect anyway.
                    live = not gone.is_set()
                    await send({"type": "http.response.body", "body": data, "more_body": pos < end})
                    if not live:
                        break
                    sent += len(data)
                if pos < end and not gone.is_set():
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                tg.cancel_scope.cancel()
        finally:
            os.close(fd)
        return sent, sent == end - start
