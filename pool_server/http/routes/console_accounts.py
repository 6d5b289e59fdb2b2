"""The operators' console: members (quota and usage) and users (roles, passwords,
invitations, SSH keys, API tokens, two-factor). Every change goes through `Admin`, the
same functions as the `pool-server` commands, and is audited as an admin change."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ...admin import Admin
from ...errors import UsageError
from ...invitations import Invitations, unguessable_password
from ...quota import format_size, parse_size
from ...totp import TwoFactor
from ...userkeys import UserKeys
from ..app import door_of, render
from ..console import act, admin_principal, field, optional, page, quoted

ROLES = ("reader", "contributor", "admin")


def _invitations(request: Request) -> Invitations:
    pool = door_of(request).pool
    return Invitations(pool.store, pool.accounts)


def _two_factor(request: Request) -> TwoFactor:
    return TwoFactor(door_of(request).pool.store)


def console_home(request: Request) -> Response:
    admin_principal(request)
    return RedirectResponse("/console/members", 303)


# --- members


def _members(request: Request) -> list[dict[str, Any]]:
    pool = door_of(request).pool
    users = pool.accounts.list_users()
    rows = []
    for m in pool.accounts.list_members():
        used = pool.quotas.used(m["code"])
        quota = m["quota_bytes"] or 0
        rows.append(
            {
                **m,
                "used": used,
                "used_text": format_size(used),
                "quota_text": format_size(quota) if quota else "unlimited",
                "percent": min(100, round(100 * used / quota)) if quota else None,
                "users": sum(1 for u in users if u["member"] == m["code"]),
            }
        )
    return rows


async def members_page(request: Request) -> Response:
    admin_principal(request)
    rows = await run_in_threadpool(_members, request)
    return page(request, "console/members.html", {"members": rows, "section": "members"})


async def member_add(request: Request) -> Response:
    def run(admin: Admin, form: FormData) -> str:
        code = field(form, "code").upper()
        admin.add_member(code, field(form, "name"), optional(form, "country"))
        quota = field(form, "quota")
        if quota:
            admin.set_quota(code, parse_size(quota))
        return f"member {code} added; its area is /{code}/"

    return await act(request, "/console/members", run)


async def member_edit(request: Request) -> Response:
    code = request.path_params["code"]

    def run(admin: Admin, form: FormData) -> str:
        admin.edit_member(code, field(form, "name"), optional(form, "country"))
        admin.set_quota(code, parse_size(field(form, "quota") or "0"))
        return f"member {code} saved"

    return await act(request, "/console/members", run)


async def member_remove(request: Request) -> Response:
    code = request.path_params["code"]

    def run(admin: Admin, form: FormData) -> str:
        admin.remove_member(code)
        return f"member {code} removed"

    return await act(request, "/console/members", run)


# --- users


def _users(request: Request) -> list[dict[str, Any]]:
    pool = door_of(request).pool
    tf = _two_factor(request)
    invited = _invitations(request).pending()
    return [
        {**u, "totp": tf.enrolled(u["name"]), "invited": u["name"] in invited}
        for u in pool.accounts.list_users()
    ]


async def users_page(request: Request) -> Response:
    admin_principal(request)
    users = await run_in_threadpool(_users, request)
    members = await run_in_threadpool(door_of(request).pool.accounts.list_members)
    return page(
        request,
        "console/users.html",
        {"users": users, "members": members, "roles": ROLES, "section": "users"},
    )


async def user_add(request: Request) -> Response:
    hours = door_of(request).settings.get("invitation_hours", 72)
    base = str(request.base_url).rstrip("/")

    def run(admin: Admin, form: FormData) -> str:
        name = field(form, "name")
        password = field(form, "password")
        invite = field(form, "how") == "invite" or not password
        admin.add_user(
            name,
            field(form, "role"),
            optional(form, "member"),
            unguessable_password() if invite else password,
            optional(form, "display_name"),
        )
        if not invite:
            return f"user {name} added"
        token = Invitations(admin.pool.store, admin.accounts).create(name, hours)
        admin.record(f"user invite {name}")
        return f"user {name} added; send them this link (valid {hours} h): {base}/invite/{token}"

    return await act(request, "/console/users", run)


def _user_detail(request: Request, name: str) -> dict[str, Any]:
    pool = door_of(request).pool
    door = door_of(request)
    info = pool.accounts.user_info(name)
    return {
        "u": info,
        "keys": UserKeys(pool.store, pool.accounts).list(name),
        "tokens": door.tokens.list(name),
        "totp": _two_factor(request).enrolled(name),
        "recovery_left": _two_factor(request).recovery_left(name),
        "invited": name in _invitations(request).pending(),
        "members": pool.accounts.list_members(),
        "roles": ROLES,
        "section": "users",
    }


async def user_page(request: Request) -> Response:
    admin_principal(request)
    ctx = await run_in_threadpool(_user_detail, request, request.path_params["name"])
    return page(request, "console/user.html", ctx)


def _user_action(request: Request) -> tuple[str, str]:
    name = request.path_params["name"]
    return name, f"/console/users/{quoted(name)}"


async def user_role(request: Request) -> Response:
    name, where = _user_action(request)

    def run(admin: Admin, form: FormData) -> str:
        admin.set_role(name, field(form, "role"), optional(form, "member"))
        admin.set_display_name(name, optional(form, "display_name"))
        return f"{name} saved"

    return await act(request, where, run)


async def user_password(request: Request) -> Response:
    name, where = _user_action(request)
    door = door_of(request)

    def run(admin: Admin, form: FormData) -> str:
        password = field(form, "password")
        if password != field(form, "password2"):
            raise UsageError("the two passwords differ")
        admin.set_password(name, password)
        ended = door.sessions.end_user(name)
        return f"password of {name} reset; {ended} web session(s) ended"

    return await act(request, where, run)


async def user_disable(request: Request) -> Response:
    name, where = _user_action(request)
    door = door_of(request)

    def run(admin: Admin, form: FormData) -> str:
        disable = field(form, "disabled") == "1"
        admin.set_disabled(name, disable)
        if disable:
            door.sessions.end_user(name)
        return f"{name} {'disabled' if disable else 'enabled'}"

    return await act(request, where, run)


async def user_remove(request: Request) -> Response:
    name, _ = _user_action(request)
    door = door_of(request)

    def run(admin: Admin, form: FormData) -> str:
        door.sessions.end_user(name)
        admin.remove_user(name)
        return f"user {name} removed (their files stay)"

    return await act(request, "/console/users", run)


async def user_key_add(request: Request) -> Response:
    name, where = _user_action(request)

    def run(admin: Admin, form: FormData) -> str:
        added = admin.add_keys(name, field(form, "keys"))
        return f"{len(added)} key(s) added: " + ", ".join(k["fingerprint"] for k in added)

    return await act(request, where, run)


async def user_key_remove(request: Request) -> Response:
    name, where = _user_action(request)

    def run(admin: Admin, form: FormData) -> str:
        admin.remove_key(name, field(form, "fingerprint"))
        return "key removed"

    return await act(request, where, run)


async def user_token_revoke(request: Request) -> Response:
    name, where = _user_action(request)
    door = door_of(request)

    def run(admin: Admin, form: FormData) -> str:
        token_id = field(form, "token")
        if not token_id.isdigit():
            raise UsageError("no such token")
        row = door.tokens.revoke(int(token_id))
        admin.record(f"token revoke {token_id} ({name})")
        return f"token {row.get('name') or token_id} revoked"

    return await act(request, where, run)


async def user_totp_reset(request: Request) -> Response:
    name, where = _user_action(request)

    def run(admin: Admin, form: FormData) -> str:
        TwoFactor(admin.pool.store).reset(name)
        admin.record(f"user totp reset {name}")
        return f"two-factor login of {name} removed; they enrol again at their next login"

    return await act(request, where, run)


async def user_invite(request: Request) -> Response:
    name, where = _user_action(request)
    hours = door_of(request).settings.get("invitation_hours", 72)
    base = str(request.base_url).rstrip("/")

    def run(admin: Admin, form: FormData) -> str:
        token = Invitations(admin.pool.store, admin.accounts).create(name, hours)
        admin.record(f"user invite {name}")
        return f"new invitation for {name} (valid {hours} h): {base}/invite/{token}"

    return await act(request, where, run)


# --- the invitation link (no login: the token is the credential)


async def invite_page(request: Request) -> Response:
    token = request.path_params["token"]
    row = await run_in_threadpool(_invitations(request).lookup, token)
    return render(request, "invite.html", {"user": row["user"], "token": token, "error": None})


async def invite_accept(request: Request) -> Response:
    token = request.path_params["token"]
    form = await request.form()
    password = str(form.get("password") or "")
    if password != str(form.get("password2") or ""):
        row = await run_in_threadpool(_invitations(request).lookup, token)
        ctx = {"user": row["user"], "token": token, "error": "the two passwords differ"}
        return render(request, "invite.html", ctx, 400)
    try:
        user = await run_in_threadpool(_invitations(request).redeem, token, password)
    except UsageError as err:
        row = await run_in_threadpool(_invitations(request).lookup, token)
        return render(
            request, "invite.html", {"user": row["user"], "token": token, "error": str(err)}, 400
        )
    return RedirectResponse(f"/login?user={quoted(user)}", 303)


ROUTES = [
    Route("/console", console_home, methods=["GET"]),
    Route("/console/members", members_page, methods=["GET"]),
    Route("/console/members", member_add, methods=["POST"]),
    Route("/console/members/{code}", member_edit, methods=["POST"]),
    Route("/console/members/{code}/remove", member_remove, methods=["POST"]),
    Route("/console/users", users_page, methods=["GET"]),
    Route("/console/users", user_add, methods=["POST"]),
    Route("/console/users/{name}", user_page, methods=["GET"]),
    Route("/console/users/{name}/role", user_role, methods=["POST"]),
    Route("/console/users/{name}/password", user_password, methods=["POST"]),
    Route("/console/users/{name}/disabled", user_disable, methods=["POST"]),
    Route("/console/users/{name}/remove", user_remove, methods=["POST"]),
    Route("/console/users/{name}/keys", user_key_add, methods=["POST"]),
    Route("/console/users/{name}/keys/remove", user_key_remove, methods=["POST"]),
    Route("/console/users/{name}/tokens/revoke", user_token_revoke, methods=["POST"]),
    Route("/console/users/{name}/totp/reset", user_totp_reset, methods=["POST"]),
    Route("/console/users/{name}/invite", user_invite, methods=["POST"]),
    Route("/invite/{token}", invite_page, methods=["GET"]),
    Route("/invite/{token}", invite_accept, methods=["POST"]),
]
