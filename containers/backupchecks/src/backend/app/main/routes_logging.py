from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from ..auth.access import ADMIN, roles_required
from ..extensions import db
from ..models import AuditLog
from . import bp
from .pagination import paginate


@bp.route("/logging")
@roles_required(*ADMIN)
def logging_page():
    event_type = request.args.get("event_type", "").strip()
    username = request.args.get("user", "").strip()
    query = select(AuditLog).order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    if event_type:
        query = query.where(AuditLog.event_type == event_type)
    if username:
        query = query.where(AuditLog.username == username)
    page = paginate(query, per_page=50)
    event_types = db.session.scalars(select(AuditLog.event_type).distinct().order_by(AuditLog.event_type)).all()
    usernames = db.session.scalars(select(AuditLog.username).distinct().order_by(AuditLog.username)).all()
    return render_template("main/logging.html", page=page, event_types=event_types, usernames=usernames,
                           event_type=event_type, username=username)
