"""Daily Jobs: one day at a time, every active job and how its day went."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..auth.access import READERS, roles_required
from ..extensions import db
from ..models import Job, JobRun, RunObjectLink
from ..services.daily_jobs import DAY_STATUS_LABELS, daily_jobs_page, previous_and_next
from ..services.job_schedules import schedule_summary
from ..services.jobs import local_day_bounds
from ..timefmt import current_zone
from . import bp
from .pagination import Page, page_number

PER_PAGE = 50


def _day() -> date:
    raw = request.args.get("date")
    if raw:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            abort(400, description="date must be YYYY-MM-DD")
    return datetime.now(current_zone()).date()


@bp.route("/daily-jobs")
@roles_required(*READERS)
def daily_jobs():
    zone = current_zone()
    day = _day()
    status = request.args.get("status") or None
    customer_id = request.args.get("customer_id", type=int)
    page_no = page_number()
    result = daily_jobs_page(day, zone, datetime.now(UTC), customer_id, status, page_no, PER_PAGE)
    page = Page(result.rows, page_no, PER_PAGE, result.total)
    previous_day, next_day = previous_and_next(day)
    return render_template("main/daily_jobs.html", day=day, page=page, counts=result.counts, status=status,
                           customer_id=customer_id, customers=result.customers, labels=DAY_STATUS_LABELS,
                           previous_day=previous_day, next_day=next_day,
                           open_job_id=request.args.get("open_job_id", type=int))


@bp.route("/daily-jobs/<int:job_id>")
@roles_required(*READERS)
def daily_job_runs(job_id: int):
    """The modal: the job's runs of the day."""
    job = db.session.get(Job, job_id)
    if job is None or job.deleted_at is not None:
        abort(404)
    day = _day()
    start_at, end_at = local_day_bounds(day, current_zone())
    runs = db.session.scalars(
        select(JobRun).where(JobRun.job_id == job.id, JobRun.run_at >= start_at, JobRun.run_at < end_at)
        .order_by(JobRun.run_at.desc())
        .options(selectinload(JobRun.object_links).selectinload(RunObjectLink.customer_object))).all()
    return render_template("main/daily_job_runs.html", job=job, day=day, runs=runs,
                           schedule_text=schedule_summary(job, current_zone()))
