"""Job and run queries shared by the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import STATUS_SEVERITY, Customer, CustomerObject, Job, JobObjectLink, JobRun, Override, User


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
    runs: list[tuple[datetime, str]]  # (run time in the UI zone, effective status), oldest first

    @property
    def title(self) -> str:
        """The cell's tooltip: the day, then each run's local time and status."""
        runs = ", ".join(f"{run_at:%H:%M} {status}" for run_at, status in self.runs)
        return f"{self.day:%a %d %b}: {runs or 'no runs'}"


# The job's page runs a handful of small queries, each returning few rows: ORM entities (and loader
# options built per request) would cost several times their SQL. So it reads plain Core rows, with
# statements built once: a prebuilt statement also keeps its cache key, which SQLAlchemy would
# otherwise compute afresh on every request. Values come in as bind parameters.
_runs = JobRun.__table__
_users = User.__table__
_links = JobObjectLink.__table__
_objects = CustomerObject.__table__
_overrides = Override.__table__
_JOB_ID = bindparam("job_id")

_BAR_RUNS = (select(_runs.c.run_at, _runs.c.effective_status)
             .where(_runs.c.job_id == _JOB_ID, _runs.c.run_at >= bindparam("start_at"),
                    _runs.c.run_at < bindparam("end_at"))
             .order_by(_runs.c.run_at))
_RUN_TOTAL = select(func.count()).select_from(_runs).where(_runs.c.job_id == _JOB_ID)
_RUN_PAGE = (select(_runs.c.id, _runs.c.run_at, _runs.c.status, _runs.c.effective_status, _runs.c.override_id,
                    _runs.c.marked_success_at, _runs.c.reviewed_at, _users.c.username, _runs.c.message,
                    _runs.c.remark)
             .select_from(_runs.outerjoin(_users, _users.c.id == _runs.c.reviewed_by_id))
             .where(_runs.c.job_id == _JOB_ID).order_by(_runs.c.run_at.desc(), _runs.c.id.desc())
             .limit(bindparam("limit")).offset(bindparam("offset")))
_OBJECTS = (select(_objects.c.name, _objects.c.object_type, _links.c.last_status, _links.c.last_seen_at,
                   _links.c.last_error)
            .select_from(_links.join(_objects, _objects.c.id == _links.c.customer_object_id))
            .where(_links.c.job_id == _JOB_ID).order_by(_links.c.last_seen_at.desc()))
_OVERRIDES = (select(_overrides.c.id, _overrides.c.active, _overrides.c.object_name, _overrides.c.status_match,
                     _overrides.c.error_text, _overrides.c.error_match, _overrides.c.comment)
              .where(_overrides.c.job_id == _JOB_ID).order_by(_overrides.c.id))
_JOB_WITH_CUSTOMER = select(Job).options(joinedload(Job.customer)).where(Job.id == _JOB_ID)


def job_with_customer(job_id: int) -> Job | None:
    """The job (deleted or not) with its customer loaded, in one query."""
    return db.session.execute(_JOB_WITH_CUSTOMER, {"job_id": job_id}).unique().scalar_one_or_none()


def job_status_bar(job_id: int, zone: ZoneInfo, now_at: datetime, days: int = 28) -> list[DayCell]:
    """One cell per local day, oldest first, ending today."""
    today = now_at.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start_at, _ = local_day_bounds(first, zone)
    _, end_at = local_day_bounds(today, zone)
    by_day: dict[date, list[tuple[datetime, str]]] = {}
    for run_at, status in db.session.connection().execute(
            _BAR_RUNS, {"job_id": job_id, "start_at": start_at, "end_at": end_at}).all():
        local_at = run_at.astimezone(zone)
        by_day.setdefault(local_at.date(), []).append((local_at, status))
    cells = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        runs = by_day.get(day, [])
        worst = max((s for _, s in runs), key=STATUS_SEVERITY.__getitem__) if runs else None
        cells.append(DayCell(day, worst, runs))
    return cells


@dataclass(frozen=True)
class Reviewer:
    username: str


@dataclass(frozen=True)
class RunLine:
    """A run as the job's page lists it (the attributes the run_badge macro reads, and the columns)."""

    id: int
    run_at: datetime
    status: str
    effective_status: str
    override_id: int | None
    marked_success_at: datetime | None
    reviewed_at: datetime | None
    reviewed_by: Reviewer | None
    message: str | None
    remark: str | None


@dataclass(frozen=True)
class JobOverview:
    """Everything the job's page lists: one page of runs (newest first) and their total, the objects
    (rows with name, object_type, last_status, last_seen_at, last_error), the overrides (rows with id,
    active, object_name, status_match, error_text, error_match, comment) and the status bar."""

    runs: list[RunLine]
    run_total: int
    objects: list
    overrides: list
    bar: list[DayCell]


def job_overview(job_id: int, zone: ZoneInfo, now_at: datetime, page: int = 1, per_page: int = 25) -> JobOverview:
    connection = db.session.connection()  # Core statements: the session's ORM layer has nothing to add
    params = {"job_id": job_id}
    runs = [
        RunLine(id=run_id, run_at=run_at, status=status, effective_status=effective, override_id=override_id,
                marked_success_at=marked_at, reviewed_at=reviewed_at,
                reviewed_by=Reviewer(username) if username is not None else None, message=message, remark=remark)
        for run_id, run_at, status, effective, override_id, marked_at, reviewed_at, username, message, remark
        in connection.execute(_RUN_PAGE, {"job_id": job_id, "limit": per_page,
                                          "offset": (page - 1) * per_page}).all()]
    return JobOverview(runs=runs, run_total=connection.scalar(_RUN_TOTAL, params) or 0,
                       objects=connection.execute(_OBJECTS, params).all(),
                       overrides=connection.execute(_OVERRIDES, params).all(),
                       bar=job_status_bar(job_id, zone, now_at))
