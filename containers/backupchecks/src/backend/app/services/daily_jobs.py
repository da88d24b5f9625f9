"""Daily Jobs: for one local day, every active job with its expected times, its runs and one status."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..extensions import db
from ..models import STATUS_SEVERITY, Customer, Job, JobRun
from .job_schedules import effective_schedule, is_paused, never_scheduled
from .jobs import local_day_bounds
from .schedules import expected_slots, slot_status
from .settings import get_settings

DAY_STATUSES = ("failed", "missed", "warning", "success", "expected", "not_expected", "no_schedule")
DAY_STATUS_LABELS = {"failed": "Failed", "missed": "Missed", "warning": "Warning", "success": "Success",
                     "expected": "Expected", "not_expected": "Not expected today", "no_schedule": "No schedule"}


@dataclass
class DailyJobRow:
    job_id: int
    customer_name: str
    job_name: str
    backup_software: str
    backup_type: str
    expected_times: list[str]
    runs: list[tuple[datetime, str]] = field(default_factory=list)
    status: str = "no_schedule"
    paused: bool = False

    @property
    def run_count(self) -> int:
        return sum(1 for _, status in self.runs if status != "missed")


def _day_status(job: Job, day: date, runs: list[tuple[datetime, str]], slots, now_at: datetime,
                grace: int, paused: bool) -> str:
    if runs:
        return max((status for _, status in runs), key=lambda s: STATUS_SEVERITY[s])
    if never_scheduled(job) or job.schedule_mode == "none" or paused or effective_schedule(job) is None:
        return "no_schedule"
    if not slots:
        return "not_expected"
    states = [slot_status(slot, None, now_at, grace) for slot in slots]
    return "expected" if "expected" in states else "missed"


def daily_job_rows(day: date, zone: ZoneInfo, now_at: datetime, customer_id: int | None = None) -> list[DailyJobRow]:
    grace = get_settings().missed_grace_minutes
    start_at, end_at = local_day_bounds(day, zone)
    query = (select(Job, Customer.name).join(Customer, Customer.id == Job.customer_id)
             .where(Job.deleted_at.is_(None), Job.archived_at.is_(None), Customer.active.is_(True))
             .order_by(func.lower(Customer.name), func.lower(Job.job_name)))
    if customer_id:
        query = query.where(Job.customer_id == customer_id)
    jobs = db.session.execute(query).all()
    runs_by_job: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    run_query = (select(JobRun.job_id, JobRun.run_at, JobRun.effective_status)
                 .where(JobRun.run_at >= start_at, JobRun.run_at < end_at).order_by(JobRun.run_at))
    if customer_id:
        run_query = run_query.join(Job, Job.id == JobRun.job_id).where(Job.customer_id == customer_id)
    for job_id, run_at, status in db.session.execute(run_query):
        runs_by_job[job_id].append((run_at, status))
    rows = []
    for job, customer_name in jobs:
        schedule = effective_schedule(job)
        paused = is_paused(job, day)
        slots = expected_slots(schedule, start_at, end_at, zone) if schedule and not paused else []
        runs = runs_by_job.get(job.id, [])
        rows.append(DailyJobRow(
            job_id=job.id, customer_name=customer_name, job_name=job.job_name, backup_software=job.backup_software,
            backup_type=job.backup_type, expected_times=[s.local_time for s in slots], runs=runs, paused=paused,
            status=_day_status(job, day, runs, slots, now_at, grace, paused)))
    return rows


def day_runs(job: Job, day: date, zone: ZoneInfo) -> list[JobRun]:
    start_at, end_at = local_day_bounds(day, zone)
    return list(db.session.scalars(select(JobRun).where(JobRun.job_id == job.id, JobRun.run_at >= start_at,
                                                        JobRun.run_at < end_at).order_by(JobRun.run_at)))


def previous_and_next(day: date) -> tuple[date, date]:
    return day - timedelta(days=1), day + timedelta(days=1)
