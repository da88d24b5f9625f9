"""The audit trail: who did what, written in the same transaction as the change itself."""

from __future__ import annotations

from ..extensions import db
from ..models import AuditLog, User

SYSTEM_USERNAME = "system"


def record_audit(event_type: str, message: str, user: User | None = None, details: str | None = None) -> AuditLog:
    entry = AuditLog(
        event_type=event_type,
        message=message,
        details=details,
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else SYSTEM_USERNAME,
    )
    db.session.add(entry)
    db.session.flush()
    return entry
