"""The PSA sync pass: what happened in Autotask to our tickets and to the mapped companies.

1. The open Autotask tickets (internal tickets with an Autotask id, neither resolved nor deleted) are
   read back by id. Complete resolves the internal ticket (it stops linking to new runs); a ticket
   that is gone from the answer, and also reads as missing by id, was deleted in Autotask. A ticket
   whose number could not be read back at creation gets it now.
2. The companies of all mapped customers are read back by id and each mapping's status is set
   (ok, renamed, missing, invalid).

The pass only reads from Autotask; it never updates a ticket, so it cannot wipe a description.
No transaction is open while it waits for Autotask: it reads what it needs, commits, calls, then
writes each ticket's change in its own commit. A failing API (wrong credentials, throttling, errors,
timeouts) is reported on the settings page and in the audit log, nothing is changed for the part that
failed, and the next pass simply asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from sqlalchemy import select

from ..clients.autotask import TICKET_STATUS_COMPLETE, AutotaskClient, AutotaskError
from ..extensions import db
from ..models import Ticket
from ..models.types import utcnow
from ..services.audit import record_audit
from ..services.autotask_mapping import apply_company_statuses, mapped_company_ids
from ..services.autotask_settings import AutotaskNotConfigured, autotask_client_from_settings, autotask_configured
from ..services.autotask_tickets import backfill_ticket_number
from ..services.background import extend_lease, pass_is_due, release_task, start_pass
from ..services.secrets import SecretUnreadable
from ..services.settings import get_settings
from ..services.tickets import mark_autotask_ticket_deleted, resolve_ticket

log = logging.getLogger(__name__)

TASK_NAME = "autotask_sync"
LEASE = timedelta(minutes=10)
# A pass waits at most this long for one throttled answer before it gives up until the next pass.
CLIENT_OPTIONS = {"timeout": 30.0, "max_attempts": 3, "max_retry_wait": 60.0}
_TICKET_FIELDS = ("id", "ticketNumber", "status")


@dataclass
class SyncSummary:
    tickets_checked: int = 0
    resolved: int = 0
    deleted: int = 0
    numbers: int = 0
    companies_checked: int = 0
    mapping_changes: int = 0
    errors: list[str] = field(default_factory=list)

    def text(self) -> str:
        numbers = f", {self.numbers} number(s) learned" if self.numbers else ""
        return (f"{self.tickets_checked} open ticket(s) checked: {self.resolved} completed, {self.deleted} deleted"
                f"{numbers}; {self.companies_checked} mapped compan{'y' if self.companies_checked == 1 else 'ies'} "
                f"checked, {self.mapping_changes} mapping status(es) changed; {len(self.errors)} error(s)")


def is_due(now_at: datetime) -> bool:
    settings = get_settings()
    if not (settings.autotask_enabled and settings.autotask_sync_enabled and autotask_configured(settings)):
        return False
    return pass_is_due(TASK_NAME, timedelta(minutes=max(1, settings.autotask_sync_interval_minutes)), now_at)


def run_once(now_at: datetime, *, force: bool = False,
             client_factory: Callable[[], AutotaskClient] | None = None) -> SyncSummary | None:
    """One pass, if due (or forced: "Sync now") and no other instance runs one. Commits as it goes."""
    holder = start_pass(TASK_NAME, now_at, due=force or is_due(now_at), lease=LEASE)
    if holder is None:
        return None
    summary = SyncSummary()
    try:
        settings = get_settings()
        client = client_factory() if client_factory else autotask_client_from_settings(
            settings, requests.Session(), **CLIENT_OPTIONS)
        _sync_tickets(client, now_at, summary, holder)
        _sync_mappings(client, summary)
    except (AutotaskNotConfigured, SecretUnreadable) as exc:
        db.session.rollback()
        summary.errors.append(str(exc))
        _finish(holder, summary, fatal=str(exc))
        return summary
    except Exception as exc:
        db.session.rollback()
        log.exception("Autotask sync pass failed")
        summary.errors.append(f"unexpected error: {type(exc).__name__}: {exc}")
        _finish(holder, summary, fatal=summary.errors[-1])
        raise
    _finish(holder, summary)
    return summary


def _finish(holder: str, summary: SyncSummary, fatal: str | None = None) -> None:
    status = "error" if fatal or summary.errors else "ok"
    release_task(TASK_NAME, holder, utcnow(), status, summary.text(), "\n".join(summary.errors) or None)
    if fatal:
        record_audit("autotask_sync_failed", f"Autotask sync failed: {fatal}", details=summary.text())
    elif summary.errors:
        record_audit("autotask_sync_failed", f"Autotask sync: {summary.text()}", details="\n".join(summary.errors))
    elif summary.resolved or summary.deleted or summary.numbers or summary.mapping_changes:
        record_audit("autotask_sync", f"Autotask sync: {summary.text()}")
    db.session.commit()


def _sync_tickets(client: AutotaskClient, now_at: datetime, summary: SyncSummary, holder: str) -> None:
    open_tickets = db.session.execute(
        select(Ticket.id, Ticket.autotask_ticket_id)
        .where(Ticket.autotask_ticket_id.is_not(None), Ticket.resolved_at.is_(None),
               Ticket.autotask_ticket_deleted_at.is_(None))
        .order_by(Ticket.id)).all()
    db.session.commit()  # nothing stays open while Autotask answers
    if not open_tickets:
        return
    wanted = sorted({autotask_id for _, autotask_id in open_tickets})
    try:
        found = {int(item["id"]): item for item in client.query_tickets(ids=wanted, include_fields=_TICKET_FIELDS)}
        # Absent from the query answer: confirm by id before calling a ticket deleted, so a ticket the
        # query missed for any reason is not written off.
        for autotask_id in wanted:
            if autotask_id not in found:
                item = client.get_ticket(autotask_id)
                if item is not None:
                    found[autotask_id] = item
    except AutotaskError as exc:
        summary.errors.append(f"Reading the open tickets failed: {exc}")
        return
    summary.tickets_checked = len(open_tickets)
    for position, (ticket_id, autotask_id) in enumerate(open_tickets, start=1):
        ticket = db.session.get(Ticket, ticket_id)
        # Resolved or deleted by someone else while Autotask answered: nothing left to do.
        if ticket is None or ticket.resolved_at is not None or ticket.autotask_ticket_deleted_at is not None:
            db.session.commit()
            continue
        item = found.get(autotask_id)
        try:
            if item is None:
                summary.deleted += mark_autotask_ticket_deleted(ticket, deleted_at=now_at)
            else:
                number = item.get("ticketNumber")
                if number and backfill_ticket_number(ticket, str(number)):
                    summary.numbers += 1
                if _is_complete(item.get("status")):
                    summary.resolved += resolve_ticket(ticket, user=None, resolved_at=now_at, origin="autotask")
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - one ticket must not stop the others; the next pass retries it
            db.session.rollback()
            log.exception("storing the Autotask state of ticket %s failed", ticket_id)
            summary.errors.append(f"Ticket {autotask_id}: not updated: {type(exc).__name__}: {exc}")
        if position % 50 == 0:
            extend_lease(TASK_NAME, holder, utcnow(), LEASE)
            db.session.commit()


def _is_complete(status: object) -> bool:
    try:
        return int(status) == TICKET_STATUS_COMPLETE  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _sync_mappings(client: AutotaskClient, summary: SyncSummary) -> None:
    company_ids = mapped_company_ids()
    db.session.commit()
    if not company_ids:
        return
    try:
        companies = client.get_companies(company_ids)
    except AutotaskError as exc:
        summary.errors.append(f"Checking the mapped companies failed: {exc}")
        return
    summary.companies_checked = len(company_ids)
    summary.mapping_changes = len(apply_company_statuses(company_ids, companies))
    db.session.commit()
