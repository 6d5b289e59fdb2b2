"""A small tus 1.0.0 client on httpx: how `pool put` uploads over http:// and https://.

The upload URL the pool hands out at creation is remembered in the client's cache folder
(keyed by pool, user and remote path, with the local size), so an upload interrupted in
one run continues in the next one from the offset the pool reports — the same promise
`pool put` keeps over FTP (REST+STOR) and SFTP (append).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import httpx

VERSION = "1.0.0"
ENDPOINT = "/api/v1/uploads/"
CHUNK = 50 * 1024 * 1024  # bytes per PATCH, as Uppy sends from the browser
READ = 1024 * 1024


class TusError(Exception):
    """The pool refused a tus request: `status` and the pool's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _message(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("error") or resp.reason_phrase)
    except ValueError:
        return resp.text.strip()[:200] or resp.reason_phrase


def _check(resp: httpx.Response, *ok: int) -> httpx.Response:
    if resp.status_code not in ok:
        raise TusError(resp.status_code, _message(resp))
    return resp


class Resumes:
    """Upload URLs of unfinished uploads, in one small JSON file (atomic rewrites)."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str, size: int | None) -> str | None:
        """The remembered URL for `key` (of that size, unless `size` is None)."""
        with self._lock:
            entry = self._load().get(key)
        if isinstance(entry, dict) and (size is None or entry.get("size") == size):
            url = entry.get("url")
            return url if isinstance(url, str) else None
        return None

    def put(self, key: str, size: int, url: str | None) -> None:
        with self._lock:
            data = self._load()
            if url is None:
                data.pop(key, None)
            else:
                data[key] = {"url": url, "size": size}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1))
            os.chmod(tmp, 0o600)
            tmp.replace(self.path)


class TusUploader:
    """Uploads files to one pool over tus with an authenticated httpx client."""

    def __init__(self, client: httpx.Client, resumes: Resumes, ident: str) -> None:
        self.client = client
        self.resumes = resumes
        self.ident = ident  # pool URL and user: whose uploads these are

    def _key(self, path: str) -> str:
        return f"{self.ident}|{path}"

    def offset(self, path: str, size: int | None) -> tuple[str | None, int]:
        """The remembered upload of `path` (of this size) and the bytes the pool holds."""
        url = self.resumes.get(self._key(path), size)
        if url is None:
            return None, 0
        resp = self.client.head(url, headers={"Tus-Resumable": VERSION})
        if resp.status_code in (404, 410):
            self.resumes.put(self._key(path), 0, None)
            return None, 0
        _check(resp, 200, 204)
        return url, int(resp.headers.get("upload-offset", "0"))

    def create(self, path: str, size: int) -> str:
        meta = "path " + base64.b64encode(path.encode()).decode()
        meta += ",filename " + base64.b64encode(path.rsplit("/", 1)[-1].encode()).decode()
        resp = _check(
            self.client.post(
                ENDPOINT,
                headers={
                    "Tus-Resumable": VERSION,
                    "Upload-Length": str(size),
                    "Upload-Metadata": meta,
                },
            ),
            201,
        )
        url = str(self.client.base_url.join(resp.headers["location"]))
        self.resumes.put(self._key(path), size, url)
        return url

    def send(
        self,
        path: str,
        src: BinaryIO,
        offset: int,
        progress: Callable[[int], None] | None,
    ) -> int:
        """Upload `src` (its whole size) to `path`, continuing at `offset` when the
        remembered upload holds that much; returns the bytes sent in this call."""
        size = os.fstat(src.fileno()).st_size if _has_fileno(src) else _length(src)
        url, held = self.offset(path, size)
        if url is None or held != offset:
            if url is not None:  # the pool's offset wins: resume from there
                offset = held
            else:
                url, offset = self.create(path, size), 0
        sent = 0
        while offset < size or size == 0:
            n = min(CHUNK, size - offset)
            src.seek(offset)
            body = _Chunk(src, n, progress)
            resp = self.client.patch(
                url,
                content=body,
                headers={
                    "Tus-Resumable": VERSION,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(n),
                },
            )
            if resp.status_code == 409:  # someone else's view of the offset: ask again
                _, offset = self.offset(path, size)
                continue
            _check(resp, 204)
            new = int(resp.headers["upload-offset"])
            sent += new - offset
            offset = new
            if size == 0:
                break
        self.resumes.put(self._key(path), size, None)
        return sent


class _Chunk:
    """`n` bytes of a file, read as httpx sends them (never the whole chunk in memory)."""

    def __init__(self, src: BinaryIO, n: int, progress: Callable[[int], None] | None) -> None:
        self.src, self.left, self.progress = src, n, progress

    def __iter__(self):  # type: ignore[no-untyped-def]
        while self.left > 0:
            block = self.src.read(min(READ, self.left))
            if not block:
                raise OSError(f"the local file ended {self.left} bytes early")
            self.left -= len(block)
            if self.progress:
                self.progress(len(block))
            yield block


def _has_fileno(src: BinaryIO) -> bool:
    try:
        src.fileno()
    except (OSError, AttributeError, ValueError):
        return False
    return True


def _length(src: BinaryIO) -> int:
    here = src.tell()
    end = src.seek(0, os.SEEK_END)
    src.seek(here)
    return end
