"""What every console page needs: the admin check, CSRF on forms, the operator's `Admin`,
and one-shot messages carried across the redirect that follows a form (post/redirect/get).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..admin import Admin
from ..audit import Actor
from ..errors import PoolError
from ..policy import may_administer
from .app import door_of, principal, render
from .auth import Principal, csrf_from, csrf_ok
from .errors import HttpError, public_message, status_for

FLASH_COOKIE = "ortak_flash"


def admin_principal(request: Request) -> Principal:
    who = principal(request)
    assert who is not None
    if not may_administer(who.session.user):
        raise HttpError(403, "the console is for the pool's operators")
    return who


def actor_of(request: Request, who: Principal) -> Actor:
    s = who.session
    return Actor(s.user.name, s.user.member, s.ip, s.protocol)


def admin_of(request: Request, who: Principal) -> Admin:
    return Admin(door_of(request).pool, actor_of(request, who))


async def checked_form(request: Request, who: Principal) -> FormData:
    """The posted form, after its CSRF token (cookie sessions) is checked."""
    if who.via == "cookie" and not csrf_ok(who, await csrf_from(request)):
        raise HttpError(403, "missing or wrong CSRF token: reload the page")
    return await request.form()


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return field(form, name) or None


def page(request: Request, template: str, context: dict[str, Any]) -> Response:
    """A console page, with the message a previous form left (and then forgets it)."""
    flash = request.cookies.get(FLASH_COOKIE)
    message: dict[str, str] | None = None
    if flash:
        try:
            loaded = json.loads(flash)
            if isinstance(loaded, dict):
                message = {k: str(v) for k, v in loaded.items() if k in ("ok", "error")}
        except ValueError:
            message = None
    response = render(request, template, {"flash": message, **context})
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/console")
    return response


def back(request: Request, where: str, ok: str | None = None, error: str | None = None) -> Response:
    response = RedirectResponse(where, 303)
    text = {"ok": ok} if ok else {"error": error or ""}
    response.set_cookie(
        FLASH_COOKIE,
        json.dumps(text, ensure_ascii=True),
        max_age=60,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/console",
    )
    return response


async def act(
    request: Request,
    where: str,
    action: Callable[[Admin, FormData], str],
) -> Response:
    """Run one admin action from a form: checks, the change (on a worker thread: it
    touches the database), then back to `where` saying what happened or what was wrong."""
    who = admin_principal(request)
    form = await checked_form(request, who)
    admin = admin_of(request, who)
    try:
        said = await run_in_threadpool(action, admin, form)
    except PoolError as err:
        status = status_for(err)
        if status >= 500:
            raise
        return back(request, where, error=public_message(err, status))
    return back(request, where, ok=said)


Handler = Callable[[Request], Awaitable[Response]]


def quoted(text: str) -> str:
    return quote(text, safe="")
