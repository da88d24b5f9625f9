"""Re-parse every Inbox mail (after a parser was added or fixed), with progress for the page."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..extensions import db
from ..models import MailMessage
from ..models.types import utcnow
from ..services.audit import record_audit
from ..services.background import claim_task, instance_name, release_task, report_progress
from ..services.inbox import inbox_mail_ids, reparse_mail

TASK_NAME = "reparse_inbox"
LEASE = timedelta(minutes=30)
PROGRESS_EVERY = 20


def run_once(now_at: datetime, actor_username: str = "system") -> tuple[int, int] | None:
    """Re-parse all Inbox mails; returns (mails re-parsed, runs created), or None when already running."""
    holder = instance_name()
    if not claim_task(TASK_NAME, holder, now_at, LEASE):
        db.session.commit()
        return None
    ids = inbox_mail_ids()
    report_progress(TASK_NAME, 0, len(ids))
    db.session.commit()
    became_runs = 0
    try:
        for position, mail_id in enumerate(ids, start=1):
            mail = db.session.get(MailMessage, mail_id)
            if mail is not None and reparse_mail(mail):
                became_runs += 1
            if position % PROGRESS_EVERY == 0 or position == len(ids):
                report_progress(TASK_NAME, position, len(ids))
                db.session.commit()
    except Exception as exc:
        db.session.rollback()
        release_task(TASK_NAME, holder, utcnow(), "error", None, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        raise
    summary = f"{len(ids)} Inbox mail(s) re-parsed, {became_runs} became runs of known jobs"
    release_task(TASK_NAME, holder, utcnow(), "ok", summary)
    record_audit("inbox_reparsed", f"Re-parse requested by {actor_username}: {summary}")
    db.session.commit()
    return len(ids), became_runs
