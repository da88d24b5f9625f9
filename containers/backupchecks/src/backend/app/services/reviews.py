"""Reviewing runs (emptying the Run Checks queue) and marking a run as success."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update

from ..extensions import db
from ..models import Job, JobRun, User
from ..models.types import utcnow
from .audit import record_audit
from .overrides import OverrideInput, create_override, reapply_overrides, run_problems


def review_runs(actor: User, runs: Sequence[JobRun]) -> int:
    now_at = utcnow()
    count = 0
    for run in runs:
        if run.reviewed_at is None:
            run.reviewed_at, run.reviewed_by_id = now_at, actor.id
            count += 1
    db.session.flush()
    return count


def review_jobs(actor: User, job_ids: Sequence[int]) -> int:
    """Mark every unreviewed run of these jobs reviewed (the Run Checks row action)."""
    if not job_ids:
        return 0
    result = db.session.execute(
        update(JobRun).where(JobRun.job_id.in_(list(job_ids)), JobRun.reviewed_at.is_(None))
        .values(reviewed_at=utcnow(), reviewed_by_id=actor.id).execution_options(synchronize_session=False))
    db.session.expire_all()
    if result.rowcount:
        names = db.session.scalars(select(Job.job_name).where(Job.id.in_(list(job_ids)))).all()
        record_audit("runs_reviewed", f"{result.rowcount} run(s) of {len(job_ids)} job(s) marked reviewed",
                     actor, details=", ".join(sorted(names)))
    return result.rowcount


def unreview_jobs(actor: User, job_ids: Sequence[int]) -> int:
    """Put reviewed runs of these jobs back in the queue (admin), with overrides re-applied."""
    if not job_ids:
        return 0
    result = db.session.execute(
        update(JobRun).where(JobRun.job_id.in_(list(job_ids)), JobRun.reviewed_at.is_not(None))
        .values(reviewed_at=None, reviewed_by_id=None).execution_options(synchronize_session=False))
    db.session.expire_all()
    reapply_overrides(job_ids)
    if result.rowcount:
        record_audit("runs_unreviewed", f"{result.rowcount} run(s) of {len(job_ids)} job(s) unmarked as reviewed",
                     actor)
    return result.rowcount


def unreview_runs(actor: User, runs: Sequence[JobRun]) -> int:
    count = 0
    for run in runs:
        if run.reviewed_at is not None:
            run.reviewed_at = run.reviewed_by_id = None
            count += 1
    db.session.flush()
    if count:
        reapply_overrides({r.job_id for r in runs})
        record_audit("runs_unreviewed", f"{count} run(s) unmarked as reviewed", actor)
    return count


def mark_run_success(actor: User, run: JobRun, create_future_override: bool, comment: str | None = None) -> None:
    """Count this run as success; optionally create an override so the same problem on later runs
    of the job counts as success too."""
    if create_future_override:
        problem = (run_problems(run) or [None])[0]
        create_override(actor, OverrideInput(
            level="object", job_id=run.job_id, object_name=problem.object_name if problem else None,
            backup_software=None, backup_type=None, status_match=run.status if run.status != "success" else None,
            error_text=problem.error if problem and problem.error else None, error_match="contains",
            valid_from=None, valid_until=None, active=True,
            comment=comment or f"Created from run {run.id} with “Mark as success”"))
    run.marked_success_at, run.marked_success_by_id = utcnow(), actor.id
    run.effective_status = "success"
    db.session.flush()
    record_audit("run_marked_success", f"Run {run.id} of {run.job.job_name} marked as success"
                 + (" with an override for future runs" if create_future_override else ""), actor)

