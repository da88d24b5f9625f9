"""Daily Jobs: for one local day, every active job with its expected times, its runs and one status."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..extensions import db
from ..models import STATUS_SEVERITY, Customer, Job, JobRun
from .job_schedules import NEVER_SCHEDULED
from .jobs import local_day_bounds
from .schedules import LearnedSchedule, expected_slots
from .settings import missed_grace_minutes

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


def _day_status(scheduled: bool, runs: list[tuple[datetime, str]], slot_windows: tuple[datetime, ...],
                now_at: datetime, grace: int) -> str:
    if runs:
        return max((status for _, status in runs), key=lambda s: STATUS_SEVERITY[s])
    if not scheduled:
        return "no_schedule"
    if not slot_windows:
        return "not_expected"
    grace_delta = timedelta(minutes=grace)
    return "expected" if any(now_at <= end_at + grace_delta for end_at in slot_windows) else "missed"


# (job id, job updated_at, day, zone) -> (local times, window ends, scheduled). A job's row changes
# (updated_at) whenever its schedule is learned again or set by hand, so entries never go stale; the
# page then reads schedule JSON only for jobs it has not seen yet.
_SLOT_CACHE: dict[tuple, tuple[tuple[str, ...], tuple[datetime, ...], bool]] = {}
_SLOT_CACHE_LIMIT = 100_000


def _slots_from_json(schedule_json: str | None, day: date, zone: ZoneInfo,
                     ) -> tuple[tuple[str, ...], tuple[datetime, ...], bool]:
    if not schedule_json:
        return (), (), False
    schedule = LearnedSchedule.from_dict(json.loads(schedule_json))
    if not schedule.expects_runs:
        return (), (), False
    start_at, end_at = local_day_bounds(day, zone)
    slots = expected_slots(schedule, start_at, end_at, zone)
    return tuple(s.local_time for s in slots), tuple(s.window_end_at for s in slots), True


# The columns the page needs, read as plain tuples: attribute access on 2,000 result rows costs more
# than everything else this page does.
_JOB_COLUMNS = (Job.id, Customer.name, Job.job_name, Job.backup_software, Job.backup_type, Job.informational,
                Job.schedule_mode, Job.updated_at, Job.paused_until)


def _day_slots_for(jobs: list[tuple], day: date, zone: ZoneInfo) -> dict[int, tuple]:
    keys = {job[0]: (job[0], job[7], day, zone.key) for job in jobs}
    missing = [job_id for job_id, key in keys.items() if key not in _SLOT_CACHE]
    if missing:
        if len(_SLOT_CACHE) > _SLOT_CACHE_LIMIT:
            _SLOT_CACHE.clear()
        by_id = {job[0]: job for job in jobs}
        for start in range(0, len(missing), 1000):
            chunk = missing[start:start + 1000]
            for job_id, learned, manual in db.session.execute(
                    select(Job.id, Job.learned_schedule_json, Job.manual_schedule_json).where(Job.id.in_(chunk))):
                _id, _customer, _name, software, backup_type, informational, mode, _updated, _paused = by_id[job_id]
                schedule_json = None
                if not (informational or (software, backup_type) in NEVER_SCHEDULED or mode == "none"):
                    schedule_json = manual if mode == "manual" else learned
                _SLOT_CACHE[keys[job_id]] = _slots_from_json(schedule_json, day, zone)
    return {job_id: _SLOT_CACHE[key] for job_id, key in keys.items()}


def daily_job_rows(day: date, zone: ZoneInfo, now_at: datetime, customer_id: int | None = None) -> list[DailyJobRow]:
    grace = missed_grace_minutes()
    start_at, end_at = local_day_bounds(day, zone)
    query = (select(*_JOB_COLUMNS).join(Customer, Customer.id == Job.customer_id)
             .where(Job.deleted_at.is_(None), Job.archived_at.is_(None), Customer.active.is_(True)))
    if customer_id:
        query = query.where(Job.customer_id == customer_id)
    jobs = [tuple(row) for row in db.session.execute(query)]
    slots_by_job = _day_slots_for(jobs, day, zone)
    runs_by_job: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    run_query = (select(JobRun.job_id, JobRun.run_at, JobRun.effective_status)
                 .where(JobRun.run_at >= start_at, JobRun.run_at < end_at).order_by(JobRun.run_at))
    if customer_id:
        run_query = run_query.join(Job, Job.id == JobRun.job_id).where(Job.customer_id == customer_id)
    for job_id, run_at, status in db.session.execute(run_query):
        runs_by_job[job_id].append((run_at, status))
    rows = []
    jobs.sort(key=lambda job: (job[1].casefold(), job[2].casefold()))
    for job_id, customer_name, job_name, software, backup_type, _info, _mode, _updated, paused_until in jobs:
        paused = paused_until is not None and day <= paused_until
        times, windows, scheduled = ((), (), False) if paused else slots_by_job[job_id]
        runs = runs_by_job.get(job_id, [])
        rows.append(DailyJobRow(
            job_id=job_id, customer_name=customer_name, job_name=job_name, backup_software=software,
            backup_type=backup_type, expected_times=list(times), runs=runs, paused=paused,
            status=_day_status(scheduled, runs, windows, now_at, grace)))
    return rows


def day_runs(job: Job, day: date, zone: ZoneInfo) -> list[JobRun]:
    start_at, end_at = local_day_bounds(day, zone)
    return list(db.session.scalars(select(JobRun).where(JobRun.job_id == job.id, JobRun.run_at >= start_at,
                                                        JobRun.run_at < end_at).order_by(JobRun.run_at)))


def previous_and_next(day: date) -> tuple[date, date]:
    return day - timedelta(days=1), day + timedelta(days=1)
