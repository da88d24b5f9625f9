"""Job and run queries shared by the pages."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..extensions import db
from ..models import Customer, Job, JobRun


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where a local calendar day starts and ends (23 or 25 hours on DST days)."""
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def live_jobs_query(customer_id: int | None = None, include_inactive_customers: bool = False):
    """Jobs that are neither archived nor deleted; jobs of inactive customers only on request."""
    query = (select(Job).join(Customer, Job.customer_id == Customer.id)
             .where(Job.deleted_at.is_(None), Job.archived_at.is_(None)))
    if customer_id is not None:
        query = query.where(Job.customer_id == customer_id)
    elif not include_inactive_customers:
        query = query.where(Customer.active.is_(True))
    return query


def count_runs_by_status(start_at: datetime, end_at: datetime) -> dict[str, int]:
    rows = db.session.execute(
        select(JobRun.status, func.count(JobRun.id))
        .join(Job, JobRun.job_id == Job.id)
        .where(JobRun.run_at >= start_at, JobRun.run_at < end_at, Job.deleted_at.is_(None))
        .group_by(JobRun.status)
    ).all()
    counts = {"success": 0, "warning": 0, "failed": 0, "missed": 0}
    counts.update({status: n for status, n in rows})
    return counts
