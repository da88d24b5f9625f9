"""The PSA sync pass against the fake Autotask server: completed tickets resolve, deleted ones are
marked, descriptions are never touched, and a failing API loses nothing for the next pass."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.app import create_app
from backend.app.database import upgrade_schema
from backend.app.extensions import db
from backend.app.jobs import autotask_sync
from backend.app.jobs.runner import default_passes
from backend.app.models import AuditLog, BackgroundTask, JobRun, Ticket
from backend.app.services.autotask_settings import (
    AutotaskSettingsInput,
    autotask_client_from_settings,
    refresh_autotask_picklists,
    update_autotask_settings,
)
from backend.app.services.autotask_tickets import existing_autotask_ticket
from backend.app.services.background import claim_task
from backend.app.services.settings import get_settings
from backend.app.services.tickets import record_autotask_ticket

from ..conftest import make_test_config, separate_database_url
from ..factories import make_customer, make_job, make_run, make_user
from ..fakes.autotask_server import AutotaskFake, running_autotask_fake

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
DESCRIPTION = "Backup failed on SERVER01.\nDisk full on the repository."


@pytest.fixture
def fake() -> Iterator[AutotaskFake]:
    with running_autotask_fake() as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


# Ticket defaults as an admin picks them from the fake's picklists.
DEFAULTS = {"queueID": 29683481, "priority": 1, "status": 1, "issueType": 10, "source": 8}


def configure(fake: AutotaskFake, *, enabled: bool = True, sync: bool = True, interval: int = 15,
              defaults: dict[str, int] | None = None) -> None:
    """Autotask settings pointing at the fake, as the settings tab saves them; with ``defaults``, the
    picklists are refreshed from the fake first and the defaults chosen from them."""
    values = fake.app_settings()
    admin = make_user("admin")

    def save(chosen: dict[str, int]) -> None:
        update_autotask_settings(admin, AutotaskSettingsInput(
            enabled=enabled, username=values["username"], secret=values["secret"],
            integration_code=values["integration_code"], zone_lookup_url=values["zone_lookup_url"],
            defaults=chosen, sync_enabled=sync, sync_interval_minutes=interval))
        db.session.commit()

    save({})
    if defaults is not None:
        refresh_autotask_picklists(admin, autotask_client_from_settings(get_settings(), fake.session()), NOW)
        save(defaults)


def factory(fake: AutotaskFake, sleeps: list[float], **options):
    def build():
        return autotask_client_from_settings(get_settings(), fake.session(), sleep=sleeps.append, **options)

    return build


def ticket_for(fake: AutotaskFake, run: JobRun, *, number: str | None = None) -> Ticket:
    """A ticket in Autotask for ``run``, recorded as the run-checks route records it."""
    autotask_id = fake.add_ticket(title=f"Backup failed: {run.job.job_name}", description=DESCRIPTION)
    ticket = record_autotask_ticket(run, autotask_ticket_id=autotask_id,
                                    ticket_number=number or fake.ticket(autotask_id)["ticketNumber"],
                                    description="Backup failed", user=None, created_at=NOW - timedelta(days=1))
    db.session.commit()
    return ticket


def sync(fake: AutotaskFake, sleeps: list[float], at: datetime = NOW, **options) -> autotask_sync.SyncSummary:
    summary = autotask_sync.run_once(at, force=True, client_factory=factory(fake, sleeps, **options))
    assert summary is not None
    return summary


def audit(event_type: str) -> list[str]:
    return list(db.session.scalars(select(AuditLog.message).where(AuditLog.event_type == event_type)
                                   .order_by(AuditLog.id)))


def test_the_pass_is_one_of_the_default_passes():
    assert "autotask_sync" in [name for name, _ in default_passes()]


def test_a_ticket_completed_in_autotask_resolves_the_internal_ticket(app, fake, sleeps):
    configure(fake)
    job = make_job(make_customer())
    done = ticket_for(fake, make_run(job, status="failed"))
    still_open = ticket_for(fake, make_run(make_job(), status="warning"))
    fake.complete_ticket(done.autotask_ticket_id, resolution="Repository cleaned up")

    summary = sync(fake, sleeps)
    assert (summary.tickets_checked, summary.resolved, summary.deleted, summary.errors) == (2, 1, 0, [])
    assert done.resolved_at == NOW and done.resolved_by_id is None
    assert still_open.resolved_at is None
    # Resolved: a new run of the job no longer counts as having an open ticket (seeds, strategy 2).
    assert existing_autotask_ticket(make_run(job, status="failed")) is None
    task = db.session.get(BackgroundTask, autotask_sync.TASK_NAME)
    assert task.last_status == "ok" and "1 completed" in task.last_summary and task.lease_holder is None
    assert any("1 completed" in message for message in audit("autotask_sync"))
    assert any("completed in Autotask" in message for message in audit("ticket_resolved"))


def test_a_ticket_deleted_in_autotask_is_marked_deleted_on_the_ticket_and_its_runs(app, fake, sleeps):
    configure(fake)
    job = make_job()
    first = make_run(job, status="failed", run_at=NOW - timedelta(days=1))
    ticket = ticket_for(fake, first)
    # A later run carries the same Autotask ticket (propagation).
    later = make_run(job, status="failed", run_at=NOW - timedelta(hours=2),
                     autotask_ticket_id=ticket.autotask_ticket_id, autotask_ticket_number=ticket.ticket_code)
    db.session.commit()
    fake.delete_ticket(ticket.autotask_ticket_id)
    fake.clear_log()

    summary = sync(fake, sleeps)
    assert (summary.deleted, summary.resolved, summary.errors) == (1, 0, [])
    assert ticket.autotask_ticket_deleted_at == NOW and ticket.resolved_at is None
    assert first.autotask_ticket_deleted_at == NOW and later.autotask_ticket_deleted_at == NOW
    # Absent from the query, and confirmed missing by id before being written off.
    assert any(r.method == "GET" and r.path.endswith(f"/Tickets/{ticket.autotask_ticket_id}")
               for r in fake.api_requests())
    # Deleted: a new ticket may be created for the job again.
    assert existing_autotask_ticket(make_run(job, status="failed")) is None


def test_the_pass_only_reads_tickets_so_descriptions_survive(app, fake, sleeps):
    configure(fake)
    tickets = [ticket_for(fake, make_run(make_job(), status="failed")) for _ in range(3)]
    fake.complete_ticket(tickets[0].autotask_ticket_id)
    sync(fake, sleeps)
    sync(fake, sleeps, at=NOW + timedelta(minutes=20))
    assert fake.ticket_writes() == []
    for ticket in tickets:
        assert fake.ticket(ticket.autotask_ticket_id)["description"] == DESCRIPTION


def test_open_tickets_are_read_in_one_query_with_only_the_fields_needed(app, fake, sleeps):
    configure(fake)
    for _ in range(4):
        ticket_for(fake, make_run(make_job(), status="failed"))
    fake.clear_log()
    sync(fake, sleeps)
    queries = [r for r in fake.api_requests() if r.path.lower().endswith("/tickets/query")]
    assert len(queries) == 1
    body = queries[0].json
    assert body["IncludeFields"] == ["id", "ticketNumber", "status"]
    assert body["filter"][0]["op"] == "in" and len(body["filter"][0]["value"]) == 4


def test_a_number_that_could_not_be_read_back_is_learned(app, fake, sleeps):
    configure(fake)
    run = make_run(make_job(), status="failed")
    autotask_id = fake.add_ticket(description=DESCRIPTION)
    ticket = record_autotask_ticket(run, autotask_ticket_id=autotask_id, ticket_number=f"#{autotask_id}",
                                    description="Backup failed", user=None, created_at=NOW)
    db.session.commit()
    summary = sync(fake, sleeps)
    number = fake.ticket(autotask_id)["ticketNumber"]
    assert summary.numbers == 1
    assert ticket.ticket_code == number and run.autotask_ticket_number == number


def _break(fake: AutotaskFake, how: str) -> None:
    if how == "401":
        fake.reject_credentials = True
    elif how == "429":
        fake.throttle_next(count=2, retry_after="7")
    elif how == "500":
        fake.server_error_next(message="Value does not fall within the expected range.")
    elif how == "timeout":
        fake.slow_next(1.0, count=2)  # the first try and its one retry


@pytest.mark.parametrize(("how", "expected"), [
    ("401", "rejected"),
    ("429", "threshold was exceeded"),
    ("500", "Value does not fall within the expected range."),
    ("timeout", "no answer within 0.3 s"),
])
def test_a_failing_api_is_reported_loses_nothing_and_the_next_pass_retries(app, fake, sleeps, how, expected):
    configure(fake)
    done = ticket_for(fake, make_run(make_job(), status="failed"))
    gone = ticket_for(fake, make_run(make_job(), status="failed"))
    fake.complete_ticket(done.autotask_ticket_id)
    fake.delete_ticket(gone.autotask_ticket_id)
    _break(fake, how)

    summary = sync(fake, sleeps, timeout=0.3, max_attempts=2, max_retry_wait=60.0)
    assert any(expected in error for error in summary.errors), summary.errors
    # Nothing was concluded from a failed answer: in particular no ticket counts as deleted.
    assert done.resolved_at is None and gone.autotask_ticket_deleted_at is None
    task = db.session.get(BackgroundTask, autotask_sync.TASK_NAME)
    assert task.last_status == "error" and expected in task.last_error and task.lease_holder is None
    assert any(expected in (message or "") for message in audit("autotask_sync_failed")) or \
        any(expected in (d or "") for d in db.session.scalars(
            select(AuditLog.details).where(AuditLog.event_type == "autotask_sync_failed")))
    if how == "429":
        assert sleeps[0] == 7.0  # the Retry-After was honoured before the one retry

    fake.reject_credentials = False
    later = NOW + timedelta(minutes=16)
    summary = autotask_sync.run_once(later, client_factory=factory(fake, sleeps, timeout=5.0))
    assert summary is not None and summary.errors == []
    assert done.resolved_at == later and gone.autotask_ticket_deleted_at == later


def test_the_pass_runs_when_due_and_only_once_at_a_time(app, fake, sleeps):
    configure(fake, interval=15)
    build = factory(fake, sleeps)
    assert autotask_sync.run_once(NOW, client_factory=build) is not None
    assert autotask_sync.run_once(NOW + timedelta(minutes=5), client_factory=build) is None
    # Another instance holds the lease: even a forced pass stays out, and asks Autotask nothing.
    assert claim_task(autotask_sync.TASK_NAME, "other-instance", NOW + timedelta(minutes=20), timedelta(minutes=10))
    db.session.commit()
    fake.clear_log()
    assert autotask_sync.run_once(NOW + timedelta(minutes=21), force=True, client_factory=build) is None
    assert fake.requests == []
    # Its lease ran out (it crashed) and the interval since its start has passed: the next pass goes ahead.
    assert autotask_sync.run_once(NOW + timedelta(minutes=36), client_factory=build) is not None


@pytest.mark.parametrize(("enabled", "sync_enabled"), [(False, True), (True, False)])
def test_the_pass_is_not_due_when_autotask_or_the_sync_is_off(app, fake, sleeps, enabled, sync_enabled):
    configure(fake, enabled=enabled, sync=sync_enabled)
    assert autotask_sync.run_once(NOW, client_factory=factory(fake, sleeps)) is None
    assert fake.requests == []


def test_a_pass_without_credentials_reports_what_is_missing(app):
    settings = get_settings()
    settings.autotask_enabled = True
    db.session.commit()
    summary = autotask_sync.run_once(NOW, force=True)
    assert summary is not None and "Autotask is not configured" in summary.errors[0]
    assert any("not configured" in message for message in audit("autotask_sync_failed"))


def test_two_instances_at_once_resolve_each_ticket_once(tmp_path):
    """Two instances start a pass at the same moment on their own connections: the lease lets one run
    (the other finds it taken), and every completed ticket is resolved exactly once."""
    app = create_app(make_test_config(separate_database_url(tmp_path, "autotask_sync")), run_migrations=False)
    app.instance_path = str(tmp_path)
    upgrade_schema(app)
    with running_autotask_fake() as fake:
        with app.app_context():
            configure(fake)
            for _ in range(3):
                fake.complete_ticket(ticket_for(fake, make_run(make_job(), status="failed")).autotask_ticket_id)
            db.session.remove()
        fake.slow_next(0.2)  # every answer: the first pass is surely still running when the second starts
        results: list = []
        barrier = threading.Barrier(2)

        def instance() -> None:
            with app.app_context():
                barrier.wait()
                results.append(autotask_sync.run_once(
                    NOW, force=True,
                    client_factory=lambda: autotask_client_from_settings(get_settings(), fake.session())))
                db.session.remove()

        threads = [threading.Thread(target=instance) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        with app.app_context():
            ran = [result for result in results if result is not None]
            assert len(results) == 2 and len(ran) >= 1
            assert sum(result.resolved for result in ran) == 3
            assert db.session.scalar(select(func.count(AuditLog.id))
                                     .where(AuditLog.event_type == "ticket_resolved")) == 3
            assert db.session.scalar(select(func.count(Ticket.id)).where(Ticket.resolved_at.is_(None))) == 0
            db.session.remove()
            db.engine.dispose()
