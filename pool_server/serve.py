"""`pool-server serve`: the front doors, the indexer and housekeeping in one process.

The FTP server's event loop runs on the main thread; SFTP, the indexer and
housekeeping run on their own threads. SIGINT/SIGTERM stop everything cleanly: uploads
in flight are left as hidden, resumable partials. `<data>/serve.json` tells scripts and
tests the ports, once every listener is up.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from .app import Pool

log = logging.getLogger("ortak.serve")


class Service(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class ServeOptions:
    host: str
    ftp_port: int | None
    sftp_port: int | None
    indexer: bool
    http_port: int | None = None
    auth_failed_delay: float = 1.0


def write_json_atomically(path: os.PathLike[str], data: dict[str, Any]) -> None:
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.write("\n")
    os.replace(tmp, path)


class Housekeeping(threading.Thread):
    """Sweeps stale partial uploads and re-walks quota usage, every `sweep_minutes`."""

    def __init__(self, pool: Pool) -> None:
        super().__init__(name="housekeeping", daemon=True)
        self.pool = pool
        self._halt = threading.Event()

    def run(self) -> None:
        uploads = self.pool.config.section("uploads")
        interval = max(1.0, uploads["sweep_minutes"] * 60.0)
        max_age = uploads["partial_max_age_hours"] * 3600.0
        while not self._halt.wait(interval):
            try:
                removed = self.pool.core.sweep_partials(max_age)
                self.pool.quotas.forget()
                if removed:
                    log.info("swept %d stale partial upload(s)", removed)
            except Exception:  # keep sweeping next time; never take the server down
                log.exception("housekeeping failed")

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def preview_service(pool: Pool) -> Any:
    """The preview workers when `[previews] enabled`, else None (started before the
    indexer that feeds them, stopped after it)."""
    settings = pool.config.section("previews")
    if not settings["enabled"]:
        return None
    from catalog.errors import CatalogError
    from catalog.previews.service import PreviewService

    try:
        service = PreviewService(
            pool.data.pool_root,
            pool.data.db_path,
            pool.data.path,
            settings,
            credentials=pool.content_credentials(),
        )
    except CatalogError as exc:  # e.g. no ffmpeg: serve the pool, without previews
        log.error("previews disabled: %s", exc)
        return None
    pool.core.transfers.listen(service.gate.transfers)  # transfers first
    log.info(
        "previews: %d worker(s), ffmpeg %s (%s)",
        settings["workers"],
        service.tools.version,
        service.tools.source,
    )
    return service


class Server:
    def __init__(self, pool: Pool, options: ServeOptions) -> None:
        self.pool = pool
        self.options = options
        self._stop = threading.Event()
        self.ftp: Any = None
        self.sftp: Any = None
        self.http: Any = None
        self.services: list[Service] = []

    def start(self) -> dict[str, Any]:
        """Bind every listener and start the background services; returns the ports."""
        opts = self.options
        if opts.ftp_port is not None:
            from .ftp import build_ftp_server

            self.ftp = build_ftp_server(self.pool, opts.host, opts.ftp_port, opts.auth_failed_delay)
            log.info("FTP/FTPS listening on %s:%d", opts.host, self.ftp.address[1])
        if opts.sftp_port is not None:
            from .sftp import build_sftp_server

            self.sftp = build_sftp_server(self.pool, opts.host, opts.sftp_port)
            self.services.append(self.sftp)
            log.info("SFTP listening on %s:%d", opts.host, self.sftp.port)
        if opts.http_port is not None:
            from .http import build_http_server

            self.http = build_http_server(self.pool, opts.host, opts.http_port)
            self.services.append(self.http)
            log.info("HTTP listening on %s:%d (%s)", opts.host, self.http.port, self.http.url)
        if opts.indexer:
            from catalog.indexer import Indexer

            previews = preview_service(self.pool)
            if previews is not None:
                self.services.append(previews)
            self.services.append(
                Indexer(
                    self.pool.data.pool_root,
                    self.pool.data.db_path,
                    self.pool.catalog_settings(),
                    previews=previews,
                    signing_dir=self.pool.data.signing_dir,
                )
            )
            log.info("indexer watching %s", self.pool.data.pool_root)
        from .notify.runner import NotifyService

        self.services.append(NotifyService(self.pool, self.http.url if self.http else None))
        self.services.append(Housekeeping(self.pool))
        for service in self.services:
            service.start()
        info = {
            "pid": os.getpid(),
            "ftp": self.ftp.address[1] if self.ftp else None,
            "sftp": self.sftp.port if self.sftp else None,
            "http": self.http.port if self.http else None,
        }
        write_json_atomically(self.pool.data.serve_json, info)
        return info

    def run(self) -> None:
        """Serve until `stop()` or SIGINT/SIGTERM."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        try:
            while not self._stop.is_set():
                if self.ftp is not None:
                    self.ftp.serve_forever(timeout=0.5, blocking=False, handle_exit=False)
                else:
                    self._stop.wait(0.5)
        finally:
            self.shutdown()

    def stop(self) -> None:
        self._stop.set()

    def shutdown(self) -> None:
        log.info("shutting down")
        if self.ftp is not None:
            self.ftp.close_all()
            self.ftp = None
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:
                log.exception("stopping %r failed", service)
        self.services.clear()
        try:
            self.pool.data.serve_json.unlink()
        except FileNotFoundError:
            pass
        self.pool.close()
