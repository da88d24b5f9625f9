"""Missed runs: a run the schedule expected that did not come.

A slot is missed once its tolerance window plus the grace time has passed without a run. It gets a
JobRun with status "missed" (one per slot: job_runs has a unique (job_id, missed_slot_at)), which
goes to Run Checks like any other run. A real run that arrives late for the slot replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Customer, Job, JobRun
from .context_cache import cached
from .job_schedules import effective_schedule, is_paused, learn_job_schedule, needs_relearning
from .runs import finish_new_run
from .schedules import MONTHLY_LOOKBACK, LearnedSchedule, expected_slots, match_runs_to_slots, slot_status
from .settings import missed_grace_minutes, ui_zone

# A pass looks this far back at most: after a long outage it fills two weeks, not the whole history.
MAX_LOOKBACK = timedelta(days=14)


@dataclass
class MissedPassSummary:
    jobs_checked: int = 0
    schedules_learned: int = 0
    missed_created: int = 0


def _eligible_jobs(job_ids: list[int] | None) -> list[Job]:
    query = (select(Job).join(Customer, Customer.id == Job.customer_id)
             .where(Job.deleted_at.is_(None), Job.archived_at.is_(None), Customer.active.is_(True),
                    Job.informational.is_(False), Job.cove_account_id.is_(None) | (Job.backup_type != "Workstation")))
    if job_ids is not None:
        query = query.where(Job.id.in_(job_ids))
    return list(db.session.scalars(query.order_by(Job.id)))


def _runs_by_job(job_ids: list[int], since_at: datetime, columns, real_only: bool) -> dict[int, list]:
    """Runs of many jobs in one query per 500 jobs (one query per job costs seconds for 2,000 jobs)."""
    grouped: dict[int, list] = {job_id: [] for job_id in job_ids}
    for start in range(0, len(job_ids), 500):
        query = select(JobRun.job_id, *columns).where(JobRun.job_id.in_(job_ids[start:start + 500]),
                                                      JobRun.run_at >= since_at).order_by(JobRun.job_id, JobRun.run_at)
        if real_only:
            query = query.where(JobRun.status != "missed")
        for row in db.session.execute(query):
            grouped[row[0]].append(row[1:] if len(row) > 2 else row[1])
    return grouped


def ensure_missed_runs(now_at: datetime, job_ids: list[int] | None = None) -> MissedPassSummary:
    """Create the missed runs of every eligible job up to ``now_at``; idempotent. Flushes."""
    zone, grace = ui_zone(), missed_grace_minutes()
    summary = MissedPassSummary()
    jobs = _eligible_jobs(job_ids)
    if not jobs:
        return summary
    ids = [job.id for job in jobs]
    bounds = {job_id: (first, last) for job_id, first, last in db.session.execute(
        select(JobRun.job_id, func.min(JobRun.run_at), func.max(JobRun.run_at))
        .where(JobRun.job_id.in_(ids), JobRun.status != "missed").group_by(JobRun.job_id))}
    stale = [job for job in jobs if job.schedule_mode == "learned"
             and needs_relearning(job, now_at, bounds.get(job.id, (None, None))[1])]
    if stale:
        history = _runs_by_job([job.id for job in stale], now_at - MONTHLY_LOOKBACK, [JobRun.run_at], real_only=True)
        for job in stale:
            learn_job_schedule(job, now_at, zone, [t for t in history[job.id] if t <= now_at])
            summary.schedules_learned += 1
    # Slack before the look-back for the widest tolerance plus grace, so a run near the window's
    # start still fills its slot.
    recent = _runs_by_job(ids, now_at - MAX_LOOKBACK - timedelta(days=1),
                          [JobRun.run_at, JobRun.status, JobRun.missed_slot_at], real_only=False)
    for job in jobs:
        summary.jobs_checked += 1
        schedule = effective_schedule(job)
        if schedule is None or job.schedule_expected_since_at is None or job.id not in bounds:
            continue
        start_at = max(job.schedule_expected_since_at, bounds[job.id][0], now_at - MAX_LOOKBACK)
        summary.missed_created += _missed_for_job(job, schedule, start_at, now_at, zone, grace, recent[job.id])
    db.session.flush()
    return summary


def _missed_for_job(job: Job, schedule: LearnedSchedule, start_at: datetime, now_at: datetime, zone: ZoneInfo,
                    grace: int, rows: list) -> int:
    slots = [s for s in expected_slots(schedule, start_at, now_at, zone) if not is_paused(job, s.local_date)]
    if not slots:
        return 0
    real_runs = [run_at for run_at, status, _slot in rows if status != "missed"]
    recorded = {slot_at for _run_at, _status, slot_at in rows if slot_at is not None}
    created = 0
    for slot, run_at in match_runs_to_slots(slots, real_runs, grace_minutes=grace):
        if slot.slot_at in recorded or slot_status(slot, run_at, now_at, grace) != "missed":
            continue
        run = JobRun(job_id=job.id, run_at=slot.slot_at, status="missed", missed_slot_at=slot.slot_at,
                     message=f"No run arrived for the {slot.local_time} slot of {slot.local_date.isoformat()} "
                             f"(expected {schedule.describe()}).")
        try:
            with db.session.begin_nested():
                db.session.add(run)
                db.session.flush()
        except IntegrityError:
            continue  # another instance recorded this slot meanwhile
        finish_new_run(job, run)
        jobs_with_missed_runs().add(job.id)
        created += 1
    return created


def jobs_with_missed_runs() -> set[int]:
    """Ids of jobs that have missed runs: a new run of any other job cannot replace one, which
    saves the import a query per mail."""
    return cached("jobs_with_missed_runs", lambda: set(db.session.scalars(
        select(JobRun.job_id).where(JobRun.status == "missed").distinct())))


def replace_missed_run(job: Job, run: JobRun) -> JobRun | None:
    """A real run arrived late for a slot that was already reported missed: the missed run goes.

    Returns the missed run that was removed (flushed), or None.
    """
    if run.status == "missed" or job.id not in jobs_with_missed_runs():
        return None
    schedule = effective_schedule(job)
    if schedule is None:
        return None
    reach = timedelta(minutes=schedule.tolerance_minutes + missed_grace_minutes())
    candidates = db.session.scalars(
        select(JobRun).where(JobRun.job_id == job.id, JobRun.status == "missed",
                             JobRun.missed_slot_at >= run.run_at - reach, JobRun.missed_slot_at <= run.run_at + reach)
    ).all()
    if not candidates:
        return None
    nearest = min(candidates, key=lambda m: abs((m.missed_slot_at - run.run_at).total_seconds()))
    db.session.delete(nearest)
    db.session.flush()
    return nearest

