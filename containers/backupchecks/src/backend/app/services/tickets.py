"""Tickets and remarks: creating, resolving, linking them to runs, and reading them back for display.

The seeds' rules ("Ticketing and Autotask (Critical Rules)") hold everywhere in this module:

- Open means ``COALESCE(scope.resolved_at, ticket.resolved_at) IS NULL``. There is no date-based
  resolved logic: a resolved ticket stops linking to new runs at once, whatever dates it carries.
- :func:`link_open_tickets_to_run` is called for every new run (mail, missed, Cove) through
  ``runs.finish_new_run``. It links the open tickets and remarks whose scopes match the run and
  carries an open Autotask ticket of the job to the run (strategy 2 of the seeds).
- Links are never removed when a ticket is resolved: old runs keep them as the audit trail.
- Display uses two sources, each item once: the run's own links, and the open scopes of the run's
  job (so a ticket created this morning shows on the runs already waiting in Run Checks).

Open scopes are few (dozens, not thousands) and are read once per request or background pass
(context_cache), so linking a new run costs no query when nothing is open for its job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, literal, null, or_, select, union_all
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (
    Customer,
    CustomerObject,
    Job,
    JobRun,
    Remark,
    RemarkJobRun,
    RemarkScope,
    RunObjectLink,
    Ticket,
    TicketJobRun,
    TicketScope,
    User,
)
from ..models.types import utcnow
from .audit import record_audit
from .context_cache import cached, forget
from .settings import ui_zone

_CACHE_NAME = "open_ticket_and_remark_scopes"
# Codes made here for tickets without a PSA number. Not Autotask's T<date>.<n>: a PSA number mirrored
# later must never meet an internal ticket that merely happens to carry the same code.
INTERNAL_CODE_PREFIX = "BC"
_CODE_PATTERN = re.compile(r"^BC(\d{8})\.(\d{4,})$")
MAX_CODE_LENGTH = 64


class TicketError(ValueError):
    """A ticket or remark request that cannot be carried out, with a message for the user."""


# ---- scopes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeInput:
    """What a new scope is about; the criteria that are set must all match."""

    scope_type: str
    customer_id: int | None = None
    job_id: int | None = None
    backup_software: str | None = None
    backup_type: str | None = None
    customer_object_id: int | None = None


@dataclass(frozen=True)
class OpenScope:
    """An open scope of a ticket or remark, with what its owner needs for linking and display."""

    kind: str  # ticket | remark
    owner_id: int
    scope_id: int
    customer_id: int | None
    job_id: int | None
    backup_software: str | None
    backup_type: str | None
    customer_object_id: int | None
    active_from_date: date
    active_until_date: date | None
    autotask_ticket_id: int | None
    autotask_ticket_deleted: bool

    def matches_job(self, job_id: int, customer_id: int, backup_software: str, backup_type: str) -> bool:
        return ((self.job_id is None or self.job_id == job_id)
                and (self.customer_id is None or self.customer_id == customer_id)
                and (self.backup_software is None or self.backup_software.casefold() == backup_software.casefold())
                and (self.backup_type is None or self.backup_type.casefold() == backup_type.casefold()))

    def active_on(self, day: date) -> bool:
        """Remarks: the active window. Tickets: only the seeds' display rule active_from <= run date."""
        return self.active_from_date <= day and (self.active_until_date is None or day <= self.active_until_date)


def _load_open_scopes() -> tuple[OpenScope, ...]:
    """Every open scope of tickets and remarks, in one statement (it runs on every page that shows them)."""
    tickets = (
        select(literal("ticket").label("kind"), TicketScope.ticket_id.label("owner_id"), TicketScope.id,
               TicketScope.customer_id, TicketScope.job_id, TicketScope.backup_software, TicketScope.backup_type,
               TicketScope.customer_object_id, Ticket.active_from_date, null().label("active_until_date"),
               Ticket.autotask_ticket_id, Ticket.autotask_ticket_deleted_at)
        .join(Ticket, Ticket.id == TicketScope.ticket_id)
        .where(func.coalesce(TicketScope.resolved_at, Ticket.resolved_at).is_(None)))
    remarks = (
        select(literal("remark"), RemarkScope.remark_id, RemarkScope.id, RemarkScope.customer_id, RemarkScope.job_id,
               RemarkScope.backup_software, RemarkScope.backup_type, RemarkScope.customer_object_id,
               Remark.active_from_date, Remark.active_until_date, null(), null())
        .join(Remark, Remark.id == RemarkScope.remark_id)
        .where(func.coalesce(RemarkScope.resolved_at, Remark.resolved_at).is_(None)))
    rows = db.session.execute(union_all(tickets, remarks)).all()
    return tuple(OpenScope(kind, owner_id, scope_id, customer_id, job_id, software, backup_type, object_id,
                           _as_date(active_from), _as_date(active_until), autotask_id, deleted_at is not None)
                 for (kind, owner_id, scope_id, customer_id, job_id, software, backup_type, object_id, active_from,
                      active_until, autotask_id, deleted_at) in rows)


def _as_date(value) -> date | None:
    """Dates from a UNION come back untyped on SQLite (ISO text); PostgreSQL gives dates."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def open_scopes() -> tuple[OpenScope, ...]:
    return cached(_CACHE_NAME, _load_open_scopes)


def _changed() -> None:
    forget(_CACHE_NAME)


def _scopes_for_job(job: Job) -> list[OpenScope]:
    return [s for s in open_scopes()
            if s.matches_job(job.id, job.customer_id, job.backup_software, job.backup_type)]


def run_local_date(run: JobRun) -> date:
    return run.run_at.astimezone(ui_zone()).date()


# ---- linking new runs ------------------------------------------------------------------------------


def link_open_tickets_to_run(run: JobRun) -> int:
    """Link the open tickets and remarks whose scopes match a new run; returns how many were linked.

    Tickets link while open, whatever their dates (seeds, strategy 1). Remarks link while open and
    within their active window. An open Autotask ticket of the job is carried to the run (strategy 2).
    """
    job = run.job if run.job is not None else db.session.get(Job, run.job_id)
    candidates = [s for s in _scopes_for_job(job) if not (s.kind == "ticket" and s.autotask_ticket_deleted)]
    if not candidates:
        return 0
    if run.id is None:
        db.session.flush()
    object_ids: set[int] = set()
    if any(s.customer_object_id is not None for s in candidates):
        object_ids = set(db.session.scalars(
            select(RunObjectLink.customer_object_id).where(RunObjectLink.job_run_id == run.id)))
    day = run_local_date(run)
    ticket_ids: set[int] = set()
    remark_ids: set[int] = set()
    for scope in candidates:
        if scope.customer_object_id is not None and scope.customer_object_id not in object_ids:
            continue
        if scope.kind == "ticket":
            ticket_ids.add(scope.owner_id)
        elif scope.active_on(day):
            remark_ids.add(scope.owner_id)
    ticket_ids -= set(db.session.scalars(select(TicketJobRun.ticket_id).where(TicketJobRun.job_run_id == run.id)))
    remark_ids -= set(db.session.scalars(select(RemarkJobRun.remark_id).where(RemarkJobRun.job_run_id == run.id)))
    db.session.add_all([TicketJobRun(ticket_id=i, job_run_id=run.id, link_source="auto") for i in sorted(ticket_ids)])
    db.session.add_all([RemarkJobRun(remark_id=i, job_run_id=run.id, link_source="auto") for i in sorted(remark_ids)])
    if run.autotask_ticket_id is None:
        _carry_autotask_ticket(run, [s.owner_id for s in candidates
                                     if s.kind == "ticket" and s.autotask_ticket_id is not None])
    db.session.flush()
    return len(ticket_ids) + len(remark_ids)


def _carry_autotask_ticket(run: JobRun, ticket_ids: Sequence[int]) -> None:
    if not ticket_ids:
        return
    ticket = db.session.scalars(
        select(Ticket).where(Ticket.id.in_(ticket_ids), Ticket.resolved_at.is_(None),
                             Ticket.autotask_ticket_deleted_at.is_(None))
        .order_by(Ticket.autotask_ticket_created_at.desc().nulls_last(), Ticket.id.desc()).limit(1)).first()
    if ticket is not None:
        run.autotask_ticket_id = ticket.autotask_ticket_id
        run.autotask_ticket_number = ticket.ticket_code.removesuffix(f" (#{ticket.autotask_ticket_id})")
        run.autotask_ticket_created_at = ticket.autotask_ticket_created_at
        run.autotask_ticket_created_by_id = ticket.autotask_ticket_created_by_id


# ---- display ---------------------------------------------------------------------------------------


def _ticket_item(ticket: Ticket, source: str) -> dict:
    return {"id": ticket.id, "code": ticket.ticket_code, "description": ticket.description or "",
            "active_from_date": ticket.active_from_date.isoformat(),
            "start_date": ticket.start_date.isoformat() if ticket.start_date else None,
            "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
            "autotask_ticket_id": ticket.autotask_ticket_id,
            "autotask_deleted": ticket.autotask_ticket_deleted_at is not None, "source": source}


def _remark_item(remark: Remark, source: str) -> dict:
    return {"id": remark.id, "text": remark.body, "active_from_date": remark.active_from_date.isoformat(),
            "active_until_date": remark.active_until_date.isoformat() if remark.active_until_date else None,
            "resolved_at": remark.resolved_at.isoformat() if remark.resolved_at else None, "source": source}


def alerts_for_run(run: JobRun) -> dict[str, list[dict]]:
    """Tickets and remarks of a run from both sources of the seeds, each once: the run's own links
    (kept after a resolve, as the audit trail), then the open scopes of its job active on the run's day."""
    day = run_local_date(run)
    tickets: dict[int, dict] = {}
    for ticket in db.session.scalars(select(Ticket).join(TicketJobRun, TicketJobRun.ticket_id == Ticket.id)
                                      .where(TicketJobRun.job_run_id == run.id).order_by(Ticket.id)):
        tickets[ticket.id] = _ticket_item(ticket, "run")
    remarks: dict[int, dict] = {}
    for remark in db.session.scalars(select(Remark).join(RemarkJobRun, RemarkJobRun.remark_id == Remark.id)
                                     .where(RemarkJobRun.job_run_id == run.id).order_by(Remark.id)):
        remarks[remark.id] = _remark_item(remark, "run")
    # A ticket deleted in Autotask stops like a resolved one: only the runs linked to it keep showing it.
    scoped = [s for s in _scopes_for_job(run.job)
              if s.customer_object_id is None and s.active_on(day) and not s.autotask_ticket_deleted]
    ticket_ids = sorted({s.owner_id for s in scoped if s.kind == "ticket"} - tickets.keys())
    remark_ids = sorted({s.owner_id for s in scoped if s.kind == "remark"} - remarks.keys())
    if ticket_ids:
        for ticket in db.session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)).order_by(Ticket.id)):
            tickets[ticket.id] = _ticket_item(ticket, "job")
    if remark_ids:
        for remark in db.session.scalars(select(Remark).where(Remark.id.in_(remark_ids)).order_by(Remark.id)):
            remarks[remark.id] = _remark_item(remark, "job")
    return {"tickets": list(tickets.values()), "remarks": list(remarks.values())}


def open_autotask_ticket_code(job: Job) -> str | None:
    """The number of the job's open Autotask ticket (neither completed nor deleted), if it has one:
    new runs carry it, and no second one is made for the job."""
    ids = [s.owner_id for s in _scopes_for_job(job)
           if s.kind == "ticket" and s.autotask_ticket_id is not None and not s.autotask_ticket_deleted]
    if not ids:
        return None
    return db.session.scalar(select(Ticket.ticket_code).where(Ticket.id.in_(ids))
                             .order_by(Ticket.autotask_ticket_created_at.desc().nulls_last(), Ticket.id.desc())
                             .limit(1))


@dataclass(frozen=True)
class JobIndicators:
    tickets: bool
    remarks: bool


def indicators_for_jobs(jobs: Iterable[tuple[int, int, str, str]],
                        today: date | None = None) -> dict[int, JobIndicators]:
    """🎫 and 💬 per job, from (job_id, customer_id, backup_software, backup_type): an open ticket
    scope matches the job; an open remark scope matches it and is active today."""
    today = today or utcnow().astimezone(ui_zone()).date()
    scopes = open_scopes()
    result = {}
    for job_id, customer_id, software, backup_type in jobs:
        matching = [s for s in scopes if s.matches_job(job_id, customer_id, software, backup_type)]
        result[job_id] = JobIndicators(
            tickets=any(s.kind == "ticket" and not s.autotask_ticket_deleted for s in matching),
            remarks=any(s.kind == "remark" and s.active_on(today) for s in matching))
    return result


@dataclass(frozen=True)
class JobTickets:
    """The job details section: every ticket and remark that ever touched the job's runs (audit trail)
    plus the open ones scoped to the job, each once, open first."""

    tickets: list[Ticket]
    remarks: list[Remark]
    ticket_codes_by_run: dict[int, list[str]]
    remark_ids_by_run: dict[int, list[int]]


def tickets_for_job(job: Job, run_ids: Sequence[int] = ()) -> JobTickets:
    # Every link of the job's runs (the audit trail), with the run: the history and the per-run marks in one read.
    ticket_links = db.session.execute(
        select(TicketJobRun.job_run_id, TicketJobRun.ticket_id).join(JobRun, JobRun.id == TicketJobRun.job_run_id)
        .where(JobRun.job_id == job.id)).all()
    remark_links = db.session.execute(
        select(RemarkJobRun.job_run_id, RemarkJobRun.remark_id).join(JobRun, JobRun.id == RemarkJobRun.job_run_id)
        .where(JobRun.job_id == job.id)).all()
    scoped = _scopes_for_job(job)
    ticket_ids = {ticket_id for _run, ticket_id in ticket_links} | {s.owner_id for s in scoped if s.kind == "ticket"}
    remark_ids = {remark_id for _run, remark_id in remark_links} | {s.owner_id for s in scoped if s.kind == "remark"}
    tickets = list(db.session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids))
                                      .options(selectinload(Ticket.scopes)))) if ticket_ids else []
    remarks = list(db.session.scalars(select(Remark).where(Remark.id.in_(remark_ids)))) if remark_ids else []
    tickets.sort(key=lambda t: (t.resolved_at is not None, -(t.id)))
    remarks.sort(key=lambda r: (r.resolved_at is not None, -(r.id)))
    shown = set(run_ids)
    code_of = {ticket.id: ticket.ticket_code for ticket in tickets}
    codes: dict[int, list[str]] = {}
    for run_id, ticket_id in sorted(ticket_links, key=lambda link: link[1]):
        if run_id in shown:
            codes.setdefault(run_id, []).append(code_of[ticket_id])
    remarks_by_run: dict[int, list[int]] = {}
    for run_id, remark_id in sorted(remark_links, key=lambda link: link[1]):
        if run_id in shown:
            remarks_by_run.setdefault(run_id, []).append(remark_id)
    return JobTickets(tickets, remarks, codes, remarks_by_run)


def describe_scope(scope: TicketScope | RemarkScope) -> str:
    """One line for a scope, as the lists and the edit pages show it."""
    parts = []
    if scope.customer is not None:
        parts.append(scope.customer.name)
    if scope.job is not None:
        job = scope.job
        parts.append(f"{job.customer.name} · {job.job_name}" if scope.customer is None else job.job_name)
    if scope.backup_software:
        parts.append(scope.backup_software + (f" / {scope.backup_type}" if scope.backup_type else ""))
    elif scope.backup_type:
        parts.append(scope.backup_type)
    if scope.customer_object is not None:
        parts.append(f"object {scope.customer_object.name}")
    return f"{scope.scope_type.capitalize()}: " + (" · ".join(parts) or "everything")


# ---- creating and changing -------------------------------------------------------------------------


def _today() -> date:
    return utcnow().astimezone(ui_zone()).date()


def next_ticket_code(day: date | None = None) -> str:
    """BC<yyyymmdd>.<nnnn>, numbered per day after the highest code of that day."""
    day = day or _today()
    prefix = f"{INTERNAL_CODE_PREFIX}{day:%Y%m%d}."
    codes = db.session.scalars(select(Ticket.ticket_code).where(Ticket.ticket_code.like(prefix + "%")))
    highest = max((int(m.group(2)) for m in (_CODE_PATTERN.match(c) for c in codes) if m), default=0)
    return f"{prefix}{highest + 1:04d}"


def _clean_code(code: str | None) -> str | None:
    code = (code or "").strip()
    if len(code) > MAX_CODE_LENGTH:
        raise TicketError(f"A ticket code has at most {MAX_CODE_LENGTH} characters.")
    return code or None


def find_ticket_by_code(code: str) -> Ticket | None:
    return db.session.scalars(select(Ticket).where(Ticket.ticket_code == code)).first()


def _scope_row(model, data: ScopeInput):
    """Check a scope's criteria against the database and build the row."""
    kind = data.scope_type
    software = (data.backup_software or "").strip() or None
    backup_type = (data.backup_type or "").strip() or None
    if kind == "customer":
        if data.customer_id is None or db.session.get(Customer, data.customer_id) is None:
            raise TicketError("Choose the customer this is about.")
        return model(scope_type=kind, customer_id=data.customer_id)
    if kind == "job":
        job = db.session.get(Job, data.job_id) if data.job_id else None
        if job is None or job.deleted_at is not None:
            raise TicketError("Choose the job this is about.")
        return model(scope_type=kind, job_id=job.id)
    if kind == "software":
        if software is None:
            raise TicketError("Enter the backup software this is about (the type is optional).")
        if data.customer_id is not None and db.session.get(Customer, data.customer_id) is None:
            raise TicketError("That customer does not exist.")
        return model(scope_type=kind, customer_id=data.customer_id, backup_software=software, backup_type=backup_type)
    if kind == "object":
        job = db.session.get(Job, data.job_id) if data.job_id else None
        if job is None or job.deleted_at is not None:
            raise TicketError("Choose the job whose object this is about.")
        obj = db.session.get(CustomerObject, data.customer_object_id) if data.customer_object_id else None
        if obj is None or obj.customer_id != job.customer_id:
            raise TicketError("Choose one of the job's objects.")
        return model(scope_type=kind, job_id=job.id, customer_object_id=obj.id)
    raise TicketError("Choose what this is about: a customer, a job, a backup software or an object.")


def _link_runs(link_model, owner_field: str, owner_id: int, runs: Iterable[JobRun], source: str) -> int:
    run_ids = {run.id for run in runs}
    if not run_ids:
        return 0
    existing = set(db.session.scalars(select(link_model.job_run_id).where(
        getattr(link_model, owner_field) == owner_id, link_model.job_run_id.in_(run_ids))))
    new_ids = sorted(run_ids - existing)
    db.session.add_all([link_model(**{owner_field: owner_id}, job_run_id=i, link_source=source) for i in new_ids])
    return len(new_ids)


def create_ticket(actor: User | None, *, code: str | None, description: str | None, scope: ScopeInput,
                  active_from_date: date | None = None, start_date: date | None = None,
                  runs: Sequence[JobRun] = ()) -> Ticket:
    """A new open ticket with one scope, linked at once to ``runs`` (the run or job it was raised for)."""
    code = _clean_code(code) or next_ticket_code()
    if find_ticket_by_code(code) is not None:
        raise TicketError(f"Ticket {code} already exists; open it to add a scope.")
    ticket = Ticket(ticket_code=code, description=(description or "").strip() or None,
                    active_from_date=active_from_date or _today(), start_date=start_date,
                    created_by_id=actor.id if actor else None)
    ticket.scopes.append(_scope_row(TicketScope, scope))
    db.session.add(ticket)
    db.session.flush()
    _link_runs(TicketJobRun, "ticket_id", ticket.id, runs, "manual")
    _changed()
    db.session.flush()
    record_audit("ticket_created", f"Ticket {ticket.ticket_code} created ({describe_scope(ticket.scopes[0])})", actor)
    return ticket


def update_ticket(actor: User, ticket: Ticket, *, code: str | None, description: str | None,
                  active_from_date: date, start_date: date | None) -> None:
    code = _clean_code(code)
    if code is None:
        raise TicketError("A ticket needs a code.")
    if code != ticket.ticket_code:
        if find_ticket_by_code(code) is not None:
            raise TicketError(f"Ticket {code} already exists.")
        if ticket.autotask_ticket_id is not None:
            raise TicketError("The code of an Autotask ticket is its Autotask number and cannot change.")
    ticket.ticket_code = code
    ticket.description = (description or "").strip() or None
    ticket.active_from_date = active_from_date
    ticket.start_date = start_date
    db.session.flush()
    _changed()
    record_audit("ticket_updated", f"Ticket {ticket.ticket_code} changed", actor)


def add_ticket_scope(actor: User, ticket: Ticket, scope: ScopeInput) -> TicketScope:
    row = _scope_row(TicketScope, scope)
    ticket.scopes.append(row)
    db.session.flush()
    _changed()
    record_audit("ticket_scope_added", f"Ticket {ticket.ticket_code}: {describe_scope(row)} added", actor)
    return row


def resolve_ticket_scope(actor: User, scope: TicketScope) -> None:
    """Resolve a ticket for one scope only; its other scopes stay open."""
    if scope.resolved_at is None:
        scope.resolved_at = utcnow()
        db.session.flush()
        _changed()
        record_audit("ticket_scope_resolved",
                     f"Ticket {scope.ticket.ticket_code} resolved for {describe_scope(scope)}", actor)


def resolve_ticket(ticket: Ticket, *, user: User | None, resolved_at: datetime | None = None,
                   origin: str = "user") -> bool:
    """Resolve a ticket: it stops linking to new runs at once; runs linked so far keep it.
    ``origin`` is "user" or "autotask" (completed in the PSA). Returns whether anything changed."""
    if ticket.resolved_at is not None:
        return False
    ticket.resolved_at = resolved_at or utcnow()
    ticket.resolved_by_id = user.id if user is not None else None
    db.session.flush()
    _changed()
    how = " (completed in Autotask)" if origin == "autotask" else ""
    record_audit("ticket_resolved", f"Ticket {ticket.ticket_code} resolved{how}", user)
    return True


def reopen_ticket(actor: User, ticket: Ticket) -> None:
    if ticket.resolved_at is None:
        return
    if ticket.autotask_ticket_deleted_at is not None:
        raise TicketError(f"Ticket {ticket.ticket_code} was deleted in Autotask and cannot be reopened here.")
    ticket.resolved_at = ticket.resolved_by_id = None
    db.session.flush()
    _changed()
    record_audit("ticket_reopened", f"Ticket {ticket.ticket_code} reopened", actor)


def link_ticket_to_runs(actor: User | None, ticket: Ticket, runs: Sequence[JobRun], source: str = "manual") -> int:
    count = _link_runs(TicketJobRun, "ticket_id", ticket.id, runs, source)
    db.session.flush()
    if count and actor is not None:
        record_audit("ticket_linked", f"Ticket {ticket.ticket_code} linked to {count} run(s)", actor)
    return count


def record_autotask_ticket(run: JobRun, *, autotask_ticket_id: int, ticket_number: str, description: str,
                           user: User | None, created_at: datetime) -> Ticket:
    """Store an Autotask ticket made for a run: on the run, and mirrored as an internal ticket (its
    code is the Autotask number) scoped to the job, so later runs of the job carry it until it is
    resolved or deleted in Autotask.

    A ticket that already carries the number without an Autotask id was typed in by an operator for
    this very PSA ticket and is adopted (the seeds: an existing code is the same ticket). One that
    belongs to another Autotask ticket keeps its code; the mirror gets the number with the id."""
    run.autotask_ticket_id = autotask_ticket_id
    run.autotask_ticket_number = ticket_number
    run.autotask_ticket_created_at = created_at
    run.autotask_ticket_created_by_id = user.id if user is not None else None
    run.autotask_ticket_deleted_at = None
    ticket = find_ticket_by_code(ticket_number)
    if ticket is not None and ticket.autotask_ticket_id not in (None, autotask_ticket_id):
        ticket = None
        ticket_number = f"{ticket_number} (#{autotask_ticket_id})"[:MAX_CODE_LENGTH]
    if ticket is None:
        ticket = Ticket(ticket_code=ticket_number, description=description or None,
                        active_from_date=run_local_date(run), start_date=run_local_date(run),
                        created_by_id=user.id if user is not None else None)
        ticket.scopes.append(TicketScope(scope_type="job", job_id=run.job_id))
        db.session.add(ticket)
    elif not any(s.job_id == run.job_id and s.scope_type == "job" and s.resolved_at is None for s in ticket.scopes):
        ticket.scopes.append(TicketScope(scope_type="job", job_id=run.job_id))
    ticket.autotask_ticket_id = autotask_ticket_id
    ticket.autotask_ticket_created_at = created_at
    ticket.autotask_ticket_created_by_id = user.id if user is not None else None
    db.session.flush()
    _link_runs(TicketJobRun, "ticket_id", ticket.id, [run], "autotask")
    db.session.flush()
    _changed()
    record_audit("autotask_ticket_created",
                 f"Autotask ticket {ticket_number} created for run {run.id} of {run.job.job_name}", user)
    return ticket


def mark_autotask_ticket_deleted(ticket: Ticket, *, deleted_at: datetime) -> bool:
    """The ticket no longer exists in Autotask: it stops propagating, and the runs that carry it say so."""
    if ticket.autotask_ticket_deleted_at is not None or ticket.autotask_ticket_id is None:
        return False
    ticket.autotask_ticket_deleted_at = deleted_at
    for run in db.session.scalars(select(JobRun).where(JobRun.autotask_ticket_id == ticket.autotask_ticket_id,
                                                       JobRun.autotask_ticket_deleted_at.is_(None))):
        run.autotask_ticket_deleted_at = deleted_at
    db.session.flush()
    _changed()
    record_audit("autotask_ticket_deleted", f"Autotask ticket {ticket.ticket_code} was deleted in Autotask")
    return True


# ---- remarks ---------------------------------------------------------------------------------------


def _check_window(active_from_date: date, active_until_date: date | None) -> None:
    if active_until_date is not None and active_until_date < active_from_date:
        raise TicketError("A remark's window cannot end before it starts.")


def create_remark(actor: User | None, *, body: str | None, scope: ScopeInput, active_from_date: date | None = None,
                  active_until_date: date | None = None, runs: Sequence[JobRun] = ()) -> Remark:
    text = (body or "").strip()
    if not text:
        raise TicketError("A remark needs a text.")
    active_from_date = active_from_date or min([_today(), *[run_local_date(r) for r in runs]])
    _check_window(active_from_date, active_until_date)
    remark = Remark(body=text, active_from_date=active_from_date, active_until_date=active_until_date,
                    created_by_id=actor.id if actor else None)
    remark.scopes.append(_scope_row(RemarkScope, scope))
    db.session.add(remark)
    db.session.flush()
    _link_runs(RemarkJobRun, "remark_id", remark.id, runs, "manual")
    db.session.flush()
    _changed()
    record_audit("remark_created", f"Remark {remark.id} created ({describe_scope(remark.scopes[0])})", actor)
    return remark


def update_remark(actor: User, remark: Remark, *, body: str | None, active_from_date: date,
                  active_until_date: date | None) -> None:
    text = (body or "").strip()
    if not text:
        raise TicketError("A remark needs a text.")
    _check_window(active_from_date, active_until_date)
    remark.body, remark.active_from_date, remark.active_until_date = text, active_from_date, active_until_date
    db.session.flush()
    _changed()
    record_audit("remark_updated", f"Remark {remark.id} changed", actor)


def add_remark_scope(actor: User, remark: Remark, scope: ScopeInput) -> RemarkScope:
    row = _scope_row(RemarkScope, scope)
    remark.scopes.append(row)
    db.session.flush()
    _changed()
    record_audit("remark_scope_added", f"Remark {remark.id}: {describe_scope(row)} added", actor)
    return row


def resolve_remark_scope(actor: User, scope: RemarkScope) -> None:
    if scope.resolved_at is None:
        scope.resolved_at = utcnow()
        db.session.flush()
        _changed()
        record_audit("remark_scope_resolved", f"Remark {scope.remark_id} resolved for {describe_scope(scope)}", actor)


def resolve_remark(actor: User, remark: Remark) -> None:
    if remark.resolved_at is None:
        remark.resolved_at, remark.resolved_by_id = utcnow(), actor.id
        db.session.flush()
        _changed()
        record_audit("remark_resolved", f"Remark {remark.id} resolved", actor)


def reopen_remark(actor: User, remark: Remark) -> None:
    if remark.resolved_at is not None:
        remark.resolved_at = remark.resolved_by_id = None
        db.session.flush()
        _changed()
        record_audit("remark_reopened", f"Remark {remark.id} reopened", actor)


# ---- lists -----------------------------------------------------------------------------------------


def ticket_list_query(resolved: bool, search: str | None = None):
    query = select(Ticket).where(Ticket.resolved_at.is_not(None) if resolved else Ticket.resolved_at.is_(None))
    if search:
        pattern = f"%{search.strip().lower()}%"
        query = query.where(or_(func.lower(Ticket.ticket_code).like(pattern),
                                func.lower(func.coalesce(Ticket.description, "")).like(pattern)))
    order = Ticket.resolved_at.desc() if resolved else Ticket.created_at.desc()
    return query.order_by(order, Ticket.id.desc())


def remark_list_query(resolved: bool, search: str | None = None):
    query = select(Remark).where(Remark.resolved_at.is_not(None) if resolved else Remark.resolved_at.is_(None))
    if search:
        query = query.where(func.lower(Remark.body).like(f"%{search.strip().lower()}%"))
    order = Remark.resolved_at.desc() if resolved else Remark.created_at.desc()
    return query.order_by(order, Remark.id.desc())


def run_counts(link_model, owner_field: str, owner_ids: Sequence[int]) -> dict[int, int]:
    """How many runs each ticket or remark is linked to."""
    if not owner_ids:
        return {}
    column = getattr(link_model, owner_field)
    return dict(db.session.execute(select(column, func.count()).where(column.in_(owner_ids)).group_by(column)).all())


def linked_runs(link_model, owner_field: str, owner_id: int, limit: int = 50) -> list[JobRun]:
    return list(db.session.scalars(
        select(JobRun).join(link_model, link_model.job_run_id == JobRun.id)
        .where(getattr(link_model, owner_field) == owner_id)
        .order_by(JobRun.run_at.desc(), JobRun.id.desc()).limit(limit)))
