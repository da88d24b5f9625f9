from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.app.extensions import db
from backend.app.jobs import missed_runs as missed_pass
from backend.app.models import JobRun
from backend.app.services.job_schedules import (
    effective_schedule,
    pause_job,
    schedule_summary,
    set_manual_schedule,
    set_schedule_mode,
)
from backend.app.services.mail_ingest import ingest_message
from backend.app.services.missed_runs import ensure_missed_runs, replace_missed_run
from backend.app.services.schedules import LearnedSchedule

from ..factories import make_customer, make_job, make_run, make_user
from ..mailfactory import fixture_mail, variant

AMS = ZoneInfo("Europe/Amsterdam")
# Wednesday 25 November 2026, 09:00 in Amsterdam.
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=AMS).astimezone(UTC)


def _nightly(job, nights: int, skip_last: int = 0, at: time = time(22, 0)) -> None:
    today = NOW.astimezone(AMS).date()
    for offset in range(nights, skip_last, -1):
        day = today - timedelta(days=offset)
        make_run(job, status="success", run_at=datetime.combine(day, at, tzinfo=AMS).astimezone(UTC))


def _missed(job) -> list[JobRun]:
    return list(db.session.scalars(select(JobRun).where(JobRun.job_id == job.id, JobRun.status == "missed")
                                   .order_by(JobRun.run_at)))


def _learned_long_ago(job) -> None:
    """Learn now, then pretend the schedule has expected runs for weeks (so recent slots count)."""
    ensure_missed_runs(NOW, [job.id])
    job.schedule_expected_since_at = NOW - timedelta(days=30)


def test_a_skipped_night_becomes_one_missed_run_and_the_pass_is_idempotent(app):
    job = make_job(make_customer())
    _nightly(job, 40, skip_last=1)  # nothing last night (24 Nov, 22:00)
    _learned_long_ago(job)
    summary = ensure_missed_runs(NOW, [job.id])
    missed = _missed(job)
    assert summary.missed_created == 1 and len(missed) == 1
    assert missed[0].missed_slot_at == datetime(2026, 11, 24, 22, 0, tzinfo=AMS).astimezone(UTC)
    assert missed[0].effective_status == "missed" and missed[0].reviewed_at is None
    assert ensure_missed_runs(NOW, [job.id]).missed_created == 0
    assert ensure_missed_runs(NOW + timedelta(minutes=5), [job.id]).missed_created == 0


def test_nothing_is_missed_before_tolerance_and_grace_have_passed(app):
    job = make_job(make_customer())
    _nightly(job, 40, skip_last=1)
    _learned_long_ago(job)
    schedule = effective_schedule(job)
    slot = datetime(2026, 11, 24, 22, 0, tzinfo=AMS).astimezone(UTC)
    just_before = slot + timedelta(minutes=schedule.tolerance_minutes + 60 - 1)
    assert ensure_missed_runs(just_before, [job.id]).missed_created == 0
    assert ensure_missed_runs(slot + timedelta(minutes=schedule.tolerance_minutes + 61), [job.id]).missed_created == 1


def test_nothing_is_missed_before_the_schedule_was_learned(app):
    job = make_job(make_customer())
    _nightly(job, 40, skip_last=3)
    ensure_missed_runs(NOW, [job.id])  # learned now: the three empty nights before are not reported
    assert _missed(job) == []


def test_late_run_replaces_its_missed_run(app):
    job = make_job(make_customer())
    _nightly(job, 40, skip_last=1)
    _learned_long_ago(job)
    ensure_missed_runs(NOW, [job.id])
    assert len(_missed(job)) == 1
    late = make_run(job, status="success", run_at=datetime(2026, 11, 24, 23, 10, tzinfo=AMS).astimezone(UTC))
    removed = replace_missed_run(job, late)
    assert removed is not None and _missed(job) == []
    assert ensure_missed_runs(NOW, [job.id]).missed_created == 0


def test_mail_for_the_slot_arriving_late_replaces_the_missed_run(app):
    raw = fixture_mail("3cx/3cx-backup-success.eml")
    first = ingest_message(variant(raw, "<m0@pbx>", NOW - timedelta(days=41))).mail
    from backend.app.services.inbox import approve_inbox_mail

    job = approve_inbox_mail(make_user("operator"), first, make_customer()).job
    db.session.query(JobRun).delete()
    _nightly(job, 40, skip_last=0, at=time(3, 0))  # 03:00 each night up to the 24th; the 25th's is missing
    _learned_long_ago(job)
    ensure_missed_runs(NOW, [job.id])
    assert len(_missed(job)) == 1
    late_at = datetime(2026, 11, 25, 4, 0, tzinfo=AMS).astimezone(UTC)
    result = ingest_message(variant(raw, "<late@pbx>", late_at), received_at=late_at)
    assert result.run is not None and _missed(job) == []


def test_paused_manual_none_and_informational_jobs(app):
    actor = make_user("operator")
    paused, manual, none, info = (make_job(make_customer(), job_name=n) for n in ("paused", "manual", "none", "info"))
    info.informational = True
    for job in (paused, manual, none, info):
        _nightly(job, 40, skip_last=1)
    for job in (paused, manual, none, info):
        _learned_long_ago(job)
    pause_job(actor, paused, date(2026, 11, 24))
    set_manual_schedule(actor, manual, LearnedSchedule.manual("daily", times=["06:00"], tolerance_minutes=30))
    manual.schedule_expected_since_at = NOW - timedelta(days=30)
    set_schedule_mode(actor, none, "none")
    ensure_missed_runs(NOW, [paused.id, manual.id, none.id, info.id])
    assert _missed(paused) == [] and _missed(none) == [] and _missed(info) == []
    # The manual 06:00 schedule wins: every night's 22:00 run is "off-slot", so 06:00 was missed
    # for the two mornings it has been expected.
    assert [m.missed_slot_at.astimezone(AMS).time() for m in _missed(manual)] == [time(6, 0)] * 14
    assert "set by hand" in schedule_summary(manual, AMS) and "wins over" in schedule_summary(manual, AMS)
    assert schedule_summary(info, AMS).startswith("not scheduled")


def test_3cx_update_and_certificate_jobs_are_never_missed(app):
    for backup_type in ("Update", "SSL Certificate"):
        job = make_job(make_customer(), backup_software="3CX", backup_type=backup_type, job_name="pbx")
        _nightly(job, 40, skip_last=2)
        _learned_long_ago(job)
        ensure_missed_runs(NOW, [job.id])
        assert _missed(job) == [] and effective_schedule(job) is None


def test_the_pass_is_single_flight_and_records_its_outcome(app):
    job = make_job(make_customer())
    _nightly(job, 40, skip_last=1)
    _learned_long_ago(job)
    db.session.commit()
    summary = missed_pass.run_once(NOW, force=True)
    assert summary.missed_created == 1
    assert missed_pass.run_once(NOW + timedelta(minutes=1)) is None  # not due yet
    from backend.app.services.background import claim_task, get_task

    assert claim_task("missed_runs", "someone-else", NOW + timedelta(minutes=10), timedelta(minutes=15))
    assert missed_pass.run_once(NOW + timedelta(minutes=10)) is None  # leased by another instance
    task = get_task("missed_runs")
    assert task.lease_holder == "someone-else"
