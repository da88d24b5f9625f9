from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from backend.app import create_app
from backend.app.extensions import db
from backend.app.models import AuditLog

from ..conftest import make_test_config
from ..factories import make_customer, make_job, make_run


def test_health_ok(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_health_reports_database_down(tmp_path):
    # A PostgreSQL URL on a port nothing listens on.
    app: Flask = create_app(make_test_config("postgresql+psycopg2://nobody@127.0.0.1:9/none"), run_migrations=False)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"connect_timeout": 1}}
    response = app.test_client().get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and body["reason"].startswith("database unavailable")


def test_dashboard_counts_todays_runs(client, login_as):
    login_as("viewer")
    job = make_job(make_customer("Upsilon"))
    now = datetime.now(UTC)
    for status in ("success", "success", "failed", "missed"):
        make_run(job, status=status, run_at=now)
    db.session.commit()
    page = client.get("/dashboard").get_data(as_text=True)
    for status, count in (("success", 2), ("failed", 1), ("missed", 1), ("warning", 0)):
        block = page.split(f'id="runs-{status}"')[1].split("</a>")[0]
        assert f'<div class="display-6">{count}</div>' in block, status


def test_settings_timezone_changes_displayed_times(client, login_as):
    login_as("admin")
    job = make_job(make_customer("Phi"))
    make_run(job, run_at=datetime(2026, 7, 1, 20, 0, tzinfo=UTC))
    db.session.commit()
    assert "2026-07-01 22:00" in client.get(f"/jobs/{job.id}").get_data(as_text=True)
    form = {"ui_timezone": "America/New_York", "missed_grace_minutes": "60"}
    assert client.post("/settings", data=form).status_code == 302
    assert "2026-07-01 16:00" in client.get(f"/jobs/{job.id}").get_data(as_text=True)
    response = client.post("/settings", data={"ui_timezone": "Mars/Olympus", "missed_grace_minutes": "60"})
    assert "Not a valid choice" in response.get_data(as_text=True)
    entry = db.session.query(AuditLog).filter_by(event_type="settings_updated").one()
    assert entry.message == "UI timezone changed from Europe/Amsterdam to America/New_York"


def test_logging_filters_by_event_and_user(client, login_as):
    admin = login_as("admin", username="auditor")
    db.session.add_all([AuditLog(username="system", event_type="import", message="pass done"),
                        AuditLog(username=admin.username, user_id=admin.id, event_type="customer_created",
                                 message="Customer Chi created")])
    db.session.commit()
    page = client.get("/logging?event_type=import").get_data(as_text=True)
    assert "pass done" in page and "Customer Chi created" not in page
    page = client.get("/logging?user=auditor").get_data(as_text=True)
    assert "Customer Chi created" in page and "pass done" not in page


def test_logging_paginates(client, login_as):
    login_as("admin")
    db.session.add_all([AuditLog(username="system", event_type="bulk", message=f"entry {i:03d}") for i in range(120)])
    db.session.commit()
    first = client.get("/logging?event_type=bulk").get_data(as_text=True)
    assert "Page 1 of 3" in first and "entry 119" in first and "entry 050" not in first
    third = client.get("/logging?event_type=bulk&page=3").get_data(as_text=True)
    assert "entry 000" in third


def test_error_pages_use_the_layout(client, login_as):
    login_as("viewer")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert 'id="main-navbar"' in response.get_data(as_text=True)
    response = client.get("/users")
    assert response.status_code == 403 and "Switch role" in response.get_data(as_text=True)


def test_documentation_pages_render(client, login_as):
    login_as("reporter")
    page = client.get("/documentation/roles").get_data(as_text=True)
    assert "<table>" in page and "Reporter" in page
    assert client.get("/documentation/nope").status_code == 404


def test_dashboard_uses_effective_status_and_links_to_filtered_pages(client, login_as):
    login_as("operator")
    job = make_job(make_customer("Effective"))
    run = make_run(job, status="failed", run_at=datetime.now(UTC))
    run.effective_status = "success"  # as an override would leave it
    make_run(job, status="warning", run_at=datetime.now(UTC))
    db.session.commit()
    page = client.get("/dashboard").get_data(as_text=True)
    block = page.split('id="runs-success"')[1].split("</a>")[0]
    assert '<div class="display-6">1</div>' in block
    assert 'href="/run-checks?status=failed"' in page
    assert 'id="stat-unreviewed"' in page and 'href="/inbox"' in page
    unreviewed = page.split('id="stat-unreviewed"')[1].split("</a>")[0]
    assert '<div class="display-6">2</div>' in unreviewed


def test_viewer_dashboard_has_no_links_to_pages_it_cannot_open(client, login_as):
    login_as("viewer")
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/run-checks' not in page and 'href="/inbox"' not in page
