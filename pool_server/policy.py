"""The access rules: one table, read by every front door and by the docs.

| who         | list + download | mkdir, upload, overwrite, rename, delete          |
| admin       | everywhere      | everywhere                                        |
| contributor | everywhere      | only inside /<own MEMBER>/...                     |
| reader      | everywhere      | nowhere                                           |
"""

from __future__ import annotations

from enum import Enum, StrEnum

from .accounts import Role, User
from .errors import AccessDenied
from .paths import Target


class Action(StrEnum):
    LIST = "list"
    DOWNLOAD = "download"
    MKDIR = "mkdir"
    UPLOAD = "upload"
    OVERWRITE = "overwrite"
    RENAME = "rename"
    DELETE = "delete"


class Scope(Enum):
    EVERYWHERE = "everywhere"
    OWN_AREA = "inside the user's own member area"
    NOWHERE = "nowhere"


_READ = {Action.LIST, Action.DOWNLOAD}
_WRITE = set(Action) - _READ

RULES: dict[Role, dict[Action, Scope]] = {
    Role.ADMIN: dict.fromkeys(Action, Scope.EVERYWHERE),
    Role.CONTRIBUTOR: {
        **dict.fromkeys(_READ, Scope.EVERYWHERE),
        **dict.fromkeys(_WRITE, Scope.OWN_AREA),
    },
    Role.READER: {**dict.fromkeys(_READ, Scope.EVERYWHERE), **dict.fromkeys(_WRITE, Scope.NOWHERE)},
}


def _in_own_area(user: User, target: Target) -> bool:
    """Strictly inside /<MEMBER>/: the member folder itself is the operators' to manage."""
    return user.member is not None and target.member_area == user.member and len(target.parts) >= 2


def allowed(user: User, action: Action, target: Target) -> bool:
    scope = RULES[user.role][action]
    if scope is Scope.EVERYWHERE:
        return True
    if scope is Scope.OWN_AREA:
        return _in_own_area(user, target)
    return False


def may_upload(user: User) -> bool:
    """Whether the table lets this user upload anywhere at all (pages offer uploads)."""
    scope = RULES[user.role][Action.UPLOAD]
    return scope is Scope.EVERYWHERE or (scope is Scope.OWN_AREA and user.member is not None)


def may_administer(user: User) -> bool:
    """Operators' work (members, users, bans, audit, the console): the admin role only."""
    return user.role is Role.ADMIN


def authorize(user: User, action: Action, target: Target) -> None:
    """Raise `AccessDenied` with the rule that refused, unless the table allows it."""
    if allowed(user, action, target):
        return
    scope = RULES[user.role][action]
    if scope is Scope.OWN_AREA:
        where = f"inside /{user.member}/" if user.member else "nowhere (no member set)"
        raise AccessDenied(
            f"permission denied: a {user.role} may {action} only {where}, not {target.vpath}"
        )
    raise AccessDenied(f"permission denied: a {user.role} may not {action} ({target.vpath})")
