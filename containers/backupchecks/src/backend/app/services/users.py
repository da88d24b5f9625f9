"""Users, roles, passwords and the login rate limit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import ROLES, LoginAttempt, User
from ..models.types import utcnow
from .audit import record_audit

MIN_PASSWORD_LENGTH = 10
# Failed attempts allowed inside the window before logins are refused, per username and per address.
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)


class UserError(ValueError):
    """A user change that cannot be made; the message is shown to the person making it."""


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if password.strip() != password:
        raise UserError("Password must not start or end with spaces.")


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _clean_roles(roles: list[str]) -> list[str]:
    roles = [r for r in roles if r]
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise UserError(f"Unknown role: {', '.join(unknown)}.")
    if not roles:
        raise UserError("Choose at least one role.")
    return roles


def create_user(actor: User | None, username: str, password: str, roles: list[str],
                email: str | None = None) -> User:
    username = username.strip()
    if not username:
        raise UserError("Username is required.")
    if db.session.scalar(select(User).where(func.lower(User.username) == username.lower())):
        raise UserError(f"A user named {username!r} already exists.")
    validate_password(password)
    user = User(username=username, email=(email or "").strip() or None, roles_csv="viewer", active_role="viewer")
    user.roles = _clean_roles(roles)
    user.active_role = user.roles[0]  # the most capable role first
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_audit("user_created", f"User {username} created with roles {', '.join(user.roles)}", actor)
    return user


def update_user(actor: User, user: User, roles: list[str], email: str | None, active: bool) -> User:
    roles = _clean_roles(roles)
    if user.id == actor.id and "admin" not in roles:
        raise UserError("You cannot remove the admin role from yourself.")
    if user.id == actor.id and not active:
        raise UserError("You cannot deactivate yourself.")
    if user.has_role("admin") and ("admin" not in roles or not active) and _other_active_admins(user) == 0:
        raise UserError("This is the last active admin; make another admin first.")
    changes = []
    if sorted(roles) != sorted(user.roles):
        changes.append(f"roles {', '.join(user.roles)} -> {', '.join(roles)}")
        user.roles = roles
    new_email = (email or "").strip() or None
    if new_email != user.email:
        changes.append("email changed")
        user.email = new_email
    if active != user.active:
        changes.append("activated" if active else "deactivated")
        user.active = active
    if changes:
        record_audit("user_updated", f"User {user.username}: {'; '.join(changes)}", actor)
    db.session.flush()
    return user


def _other_active_admins(user: User) -> int:
    others = db.session.scalars(select(User).where(User.id != user.id, User.active.is_(True))).all()
    return sum(1 for u in others if u.has_role("admin"))


def reset_password(actor: User, user: User, new_password: str | None = None) -> str:
    """Set a new password (a generated one when none is given) and return it to show once."""
    password = new_password or generate_password()
    validate_password(password)
    user.set_password(password)
    record_audit("user_password_reset", f"Password of {user.username} reset", actor)
    db.session.flush()
    return password


def change_own_password(user: User, current_password: str, new_password: str) -> None:
    if not user.check_password(current_password):
        raise UserError("Current password is wrong.")
    if new_password == current_password:
        raise UserError("The new password must differ from the current one.")
    validate_password(new_password)
    user.set_password(new_password)
    record_audit("password_changed", f"{user.username} changed their password", user)
    db.session.flush()


def switch_active_role(user: User, role: str) -> None:
    if role not in user.roles:
        raise UserError(f"You do not hold the role {role!r}.")
    if user.active_role != role:
        user.active_role = role
        record_audit("role_switched", f"{user.username} switched to role {role}", user)
        db.session.flush()


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: str | None


def _recent_failures(column, value: str, now_at: datetime) -> int:
    return db.session.scalar(
        select(func.count(LoginAttempt.id)).where(column == value, LoginAttempt.attempted_at >= now_at - FAILURE_WINDOW)
    ) or 0


def authenticate(username: str, password: str, remote_addr: str, now_at: datetime | None = None) -> LoginResult:
    """Check a login, refusing it while too many recent attempts failed for this name or address."""
    now_at = now_at or utcnow()
    username = username.strip()
    if (_recent_failures(LoginAttempt.username, username.lower(), now_at) >= MAX_FAILURES_PER_USERNAME
            or _recent_failures(LoginAttempt.remote_addr, remote_addr, now_at) >= MAX_FAILURES_PER_ADDRESS):
        record_audit("login_blocked", f"Login for {username!r} from {remote_addr} refused: too many failed attempts")
        return LoginResult(None, "Too many failed login attempts. Try again in 15 minutes.")
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None or not user.check_password(password) or not user.active:
        db.session.add(LoginAttempt(username=username.lower(), remote_addr=remote_addr, attempted_at=now_at))
        record_audit("login_failed", f"Failed login for {username!r} from {remote_addr}")
        return LoginResult(None, "Invalid username or password.")
    user.last_login_at = now_at
    # A successful login clears this name's failures so a typo earlier in the day does not count later.
    db.session.execute(LoginAttempt.__table__.delete().where(LoginAttempt.username == username.lower()))
    record_audit("login", f"{user.username} logged in from {remote_addr}", user)
    db.session.flush()
    return LoginResult(user, None)
