"""The web door: pages, JSON API and downloads over HTTP(S), an ASGI app (Starlette)
served by uvicorn on a thread of the `pool-server serve` process."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, cast

from ..listening import listening_socket, quiet_flood

if TYPE_CHECKING:
    from ..app import Pool

log = logging.getLogger("ortak.http")

START_TIMEOUT = 15.0


class HttpService:
    """Binds at construction (so the port is known at once); serves from `start()` on
    a thread with its own event loop until `stop()`."""

    def __init__(self, pool: Pool, host: str, port: int) -> None:
        import uvicorn

        from .app import create_app

        settings = pool.config.section("http")
        self.tls = bool(settings["tls"])
        self.sock = listening_socket(host, port, backlog=512)  # `::`: dual stack
        # asyncio survives EMFILE on accept (it pauses 1 s) but logs each time, with a
        # traceback in each record.
        quiet_flood(logging.getLogger("asyncio"), burst=5)
        self.host = host
        self.port: int = self.sock.getsockname()[1]
        proxies = [p.strip() for p in settings["trusted_proxies"].split(",") if p.strip()]
        ftp = pool.config.section("ftp")
        config = uvicorn.Config(
            create_app(pool),
            lifespan="off",
            log_level="warning",
            access_log=False,
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies or [],
            server_header=False,
            ssl_certfile=str(pool.data.path / ftp["tls_cert"]) if self.tls else None,
            ssl_keyfile=str(pool.data.path / ftp["tls_key"]) if self.tls else None,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=3,
        )
        if self.tls:
            from ..tls import sni_reloader

            config.load()  # makes config.ssl; `tls set` is picked up at each handshake
            assert config.ssl is not None
            cert, key = pool.data.path / ftp["tls_cert"], pool.data.path / ftp["tls_key"]
            config.ssl.sni_callback = sni_reloader(cert, key, config.ssl)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="http", daemon=True)
        self.metrics_bind: str = settings["metrics_bind"]
        self.metrics_server: object | None = None
        self.metrics_port: int | None = None
        self._halt = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_uploads, name="tus-sweep", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except Exception:
            log.exception("the HTTP door stopped")

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started and self.thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the HTTP door did not start in time")
            time.sleep(0.01)
        if not self.server.started:
            raise RuntimeError("the HTTP door failed to start (see the log)")
        if self.metrics_bind:
            self._start_metrics()
        self._sweeper.start()

    def _sweep_uploads(self) -> None:
        """Expired tus uploads are removed (partial and record), every quarter of their
        lifetime and at least once a minute."""
        door = cast(Any, self.server.config.app).state.door
        period = max(0.2, min(60.0, door.tus.lifetime / 4))

        def discard(up: Any) -> None:
            user = door.pool.accounts.find_user(up.user)
            if user is not None:
                door.pool.core.session_for(user, "local", "http").discard_upload(up.vpath, up.id)

        while not self._halt.wait(period):
            try:
                n = door.tus.sweep(discard)
                if n:
                    log.info("removed %d expired upload(s)", n)
            except Exception:  # keep sweeping next time; never take the door down
                log.exception("sweeping expired uploads failed")

    def _start_metrics(self) -> None:
        """`[http] metrics_bind`: the same registry, unauthenticated, on its own address."""
        from prometheus_client import start_http_server

        host, _, port = self.metrics_bind.rpartition(":")
        registry = cast(Any, self.server.config.app).state.door.metrics
        server, _thread = start_http_server(int(port), host.strip("[]") or "127.0.0.1", registry)
        self.metrics_server = server
        self.metrics_port = server.server_address[1]
        log.info("metrics on %s:%d", host, self.metrics_port)

    def stop(self) -> None:
        self._halt.set()
        if self._sweeper.is_alive():
            self._sweeper.join(timeout=5)
        if self.metrics_server is not None:
            self.metrics_server.shutdown()  # type: ignore[attr-defined]
            self.metrics_server.server_close()  # type: ignore[attr-defined]
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def build_http_server(pool: Pool, host: str, port: int) -> HttpService:
    return HttpService(pool, host, port)
