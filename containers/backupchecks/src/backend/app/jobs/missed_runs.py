"""The missed-run pass: every few minutes, and right after each mail import."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..extensions import db
from ..models.types import utcnow
from ..services.audit import record_audit
from ..services.background import pass_is_due, release_task, start_pass
from ..services.missed_runs import MissedPassSummary, ensure_missed_runs

TASK_NAME = "missed_runs"
INTERVAL = timedelta(minutes=5)
LEASE = timedelta(minutes=15)


def run_once(now_at: datetime, *, force: bool = False) -> MissedPassSummary | None:
    holder = start_pass(TASK_NAME, now_at, due=force or pass_is_due(TASK_NAME, INTERVAL, now_at), lease=LEASE)
    if holder is None:
        return None
    try:
        summary = ensure_missed_runs(now_at)
    except Exception as exc:
        db.session.rollback()
        release_task(TASK_NAME, holder, utcnow(), "error", None, f"{type(exc).__name__}: {exc}")
        record_audit("missed_runs_failed", f"Missed-run pass failed: {type(exc).__name__}: {exc}")
        db.session.commit()
        raise
    text = (f"{summary.jobs_checked} job(s) checked, {summary.schedules_learned} schedule(s) learned, "
            f"{summary.missed_created} missed run(s) created")
    release_task(TASK_NAME, holder, utcnow(), "ok", text)
    if summary.missed_created:
        record_audit("missed_runs", f"Missed-run pass: {text}")
    db.session.commit()
    return summary
