"""Leases for background passes: with several workers or containers, one instance runs a pass.

A pass claims its task row with a conditional UPDATE (free, or its lease expired). The database
serialises concurrent claims on the row, so exactly one claimant sees its update succeed.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import BackgroundTask


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def get_task(name: str) -> BackgroundTask:
    task = db.session.get(BackgroundTask, name)
    if task is None:
        try:
            with db.session.begin_nested():
                task = BackgroundTask(name=name, progress_done=0, progress_total=0)
                db.session.add(task)
        except IntegrityError:  # created by another instance meanwhile
            task = db.session.get(BackgroundTask, name)
    return task


def claim_task(name: str, holder: str, now_at: datetime, lease: timedelta) -> bool:
    """Take the lease of ``name`` if nobody holds it; the caller commits at once."""
    get_task(name)
    result = db.session.execute(
        update(BackgroundTask)
        .where(BackgroundTask.name == name,
               or_(BackgroundTask.lease_expires_at.is_(None), BackgroundTask.lease_expires_at < now_at))
        .values(lease_holder=holder, lease_expires_at=now_at + lease, last_started_at=now_at, last_status="running",
                last_error=None, progress_done=0, progress_total=0)
        .execution_options(synchronize_session=False)
    )
    claimed = result.rowcount == 1
    db.session.expire_all()
    return claimed


def pass_is_due(name: str, interval: timedelta, now_at: datetime) -> bool:
    """Whether a periodic pass last started at least ``interval`` ago (or never)."""
    task = get_task(name)
    return task.last_started_at is None or task.last_started_at + interval <= now_at


def start_pass(name: str, now_at: datetime, *, due: bool, lease: timedelta) -> str | None:
    """The opening of every background pass: when due, claim its lease; commit either way, so the
    claim is visible to the other instances at once. The lease holder to release with, or None
    when the pass does not run now (not due, or another instance holds it)."""
    holder = instance_name()
    claimed = due and claim_task(name, holder, now_at, lease)
    db.session.commit()
    return holder if claimed else None


def extend_lease(name: str, holder: str, now_at: datetime, lease: timedelta) -> None:
    db.session.execute(update(BackgroundTask).where(BackgroundTask.name == name,
                                                    BackgroundTask.lease_holder == holder)
                       .values(lease_expires_at=now_at + lease).execution_options(synchronize_session=False))


def report_progress(name: str, done: int, total: int) -> None:
    db.session.execute(update(BackgroundTask).where(BackgroundTask.name == name)
                       .values(progress_done=done, progress_total=total)
                       .execution_options(synchronize_session=False))


def release_task(name: str, holder: str, now_at: datetime, status: str, summary: str | None,
                 error: str | None = None) -> None:
    db.session.execute(
        update(BackgroundTask).where(BackgroundTask.name == name, BackgroundTask.lease_holder == holder)
        .values(lease_holder=None, lease_expires_at=None, last_finished_at=now_at, last_status=status,
                last_summary=summary, last_error=error)
        .execution_options(synchronize_session=False))
    db.session.expire_all()
