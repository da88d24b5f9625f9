"""The mail import pass: Microsoft 365 mailbox -> stored mails -> runs.

For each group of a few messages: download their MIME, store and process them, commit, and only
then move them to the processed folder. A failure before the commit leaves the group's messages
unstored in the source folder; one between the commit and the move leaves a message stored but in
the source folder, and the next pass finds it already stored (same Internet Message-ID) and just
moves it. Either way nothing is lost and nothing is stored twice.
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
from ..services.context_cache import forget_all
from ..services.graph_settings import MailImportNotConfigured, graph_client_from_settings
from ..services.mail_ingest import IngestResult, ingest_message
from ..services.secrets import SecretUnreadable
from ..services.settings import get_settings

log = logging.getLogger(__name__)

TASK_NAME = "mail_import"
LEASE = timedelta(minutes=10)
LEASE_EVERY = 50  # mails between lease extensions
# Mails stored per transaction. A commit costs a round trip and a disk flush, and a new transaction a
# connection check-out; shared by a group, they stop dominating. Kept small: a group waits in memory
# between its download and its commit, and a failure retries its mails one by one.
GROUP_SIZE = 20
GROUP_BYTES = 16 * 1024 * 1024  # a group of large mails closes early
# What the pass needs of a listed message (the MIME is downloaded on its own).
LISTING_FIELDS = ("id", "internetMessageId", "receivedDateTime")


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


@dataclass(frozen=True)
class _Listed:
    message_id: str
    internet_message_id: str | None
    received_at: datetime


@dataclass(frozen=True)
class _Downloaded:
    listed: _Listed
    raw: bytes


def _import_all(client: GraphClient, source_folder: str, processed_folder: str, batch_size: int,
                summary: ImportSummary, holder: str) -> None:
    processed = client.ensure_folder(processed_folder)
    source = client.find_folder(source_folder) or client.get_folder(source_folder)
    if source.id == processed.id:
        raise MailImportNotConfigured("The source and processed folders are the same folder.")
    # List first, then process: moving messages while paging with $skip would skip some.
    listing = [_Listed(m.id, m.internet_message_id, m.received_at)
               for m in client.list_messages(source.id, page_size=max(1, min(batch_size, 1000)),
                                             fields=LISTING_FIELDS)]
    summary.listed = len(listing)
    session = db.session()
    expire_on_commit = session.expire_on_commit
    # The pass reads back nothing it wrote, and what it keeps across commits (the jobs it found)
    # is checked again when used; not expiring saves reloading those jobs after every commit.
    session.expire_on_commit = False
    try:
        group: list[_Downloaded] = []
        group_bytes = 0
        for position, listed in enumerate(listing, start=1):
            # Downloads happen outside a transaction; a group is stored in one transaction and
            # only then moved.
            try:
                raw = client.get_mime(listed.message_id)
            except GraphError as exc:
                summary.errors.append(f"{listed.internet_message_id}: download failed: {exc}")
            else:
                group.append(_Downloaded(listed, raw))
                group_bytes += len(raw)
            if len(group) >= GROUP_SIZE or group_bytes >= GROUP_BYTES or position == len(listing):
                _store_and_move(group, client, processed.id, summary)
                group, group_bytes = [], 0
            if position % LEASE_EVERY == 0:
                extend_lease(TASK_NAME, holder, utcnow(), LEASE)
                db.session.commit()
    finally:
        session.expire_on_commit = expire_on_commit
        session.expire_all()


def _store_and_move(group: list[_Downloaded], client: GraphClient, processed_id: str,
                    summary: ImportSummary) -> None:
    for item, result in _store(group, summary):
        if result.created:
            summary.stored += 1
            summary.runs += 1 if result.run is not None else 0
        else:
            summary.duplicates += 1
        _move(client, item.listed, processed_id, summary)


def _ingest(item: _Downloaded) -> IngestResult:
    return ingest_message(item.raw, received_at=item.listed.received_at, graph_message_id=item.listed.message_id,
                          fallback_message_id=item.listed.internet_message_id)


def _rollback() -> None:
    db.session.rollback()
    # Whatever was read, written or remembered in the rolled-back transaction may be gone with it.
    # The mails and runs handed to the session as loaded (mail_ingest) would stay in it, as rows
    # that no longer exist (and whose ids SQLite gives out again): start clean.
    db.session.expunge_all()
    forget_all()


def _store(group: list[_Downloaded], summary: ImportSummary) -> list[tuple[_Downloaded, IngestResult]]:
    """Store a group of mails in one transaction; the ones stored (or found stored), in order.

    A failure rolls the group back and stores its mails one by one, so a bad mail stays behind
    alone (in the source folder, for the next pass) and the others are stored.
    """
    if len(group) > 1:
        try:
            results = [_ingest(item) for item in group]
            db.session.commit()
            return list(zip(group, results, strict=True))
        except Exception:  # noqa: BLE001 - retried mail by mail below, where the failure is reported
            _rollback()
    stored = []
    for item in group:
        try:
            result = _ingest(item)
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - one bad mail must not stop the pass; it stays in the source
            _rollback()
            log.exception("storing %s failed", item.listed.internet_message_id)
            summary.errors.append(f"{item.listed.internet_message_id}: not stored: {type(exc).__name__}: {exc}")
            continue
        stored.append((item, result))
    return stored


def _move(client: GraphClient, listed: _Listed, processed_id: str, summary: ImportSummary) -> None:
    try:
        client.move_message(listed.message_id, processed_id)
        summary.moved += 1
    except GraphError as exc:
        if exc.code == "ErrorItemNotFound":
            summary.moved += 1  # an earlier attempt moved it; only the answer was lost
        else:
            summary.errors.append(f"{listed.internet_message_id}: stored, but not moved: {exc}")
