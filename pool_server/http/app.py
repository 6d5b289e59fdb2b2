"""The web door's application factory: one Starlette app per running door.

`create_app(pool)` builds the `Door` (core link, authenticator, templates, languages)
and mounts each area's routes (`routes/*.py`, each exporting `ROUTES`). Later areas
(uploads, the operators' console, metrics) add a module and one line in `AREAS`.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import PoolError
from ..invitations import Invitations
from ..metrics import registry_for
from ..notify.service import Notifications
from ..policy import may_administer
from ..totp import TwoFactor
from . import i18n
from .auth import Authenticator, Principal, Tokens, WebSessions, ensure_schema
from .core import Core
from .errors import EnrolmentRequired, HttpError, LoginRequired, public_message, status_for
from .facets import Facets
from .previews import PublishedFolders
from .tus import TusUploads

if TYPE_CHECKING:
    from ..app import Pool

log = logging.getLogger("ortak.http")
HERE = Path(__file__).parent


class Door:
    """Everything a route needs, made once per app."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.settings: dict[str, Any] = pool.config.section("http")
        self.cache: dict[str, Any] = {}
        """Values worth keeping between requests (e.g. the facets, by catalog seq)."""
        self.cache_lock = threading.Lock()
        self.facets = Facets()
        self.preview_folders = PublishedFolders(pool.data.pool_root)
        ensure_schema(pool.store)
        self.core = Core(pool)
        self.sessions = WebSessions(
            pool.store, self.settings["session_idle_minutes"], self.settings["session_max_hours"]
        )
        self.tokens = Tokens(pool.store)
        self.two_factor = TwoFactor(pool.store)
        self.two_factor.create_schema()
        Invitations(pool.store, pool.accounts).create_schema()
        self.tus = TusUploads(pool.store, self.settings["upload_expire_hours"])
        self.tus.create_schema()
        self.metrics = registry_for(pool.store, pool.quotas.used)
        self.auth = Authenticator(self.core, self.sessions, self.tokens)
        self.notifications = Notifications(pool)
        self.translations = i18n.Translations()
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            # the templates are the package's own files: compiled once, not checked
            # against the disk on every render (each `include` of a card did a stat)
            auto_reload=False,
        )
        self.templates.install_gettext_callables(  # type: ignore[attr-defined]
            i18n.gettext_, i18n.ngettext_, newstyle=True
        )
        from . import views

        self.templates.filters.update(views.FILTERS)


def door_of(request: Request) -> Door:
    door: Door = request.app.state.door
    return door


def principal(request: Request, required: bool = True) -> Principal | None:
    """The request's authenticated user (cached on the request); LoginRequired if none."""
    if "principal" not in request.scope.get("state", {}):
        request.state.principal = door_of(request).auth.principal(request)
    found: Principal | None = request.state.principal
    if found is None and required:
        raise LoginRequired()
    if found is not None and required and _must_enrol(request, found):
        raise EnrolmentRequired()
    return found


ENROL_EXEMPT = ("/account/2fa", "/logout", "/lang/", "/static/")


def _must_enrol(request: Request, who: Principal) -> bool:
    """An admin on a browser session without a second factor, when the pool requires
    one, may only enrol (or log out) until they have."""
    door = door_of(request)
    if who.via != "cookie" or not door.settings["admin_totp_required"]:
        return False
    if request.url.path.startswith(ENROL_EXEMPT) or not may_administer(who.session.user):
        return False
    return not door.two_factor.enrolled(who.session.user.name)


def language(request: Request) -> str:
    door = door_of(request)
    return door.translations.negotiate(
        request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language")
    )


def render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    """A page in the request's language, with what the base template needs."""
    door = door_of(request)
    lang = language(request)
    door.translations.activate(lang)
    who = request.state.principal if "principal" in request.scope.get("state", {}) else None
    ctx = {
        "request": request,
        "me": who,
        "csrf": who.csrf if who is not None else None,
        "lang": lang,
        "languages": door.translations.names,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **context,
    }
    html = door.templates.get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
        "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def is_api(request: Request) -> bool:
    """Machine routes: the JSON API and the metrics scrape (errors as JSON, 401 not a
    redirect to the login page)."""
    return request.url.path.startswith("/api/") or request.url.path == "/metrics"


async def pool_error(request: Request, exc: Exception) -> Response:
    """The one place errors become responses: JSON for the API, a page for browsers."""
    status = status_for(exc)
    message = public_message(exc, status)
    if status >= 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    headers: dict[str, str] = {}
    if status == 401 and is_api(request):
        headers["WWW-Authenticate"] = 'Bearer realm="ortak"'
    if is_api(request) or "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": message, "status": status}, status, headers=headers)
    if isinstance(exc, EnrolmentRequired) and request.method in ("GET", "HEAD"):
        return Response(status_code=303, headers={"Location": "/account/2fa"})
    if isinstance(exc, LoginRequired) and request.method in ("GET", "HEAD"):
        from urllib.parse import quote

        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Response(status_code=303, headers={"Location": f"/login?next={quote(target)}"})
    return render(request, "error.html", {"status": status, "message": message}, status)


async def not_found(request: Request, exc: Exception) -> Response:
    return await pool_error(request, HttpError(getattr(exc, "status_code", 404), _reason(exc)))


def _reason(exc: Exception) -> str:
    code = getattr(exc, "status_code", 404)
    return {404: "no such page", 405: "method not allowed"}.get(code, str(exc))


class ServerTiming:
    """Adds `Server-Timing: app;dur=MS` (time from the request to the response's first
    line) to every response: what the benchmarks read, and browsers' devtools show."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={ms:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)


class OriginGuard:
    """Refuses a state-changing request whose Origin is another site (defence in depth
    beside the CSRF tokens): browsers send Origin on every cross-site POST."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if origin and origin != "null" and origin.split("://", 1)[-1] != host:
                response = JSONResponse({"error": "cross-site request refused", "status": 403}, 403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _areas() -> list[BaseRoute]:
    from .routes import (
        account,
        alerts,
        api,
        browse,
        console_accounts,
        console_ops,
        console_previews,
        files,
        items,
        metrics,
        provenance,
        search,
        session,
        uploads,
    )

    # One area a line, in matching order (a more specific route before a general one).
    areas = (
        session,
        account,
        search,
        provenance,
        items,
        browse,
        files,
        alerts,
        api,
        uploads,
        console_accounts,
        console_ops,
        console_previews,
        metrics,
    )
    routes: list[BaseRoute] = []
    for module in areas:
        routes.extend(module.ROUTES)
    routes.append(Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"))
    return routes


def create_app(pool: Pool) -> Starlette:
    door = Door(pool)
    app = Starlette(
        routes=_areas(),
        middleware=[Middleware(ServerTiming), Middleware(OriginGuard)],
        exception_handlers={PoolError: pool_error, 404: not_found, 405: not_found},
    )
    app.state.door = door
    return app
