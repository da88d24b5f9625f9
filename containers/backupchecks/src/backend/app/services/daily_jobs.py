"""Daily Jobs: for one local day, every active job with its expected times, its runs and one status."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, bindparam, case, func, select, type_coerce

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


@dataclass
class DailyJobsPage:
    """One page of the day: its rows, the count of every status over all jobs, how many jobs have the
    chosen status (all jobs without one), and the customers to filter on."""

    rows: list[DailyJobRow]
    counts: dict[str, int]
    total: int
    customers: list  # (id, name) of every active customer, for the filter


# (day, zone) -> {job id: (job updated_at, local times, end of the last slot's window or None, scheduled)}.
# A job's row changes (updated_at) whenever its schedule is learned again or set by hand, so an entry
# whose updated_at still matches is current; the page reads schedule JSON only for jobs it has not seen.
_SLOT_CACHE: dict[tuple[date, str], dict[int, tuple]] = {}
_SLOT_CACHE_LIMIT = 100_000
_NO_SLOTS: tuple[tuple[str, ...], datetime | None, bool] = ((), None, False)


def _slots_from_json(schedule_json: str | None, day: date, zone: ZoneInfo,
                     ) -> tuple[tuple[str, ...], datetime | None, bool]:
    if not schedule_json:
        return _NO_SLOTS
    schedule = LearnedSchedule.from_dict(json.loads(schedule_json))
    if not schedule.expects_runs:
        return _NO_SLOTS
    start_at, end_at = local_day_bounds(day, zone)
    slots = expected_slots(schedule, start_at, end_at, zone)
    # The day stays "expected" while any slot's window (plus grace) is open: only the last end counts.
    last_end_at = max((s.window_end_at for s in slots), default=None)
    return tuple(s.local_time for s in slots), last_end_at, True


# The page reads plain Core rows, not ORM entities: it reads every job on every request, and the ORM's
# row machinery would cost more than the rest of the page. The statements are built once (values come
# in as bind parameters), which also spares SQLAlchemy computing their cache keys on every request.
# updated_at is only compared (slot cache), so it is read without the UTC conversion of its type.
_jobs = Job.__table__
_customers = Customer.__table__
_runs = JobRun.__table__
_ID, _CUSTOMER, _NAME, _SOFTWARE, _TYPE, _UPDATED, _PAUSED, _WORST = range(8)
# A job's worst run of the day, computed by the database as a severity number (NULL: no run).
_SEVERITY_NAMES = {number: status for status, number in STATUS_SEVERITY.items()}
_DAY_RUNS = (_runs.c.run_at >= bindparam("start_at"), _runs.c.run_at < bindparam("end_at"))
_WORST_RUN = (select(_runs.c.job_id, func.max(case(STATUS_SEVERITY, value=_runs.c.effective_status, else_=0))
                     .label("worst"))
              .where(*_DAY_RUNS).group_by(_runs.c.job_id).subquery())
_DAY_JOBS = (select(_jobs.c.id, _customers.c.name, _jobs.c.job_name, _jobs.c.backup_software, _jobs.c.backup_type,
                    type_coerce(_jobs.c.updated_at, DateTime(timezone=True)), _jobs.c.paused_until,
                    _WORST_RUN.c.worst)
             .select_from(_jobs.join(_customers, _customers.c.id == _jobs.c.customer_id)
                          .outerjoin(_WORST_RUN, _WORST_RUN.c.job_id == _jobs.c.id))
             .where(_jobs.c.deleted_at.is_(None), _jobs.c.archived_at.is_(None), _customers.c.active.is_(True)))
_CUSTOMER_DAY_JOBS = _DAY_JOBS.where(_jobs.c.customer_id == bindparam("customer_id"))
_SHOWN_RUNS = (select(_runs.c.job_id, _runs.c.run_at, _runs.c.effective_status)
               .where(_runs.c.job_id.in_(bindparam("job_ids", expanding=True)), *_DAY_RUNS)
               .order_by(_runs.c.run_at, _runs.c.id))
_ACTIVE_CUSTOMERS = (select(_customers.c.id, _customers.c.name).where(_customers.c.active.is_(True))
                     .order_by(func.lower(_customers.c.name)))
_SCHEDULES = (select(_jobs.c.id, _jobs.c.backup_software, _jobs.c.backup_type, _jobs.c.informational,
                     _jobs.c.schedule_mode, _jobs.c.learned_schedule_json, _jobs.c.manual_schedule_json)
              .where(_jobs.c.id.in_(bindparam("job_ids", expanding=True))))


def _day_slots_for(jobs: list, day: date, zone: ZoneInfo) -> dict[int, tuple]:
    """Every job's (local times, last window end, scheduled) on ``day``."""
    cache = _SLOT_CACHE.get((day, zone.key))
    if cache is None:
        if sum(len(entries) for entries in _SLOT_CACHE.values()) > _SLOT_CACHE_LIMIT:
            _SLOT_CACHE.clear()
        cache = _SLOT_CACHE[(day, zone.key)] = {}
    updated = {}
    for job in jobs:
        entry = cache.get(job[_ID])
        if entry is None or entry[0] != job[_UPDATED]:
            updated[job[_ID]] = job[_UPDATED]
    missing = list(updated)
    for start in range(0, len(missing), 1000):
        for job_id, software, backup_type, informational, mode, learned, manual in db.session.execute(
                _SCHEDULES, {"job_ids": missing[start:start + 1000]}):
            schedule_json = None
            if not (informational or (software, backup_type) in NEVER_SCHEDULED or mode == "none"):
                schedule_json = manual if mode == "manual" else learned
            cache[job_id] = (updated[job_id], *_slots_from_json(schedule_json, day, zone))
    return cache


def _evaluate_day(day: date, zone: ZoneInfo, now_at: datetime, customer_id: int | None,
                  ) -> tuple[list, list[str], dict[int, tuple]]:
    """Every live job of the day (a row of _DAY_JOBS: the job and its worst run) with its status, and the
    slot cache entries by job id.

    A job's status is its worst run of the day; without runs: no schedule (none, or paused), not
    expected today (no slot), expected (a slot's window plus grace is still open) or missed.
    """
    start_at, end_at = local_day_bounds(day, zone)
    params = {"start_at": start_at, "end_at": end_at}
    if customer_id:
        jobs = db.session.execute(_CUSTOMER_DAY_JOBS, {**params, "customer_id": customer_id}).all()
    else:
        jobs = db.session.execute(_DAY_JOBS, params).all()
    slots = _day_slots_for(jobs, day, zone)
    # Expected while now <= window end + grace, that is while now - grace <= the last window end.
    cutoff_at = now_at - timedelta(minutes=missed_grace_minutes())
    names = _SEVERITY_NAMES
    statuses = []
    for job in jobs:
        severity = job[_WORST]
        if severity:
            status = names[severity]
        else:
            _updated, _times, last_end_at, scheduled = slots[job[_ID]]
            paused_until = job[_PAUSED]
            if not scheduled or (paused_until is not None and day <= paused_until):
                status = "no_schedule"
            elif last_end_at is None:
                status = "not_expected"
            else:
                status = "expected" if cutoff_at <= last_end_at else "missed"
        statuses.append(status)
    return jobs, statuses, slots


def _sorted_rows(pairs: list) -> list:
    """(job row, status) pairs in page order: customer name, then job name, case-insensitively."""
    folded = {name: name.casefold() for name in {pair[0][_CUSTOMER] for pair in pairs}}
    keyed = [(folded[job[_CUSTOMER]], job[_NAME].casefold(), index) for index, (job, _s) in enumerate(pairs)]
    keyed.sort()
    return [pairs[index] for _c, _n, index in keyed]


def _rows(pairs: list, day: date, zone: ZoneInfo, slots: dict[int, tuple]) -> list[DailyJobRow]:
    """The page's rows, with their runs of the day (read for these jobs only)."""
    runs_by_job: dict[int, list[tuple[datetime, str]]] = {job[_ID]: [] for job, _status in pairs if job[_WORST]}
    if runs_by_job:
        start_at, end_at = local_day_bounds(day, zone)
        for job_id, run_at, status in db.session.execute(
                _SHOWN_RUNS, {"job_ids": list(runs_by_job), "start_at": start_at, "end_at": end_at}).all():
            runs_by_job[job_id].append((run_at, status))
    rows = []
    for job, status in pairs:
        paused = job[_PAUSED] is not None and day <= job[_PAUSED]
        rows.append(DailyJobRow(job_id=job[_ID], customer_name=job[_CUSTOMER], job_name=job[_NAME],
                                backup_software=job[_SOFTWARE], backup_type=job[_TYPE],
                                expected_times=[] if paused else list(slots[job[_ID]][1]),
                                runs=runs_by_job.get(job[_ID], []), status=status, paused=paused))
    return rows


def daily_jobs_page(day: date, zone: ZoneInfo, now_at: datetime, customer_id: int | None = None,
                    status: str | None = None, page: int = 1, per_page: int = 50) -> DailyJobsPage:
    """The rows of one page (jobs with ``status`` only, when it is one of DAY_STATUSES), ordered by
    customer and job name; the counts cover every job of the day."""
    jobs, statuses, slots = _evaluate_day(day, zone, now_at, customer_id)
    counts = dict.fromkeys(DAY_STATUSES, 0)
    for value in statuses:
        counts[value] += 1
    pairs = list(zip(jobs, statuses, strict=True))
    if status in DAY_STATUSES:
        pairs = [pair for pair in pairs if pair[1] == status]
    shown = _sorted_rows(pairs)[(page - 1) * per_page: page * per_page]
    return DailyJobsPage(rows=_rows(shown, day, zone, slots), counts=counts, total=len(pairs),
                         customers=db.session.execute(_ACTIVE_CUSTOMERS).all())


def day_runs(job: Job, day: date, zone: ZoneInfo) -> list[JobRun]:
    start_at, end_at = local_day_bounds(day, zone)
    return list(db.session.scalars(select(JobRun).where(JobRun.job_id == job.id, JobRun.run_at >= start_at,
                                                        JobRun.run_at < end_at).order_by(JobRun.run_at)))


def previous_and_next(day: date) -> tuple[date, date]:
    return day - timedelta(days=1), day + timedelta(days=1)
