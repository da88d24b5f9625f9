from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.app.extensions import db
from backend.app.models import Customer, Job, JobRun, Override

from ..factories import make_customer, make_job, make_run

NOW = datetime.now(UTC)


def _rows(page: str) -> list[str]:
    return [chunk.split('"')[0] for chunk in page.split('class="check-row" tabindex="0" data-job-id="')[1:]]


def test_queue_has_one_row_per_job_worst_first(client, login_as):
    login_as("operator")
    customer = make_customer("Queue Co")
    ok, warn, bad = (make_job(customer, job_name=n) for n in ("OK job", "Warn job", "Bad job"))
    make_run(ok, status="success", run_at=NOW - timedelta(hours=1))
    make_run(warn, status="warning", run_at=NOW - timedelta(hours=2))
    make_run(bad, status="success", run_at=NOW - timedelta(hours=5))
    make_run(bad, status="failed", run_at=NOW - timedelta(hours=3))
    db.session.commit()
    page = client.get("/run-checks").get_data(as_text=True)
    assert _rows(page) == [str(bad.id), str(warn.id), str(ok.id)]
    # Counts per status in the row of the bad job.
    bad_row = page.split(f'data-job-id="{bad.id}"')[1].split("</tr>")[0]
    assert 'title="failed"' in bad_row and 'title="success"' in bad_row
    page = client.get("/run-checks?status=warning").get_data(as_text=True)
    assert _rows(page) == [str(warn.id)]
    other = make_job(make_customer("Other Co"), job_name="Elsewhere", backup_software="Synology")
    make_run(other, status="failed")
    db.session.commit()
    assert _rows(client.get(f"/run-checks?customer_id={customer.id}").get_data(as_text=True)) == \
        [str(bad.id), str(warn.id), str(ok.id)]
    assert _rows(client.get("/run-checks?software=Synology").get_data(as_text=True)) == [str(other.id)]


def test_hidden_archived_and_reviewed_runs_stay_out(client, login_as):
    login_as("operator")
    customer = make_customer()
    update = make_job(customer, backup_software="3CX", backup_type="Update", job_name="pbx")
    certificate = make_job(customer, backup_software="3CX", backup_type="SSL Certificate", job_name="pbx")
    backup = make_job(customer, backup_software="3CX", backup_type="Backup", job_name="pbx")
    archived = make_job(customer, job_name="Old", archived_at=NOW)
    for job in (update, certificate, backup, archived):
        make_run(job, status="failed")
    db.session.commit()
    assert _rows(client.get("/run-checks").get_data(as_text=True)) == [str(backup.id)]


def test_bulk_review_empties_the_queue_and_admin_can_undo(client, login_as):
    login_as("admin", "operator")
    jobs = [make_job(make_customer(), job_name=f"J{i}") for i in range(3)]
    for job in jobs:
        make_run(job, status="failed")
        make_run(job, status="success")
    db.session.commit()
    response = client.post("/run-checks/review", data={"job_ids": [jobs[0].id, jobs[1].id]}, follow_redirects=True)
    assert "4 run(s) marked reviewed." in response.get_data(as_text=True)
    assert _rows(client.get("/run-checks").get_data(as_text=True)) == [str(jobs[2].id)]
    reviewed = db.session.scalars(select(JobRun).where(JobRun.job_id == jobs[0].id)).all()
    assert all(r.reviewed_at and r.reviewed_by_id for r in reviewed)
    page = client.get("/run-checks?include_reviewed=1").get_data(as_text=True)
    assert len(_rows(page)) == 3
    client.post("/run-checks/unreview", data={"job_ids": [jobs[0].id]})
    assert len(_rows(client.get("/run-checks").get_data(as_text=True))) == 2
    client.post("/switch-role", data={"role": "operator"})
    assert client.post("/run-checks/unreview", data={"job_ids": [jobs[1].id]}).status_code == 403
    page = client.get("/run-checks?include_reviewed=1").get_data(as_text=True)
    assert len(_rows(page)) == 2  # operators cannot include reviewed rows


def test_queue_paginates(client, login_as):
    login_as("operator")
    customer = make_customer()
    for i in range(55):
        make_run(make_job(customer, job_name=f"Job {i:02d}"), status="warning")
    db.session.commit()
    first = client.get("/run-checks").get_data(as_text=True)
    assert len(_rows(first)) == 50 and "Page 1 of 2" in first
    assert len(_rows(client.get("/run-checks?page=2").get_data(as_text=True))) == 5


def test_run_modal_lists_runs_newest_first_with_marks(client, login_as):
    login_as("operator")
    job = make_job(make_customer("Modal Co"), job_name="Modal job")
    old = make_run(job, status="failed", run_at=NOW - timedelta(days=1), message="Disk full")
    new = make_run(job, status="success", run_at=NOW)
    db.session.commit()
    fragment = client.get(f"/run-checks/jobs/{job.id}").get_data(as_text=True)
    assert fragment.index(f'data-run-id="{new.id}"') < fragment.index(f'data-run-id="{old.id}"')
    assert "Disk full" in fragment and "Mark as success" in fragment


def test_run_actions_as_fetch_calls(client, login_as):
    login_as("operator")
    job = make_job(make_customer())
    run = make_run(job, status="failed", message="Target storage is full")
    db.session.commit()
    headers = {"X-Requested-With": "fetch"}
    response = client.post(f"/run-checks/runs/{run.id}/mark-success", data={"create_override": "1"}, headers=headers)
    assert response.get_json()["ok"] is True
    assert run.effective_status == "success"
    override = db.session.scalar(select(Override).where(Override.job_id == job.id))
    assert override.error_text == "Target storage is full" and override.status_match == "failed"
    assert client.get(f"/api/job-runs/{run.id}/alerts").get_json() == {"tickets": [], "remarks": []}
    answer = client.post(f"/run-checks/runs/{run.id}/remarks", data={"body": "Customer is buying a bigger NAS"},
                         headers=headers).get_json()
    assert answer == {"ok": True, "message": "Remark added to 1 run(s)."}
    remarks = client.get(f"/api/job-runs/{run.id}/alerts").get_json()["remarks"]
    assert [(r["text"], r["source"]) for r in remarks] == [("Customer is buying a bigger NAS", "run")]
    answer = client.post(f"/run-checks/runs/{run.id}/remarks", data={"body": "  "}, headers=headers)
    assert answer.status_code == 400 and answer.get_json() == {"ok": False, "message": "A remark needs a text."}
    client.post(f"/run-checks/runs/{run.id}/review", headers=headers)
    assert run.reviewed_at is not None
    assert client.get("/api/job-runs/999999/alerts").status_code == 404


def test_overrides_pages_create_edit_and_only_admins_delete(client, login_as):
    login_as("operator")
    job = make_job(make_customer())
    run = make_run(job, status="warning", message="Retry succeeded")
    db.session.commit()
    form = {"level": "global", "backup_software": "Veeam", "status_match": "warning", "error_text": "retry",
            "error_match": "contains", "active": "y", "comment": "Retries are fine"}
    response = client.post("/overrides/new", data=form, follow_redirects=True)
    assert "1 unreviewed run(s) changed" in response.get_data(as_text=True)
    assert run.effective_status == "success"
    override = db.session.scalar(select(Override))
    response = client.post(f"/overrides/{override.id}/edit", data={**form, "active": ""}, follow_redirects=True)
    assert "1 unreviewed run(s) changed" in response.get_data(as_text=True)
    assert run.effective_status == "warning"
    assert "Retries are fine" in client.get("/overrides?show=inactive").get_data(as_text=True)
    assert client.post(f"/overrides/{override.id}/delete").status_code == 403
    page = client.post("/overrides/new", data={**form, "level": "object"}).get_data(as_text=True)
    assert "needs a job" in page


def test_archive_unarchive_and_delete_jobs(client, login_as):
    login_as("admin")
    job = make_job(make_customer(), job_name="Retired")
    make_run(job, status="failed")
    db.session.commit()
    client.post(f"/jobs/{job.id}/archive", data={"action": "archive"})
    assert job.archived_at is not None
    assert "Retired" in client.get("/jobs/archived").get_data(as_text=True)
    assert "Retired" not in client.get("/jobs").get_data(as_text=True)
    assert _rows(client.get("/run-checks").get_data(as_text=True)) == []
    client.post(f"/jobs/{job.id}/archive", data={"action": "unarchive"})
    assert job.archived_at is None and len(_rows(client.get("/run-checks").get_data(as_text=True))) == 1
    client.post(f"/jobs/{job.id}/delete")
    assert job.deleted_at is not None and client.get(f"/jobs/{job.id}").status_code == 404


def test_job_detail_shows_bar_runs_objects_and_overrides(client, login_as):
    login_as("viewer")
    job = make_job(make_customer("Bar Co"), job_name="Bar job")
    make_run(job, status="failed", run_at=NOW - timedelta(days=2))
    make_run(job, status="success", run_at=NOW - timedelta(days=2, hours=1))
    make_run(job, status="warning", run_at=NOW)
    db.session.commit()
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    cells = page.split('id="status-bar"')[1].split('data-status="')[1:]
    statuses = [c.split('"')[0] for c in cells]
    assert len(statuses) == 28 and statuses[-1] == "warning" and statuses[-3] == "failed"
    assert statuses.count("none") == 26


def test_export_then_import_into_an_empty_installation(client, login_as):
    login_as("admin")
    customer = make_customer("Export Co")
    make_job(customer, job_name="Exported job", backup_software="QNAP", backup_type="Backup Job")
    db.session.commit()
    exported = client.get("/jobs/export.json")
    data = json.loads(exported.data)
    assert data["format"] == "backupchecks-export" and data["version"] == 1
    assert any(j["job_name"] == "Exported job" for j in data["jobs"])
    # Import into "another installation": remove them here first.
    for job in db.session.scalars(select(Job)):
        db.session.delete(job)
    db.session.delete(customer)
    db.session.commit()
    data["jobs"].append({"customer": "Nobody", "backup_software": "X", "backup_type": "Y", "job_name": "Z"})
    response = client.post("/jobs/import", data={"file": (io.BytesIO(json.dumps(data).encode()), "e.json")},
                           content_type="multipart/form-data", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Imported 1 customer(s) and 1 job(s)" in page and "is not in the export nor here" in page
    assert db.session.scalar(select(Customer).where(Customer.name == "Export Co")) is not None
    response = client.post("/jobs/import", data={"file": (io.BytesIO(b'{"format": "x"}'), "e.json")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "not a Backupchecks export" in response.get_data(as_text=True)
    data["version"] = 99
    response = client.post("/jobs/import", data={"file": (io.BytesIO(json.dumps(data).encode()), "e.json")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "version 99 is not supported" in response.get_data(as_text=True)
