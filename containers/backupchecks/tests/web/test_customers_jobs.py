from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import select

from backend.app.extensions import db
from backend.app.models import AuditLog, Customer

from ..factories import make_customer, make_job, make_run


def _audit_messages() -> list[str]:
    return [a.message for a in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_create_customer_and_find_it_in_the_list(client, login_as):
    login_as("operator")
    response = client.post("/customers/new", data={"name": "  Harbour   Clinic ", "active": "y", "notes": "VIP"})
    assert response.status_code == 302
    customer = db.session.scalar(select(Customer).where(Customer.name == "Harbour Clinic"))
    assert customer is not None and customer.active and customer.notes == "VIP"
    page = client.get("/customers").get_data(as_text=True)
    assert f'href="/jobs?customer_id={customer.id}">Harbour Clinic</a>' in page
    assert "Customer Harbour Clinic created" in _audit_messages()


def test_duplicate_and_empty_customer_names_are_refused(client, login_as):
    login_as("operator")
    make_customer("Delta")
    db.session.commit()
    assert "already exists" in client.post("/customers/new", data={"name": "delta"}).get_data(as_text=True)
    response = client.post("/customers/new", data={"name": "   "})
    assert response.status_code == 200
    assert db.session.scalar(select(Customer).where(Customer.name == "")) is None


def test_edit_customer_writes_audit(client, login_as):
    login_as("operator")
    customer = make_customer("Echo")
    db.session.commit()
    response = client.post(f"/customers/{customer.id}/edit", data={"name": "Echo BV", "notes": ""})
    assert response.status_code == 302
    assert customer.name == "Echo BV" and not customer.active
    assert "Customer Echo BV: renamed from Echo; deactivated" in _audit_messages()


def test_delete_customer_only_without_jobs_and_only_by_admin(client, login_as):
    login_as("admin", "operator")
    busy = make_customer("Busy")
    make_job(busy)
    idle = make_customer("Idle")
    db.session.commit()
    response = client.post(f"/customers/{busy.id}/delete", follow_redirects=True)
    assert "still has 1 job(s)" in response.get_data(as_text=True)
    assert db.session.get(Customer, busy.id) is not None
    assert client.post(f"/customers/{idle.id}/delete").status_code == 302
    assert db.session.get(Customer, idle.id) is None
    client.post("/switch-role", data={"role": "operator"})
    assert client.post(f"/customers/{busy.id}/delete").status_code == 403


def test_customer_search_and_active_filter(client, login_as):
    login_as("viewer")
    make_customer("Alpha Foods")
    make_customer("Beta Metals", active=False)
    db.session.commit()
    page = client.get("/customers?q=alpha").get_data(as_text=True)
    assert "Alpha Foods" in page and "Beta Metals" not in page
    page = client.get("/customers?show=inactive").get_data(as_text=True)
    assert "Beta Metals" in page and "Alpha Foods" not in page


def test_csv_export_then_import_round_trip(client, login_as):
    login_as("operator")
    make_customer("Gamma, Inc.")
    make_customer("Kappa", active=False)
    db.session.commit()
    exported = client.get("/customers/export.csv")
    assert exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    assert text.splitlines()[0] == "name,active,notes"
    assert '"Gamma, Inc.",true,' in text and "Kappa,false," in text
    upload = (b"name,active,notes\nKappa,true,reactivated\nLambda,,\n,true,\nMu,maybe,\nLambda,true,\n")
    response = client.post("/customers/import", data={"file": (io.BytesIO(upload), "c.csv")},
                           content_type="multipart/form-data", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "1 created, 1 updated, 0 unchanged" in page
    assert "line 4: Name is required." in page
    assert "line 5: active must be true or false" in page
    assert "line 6: &#39;Lambda&#39; appears twice" in page
    kappa = db.session.scalar(select(Customer).where(Customer.name == "Kappa"))
    assert kappa.active and kappa.notes == "reactivated"
    assert db.session.scalar(select(Customer).where(Customer.name == "Lambda")).active


def test_csv_import_without_name_column_is_refused(client, login_as):
    login_as("operator")
    response = client.post("/customers/import", data={"file": (io.BytesIO(b"company\nX\n"), "c.csv")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "needs a header row with at least a &#39;name&#39; column" in response.get_data(as_text=True)


def test_jobs_filtered_by_customer_and_inactive_customers_hidden(client, login_as):
    login_as("viewer")
    active = make_customer("Omega")
    inactive = make_customer("Sigma", active=False)
    make_job(active, job_name="Omega nightly")
    make_job(inactive, job_name="Sigma nightly")
    db.session.commit()
    page = client.get("/jobs").get_data(as_text=True)
    assert "Omega nightly" in page and "Sigma nightly" not in page
    page = client.get(f"/jobs?customer_id={inactive.id}").get_data(as_text=True)
    assert "Sigma nightly" in page and "Omega nightly" not in page
    assert 'id="filter-banner"' in page and "Clear filter" in page
    assert client.get("/jobs?customer_id=999999").status_code == 404


def test_job_detail_shows_fields_and_latest_runs(client, login_as):
    login_as("viewer")
    job = make_job(make_customer("Tau"), job_name="Tau VMs", backup_software="Synology", backup_type="Hyper Backup")
    make_run(job, status="failed", run_at=datetime(2026, 11, 20, 21, 0, tzinfo=UTC), message="Target full")
    make_run(job, status="success", run_at=datetime(2026, 11, 21, 21, 0, tzinfo=UTC))
    db.session.commit()
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Tau VMs" in page and "Synology" in page and "Hyper Backup" in page and "Target full" in page
    # Newest first, in the UI timezone (Amsterdam is UTC+1 in November).
    assert page.index("2026-11-21 22:00") < page.index("2026-11-20 22:00")
