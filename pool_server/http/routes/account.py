"""Two-factor login on the web door: the code after the password (/login/2fa) and each
user's own enrolment with a QR code and recovery codes (/account/2fa)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ...audit import Actor
from ...errors import UsageError
from ..app import door_of, principal, render
from ..auth import SESSION_COOKIE, client_ip, csrf_from, csrf_ok, protocol_of
from ..errors import HttpError
from .session import safe_next

MAX_CODE_TRIES = 5
"""Wrong codes a pending login may send before it must start again with the password."""


def _pending(request: Request) -> tuple[str, dict[str, object]]:
    sid = request.cookies.get(SESSION_COOKIE)
    row = door_of(request).sessions.lookup_pending(sid) if sid else None
    if sid is None or row is None:
        raise HttpError(401, "log in with your password first")
    return sid, row


async def code_page(request: Request) -> Response:
    try:
        _, row = await run_in_threadpool(_pending, request)
    except HttpError:
        return RedirectResponse("/login", 303)
    ctx = {
        "next": safe_next(request.query_params.get("next")),
        "error": None,
        "form_csrf": row["csrf"],
    }
    return render(request, "login_2fa.html", ctx)


async def code_post(request: Request) -> Response:
    door = door_of(request)
    sid, row = await run_in_threadpool(_pending, request)
    form = await request.form()
    if str(form.get("csrf_token") or "") != row["csrf"]:
        raise HttpError(403, "the form expired: log in again")
    user = str(row["user"])
    code = str(form.get("code") or "")
    target = safe_next(str(form.get("next") or ""))
    ip, protocol = client_ip(request), protocol_of(request)
    actor = Actor(user, None, ip, protocol)
    if not await run_in_threadpool(door.two_factor.verify, user, code):
        await run_in_threadpool(
            door.pool.audit.record, actor, "login", status="failed", detail="wrong second factor"
        )
        if await run_in_threadpool(door.sessions.mfa_failed, sid) >= MAX_CODE_TRIES:
            await run_in_threadpool(door.sessions.end, sid)
            return RedirectResponse("/login", 303)
        ctx = {"next": target, "error": "that code is not right", "form_csrf": row["csrf"]}
        return render(request, "login_2fa.html", ctx, 401)
    # Right code: a fresh session replaces the pending one (no fixation across the step).
    await run_in_threadpool(door.sessions.end, sid)
    new_sid, _ = await run_in_threadpool(door.sessions.create, user, ip, protocol)
    await run_in_threadpool(door.pool.audit.record, actor, "login", detail="second factor (web)")
    response = RedirectResponse(target, 303)
    response.set_cookie(
        SESSION_COOKIE,
        new_sid,
        httponly=True,
        samesite="lax",
        secure=protocol == "https",
        path="/",
    )
    return response


async def enrol_page(request: Request) -> Response:
    who = principal(request)
    assert who is not None
    door = door_of(request)
    name = who.session.user.name
    if await run_in_threadpool(door.two_factor.enrolled, name):
        left = await run_in_threadpool(door.two_factor.recovery_left, name)
        return render(request, "account_2fa.html", {"enrolled": True, "left": left})
    try:
        enrolment = await run_in_threadpool(door.two_factor.enrolment, name)
    except UsageError:
        enrolment = await run_in_threadpool(door.two_factor.begin, name)
    required = door.settings["admin_totp_required"] and who.session.user.role == "admin"
    return render(
        request,
        "account_2fa.html",
        {"enrolled": False, "enrolment": enrolment, "required": required, "error": None},
    )


async def enrol_post(request: Request) -> Response:
    who = principal(request)
    assert who is not None
    if who.via == "cookie" and not csrf_ok(who, await csrf_from(request)):
        raise HttpError(403, "missing or wrong CSRF token: reload the page")
    door = door_of(request)
    name = who.session.user.name
    form = await request.form()
    try:
        codes = await run_in_threadpool(door.two_factor.confirm, name, str(form.get("code") or ""))
    except UsageError as err:
        enrolment = await run_in_threadpool(door.two_factor.enrolment, name)
        ctx = {"enrolled": False, "enrolment": enrolment, "required": False, "error": str(err)}
        return render(request, "account_2fa.html", ctx, 400)
    s = who.session
    await run_in_threadpool(
        door.pool.audit.record,
        Actor(name, s.user.member, s.ip, s.protocol),
        "admin",
        detail=f"user totp enrol {name}",
    )
    return render(request, "account_2fa.html", {"enrolled": True, "codes": codes, "left": 10})


ROUTES = [
    Route("/login/2fa", code_page, methods=["GET"]),
    Route("/login/2fa", code_post, methods=["POST"]),
    Route("/account/2fa", enrol_page, methods=["GET"]),
    Route("/account/2fa", enrol_post, methods=["POST"]),
]
