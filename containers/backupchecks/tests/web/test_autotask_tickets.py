"""Creating an Autotask ticket for a run (POST /run-checks/runs/<id>/autotask-ticket) against the fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.app.extensions import db
from backend.app.jobs import autotask_sync
from backend.app.models import AuditLog, BackgroundTask, CustomerObject, JobRun, RunObjectLink, Ticket, TicketJobRun
from backend.app.services.autotask_settings import autotask_client_from_settings
from backend.app.services.background import claim_task
from backend.app.services.settings import get_settings

from ..factories import make_customer, make_job, make_run
from ..fakes.autotask_server import AutotaskFake, running_autotask_fake
from ..unit.test_autotask_sync import DEFAULTS, configure

FETCH = {"X-Requested-With": "fetch"}
RUN_AT = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 03:00 in Europe/Amsterdam
TICKETS_PATH = "POST /atservicesrest/v1.0/tickets"


@pytest.fixture
def fake() -> Iterator[AutotaskFake]:
    with running_autotask_fake() as running:
        yield running


def failed_run(mapping: tuple[int, str, str] | None = (174, "Example Customer Alpha", "ok"), **fields) -> JobRun:
    customer = make_customer("Alpha Dental")
    if mapping is not None:
        customer.autotask_company_id, customer.autotask_company_name, customer.autotask_mapping_status = mapping
    job = make_job(customer, job_name="Nightly SERVER01", backup_software="Veeam", backup_type="Backup Job")
    fields.setdefault("message", "Job finished with errors: 1 of 3 VMs failed")
    run = make_run(job, status="failed", run_at=RUN_AT, **fields)
    for name, status, error in (("SERVER01", "failed", "Disk full on repository\n  REPO01"),
                                ("SERVER02", "warning", "Changed block tracking was reset"),
                                ("SERVER03", "success", None)):
        obj = CustomerObject(customer_id=customer.id, name=name, object_type="VM")
        db.session.add(obj)
        db.session.flush()
        db.session.add(RunObjectLink(job_run_id=run.id, customer_object_id=obj.id, status=status,
                                     error_message=error))
    db.session.commit()
    return run


def create(client, run: JobRun, **kwargs):
    return client.post(f"/run-checks/runs/{run.id}/autotask-ticket", headers=FETCH, **kwargs)


def audit(event_type: str) -> list[str]:
    return list(db.session.scalars(select(AuditLog.message).where(AuditLog.event_type == event_type)))


def test_a_ticket_is_created_with_the_defaults_and_stored_on_the_run_and_as_an_internal_ticket(
        client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    user = login_as("operator")
    run = failed_run()

    response = create(client, run)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    [sent] = fake.ticket_creates()
    stored = fake.ticket(answer["ticket_id"])
    assert answer["ok"] is True and answer["ticket_number"] == stored["ticketNumber"]
    assert answer["message"] == f"Autotask ticket {stored['ticketNumber']} created."

    body = sent.json
    assert {key: body[key] for key in ("companyID", "queueID", "priority", "status", "issueType", "source")} == \
        {"companyID": 174, "queueID": 29683481, "priority": 1, "status": 1, "issueType": 10, "source": 8}
    assert body["title"] == "Backup failed: Alpha Dental - Nightly SERVER01 (Veeam Backup Job)"
    description = body["description"]
    for text in ("Customer: Alpha Dental", "Job: Nightly SERVER01", "Backup software: Veeam",
                 "Backup type: Backup Job", "Status: Failed", "Run time: 2026-11-25 03:00 (Europe/Amsterdam)",
                 "Job finished with errors: 1 of 3 VMs failed", "Objects with problems (2 of 3):",
                 "- SERVER01 (VM): Failed - Disk full on repository REPO01",
                 "- SERVER02 (VM): Warning - Changed block tracking was reset"):
        assert text in description, text
    assert "SERVER03" not in description
    assert description.index("SERVER01") < description.index("SERVER02")  # worst first
    assert stored["description"] == description

    run = db.session.get(JobRun, run.id)
    assert (run.autotask_ticket_id, run.autotask_ticket_number) == (answer["ticket_id"], answer["ticket_number"])
    assert run.autotask_ticket_created_by_id == user.id and run.autotask_ticket_created_at is not None
    ticket = db.session.scalars(select(Ticket).where(Ticket.ticket_code == answer["ticket_number"])).one()
    assert ticket.autotask_ticket_id == answer["ticket_id"] and ticket.resolved_at is None
    assert ticket.description == body["title"]
    assert [(s.scope_type, s.job_id) for s in ticket.scopes] == [("job", run.job_id)]
    assert db.session.get(TicketJobRun, (ticket.id, run.id)) is not None
    assert any(answer["ticket_number"] in m for m in audit("autotask_ticket_created"))
    # The creation lease is free again.
    lease = db.session.get(BackgroundTask, f"autotask_ticket_job_{run.job_id}")
    assert lease.lease_holder is None and lease.last_status == "ok"


def test_a_second_ticket_is_refused_naming_the_first_for_the_run_and_for_later_runs(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    login_as("operator")
    run = failed_run()
    number = create(client, run).get_json()["ticket_number"]

    response = create(client, run)
    assert response.status_code == 409
    answer = response.get_json()
    assert answer["ok"] is False and answer["ticket_number"] == number
    assert f"This run already has Autotask ticket {number}" in answer["message"]

    # A later run of the job without the ticket on it (strategy 2: the job's open ticket counts).
    later = make_run(run.job, status="failed", run_at=RUN_AT + timedelta(days=1))
    db.session.commit()
    response = create(client, later)
    assert response.status_code == 409
    assert f"already has open Autotask ticket {number}" in response.get_json()["message"]
    assert len(fake.ticket_creates()) == 1

    # Completed in Autotask and synced: the job may get a new ticket.
    fake.complete_ticket(run.autotask_ticket_id)
    autotask_sync.run_once(datetime.now(UTC), force=True,
                           client_factory=lambda: autotask_client_from_settings(get_settings(), fake.session()))
    response = create(client, later)
    assert response.status_code == 200 and response.get_json()["ticket_number"] != number
    assert len(fake.ticket_creates()) == 2


def test_a_ticket_deleted_in_autotask_no_longer_blocks_a_new_one(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    login_as("operator")
    run = failed_run()
    first = create(client, run).get_json()["ticket_id"]
    fake.delete_ticket(first)
    autotask_sync.run_once(datetime.now(UTC), force=True,
                           client_factory=lambda: autotask_client_from_settings(get_settings(), fake.session()))
    response = create(client, run)
    assert response.status_code == 200 and response.get_json()["ticket_id"] != first


@pytest.mark.parametrize(("mapping", "expected"), [
    (None, "is not mapped to an Autotask company"),
    ((176, "Sample Holding Group", "missing"), "no longer exists in Autotask"),
    ((178, "Former Customer Gamma", "invalid"), "is inactive in Autotask"),
])
def test_no_ticket_without_a_valid_mapping(client, login_as, fake, mapping, expected):
    configure(fake, defaults=DEFAULTS)
    login_as("operator")
    run = failed_run(mapping)
    response = create(client, run)
    assert response.status_code == 400
    assert response.get_json() == {"ok": False, "message": response.get_json()["message"]}
    assert expected in response.get_json()["message"]
    assert fake.ticket_creates() == [] and db.session.get(JobRun, run.id).autotask_ticket_id is None


def test_a_renamed_company_still_gets_tickets(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    login_as("operator")
    response = create(client, failed_run((175, "Beta (old name)", "renamed")))
    assert response.status_code == 200 and fake.ticket_creates()[0].json["companyID"] == 175


def test_wrong_credentials_give_a_clear_error_and_store_nothing(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    user = login_as("operator")
    run = failed_run()
    fake.reject_credentials = True
    response = create(client, run)
    assert response.status_code == 502
    message = response.get_json()["message"]
    assert message.startswith("Autotask did not create the ticket:")
    assert "API username, secret or integration code was rejected" in message
    assert db.session.get(JobRun, run.id).autotask_ticket_id is None
    assert db.session.scalar(select(func.count(Ticket.id))) == 0
    failures = db.session.scalars(select(AuditLog).where(AuditLog.event_type == "autotask_ticket_failed")).all()
    assert len(failures) == 1 and failures[0].user_id == user.id and "rejected" in failures[0].message
    # The lease was given back: once the credentials are right, the same click works.
    fake.reject_credentials = False
    assert create(client, run).status_code == 200


def test_an_api_error_envelope_is_shown_as_autotask_wrote_it(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    login_as("operator")
    run = failed_run()
    fake.server_error_next(message="Value does not fall within the expected range.", match=TICKETS_PATH)
    response = create(client, run)
    assert response.status_code == 502
    assert "Value does not fall within the expected range." in response.get_json()["message"]
    assert fake.tickets() == [] and db.session.get(JobRun, run.id).autotask_ticket_id is None
    assert len(fake.ticket_creates()) == 1  # a 500 is never retried: a create could succeed twice


def test_a_number_that_cannot_be_read_back_is_stored_as_the_id_and_learned_by_the_sync(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    login_as("operator")
    run = failed_run()
    fake.server_error_next(message="Temporary failure.", match="GET /atservicesrest/v1.0/tickets/")
    answer = create(client, run).get_json()
    assert answer["ok"] is True and answer["ticket_number"] is None
    assert "could not be read back" in answer["message"]
    provisional_code = f"#{answer['ticket_id']}"
    run = db.session.get(JobRun, run.id)
    assert run.autotask_ticket_number == provisional_code
    assert db.session.scalars(select(Ticket).where(Ticket.ticket_code == provisional_code)).one()

    autotask_sync.run_once(datetime.now(UTC), force=True,
                           client_factory=lambda: autotask_client_from_settings(get_settings(), fake.session()))
    number = fake.ticket(answer["ticket_id"])["ticketNumber"]
    assert run.autotask_ticket_number == number
    assert db.session.scalars(select(Ticket.ticket_code).where(Ticket.autotask_ticket_id == answer["ticket_id"])) \
        .one() == number


def test_settings_that_are_off_or_incomplete_are_named(client, login_as, fake):
    login_as("operator")
    run = failed_run()
    response = create(client, run)
    assert response.status_code == 400 and "Autotask is not enabled" in response.get_json()["message"]
    configure(fake)  # enabled, but no defaults chosen
    response = create(client, run)
    assert response.status_code == 400
    assert "Choose the default queue, priority, status" in response.get_json()["message"]
    assert fake.ticket_creates() == []


def test_a_click_while_another_creation_runs_is_refused(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    login_as("operator")
    run = failed_run()
    assert claim_task(f"autotask_ticket_job_{run.job_id}", "other-worker", datetime.now(UTC), timedelta(minutes=3))
    db.session.commit()
    response = create(client, run)
    assert response.status_code == 409 and "being created right now" in response.get_json()["message"]
    assert fake.ticket_creates() == []


def test_a_missed_run_says_when_it_was_expected(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    login_as("operator")
    customer = make_customer("Beta")
    customer.autotask_company_id, customer.autotask_company_name, customer.autotask_mapping_status = \
        175, "Example Customer Beta", "ok"
    job = make_job(customer, job_name="Weekly NAS")
    run = make_run(job, status="missed", run_at=datetime(2026, 7, 1, 20, 0, tzinfo=UTC),
                   missed_slot_at=datetime(2026, 7, 1, 20, 0, tzinfo=UTC))
    db.session.commit()
    assert create(client, run).status_code == 200
    body = fake.ticket_creates()[0].json
    assert body["title"].startswith("Backup missed: Beta - Weekly NAS")
    assert "Expected at: 2026-07-01 22:00 (Europe/Amsterdam)" in body["description"]  # summer time
    assert "No backup report arrived" in body["description"]


def test_a_huge_run_still_fits_autotasks_description(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    login_as("operator")
    run = failed_run(message="x" * 20000)
    for i in range(400):
        obj = CustomerObject(customer_id=run.job.customer_id, name=f"VM{i:03d}", object_type="VM")
        db.session.add(obj)
        db.session.flush()
        db.session.add(RunObjectLink(job_run_id=run.id, customer_object_id=obj.id, status="failed",
                                     error_message="Snapshot failed " * 10))
    db.session.commit()
    assert create(client, run).status_code == 200
    description = fake.ticket_creates()[0].json["description"]
    assert len(description) <= 8000 and description.rstrip().split("\n")[-1].startswith("… and ")


def test_the_form_fallback_redirects_with_the_message(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    login_as("operator")
    run = failed_run(None)
    response = client.post(f"/run-checks/runs/{run.id}/autotask-ticket", data={"next": "/run-checks?status=failed"})
    assert response.status_code == 302 and response.headers["Location"] == "/run-checks?status=failed"
    page = client.get("/run-checks").get_data(as_text=True)
    assert "is not mapped to an Autotask company" in page


def test_viewers_cannot_create_tickets_and_unknown_runs_are_404(client, login_as, fake):
    configure(fake, defaults=DEFAULTS)
    run = failed_run()
    login_as("viewer")
    assert create(client, run).status_code == 403
    client.post("/logout")
    login_as("admin")
    assert client.post("/run-checks/runs/999999/autotask-ticket", headers=FETCH).status_code == 404
    assert fake.ticket_creates() == []
