"""The Cove import pass: Cove's account statistics -> cove_accounts staging rows -> runs of linked jobs.

Log in (the partner id is remembered for the settings page), then page through
EnumerateAccountStatistics. Each page is staged and turned into runs, then committed, before the
next page is asked for: no transaction stays open during a call to Cove, and when Cove fails
halfway, the pages already read stay stored and the summary says what went wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import requests

from ..clients.cove import PAGE_SIZE, CoveAccountStats, CoveClient, CoveError
from ..extensions import db
from ..models.types import utcnow
from ..services.audit import record_audit
from ..services.background import extend_lease, pass_is_due, release_task, start_pass
from ..services.cove_import import CoveImportSummary, ImportContext, import_accounts, start_import
from ..services.cove_mapping import DEFAULT_COLUMNS
from ..services.cove_settings import CoveNotConfigured, cove_client_from_settings, record_partner_id
from ..services.secrets import SecretUnreadable
from ..services.settings import get_settings

log = logging.getLogger(__name__)

TASK_NAME = "cove_import"
LEASE = timedelta(minutes=15)


def is_due(now_at: datetime) -> bool:
    settings = get_settings()
    if not (settings.cove_enabled and settings.cove_import_enabled):
        return False
    return pass_is_due(TASK_NAME, timedelta(minutes=max(1, settings.cove_import_interval_minutes)), now_at)


def run_once(now_at: datetime, *, force: bool = False, client_factory: Callable[[], CoveClient] | None = None,
             page_size: int = PAGE_SIZE) -> CoveImportSummary | None:
    """One pass, if due (or forced: "Run import now") and no other instance runs one. Commits per page."""
    holder = start_pass(TASK_NAME, now_at, due=force or is_due(now_at), lease=LEASE)
    if holder is None:
        return None
    summary = CoveImportSummary()
    fatal: str | None = None
    session = requests.Session()
    try:
        settings = get_settings()
        if not settings.cove_enabled:
            raise CoveNotConfigured("Cove Data Protection is not enabled in the settings.")
        client = client_factory() if client_factory else cove_client_from_settings(settings, session)
        db.session.commit()  # no transaction stays open while Cove is asked
        _import_all(client, now_at, summary, holder, page_size)
    except (CoveError, CoveNotConfigured, SecretUnreadable, requests.RequestException) as exc:
        # Pages read before the failure are committed and stay.
        db.session.rollback()
        fatal = str(exc)
        summary.errors.append(fatal)
    except Exception as exc:
        db.session.rollback()
        log.exception("Cove import pass failed")
        summary.errors.append(f"unexpected error: {type(exc).__name__}: {exc}")
        _finish(holder, summary, fatal=summary.errors[-1])
        raise
    finally:
        session.close()
    _finish(holder, summary, fatal=fatal)
    if summary.runs_created or summary.offline_runs:
        # New runs can fill slots and change schedules: check for missed runs at once.
        from . import missed_runs

        missed_runs.run_once(utcnow(), force=True)
    return summary


def _finish(holder: str, summary: CoveImportSummary, fatal: str | None = None) -> None:
    status = "error" if fatal or summary.errors else "ok"
    release_task(TASK_NAME, holder, utcnow(), status, summary.text(), summary.error_text())
    if fatal:
        record_audit("cove_import_failed", f"Cove import failed: {fatal}", details=summary.text())
    elif summary.accounts or summary.errors:
        record_audit("cove_import", f"Cove import: {summary.text()}", details=summary.error_text())
    db.session.commit()


def _import_all(client: CoveClient, now_at: datetime, summary: CoveImportSummary, holder: str,
                page_size: int) -> None:
    partner_id = client.login()
    record_partner_id(partner_id)
    context = start_import(now_at)
    db.session.commit()
    page: list[CoveAccountStats] = []
    try:
        for account in client.enumerate_account_statistics(DEFAULT_COLUMNS, partner_id=partner_id,
                                                           page_size=page_size):
            page.append(account)
            if len(page) >= page_size:
                _import_page(page, context, summary, holder)
                page = []
    except CoveError:
        # Cove failing halfway: what was read before the failure is stored all the same.
        if page:
            _import_page(page, context, summary, holder)
        raise
    if page:
        _import_page(page, context, summary, holder)


def _import_page(page: list[CoveAccountStats], context: ImportContext, summary: CoveImportSummary,
                 holder: str) -> None:
    import_accounts(page, context, summary)
    extend_lease(TASK_NAME, holder, utcnow(), LEASE)
    db.session.commit()
