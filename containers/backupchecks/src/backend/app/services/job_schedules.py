"""Each job's schedule: learned from its runs (cached on the job), set by hand, none, or paused."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..extensions import db
from ..models import Job, JobRun, User
from ..models.types import utcnow
from .audit import record_audit
from .schedules import MONTHLY_LOOKBACK, LearnedSchedule, infer_schedule

# Learned schedules are re-learned at most this often, and after new runs arrive.
RELEARN_AFTER = timedelta(hours=12)
# Jobs that are notices, not backups: never expected, never missed (seeds: 3CX Update / SSL Certificate).
NEVER_SCHEDULED = (("3CX", "Update"), ("3CX", "SSL Certificate"))
SCHEDULE_MODES = ("learned", "manual", "none")


def never_scheduled(job: Job) -> bool:
    return job.informational or (job.backup_software, job.backup_type) in NEVER_SCHEDULED


def cached_schedule(job: Job) -> LearnedSchedule | None:
    if not job.learned_schedule_json:
        return None
    return LearnedSchedule.from_dict(json.loads(job.learned_schedule_json))


def manual_schedule(job: Job) -> LearnedSchedule | None:
    if not job.manual_schedule_json:
        return None
    return LearnedSchedule.from_dict(json.loads(job.manual_schedule_json))


def learn_job_schedule(job: Job, now_at: datetime, zone: ZoneInfo,
                       run_times: Sequence[datetime] | None = None) -> LearnedSchedule:
    """Learn from the job's own runs (missed runs excluded: they are our guesses, not evidence)."""
    if run_times is None:
        run_times = db.session.scalars(
            select(JobRun.run_at).where(JobRun.job_id == job.id, JobRun.status != "missed",
                                        JobRun.run_at >= now_at - MONTHLY_LOOKBACK, JobRun.run_at <= now_at)
            .order_by(JobRun.run_at)).all()
    schedule = infer_schedule(run_times, zone, now_at) if not never_scheduled(job) else LearnedSchedule.irregular()
    previous = cached_schedule(job)
    job.learned_schedule_json = json.dumps(schedule.to_dict(include_meta=True))
    job.schedule_learned_at = now_at
    if job.schedule_mode == "learned":
        _track_expected_since(job, previous, schedule, now_at)
    return schedule


def _track_expected_since(job: Job, previous: LearnedSchedule | None, schedule: LearnedSchedule,
                          now_at: datetime) -> None:
    # A job starts to be checked from the moment a schedule expects runs; a schedule that changed
    # (new days or times) restarts that moment, so slots before the change are never reported missed.
    if not schedule.expects_runs:
        job.schedule_expected_since_at = None
    elif (job.schedule_expected_since_at is None or previous is None or not previous.expects_runs
          or (previous.kind, previous.weekdays, previous.days_of_month, previous.nth_weekday, previous.times)
          != (schedule.kind, schedule.weekdays, schedule.days_of_month, schedule.nth_weekday, schedule.times)):
        job.schedule_expected_since_at = now_at


def needs_relearning(job: Job, now_at: datetime, last_run_at: datetime | None) -> bool:
    if job.schedule_learned_at is None or job.learned_schedule_json is None:
        return True
    if last_run_at is not None and last_run_at > job.schedule_learned_at:
        return True
    return job.schedule_learned_at + RELEARN_AFTER <= now_at


def effective_schedule(job: Job) -> LearnedSchedule | None:
    """The schedule the job is checked against, or None when nothing is expected (no schedule yet,
    no schedule by choice, never scheduled)."""
    if never_scheduled(job) or job.schedule_mode == "none":
        return None
    schedule = manual_schedule(job) if job.schedule_mode == "manual" else cached_schedule(job)
    return schedule if schedule is not None and schedule.expects_runs else None


def is_paused(job: Job, day: date) -> bool:
    return job.paused_until is not None and day <= job.paused_until


def schedule_summary(job: Job, zone: ZoneInfo) -> str:
    """What a person sees beside the schedule: the schedule with its evidence, or why there is none."""
    if never_scheduled(job):
        return "not scheduled: informational notices are never expected"
    if job.schedule_mode == "none":
        return "no schedule (set by hand): nothing is expected"
    if job.schedule_mode == "manual":
        schedule = manual_schedule(job)
        return schedule.evidence_text(zone) + " — it wins over the learned schedule" if schedule else "manual: not set"
    schedule = cached_schedule(job)
    return schedule.evidence_text(zone) if schedule else "not learned yet"


def set_manual_schedule(actor: User, job: Job, schedule: LearnedSchedule) -> None:
    job.schedule_mode = "manual"
    job.manual_schedule_json = json.dumps(schedule.to_dict(include_meta=True))
    job.schedule_expected_since_at = utcnow() if schedule.expects_runs else None
    record_audit("schedule_set", f"Schedule of {job.job_name} set by hand: {schedule.describe()}", actor)
    db.session.flush()


def set_schedule_mode(actor: User, job: Job, mode: str) -> None:
    """"learned" (the default) or "none" (nothing expected); "manual" goes through set_manual_schedule."""
    if mode not in ("learned", "none"):
        raise ValueError(f"unknown schedule mode {mode!r}")
    job.schedule_mode = mode
    if mode == "none":
        job.schedule_expected_since_at = None
    else:
        schedule = cached_schedule(job)
        job.schedule_expected_since_at = utcnow() if schedule and schedule.expects_runs else None
    described = "learned from its runs" if mode == "learned" else "none"
    record_audit("schedule_set", f"Schedule of {job.job_name}: {described}", actor)
    db.session.flush()


def pause_job(actor: User, job: Job, until: date | None) -> None:
    """Maintenance: until (and including) ``until`` nothing is expected and nothing is missed."""
    job.paused_until = until
    record_audit("job_paused" if until else "job_resumed",
                 f"Job {job.job_name} paused until {until.isoformat()}" if until else f"Job {job.job_name} resumed",
                 actor)
    db.session.flush()
