from __future__ import annotations

from datetime import datetime

from flask import jsonify, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select, text

from ..auth.access import EVERYONE, READERS, public, roles_required
from ..extensions import db
from ..models import Customer, Job, MailMessage
from ..services.jobs import count_runs_by_status, live_jobs_query, local_day_bounds
from ..services.run_checks import unreviewed_run_count
from ..timefmt import current_zone
from . import bp


@bp.route("/health")
@public
def health():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means: not healthy
        db.session.rollback()
        return jsonify({"status": "error", "reason": f"database unavailable: {type(exc).__name__}"}), 503
    return jsonify({"status": "ok"})


@bp.route("/")
@roles_required(*EVERYONE)
def home():
    """Each role's starting page."""
    if current_user.active_role == "reporter":
        return redirect(url_for("documentation.index"))
    return redirect(url_for("main.dashboard"))


@bp.route("/dashboard")
@roles_required(*READERS)
def dashboard():
    zone = current_zone()
    today = datetime.now(zone).date()
    start_at, end_at = local_day_bounds(today, zone)
    counts = {
        "customers": db.session.scalar(select(func.count(Customer.id)).where(Customer.active.is_(True))) or 0,
        "jobs": db.session.scalar(select(func.count()).select_from(live_jobs_query().subquery())) or 0,
        "inbox": db.session.scalar(select(func.count(MailMessage.id)).where(MailMessage.location == "inbox")) or 0,
        "archived_jobs": db.session.scalar(
            select(func.count(Job.id)).where(Job.archived_at.is_not(None), Job.deleted_at.is_(None))) or 0,
    }
    counts["unreviewed"] = unreviewed_run_count()
    runs = count_runs_by_status(start_at, end_at)
    return render_template("main/dashboard.html", counts=counts, runs=runs, today=today,
                           runs_total=sum(runs.values()))
