"""Autotask tickets for runs: what a new ticket says, when one may be created, and storing it.

Creating a ticket is one outbound call between two short transactions (see routes_autotask):

1. claim the job's creation lease (:func:`claim_ticket_creation`), check that neither the run nor
   an earlier run of the job has an open ticket, and build the ticket (:func:`prepare_autotask_ticket`);
   commit, so a second click on the same job finds the lease taken;
2. ``client.create_ticket(draft.fields)``, outside any transaction;
3. store it on the run and as the mirrored internal ticket (:func:`store_created_ticket`), release
   the lease, commit.

The existing-ticket rule follows the seeds (strategy 2): a job's Autotask ticket stays with its new
runs until it is completed (the internal ticket is resolved) or deleted in Autotask, so while one is
open no second ticket is made for the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from ..clients.autotask import CreatedTicket
from ..extensions import db
from ..models import STATUS_SEVERITY, Customer, Job, JobRun, RunObjectLink, SystemSettings, Ticket, User
from .audit import record_audit
from .autotask_mapping import mapping_problem
from .autotask_settings import DEFAULT_FIELDS, REQUIRED_DEFAULTS, autotask_configured
from .background import claim_task, release_task
from .settings import ui_zone
from .tickets import MAX_CODE_LENGTH, find_ticket_by_code, record_autotask_ticket

TITLE_MAX = 255
# Autotask's ticket description holds 8,000 characters.
DESCRIPTION_MAX = 8000
# The run's own message gets at most this much of it, so the objects fit too.
MESSAGE_MAX = 3000
OBJECT_ERROR_MAX = 500
CREATION_LEASE = timedelta(minutes=3)


class TicketRefused(Exception):
    """No ticket may be created; ``message`` says why, ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, *, ticket_id: int | None = None,
                 ticket_number: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.ticket_id = ticket_id
        self.ticket_number = ticket_number


@dataclass(frozen=True)
class TicketDraft:
    run_id: int
    job_id: int
    title: str
    description: str
    fields: dict[str, Any]  # the API fields of the new ticket


@dataclass(frozen=True)
class ExistingTicket:
    ticket_id: int
    ticket_number: str | None
    created_at: datetime | None
    on_this_run: bool

    @property
    def label(self) -> str:
        return self.ticket_number or f"#{self.ticket_id}"


# ---- the rule: one open ticket per job -------------------------------------------------------------


def existing_autotask_ticket(run: JobRun) -> ExistingTicket | None:
    """The Autotask ticket that stops a new one for this run: its own (unless deleted in Autotask), or
    the newest one of an earlier run of the job that is neither deleted nor completed in Autotask."""
    if run.autotask_ticket_id is not None and run.autotask_ticket_deleted_at is None:
        return ExistingTicket(run.autotask_ticket_id, run.autotask_ticket_number, run.autotask_ticket_created_at,
                              on_this_run=True)
    row = db.session.execute(
        select(JobRun.autotask_ticket_id, JobRun.autotask_ticket_number, JobRun.autotask_ticket_created_at)
        .outerjoin(Ticket, Ticket.autotask_ticket_id == JobRun.autotask_ticket_id)
        .where(JobRun.job_id == run.job_id, JobRun.autotask_ticket_id.is_not(None),
               JobRun.autotask_ticket_deleted_at.is_(None),
               or_(Ticket.id.is_(None),
                   and_(Ticket.resolved_at.is_(None), Ticket.autotask_ticket_deleted_at.is_(None))))
        .order_by(JobRun.autotask_ticket_created_at.desc().nulls_last(), JobRun.id.desc())
        .limit(1)).first()
    if row is None:
        return None
    return ExistingTicket(row.autotask_ticket_id, row.autotask_ticket_number, row.autotask_ticket_created_at,
                          on_this_run=False)


def _refuse_existing(existing: ExistingTicket, job: Job) -> TicketRefused:
    if existing.on_this_run:
        message = (f"This run already has Autotask ticket {existing.label}; no second ticket was created.")
    else:
        when = (f", created {existing.created_at.astimezone(ui_zone()):%Y-%m-%d %H:%M}"
                if existing.created_at else "")
        message = (f"Job {job.job_name} already has open Autotask ticket {existing.label}{when}. It stays with the "
                   "job's new runs until it is completed or deleted in Autotask; no second ticket was created.")
    return TicketRefused(message, 409, ticket_id=existing.ticket_id, ticket_number=existing.ticket_number)


# ---- building the ticket ---------------------------------------------------------------------------


def _status_text(run: JobRun) -> str:
    text = run.effective_status.capitalize()
    if run.effective_status != run.status:
        text = f"{run.status.capitalize()} (counted as {run.effective_status} by an override)"
    return text


def ticket_title(run: JobRun, job: Job, customer: Customer) -> str:
    status = run.status if run.effective_status == "success" else run.effective_status
    title = f"Backup {status}: {customer.name} - {job.job_name} ({job.backup_software} {job.backup_type})"
    return title if len(title) <= TITLE_MAX else title[:TITLE_MAX - 1] + "…"


def _problem_objects(run: JobRun) -> tuple[list[RunObjectLink], int]:
    links = db.session.scalars(select(RunObjectLink).where(RunObjectLink.job_run_id == run.id)
                               .order_by(RunObjectLink.id)).all()
    problems = [link for link in links if link.status and link.status != "success"]
    problems.sort(key=lambda link: -STATUS_SEVERITY.get(link.status, 0))
    return problems, len(links)


def ticket_description(run: JobRun, job: Job, customer: Customer) -> str:
    """What happened, for the technician who opens the ticket: customer, job, status, time, errors, objects."""
    zone = ui_zone()
    when = run.run_at.astimezone(zone)
    lines = [
        "Backupchecks reports a problem with a backup job.",
        "",
        f"Customer: {customer.name}",
        f"Job: {job.job_name}",
        f"Backup software: {job.backup_software}",
        f"Backup type: {job.backup_type}",
        f"Status: {_status_text(run)}",
        f"{'Expected at' if run.status == 'missed' else 'Run time'}: {when:%Y-%m-%d %H:%M} ({zone.key})",
    ]
    if run.status == "missed":
        lines.append("No backup report arrived for this scheduled run.")
    if run.message and run.message.strip():
        message = run.message.strip()
        if len(message) > MESSAGE_MAX:
            message = message[:MESSAGE_MAX - 1] + "…"
        lines += ["", "Message:", message]
    problems, total = _problem_objects(run)
    if problems:
        lines += ["", f"Objects with problems ({len(problems)} of {total}):"]
    text = "\n".join(lines)
    for position, link in enumerate(problems):
        name = link.customer_object.name
        kind = f" ({link.customer_object.object_type})" if link.customer_object.object_type else ""
        error = " ".join((link.error_message or "").split())
        if len(error) > OBJECT_ERROR_MAX:
            error = error[:OBJECT_ERROR_MAX - 1] + "…"
        line = f"\n- {name}{kind}: {link.status.capitalize()}" + (f" - {error}" if error else "")
        after = len(problems) - position - 1
        reserve = len(f"\n… and {after} more") if after else 0
        if len(text) + len(line) + reserve > DESCRIPTION_MAX:
            text += f"\n… and {len(problems) - position} more"
            break
        text += line
    return text[:DESCRIPTION_MAX]


def prepare_autotask_ticket(run: JobRun, settings: SystemSettings) -> TicketDraft:
    """Check that a ticket may be created for ``run`` and build it; raises :class:`TicketRefused`."""
    if not settings.autotask_enabled:
        raise TicketRefused("Autotask is not enabled; an admin turns it on under Settings → Autotask.")
    if not autotask_configured(settings):
        raise TicketRefused("Autotask is not configured: the API username, secret or integration code is missing "
                            "(Settings → Autotask).")
    job = run.job
    if job is None or job.deleted_at is not None:
        raise TicketRefused("The run's job has been deleted.")
    customer = job.customer
    problem = mapping_problem(customer)
    if problem:
        raise TicketRefused(problem)
    existing = existing_autotask_ticket(run)
    if existing is not None:
        raise _refuse_existing(existing, job)
    defaults = {field: getattr(settings, attribute) for attribute, field, _label in DEFAULT_FIELDS}
    missing = [label for _attribute, field, label in DEFAULT_FIELDS
               if field in REQUIRED_DEFAULTS and defaults[field] is None]
    if missing:
        raise TicketRefused(f"Choose the default {', '.join(missing)} for new tickets under Settings → Autotask "
                            "first.")
    title = ticket_title(run, job, customer)
    description = ticket_description(run, job, customer)
    fields: dict[str, Any] = {"companyID": customer.autotask_company_id, "title": title, "description": description,
                              **{field: value for field, value in defaults.items() if value is not None}}
    return TicketDraft(run_id=run.id, job_id=job.id, title=title, description=description, fields=fields)


# ---- the creation lease ----------------------------------------------------------------------------


def _lease_name(job_id: int) -> str:
    return f"autotask_ticket_job_{job_id}"


def claim_ticket_creation(job_id: int, holder: str, now_at: datetime) -> None:
    """Take the job's creation lease (commit right after); raises :class:`TicketRefused` when another
    request is creating a ticket for the job right now (a double click, or two operators)."""
    if not claim_task(_lease_name(job_id), holder, now_at, CREATION_LEASE):
        raise TicketRefused("An Autotask ticket for this job is being created right now; reload in a moment to see "
                            "it.", 409)


def release_ticket_creation(job_id: int, holder: str, now_at: datetime, outcome: str, error: str | None = None) -> None:
    release_task(_lease_name(job_id), holder, now_at, "error" if error else "ok", outcome, error)


# ---- storing ---------------------------------------------------------------------------------------


def store_created_ticket(run: JobRun, draft: TicketDraft, created: CreatedTicket, user: User | None,
                         now_at: datetime) -> Ticket:
    """Store a ticket Autotask just created: on the run and as the job's internal ticket.

    Without a number (reading it back failed) the code is ``#<id>`` until the sync pass learns it.
    """
    number = created.ticket_number or f"#{created.id}"
    return record_autotask_ticket(run, autotask_ticket_id=created.id, ticket_number=number,
                                  description=draft.title, user=user, created_at=now_at)


def record_ticket_failure(run: JobRun, user: User | None, message: str) -> None:
    record_audit("autotask_ticket_failed",
                 f"Creating an Autotask ticket for run {run.id} of {run.job.job_name} failed: {message}", user)


def backfill_ticket_number(ticket: Ticket, number: str) -> bool:
    """Replace the provisional ``#<id>`` code of a ticket whose number could not be read back when it
    was created. The runs that carry the provisional code get the number too. Returns whether anything
    changed."""
    provisional_code = f"#{ticket.autotask_ticket_id}"
    number = number.strip()
    if ticket.ticket_code != provisional_code or not number or len(number) > MAX_CODE_LENGTH:
        return False
    if find_ticket_by_code(number) is not None:
        return False
    ticket.ticket_code = number
    db.session.execute(update(JobRun).where(JobRun.autotask_ticket_id == ticket.autotask_ticket_id,
                                            JobRun.autotask_ticket_number == provisional_code)
                       .values(autotask_ticket_number=number).execution_options(synchronize_session="fetch"))
    record_audit("autotask_ticket_number", f"Autotask ticket {provisional_code} has number {number}")
    db.session.flush()
    return True
