"""The mail import pass: Microsoft 365 mailbox -> stored mails -> runs.

For each message: download its MIME, store and process it, commit, and only then move it to the
processed folder. A failure between the commit and the move leaves the message in the source
folder; the next pass finds it already stored (same Internet Message-ID) and just moves it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests

from ..clients.graph import GraphClient, GraphError
from ..extensions import db
from ..models.types import utcnow
from ..services.audit import record_audit
from ..services.background import claim_task, extend_lease, get_task, instance_name, release_task
from ..services.graph_settings import MailImportNotConfigured, graph_client_from_settings
from ..services.mail_ingest import ingest_message
from ..services.secrets import SecretUnreadable
from ..services.settings import get_settings

log = logging.getLogger(__name__)

TASK_NAME = "mail_import"
LEASE = timedelta(minutes=10)


@dataclass
class ImportSummary:
    listed: int = 0
    stored: int = 0
    duplicates: int = 0
    runs: int = 0
    moved: int = 0
    errors: list[str] = field(default_factory=list)

    def text(self) -> str:
        return (f"{self.listed} listed, {self.stored} new, {self.duplicates} already stored, {self.runs} run(s) "
                f"created, {self.moved} moved, {len(self.errors)} error(s)")


def is_due(now_at: datetime) -> bool:
    settings = get_settings()
    if not settings.mail_import_enabled:
        return False
    task = get_task(TASK_NAME)
    interval = timedelta(minutes=max(1, settings.mail_import_interval_minutes))
    return task.last_started_at is None or task.last_started_at + interval <= now_at


def run_once(now_at: datetime, *, force: bool = False,
             client_factory: Callable[[], GraphClient] | None = None) -> ImportSummary | None:
    """One pass, if due (or forced) and no other instance is running one. Commits as it goes."""
    if not force and not is_due(now_at):
        db.session.commit()
        return None
    holder = instance_name()
    if not claim_task(TASK_NAME, holder, now_at, LEASE):
        db.session.commit()
        return None
    db.session.commit()
    summary = ImportSummary()
    try:
        settings = get_settings()
        client = client_factory() if client_factory else graph_client_from_settings(settings, requests.Session())
        _import_all(client, settings.graph_source_folder, settings.graph_processed_folder,
                    settings.mail_import_batch_size, summary, holder)
    except (GraphError, MailImportNotConfigured, SecretUnreadable, requests.RequestException) as exc:
        db.session.rollback()
        summary.errors.append(str(exc))
        _finish(holder, summary, fatal=str(exc))
        return summary
    except Exception as exc:
        db.session.rollback()
        log.exception("mail import pass failed")
        summary.errors.append(f"unexpected error: {type(exc).__name__}: {exc}")
        _finish(holder, summary, fatal=summary.errors[-1])
        raise
    _finish(holder, summary)
    if summary.runs:
        # New runs can fill slots and change schedules: check for missed runs at once.
        from . import missed_runs

        missed_runs.run_once(utcnow(), force=True)
    return summary


def _finish(holder: str, summary: ImportSummary, fatal: str | None = None) -> None:
    now_at = utcnow()
    status = "error" if fatal or summary.errors else "ok"
    release_task(TASK_NAME, holder, now_at, status, summary.text(), "\n".join(summary.errors) or None)
    if fatal:
        record_audit("mail_import_failed", f"Mail import failed: {fatal}", details=summary.text())
    elif summary.listed or summary.errors:
        record_audit("mail_import", f"Mail import: {summary.text()}", details="\n".join(summary.errors) or None)
    db.session.commit()


def _import_all(client: GraphClient, source_folder: str, processed_folder: str, batch_size: int,
                summary: ImportSummary, holder: str) -> None:
    processed = client.ensure_folder(processed_folder)
    source = client.find_folder(source_folder) or client.get_folder(source_folder)
    if source.id == processed.id:
        raise MailImportNotConfigured("The source and processed folders are the same folder.")
    # List first, then process: moving messages while paging with $skip would skip some.
    listing = [(m.id, m.internet_message_id, m.received_at)
               for m in client.list_messages(source.id, page_size=max(1, min(batch_size, 1000)))]
    summary.listed = len(listing)
    for position, (message_id, internet_message_id, received_at) in enumerate(listing, start=1):
        try:
            raw = client.get_mime(message_id)
        except GraphError as exc:
            summary.errors.append(f"{internet_message_id}: download failed: {exc}")
            continue
        try:
            result = ingest_message(raw, received_at=received_at, graph_message_id=message_id,
                                    fallback_message_id=internet_message_id)
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - one bad mail must not stop the pass; it stays in the source
            db.session.rollback()
            log.exception("storing %s failed", internet_message_id)
            summary.errors.append(f"{internet_message_id}: not stored: {type(exc).__name__}: {exc}")
            continue
        if result.created:
            summary.stored += 1
            summary.runs += 1 if result.run is not None else 0
        else:
            summary.duplicates += 1
        try:
            client.move_message(message_id, processed.id)
            summary.moved += 1
        except GraphError as exc:
            if exc.code == "ErrorItemNotFound":
                summary.moved += 1  # an earlier attempt moved it; only the answer was lost
            else:
                summary.errors.append(f"{internet_message_id}: stored, but not moved: {exc}")
        if position % 50 == 0:
            extend_lease(TASK_NAME, holder, utcnow(), LEASE)
            db.session.commit()
