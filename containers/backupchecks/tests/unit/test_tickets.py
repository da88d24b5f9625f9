"""The seeds' ticket and remark rules: linking new runs, open = COALESCE(...) IS NULL, two-source display."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from backend.app.extensions import db
from backend.app.models import AuditLog, CustomerObject, JobRun, RemarkJobRun, RunObjectLink, TicketJobRun
from backend.app.services.inbox import approve_inbox_mail
from backend.app.services.mail_ingest import ingest_message
from backend.app.services.missed_runs import ensure_missed_runs
from backend.app.services.runs import finish_new_run
from backend.app.services.tickets import (
    ScopeInput,
    TicketError,
    add_ticket_scope,
    alerts_for_run,
    create_remark,
    create_ticket,
    indicators_for_jobs,
    link_open_tickets_to_run,
    mark_autotask_ticket_deleted,
    next_ticket_code,
    record_autotask_ticket,
    reopen_ticket,
    resolve_remark,
    resolve_ticket,
    resolve_ticket_scope,
    tickets_for_job,
)

from ..factories import make_customer, make_job, make_run, make_user
from ..mailfactory import fixture_mail, variant

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime.now(UTC)


def _new_run(job, status="failed", run_at=None, **fields) -> JobRun:
    """A run created the way every source creates one: flushed, then finished (overrides, tickets)."""
    run = make_run(job, status=status, run_at=run_at or NOW, **fields)
    finish_new_run(job, run)
    return run


def _ticket_ids(run) -> list[int]:
    return list(db.session.scalars(select(TicketJobRun.ticket_id).where(TicketJobRun.job_run_id == run.id)
                                   .order_by(TicketJobRun.ticket_id)))


def _remark_ids(run) -> list[int]:
    return list(db.session.scalars(select(RemarkJobRun.remark_id).where(RemarkJobRun.job_run_id == run.id)))


def _job_ticket(job, code=None, **kwargs):
    return create_ticket(None, code=code, description="Disk full", scope=ScopeInput("job", job_id=job.id), **kwargs)


def test_open_ticket_links_every_new_run_until_resolved_and_old_links_stay(app):
    job = make_job(make_customer())
    ticket = _job_ticket(job)
    first, second = _new_run(job), _new_run(job, status="warning")
    assert _ticket_ids(first) == _ticket_ids(second) == [ticket.id]
    resolve_ticket(ticket, user=None)
    third = _new_run(job)
    assert _ticket_ids(third) == []
    # The audit trail: runs linked before the resolve keep the ticket.
    assert _ticket_ids(first) == [ticket.id]
    assert [t["code"] for t in alerts_for_run(first)["tickets"]] == [ticket.ticket_code]
    assert alerts_for_run(third)["tickets"] == []
    reopen_ticket(make_user("operator"), ticket)
    assert _ticket_ids(_new_run(job)) == [ticket.id]


def test_no_date_based_resolved_logic(app):
    """A ticket links to new runs while open, whatever its dates say, and never once resolved."""
    job = make_job(make_customer())
    future = _job_ticket(job, active_from_date=date.today() + timedelta(days=30))
    old_run_time = NOW - timedelta(days=60)
    assert _ticket_ids(_new_run(job, run_at=old_run_time)) == [future.id]
    resolve_ticket(future, user=None, resolved_at=NOW + timedelta(days=365))
    # resolved_at lies in the future: still resolved now, for runs of any date.
    assert _ticket_ids(_new_run(job, run_at=NOW + timedelta(days=400))) == []


def test_scope_resolved_alone_stops_that_scope_only(app):
    customer = make_customer()
    job_a, job_b = make_job(customer), make_job(customer)
    ticket = _job_ticket(job_a)
    scope_b = add_ticket_scope(make_user("operator"), ticket, ScopeInput("job", job_id=job_b.id))
    assert _ticket_ids(_new_run(job_b)) == [ticket.id]
    resolve_ticket_scope(make_user("operator"), scope_b)
    assert _ticket_ids(_new_run(job_b)) == []
    assert _ticket_ids(_new_run(job_a)) == [ticket.id]


def test_customer_software_and_object_scopes(app):
    customer, other = make_customer(), make_customer()
    veeam = make_job(customer, backup_software="Veeam", backup_type="Backup Job")
    synology = make_job(customer, backup_software="Synology", backup_type="Hyper Backup")
    elsewhere = make_job(other, backup_software="Veeam", backup_type="Backup Job")
    by_customer = create_remark(None, body="Moving office", scope=ScopeInput("customer", customer_id=customer.id))
    by_software = create_ticket(None, code="PSA-1", description="Veeam bug",
                                scope=ScopeInput("software", backup_software="veeam", backup_type=None))
    assert _ticket_ids(_new_run(veeam)) == [by_software.id]
    assert _ticket_ids(_new_run(elsewhere)) == [by_software.id]
    assert _ticket_ids(_new_run(synology)) == []
    assert _remark_ids(_new_run(synology)) == [by_customer.id]
    assert _remark_ids(_new_run(elsewhere)) == []

    vm = CustomerObject(customer_id=customer.id, name="SQL01", object_type="VM")
    db.session.add(vm)
    db.session.flush()
    from backend.app.models import JobObjectLink
    db.session.add(JobObjectLink(job_id=veeam.id, customer_object_id=vm.id))
    db.session.flush()
    on_object = create_ticket(None, code="PSA-2", description="SQL01 snapshot",
                              scope=ScopeInput("object", job_id=veeam.id, customer_object_id=vm.id))
    with_vm = make_run(veeam, status="failed")
    db.session.add(RunObjectLink(job_run_id=with_vm.id, customer_object_id=vm.id, status="failed"))
    db.session.flush()
    finish_new_run(veeam, with_vm)
    assert _ticket_ids(with_vm) == sorted([by_software.id, on_object.id])
    assert _ticket_ids(_new_run(veeam)) == [by_software.id]


def test_remark_links_only_within_its_active_window(app):
    job = make_job(make_customer())
    today = NOW.astimezone(AMS).date()
    remark = create_remark(None, body="Maintenance this week", scope=ScopeInput("job", job_id=job.id),
                           active_from_date=today, active_until_date=today + timedelta(days=2))
    assert _remark_ids(_new_run(job)) == [remark.id]
    later = datetime.combine(today + timedelta(days=3), time(22), tzinfo=AMS)
    assert _remark_ids(_new_run(job, run_at=later)) == []
    resolve_remark(make_user("operator"), remark)
    assert _remark_ids(_new_run(job)) == []
    with pytest.raises(TicketError, match="cannot end before"):
        create_remark(None, body="x", scope=ScopeInput("job", job_id=job.id), active_from_date=today,
                      active_until_date=today - timedelta(days=1))


def test_mail_runs_and_missed_runs_get_open_tickets(app):
    """The linking function is called for runs from mail and for missed runs (seeds)."""
    first = ingest_message(fixture_mail("3cx/3cx-backup-success.eml")).mail
    job = approve_inbox_mail(make_user("operator"), first, make_customer()).job
    ticket = _job_ticket(job)
    run = ingest_message(variant(fixture_mail("3cx/3cx-backup-failed.eml"), "<t1@example.com>")).run
    assert run is not None and _ticket_ids(run) == [ticket.id]

    nightly = make_job(make_customer())
    today = NOW.astimezone(AMS).date()
    for offset in range(40, 1, -1):
        make_run(nightly, run_at=datetime.combine(today - timedelta(days=offset), time(22), tzinfo=AMS))
    ensure_missed_runs(NOW, [nightly.id])
    nightly.schedule_expected_since_at = NOW - timedelta(days=30)
    missed_ticket = _job_ticket(nightly, code="PSA-MISSED")
    ensure_missed_runs(NOW + timedelta(days=1), [nightly.id])
    missed = db.session.scalars(select(JobRun).where(JobRun.job_id == nightly.id, JobRun.status == "missed")).all()
    assert missed and all(_ticket_ids(m) == [missed_ticket.id] for m in missed)


def test_alerts_use_both_sources_each_once(app):
    job = make_job(make_customer())
    waiting = make_run(job, status="failed", run_at=NOW - timedelta(hours=2))  # before the ticket existed
    ticket = _job_ticket(job, active_from_date=(NOW - timedelta(days=1)).astimezone(AMS).date())
    remark = create_remark(None, body="Known issue", scope=ScopeInput("job", job_id=job.id), runs=[waiting])
    alerts = alerts_for_run(waiting)
    # The ticket shows through the job's open scope, the remark through the run's own link; never twice.
    assert [(t["id"], t["source"]) for t in alerts["tickets"]] == [(ticket.id, "job")]
    assert [(r["id"], r["source"]) for r in alerts["remarks"]] == [(remark.id, "run")]
    linked = _new_run(job)
    assert [(t["id"], t["source"]) for t in alerts_for_run(linked)["tickets"]] == [(ticket.id, "run")]
    # A run from before the ticket's active-from day does not show it through the scope.
    early = make_run(job, status="failed", run_at=NOW - timedelta(days=10))
    assert alerts_for_run(early)["tickets"] == []
    resolve_ticket(ticket, user=None)
    assert alerts_for_run(waiting)["tickets"] == []
    assert [t["id"] for t in alerts_for_run(linked)["tickets"]] == [ticket.id]


def test_indicators_and_the_job_section(app):
    customer = make_customer()
    job, quiet = make_job(customer), make_job(customer)
    ticket = _job_ticket(job)
    remark = create_remark(None, body="Watch this", scope=ScopeInput("job", job_id=job.id))
    runs = [_new_run(job), _new_run(job)]
    rows = [(j.id, j.customer_id, j.backup_software, j.backup_type) for j in (job, quiet)]
    indicators = indicators_for_jobs(rows)
    assert (indicators[job.id].tickets, indicators[job.id].remarks) == (True, True)
    assert (indicators[quiet.id].tickets, indicators[quiet.id].remarks) == (False, False)
    section = tickets_for_job(job, [r.id for r in runs])
    assert [t.id for t in section.tickets] == [ticket.id] and [r.id for r in section.remarks] == [remark.id]
    assert section.ticket_codes_by_run == {r.id: [ticket.ticket_code] for r in runs}
    resolve_ticket(ticket, user=None)
    assert indicators_for_jobs(rows)[job.id].tickets is False
    # Resolved, but linked to the job's runs: still in the job's history.
    assert [t.id for t in tickets_for_job(job).tickets] == [ticket.id]


def test_autotask_ticket_is_carried_to_later_runs_until_resolved_or_deleted(app):
    job = make_job(make_customer())
    operator = make_user("operator")
    failed = _new_run(job)
    ticket = record_autotask_ticket(failed, autotask_ticket_id=7001, ticket_number="T20261125.0042",
                                    description="Backup failed", user=operator, created_at=NOW)
    assert ticket.ticket_code == "T20261125.0042" and ticket.autotask_ticket_id == 7001
    assert _ticket_ids(failed) == [ticket.id]
    nxt = _new_run(job)
    assert (nxt.autotask_ticket_id, nxt.autotask_ticket_number, nxt.autotask_ticket_created_by_id) == \
        (7001, "T20261125.0042", operator.id)
    assert _ticket_ids(nxt) == [ticket.id]
    mark_autotask_ticket_deleted(ticket, deleted_at=NOW)
    assert failed.autotask_ticket_deleted_at == NOW and nxt.autotask_ticket_deleted_at == NOW
    after = _new_run(job)
    assert after.autotask_ticket_id is None and _ticket_ids(after) == []
    assert alerts_for_run(after)["tickets"] == []
    assert [(t["code"], t["autotask_deleted"]) for t in alerts_for_run(nxt)["tickets"]] == [("T20261125.0042", True)]

    other = make_job(make_customer())
    run = _new_run(other)
    second = record_autotask_ticket(run, autotask_ticket_id=7002, ticket_number="T20261125.0043", description="x",
                                    user=None, created_at=NOW)
    resolve_ticket(second, user=None, origin="autotask")
    later = _new_run(other)
    assert later.autotask_ticket_id is None and _ticket_ids(later) == []
    assert db.session.scalar(select(AuditLog.message).where(AuditLog.event_type == "ticket_resolved")
                             .order_by(AuditLog.id.desc())) == "Ticket T20261125.0043 resolved (completed in Autotask)"


def test_codes_and_invalid_input(app):
    job = make_job(make_customer())
    day = date(2026, 1, 23)
    assert next_ticket_code(day) == "BC20260123.0001"
    create_ticket(None, code="BC20260123.0009", description=None, scope=ScopeInput("job", job_id=job.id))
    create_ticket(None, code="T20260123.0042", description=None, scope=ScopeInput("job", job_id=job.id))
    assert next_ticket_code(day) == "BC20260123.0010"  # a PSA's T-number does not count
    with pytest.raises(TicketError, match="already exists"):
        create_ticket(None, code=" BC20260123.0009 ", description=None, scope=ScopeInput("job", job_id=job.id))
    with pytest.raises(TicketError, match="Choose the job"):
        create_ticket(None, code="X-1", description=None, scope=ScopeInput("job", job_id=999999))
    with pytest.raises(TicketError, match="Choose what this is about"):
        create_ticket(None, code="X-2", description=None, scope=ScopeInput("planet"))
    with pytest.raises(TicketError, match="backup software"):
        create_ticket(None, code="X-3", description=None, scope=ScopeInput("software", backup_software="  "))
    with pytest.raises(TicketError, match="at most 64"):
        create_ticket(None, code="X" * 65, description=None, scope=ScopeInput("job", job_id=job.id))
    with pytest.raises(TicketError, match="needs a text"):
        create_remark(None, body=" ", scope=ScopeInput("job", job_id=job.id))


@contextmanager
def _statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_linking_is_idempotent_and_costs_nothing_without_open_scopes(app):
    job = make_job(make_customer())
    run = make_run(job, status="failed")
    with _statements() as seen:
        assert link_open_tickets_to_run(run) == 0
    assert len(seen) == 1  # the open ticket and remark scopes, read once for the app context
    with _statements() as seen:
        assert link_open_tickets_to_run(make_run(job)) == 0
    assert len(seen) == 1 and seen[0].startswith("INSERT")  # the factory's run only
    ticket = _job_ticket(job)
    assert link_open_tickets_to_run(run) == 1
    assert link_open_tickets_to_run(run) == 0
    assert _ticket_ids(run) == [ticket.id]


def test_an_autotask_number_never_lands_on_another_ticket(app):
    job, other = make_job(make_customer()), make_job(make_customer())
    # Our own numbering never takes Autotask's T-format, so a PSA number cannot meet it by chance.
    internal = _job_ticket(other)
    assert internal.ticket_code.startswith("BC")
    # An operator typed the PSA number before the ticket was mirrored: that ticket is adopted.
    typed = _job_ticket(job, code="T20261125.0001")
    run = _new_run(job)
    assert record_autotask_ticket(run, autotask_ticket_id=9001, ticket_number="T20261125.0001", description="x",
                                  user=None, created_at=NOW).id == typed.id
    # A number already mirrored for another Autotask ticket is not reused.
    run2 = _new_run(other)
    mirror = record_autotask_ticket(run2, autotask_ticket_id=9002, ticket_number="T20261125.0001", description="y",
                                    user=None, created_at=NOW)
    assert mirror.id not in (typed.id, internal.id) and mirror.ticket_code == "T20261125.0001 (#9002)"
    assert [s.job_id for s in mirror.scopes] == [other.id]
    # Later runs carry Autotask's own number.
    assert (_new_run(other).autotask_ticket_id, _new_run(other).autotask_ticket_number) == (9002, "T20261125.0001")
