"""Job and run queries shared by the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..extensions import db
from ..models import STATUS_SEVERITY, Customer, Job, JobRun


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
        select(JobRun.effective_status, func.count(JobRun.id))
        .join(Job, JobRun.job_id == Job.id)
        .where(JobRun.run_at >= start_at, JobRun.run_at < end_at, Job.deleted_at.is_(None),
               Job.archived_at.is_(None))
        .group_by(JobRun.effective_status)
    ).all()
    counts = {"success": 0, "warning": 0, "failed": 0, "missed": 0}
    counts.update({status: n for status, n in rows})
    return counts


@dataclass(frozen=True)
class DayCell:
    day: date
    status: str | None  # the day's worst effective status; None without runs
    runs: list[tuple[datetime, str]]


def job_status_bar(job_id: int, zone: ZoneInfo, now_at: datetime, days: int = 28) -> list[DayCell]:
    """One cell per local day, oldest first, ending today."""
    today = now_at.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start_at, _ = local_day_bounds(first, zone)
    _, end_at = local_day_bounds(today, zone)
    by_day: dict[date, list[tuple[datetime, str]]] = {}
    for run_at, status in db.session.execute(
            select(JobRun.run_at, JobRun.effective_status)
            .where(JobRun.job_id == job_id, JobRun.run_at >= start_at, JobRun.run_at < end_at)
            .order_by(JobRun.run_at)):
        by_day.setdefault(run_at.astimezone(zone).date(), []).append((run_at, status))
    cells = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        runs = by_day.get(day, [])
        worst = max((s for _, s in runs), key=lambda s: STATUS_SEVERITY[s]) if runs else None
        cells.append(DayCell(day, worst, runs))
    return cells
