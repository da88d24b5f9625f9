"""Route access: every view declares the roles that may use it, with one decorator.

Only the user's *active* role counts, so an admin who switched to "viewer" sees what a viewer sees.
A test walks ``app.url_map`` and fails on any endpoint that declares nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import abort, current_app, g
from flask_login import current_user

from ..extensions import login_manager

F = TypeVar("F", bound=Callable)

ADMIN = ("admin",)
STAFF = ("admin", "operator")
READERS = ("admin", "operator", "viewer")
EVERYONE = ("admin", "operator", "viewer", "reporter")

ACCESS_ATTRIBUTE = "allowed_roles"
_UNREAD = object()
PUBLIC = "public"


def roles_required(*roles: str) -> Callable[[F], F]:
    if not roles:
        raise ValueError("roles_required needs at least one role")
    if "admin" not in roles:
        # Admins may do everything; forgetting them in a list is always a mistake.
        raise ValueError("every route must allow the admin role")
    allowed = frozenset(roles)

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.active_role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapped, ACCESS_ATTRIBUTE, allowed)
        return wrapped  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Reachable without logging in (login page, health check)."""
    setattr(view, ACCESS_ATTRIBUTE, PUBLIC)
    return view


def endpoint_roles(endpoint: str) -> frozenset[str] | str | None:
    view = current_app.view_functions.get(endpoint)
    return getattr(view, ACCESS_ATTRIBUTE, None) if view else None


def can_access(endpoint: str) -> bool:
    """Whether the current user's active role may open ``endpoint`` (used to build the navbar).

    Every page asks this for some twenty links; the active role is read once per request, because
    resolving the current_user proxy twice per link cost more than the rest of the navbar."""
    roles = endpoint_roles(endpoint)
    if roles == PUBLIC:
        return True
    if not roles:
        return False
    role = g.get("access_role", _UNREAD)
    if role is _UNREAD:
        user = current_user._get_current_object()
        role = g.access_role = user.active_role if user.is_authenticated else None
    return role is not None and role in roles
