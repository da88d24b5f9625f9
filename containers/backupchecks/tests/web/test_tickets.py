"""Tickets and Remarks pages, and creating both from Run Checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from backend.app.extensions import db
from backend.app.models import Remark, RemarkJobRun, Ticket, TicketJobRun

from ..factories import make_customer, make_job, make_run

NOW = datetime.now(UTC)
FETCH = {"X-Requested-With": "fetch"}


def _linked(run) -> list[str]:
    return list(db.session.scalars(select(Ticket.ticket_code).join(TicketJobRun, TicketJobRun.ticket_id == Ticket.id)
                                   .where(TicketJobRun.job_run_id == run.id)))


def _table(response) -> str:
    return response.get_data(as_text=True).split("<table")[1]


def test_create_a_ticket_for_a_run_then_resolve_and_reopen_it(client, login_as):
    login_as("operator")
    job = make_job(make_customer("Ticket Co"), job_name="Nightly")
    run = make_run(job, status="failed", message="Disk full")
    db.session.commit()
    form = client.get(f"/tickets/new?run_id={run.id}").get_data(as_text=True)
    assert "For the run of" in form and f'<option value="{job.id}" selected>' in form
    response = client.post(f"/tickets/new?run_id={run.id}", data={
        "ticket_code": "T20261125.0007", "description": "Replace the disk", "scope_type": "job", "job_id": job.id})
    assert response.status_code == 302
    ticket = db.session.scalar(select(Ticket).where(Ticket.ticket_code == "T20261125.0007"))
    assert response.headers["Location"].endswith(f"/tickets/{ticket.id}")
    assert _linked(run) == ["T20261125.0007"]
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert 'class="btn btn-sm btn-outline-secondary copy-ticket" data-copy="T20261125.0007"' in page
    assert "Job: Ticket Co · Nightly" in page and "Nightly" in page.split('id="linked-runs"')[1]

    listing = client.get("/tickets").get_data(as_text=True)
    assert "T20261125.0007" in listing and "Replace the disk" in listing
    assert "T20261125.0007" in client.get("/tickets?q=replace").get_data(as_text=True)
    assert "T20261125.0007" not in client.get("/tickets?q=nothing-like-it").get_data(as_text=True)

    flashed = client.post(f"/tickets/{ticket.id}/resolve", data={"next": "/tickets"}, follow_redirects=True)
    assert "Ticket T20261125.0007 resolved: new runs no longer get it" in flashed.get_data(as_text=True)
    assert ticket.resolved_at is not None
    assert "T20261125.0007" not in _table(client.get("/tickets"))
    assert "T20261125.0007" in _table(client.get("/tickets?show=resolved"))
    client.post(f"/tickets/{ticket.id}/reopen")
    assert ticket.resolved_at is None


def test_edit_add_scope_and_resolve_one_scope(client, login_as):
    login_as("operator")
    customer = make_customer("Scope Co")
    job, other = make_job(customer, job_name="A"), make_job(customer, job_name="B")
    db.session.commit()
    client.post("/tickets/new", data={"ticket_code": "", "description": "x", "scope_type": "job", "job_id": job.id})
    ticket = db.session.scalar(select(Ticket).order_by(Ticket.id.desc()))
    assert ticket.ticket_code.startswith("BC") and len(ticket.ticket_code) == len("BC20260123.0001")
    client.post(f"/tickets/{ticket.id}", data={"ticket_code": "PSA-77", "description": "New text",
                                                "active_from_date": "2026-11-01", "start_date": "2026-10-30"})
    assert (ticket.ticket_code, ticket.description, str(ticket.active_from_date)) == ("PSA-77", "New text",
                                                                                       "2026-11-01")
    client.post(f"/tickets/{ticket.id}/scopes", data={"scope_type": "job", "job_id": other.id})
    assert [s.job_id for s in ticket.scopes] == [job.id, other.id]
    client.post(f"/tickets/scopes/{ticket.scopes[1].id}/resolve")
    assert ticket.scopes[1].resolved_at is not None and ticket.scopes[0].resolved_at is None
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert page.count("Resolve for this scope only") == 1


def test_garbage_input_is_refused_with_a_message_and_nothing_is_stored(client, login_as):
    login_as("operator")
    make_job(make_customer())
    db.session.commit()
    before = db.session.scalar(select(func.count(Ticket.id)))
    page = client.post("/tickets/new", data={"ticket_code": "X", "scope_type": "job", "job_id": "999999"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Choose the job this is about." in page
    page = client.post("/tickets/new", data={"ticket_code": "X", "scope_type": "job", "job_id": "abc"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Not a valid integer value." in page
    page = client.post("/tickets/new", data={"scope_type": "software", "backup_software": ""},
                       follow_redirects=True).get_data(as_text=True)
    assert "Enter the backup software" in page
    assert db.session.scalar(select(func.count(Ticket.id))) == before
    assert client.post("/tickets/999999/resolve").status_code == 404
    assert client.post("/remarks/new", data={"body": "", "scope_type": "job"}).status_code == 200


def test_remarks_pages(client, login_as):
    login_as("operator")
    customer = make_customer("Remark Co")
    job = make_job(customer)
    run = make_run(job, status="warning")
    db.session.commit()
    client.post(f"/remarks/new?run_id={run.id}", data={"body": "Customer replaces the NAS in December",
                                                       "scope_type": "customer", "customer_id": customer.id,
                                                       "active_until_date": "2026-12-31"})
    remark = db.session.scalar(select(Remark).order_by(Remark.id.desc()))
    assert remark.scopes[0].customer_id == customer.id and str(remark.active_until_date) == "2026-12-31"
    assert db.session.scalar(select(RemarkJobRun.job_run_id).where(RemarkJobRun.remark_id == remark.id)) == run.id
    listing = client.get("/remarks").get_data(as_text=True)
    assert "Customer replaces the NAS in December" in listing and "Customer: Remark Co" in listing
    response = client.post(f"/remarks/{remark.id}", data={"body": "Changed", "active_from_date": "2026-12-05",
                                                           "active_until_date": "2026-12-01"}, follow_redirects=True)
    assert "cannot end before it starts" in response.get_data(as_text=True)
    db.session.refresh(remark)
    assert remark.body == "Customer replaces the NAS in December"
    client.post(f"/remarks/{remark.id}/resolve")
    assert remark.resolved_at is not None
    resolved = _table(client.get("/remarks?show=resolved"))
    assert "Customer replaces the NAS" in resolved and "Changed" not in resolved


def test_run_checks_indicators_and_creating_from_the_modal(client, login_as):
    login_as("operator")
    job = make_job(make_customer("Queue Co"), job_name="Queue job")
    quiet = make_job(make_customer("Quiet Co"), job_name="Quiet job")
    older = make_run(job, status="failed", run_at=NOW - timedelta(days=1))
    newer = make_run(job, status="failed", run_at=NOW)
    make_run(quiet, status="failed")
    db.session.commit()
    page = client.get("/run-checks").get_data(as_text=True)
    assert "🎫" not in page.split("<tbody>")[1] and "💬" not in page.split("<tbody>")[1]
    modal = client.get(f"/run-checks/jobs/{job.id}").get_data(as_text=True)
    assert f'data-url="/run-checks/runs/{newer.id}/tickets"' in modal and "New remark" in modal

    answer = client.post(f"/run-checks/runs/{newer.id}/tickets", data={"for": "job", "ticket_code": "PSA-9",
                                                                       "description": "Disk"}, headers=FETCH)
    assert answer.get_json() == {"ok": True, "message": "Ticket PSA-9 created and linked to 2 run(s)."}
    assert _linked(older) == _linked(newer) == ["PSA-9"]
    answer = client.post(f"/run-checks/runs/{newer.id}/tickets", data={"ticket_code": "PSA-9"}, headers=FETCH)
    assert answer.status_code == 400 and "already exists" in answer.get_json()["message"]
    client.post(f"/run-checks/runs/{older.id}/remarks", data={"body": "Only this run"}, headers=FETCH)

    rows = client.get("/run-checks").get_data(as_text=True).split('class="check-row"')[1:]
    job_row = next(r for r in rows if "Queue job" in r)
    quiet_row = next(r for r in rows if "Quiet job" in r)
    assert 'class="indicator-ticket"' in job_row and 'class="indicator-remark"' in job_row
    assert "indicator-" not in quiet_row
    alerts = client.get(f"/api/job-runs/{older.id}/alerts").get_json()
    assert [(t["code"], t["source"]) for t in alerts["tickets"]] == [("PSA-9", "run")]
    assert alerts["tickets"][0]["url"].startswith("/tickets/")
    assert [(r["text"], r["source"]) for r in alerts["remarks"]] == [("Only this run", "run")]
    assert client.post("/run-checks/runs/999999/tickets", headers=FETCH).status_code == 404


def test_objects_api_lists_the_jobs_objects(client, login_as):
    from backend.app.models import CustomerObject, JobObjectLink

    login_as("operator")
    customer = make_customer()
    job = make_job(customer)
    vm = CustomerObject(customer_id=customer.id, name="VM01", object_type="VM")
    db.session.add(vm)
    db.session.flush()
    db.session.add(JobObjectLink(job_id=job.id, customer_object_id=vm.id))
    db.session.commit()
    assert client.get(f"/api/jobs/{job.id}/objects").get_json() == [{"id": vm.id, "name": "VM01", "type": "VM"}]


def test_create_autotask_ticket_button_only_when_autotask_is_enabled(client, login_as):
    from backend.app.services.settings import get_settings

    login_as("operator")
    run = make_run(make_job(make_customer()), status="failed")
    db.session.commit()
    assert "create-autotask" not in client.get(f"/run-checks/jobs/{run.job_id}").get_data(as_text=True)
    get_settings().autotask_enabled = True
    db.session.commit()
    assert "create-autotask" in client.get(f"/run-checks/jobs/{run.job_id}").get_data(as_text=True)


def test_job_details_show_the_jobs_tickets_and_remarks_from_both_sources(client, login_as):
    from backend.app.services.runs import finish_new_run
    from backend.app.services.tickets import ScopeInput, create_remark, create_ticket, resolve_ticket

    customer = make_customer("Story Co")
    job = make_job(customer, job_name="Story job")
    first = make_run(job, status="failed", run_at=NOW - timedelta(days=2))
    old = create_ticket(None, code="PSA-OLD", description="Old disk", scope=ScopeInput("job", job_id=job.id),
                        runs=[first])
    resolve_ticket(old, user=None)
    current = create_ticket(None, code="PSA-NOW", description="New disk", scope=ScopeInput("job", job_id=job.id))
    create_remark(None, body="Customer informed", scope=ScopeInput("customer", customer_id=customer.id))
    later = make_run(job, status="failed", run_at=NOW)
    finish_new_run(job, later)
    db.session.commit()

    login_as("operator")
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    section = page.split('id="job-tickets-remarks"')[1].split('id="runs-table"')[0]
    # Open first, then the resolved one kept by its link to the first run.
    assert section.index("PSA-NOW") < section.index("PSA-OLD") and "resolved" in section
    assert "Customer informed" in section and f'href="/tickets/{current.id}"' in section
    runs = page.split('id="runs-table"')[1]
    later_row = runs.split("</tr>")[1]
    first_row = runs.split("</tr>")[2]
    assert "PSA-NOW" in later_row and "PSA-OLD" not in later_row and "💬 1" in later_row
    assert "PSA-OLD" in first_row and "PSA-NOW" not in first_row

    client.post("/logout")
    login_as("viewer")
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "PSA-NOW" in page and f'href="/tickets/{current.id}"' not in page and "New ticket" not in page


def test_no_second_autotask_button_while_the_job_has_an_open_autotask_ticket(client, login_as):
    from backend.app.services.settings import get_settings
    from backend.app.services.tickets import record_autotask_ticket, resolve_ticket

    login_as("operator")
    job = make_job(make_customer())
    older = make_run(job, status="failed", run_at=NOW - timedelta(days=1))
    newer = make_run(job, status="failed", run_at=NOW)
    get_settings().autotask_enabled = True
    ticket = record_autotask_ticket(newer, autotask_ticket_id=555, ticket_number="T20261125.0555",
                                    description="x", user=None, created_at=NOW)
    db.session.commit()
    modal = client.get(f"/run-checks/jobs/{job.id}").get_data(as_text=True)
    assert "create-autotask" not in modal and 'id="job-autotask-ticket"' in modal
    resolve_ticket(ticket, user=None, origin="autotask")
    db.session.commit()
    modal = client.get(f"/run-checks/jobs/{job.id}").get_data(as_text=True)
    assert f'data-url="/run-checks/runs/{older.id}/autotask-ticket"' in modal
    assert 'id="job-autotask-ticket"' not in modal
