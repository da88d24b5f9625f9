"""The Run Checks queue: one row per job with unreviewed runs, worst first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, not_, or_, select

from ..extensions import db
from ..models import Customer, Job, JobRun
from ..models.types import utcnow
from .tickets import indicators_for_jobs

# 3CX notices that are not backups never enter the queue (seeds: "UI and UX Notes").
HIDDEN_FROM_RUN_CHECKS = (("3CX", "Update"), ("3CX", "SSL Certificate"))
INCLUDE_REVIEWED_DAYS = 7
SEVERITY = case(
    (JobRun.effective_status == "failed", 4), (JobRun.effective_status == "missed", 3),
    (JobRun.effective_status == "warning", 2), else_=1)
SEVERITY_NAMES = {4: "failed", 3: "missed", 2: "warning", 1: "success"}


def hidden_job_condition():
    return or_(*[and_(Job.backup_software == software, Job.backup_type == backup_type)
                 for software, backup_type in HIDDEN_FROM_RUN_CHECKS])


@dataclass(frozen=True)
class RunCheckRow:
    job_id: int
    customer_id: int
    customer_name: str
    job_name: str
    backup_software: str
    backup_type: str
    worst_status: str
    counts: dict[str, int]
    last_run_at: datetime
    unreviewed: int
    # 🎫 an open ticket and 💬 an active remark whose scopes match the job.
    has_open_ticket: bool = False
    has_active_remark: bool = False


@dataclass(frozen=True)
class RunCheckFilters:
    customer_id: int | None = None
    software: str | None = None
    status: str | None = None
    include_reviewed: bool = False


def _grouped(filters: RunCheckFilters, now_at: datetime):
    run_filter = (JobRun.run_at >= now_at - timedelta(days=INCLUDE_REVIEWED_DAYS) if filters.include_reviewed
                  else JobRun.reviewed_at.is_(None))
    worst = func.max(SEVERITY).label("worst")
    query = (
        select(JobRun.job_id, worst,
               func.sum(case((JobRun.effective_status == "success", 1), else_=0)).label("success"),
               func.sum(case((JobRun.effective_status == "warning", 1), else_=0)).label("warning"),
               func.sum(case((JobRun.effective_status == "failed", 1), else_=0)).label("failed"),
               func.sum(case((JobRun.effective_status == "missed", 1), else_=0)).label("missed"),
               func.sum(case((JobRun.reviewed_at.is_(None), 1), else_=0)).label("unreviewed"),
               func.max(JobRun.run_at).label("last_run_at"))
        .join(Job, Job.id == JobRun.job_id)
        .where(run_filter, Job.deleted_at.is_(None), Job.archived_at.is_(None), not_(hidden_job_condition()))
        .group_by(JobRun.job_id)
    )
    if filters.customer_id:
        query = query.where(Job.customer_id == filters.customer_id)
    if filters.software:
        query = query.where(Job.backup_software == filters.software)
    if filters.status:
        query = query.having(func.sum(case((JobRun.effective_status == filters.status, 1), else_=0)) > 0)
    return query


def run_check_page(filters: RunCheckFilters, page: int, per_page: int,
                   now_at: datetime | None = None) -> tuple[list[RunCheckRow], int]:
    """One page of rows, worst status first, then the most recent run; and the number of rows."""
    now_at = now_at or utcnow()
    grouped = _grouped(filters, now_at).subquery()
    total = db.session.scalar(select(func.count()).select_from(grouped)) or 0
    rows = db.session.execute(
        select(grouped, Customer.name, Job.customer_id, Job.job_name, Job.backup_software, Job.backup_type)
        .join(Job, Job.id == grouped.c.job_id).join(Customer, Customer.id == Job.customer_id)
        .order_by(grouped.c.worst.desc(), grouped.c.last_run_at.desc(), Job.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    indicators = indicators_for_jobs([(r.job_id, r.customer_id, r.backup_software, r.backup_type) for r in rows])
    return [RunCheckRow(job_id=r.job_id, customer_name=r.name, job_name=r.job_name, backup_software=r.backup_software,
                        backup_type=r.backup_type, worst_status=SEVERITY_NAMES[r.worst],
                        counts={"failed": r.failed, "missed": r.missed, "warning": r.warning, "success": r.success},
                        last_run_at=r.last_run_at, unreviewed=r.unreviewed, customer_id=r.customer_id,
                        has_open_ticket=indicators[r.job_id].tickets,
                        has_active_remark=indicators[r.job_id].remarks) for r in rows], total


def unreviewed_run_count() -> int:
    return db.session.scalar(
        select(func.count(JobRun.id)).join(Job, Job.id == JobRun.job_id)
        .where(JobRun.reviewed_at.is_(None), Job.deleted_at.is_(None), Job.archived_at.is_(None),
               not_(hidden_job_condition()))) or 0
