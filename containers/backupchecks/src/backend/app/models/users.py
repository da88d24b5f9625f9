from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .types import UTCDateTime, utcnow

ROLES: tuple[str, ...] = ("admin", "operator", "viewer", "reporter")
ROLE_LABELS = {"admin": "Admin", "operator": "Operator", "viewer": "Viewer", "reporter": "Reporter"}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True, nullable=False)
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Comma-separated subset of ROLES; kept in one column because roles are few and fixed.
    roles_csv: Mapped[str] = mapped_column("roles", String(100), nullable=False, default="viewer")
    active_role: Mapped[str] = mapped_column(String(20), nullable=False, default="viewer")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    auth_source: Mapped[str] = mapped_column(String(20), nullable=False, default="local")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def roles(self) -> list[str]:
        return [r for r in self.roles_csv.split(",") if r in ROLES]

    @roles.setter
    def roles(self, roles: list[str]) -> None:
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise ValueError(f"unknown role(s): {', '.join(unknown)}")
        if not roles:
            raise ValueError("a user needs at least one role")
        ordered = [r for r in ROLES if r in roles]
        self.roles_csv = ",".join(ordered)
        if self.active_role not in ordered:
            self.active_role = ordered[0]

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class LoginAttempt(db.Model):
    """Failed logins, counted per username and per address to slow down password guessing.

    Kept in the database (not in process memory) so that the limit holds across gunicorn workers.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_attempted_at", "username", "attempted_at"),
        Index("ix_login_attempts_remote_addr_attempted_at", "remote_addr", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), nullable=False)
    remote_addr: Mapped[str] = mapped_column(String(64), nullable=False)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
