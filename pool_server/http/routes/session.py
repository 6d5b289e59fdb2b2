"""Logging in and out of the web door, and the language switch."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...errors import AuthenticationFailed, Banned
from .. import i18n
from ..app import door_of, principal, render
from ..auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    client_ip,
    csrf_from,
    csrf_ok,
    new_login_csrf,
    protocol_of,
)
from ..errors import HttpError


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an absolute URL someone slipped in."""
    if not value:
        return "/search"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/search"
    return value


def _secure(request: Request) -> bool:
    return protocol_of(request) == "https"


def login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf()
    response = render(
        request,
        "login.html",
        {
            "login_csrf": token,
            "next": safe_next(request.query_params.get("next")),
            "error": error,
            "username": request.query_params.get("user", ""),
        },
        status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
    )
    return response


def get_login(request: Request) -> Response:
    if principal(request, required=False) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), 303)
    return login_page(request)


async def post_login(request: Request) -> Response:
    form = await request.form()
    given = form.get("csrf_token")
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not (isinstance(given, str) and cookie and given == cookie):
        raise HttpError(403, "the login form expired: reload the page and try again")
    name = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    door = door_of(request)
    ip, protocol = client_ip(request), protocol_of(request)
    try:
        session = await run_in_threadpool(door.core.login, name, password, ip, protocol)
    except Banned as err:
        return login_page(request, str(err), 403)
    except AuthenticationFailed:
        return login_page(request, "login incorrect", 401)
    target = safe_next(str(form.get("next") or ""))
    second = await run_in_threadpool(door.two_factor.enrolled, session.user.name)
    sid, _csrf = await run_in_threadpool(
        door.sessions.create, session.user.name, ip, protocol, "pending" if second else None
    )
    if second:  # the password was right; the code comes next (routes/account.py)
        target = f"/login/2fa?next={quote(target, safe='')}"
    response = RedirectResponse(target, 303)
    response.set_cookie(
        SESSION_COOKIE, sid, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


async def post_logout(request: Request) -> Response:
    who = await run_in_threadpool(principal, request)
    assert who is not None
    if who.via == "cookie":
        if not csrf_ok(who, await csrf_from(request)):
            raise HttpError(403, "missing or wrong CSRF token")
        assert who.session_id is not None
        door = door_of(request)
        await run_in_threadpool(door.sessions.end, who.session_id)
        await run_in_threadpool(door.core.audit, who.session, "logout")
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def api_login(request: Request) -> Response:
    """Log in from a program: JSON {"username", "password"} → the session cookie and
    {"user", "csrf"}. Only `application/json` is read, which a cross-site form cannot
    send, so this needs no login token."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HttpError(415, "send the credentials as application/json")
    try:
        body = await request.json()
        name, password = str(body["username"]), str(body["password"])
    except (ValueError, KeyError, TypeError):
        raise HttpError(400, 'send {"username": ..., "password": ...}')
    door = door_of(request)
    ip, protocol = client_ip(request), protocol_of(request)
    session = await run_in_threadpool(door.core.login, name, password, ip, protocol)
    sid, csrf = await run_in_threadpool(door.sessions.create, session.user.name, ip, protocol)
    response = JSONResponse({"user": session.user.name, "csrf": csrf})
    response.set_cookie(
        SESSION_COOKIE, sid, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )
    return response


def set_language(request: Request) -> Response:
    lang = request.path_params["lang"]
    if lang not in i18n.LANGUAGES:
        raise HttpError(404, f"no such language: {lang}")
    response = RedirectResponse(safe_next(request.query_params.get("next")), 303)
    response.set_cookie(
        i18n.LANG_COOKIE,
        lang,
        max_age=365 * 86400,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    return response


def home(request: Request) -> Response:
    return RedirectResponse("/search", 303)


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/login", get_login, methods=["GET"]),
    Route("/login", post_login, methods=["POST"]),
    Route("/logout", post_logout, methods=["POST"]),
    Route("/api/v1/login", api_login, methods=["POST"]),
    Route("/api/v1/logout", post_logout, methods=["POST"]),
    Route("/lang/{lang}", set_language, methods=["GET"]),
]
