from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import select

from backend.app.extensions import db
from backend.app.jobs import reparse
from backend.app.models import Customer, Job, JobRun, MailMessage
from backend.app.services.mail_ingest import ingest_message

from ..factories import make_customer
from ..mailfactory import fixture_mail, simple_mail, variant

SUCCESS = "3cx/3cx-backup-success.eml"
HYPER_BACKUP = "synology/hb-en-success.eml"


def _ingest(relative: str, message_id: str | None = None) -> MailMessage:
    raw = fixture_mail(relative)
    return ingest_message(variant(raw, message_id) if message_id else raw).mail


def test_inbox_lists_filters_and_searches(client, login_as):
    login_as("operator")
    parsed = _ingest(SUCCESS)
    unparsed = ingest_message(simple_mail("Weekly newsletter", sender="news@vendor.example")).mail
    db.session.commit()
    page = client.get("/inbox").get_data(as_text=True)
    assert parsed.subject in page and "Weekly newsletter" in page
    assert 'id="inbox-badge"' in page  # the navbar shows the waiting count
    page = client.get("/inbox?status=unparsed").get_data(as_text=True)
    assert "Weekly newsletter" in page and parsed.subject not in page
    assert "No parser recognises this mail." in page
    page = client.get("/inbox?status=parsed&software=3CX").get_data(as_text=True)
    assert parsed.subject in page and "Weekly newsletter" not in page
    page = client.get("/inbox?q=vendor.example").get_data(as_text=True)
    assert "Weekly newsletter" in page and parsed.subject not in page
    assert unparsed.location == "inbox"


def test_inbox_is_newest_first_and_paginated_by_50(client, login_as):
    login_as("operator")
    raw = fixture_mail(SUCCESS)
    for i in range(55):
        ingest_message(variant(raw, f"<p{i}@x>", datetime(2026, 1, 1, 0, i, tzinfo=UTC)))
    db.session.commit()
    page = client.get("/inbox").get_data(as_text=True)
    assert "Page 1 of 2" in page and page.count('class="mail-row"') == 50
    assert page.index("2026-01-01 01:54") < page.index("2026-01-01 01:53")  # 00:54 UTC is 01:54 in Amsterdam
    assert client.get("/inbox?page=2").get_data(as_text=True).count('class="mail-row"') == 5


def test_mail_detail_shows_headers_result_objects_and_sandboxed_body(client, login_as):
    login_as("operator")
    mail = _ingest(SUCCESS)
    db.session.commit()
    fragment = client.get(f"/inbox/{mail.id}").get_data(as_text=True)
    assert mail.internet_message_id.replace("<", "&lt;").replace(">", "&gt;") in fragment
    assert 'id="parse-result"' in fragment and "3cx_backup" in fragment and 'id="mail-objects"' in fragment
    assert '<iframe' in fragment and ' sandbox ' in fragment and "allow-scripts" not in fragment
    body = client.get(f"/inbox/{mail.id}/body")
    assert "sandbox" in body.headers["Content-Security-Policy"]
    assert "default-src 'none'" in body.headers["Content-Security-Policy"]
    eml = client.get(f"/inbox/{mail.id}/eml")
    assert eml.mimetype == "message/rfc822" and eml.data == fixture_mail(SUCCESS)
    assert "attachment;" in eml.headers["Content-Disposition"]


def test_hostile_html_is_never_inlined_in_our_pages(client, login_as):
    login_as("operator")
    html = '<p>Backup</p><script>alert("x")</script><img src="https://tracker.example/p.gif">'
    mail = ingest_message(simple_mail("Hostile", html=html, message_id="<hostile@x>")).mail
    db.session.commit()
    fragment = client.get(f"/inbox/{mail.id}").get_data(as_text=True)
    assert "<script>alert" not in fragment
    assert client.get(f"/inbox/{mail.id}/body").get_data(as_text=True).count("<script>") == 1  # only in the sandbox


def test_attachments_are_listed_and_downloaded(client, login_as):
    login_as("operator")
    mail = ingest_message(simple_mail(attachment=("report.html", "text/html", b"<b>report</b>"))).mail
    db.session.commit()
    assert "report.html" in client.get(f"/inbox/{mail.id}").get_data(as_text=True)
    response = client.get(f"/inbox/{mail.id}/attachments/0")
    assert response.data == b"<b>report</b>"
    assert response.headers["Content-Disposition"] == 'attachment; filename="report.html"'
    assert client.get(f"/inbox/{mail.id}/attachments/5").status_code == 404


def test_approve_with_existing_or_new_customer(client, login_as):
    login_as("operator")
    first = _ingest(SUCCESS)
    _ingest(SUCCESS, "<second@pbx>")
    other = _ingest(HYPER_BACKUP)
    customer = make_customer("Phone Co")
    db.session.commit()
    response = client.post(f"/inbox/{first.id}/approve", data={"customer_id": customer.id}, follow_redirects=True)
    assert "2 mail(s) became runs" in response.get_data(as_text=True)
    job = db.session.scalar(select(Job).where(Job.customer_id == customer.id))
    assert job.runs.count() == 2
    response = client.post(f"/inbox/{other.id}/approve", data={"new_customer_name": "Storage Corp"},
                           follow_redirects=True)
    assert "Job Daily to C2 created for Storage Corp" in response.get_data(as_text=True)
    assert db.session.scalar(select(Customer).where(Customer.name == "Storage Corp")) is not None
    response = client.post(f"/inbox/{other.id}/approve", data={"customer_id": customer.id}, follow_redirects=True)
    assert "no longer in the Inbox" in response.get_data(as_text=True)


def test_approve_needs_a_customer(client, login_as):
    login_as("operator")
    mail = _ingest(SUCCESS)
    db.session.commit()
    response = client.post(f"/inbox/{mail.id}/approve", data={}, follow_redirects=True)
    assert "Choose a customer" in response.get_data(as_text=True)
    assert mail.location == "inbox"


def test_bulk_approve_and_bulk_delete(client, login_as):
    login_as("operator")
    a, b = _ingest(SUCCESS), _ingest(HYPER_BACKUP)
    c = ingest_message(simple_mail("Unrelated", message_id="<u@x>")).mail
    customer = make_customer("Bulk Customer")
    db.session.commit()
    response = client.post("/inbox/approve", data={"mail_ids": [a.id, c.id], "customer_id": customer.id},
                           follow_redirects=True)
    assert "not parsed and cannot be approved" in response.get_data(as_text=True)
    response = client.post("/inbox/approve", data={"mail_ids": [a.id, b.id], "customer_id": customer.id},
                           follow_redirects=True)
    assert "2 job(s) approved; 2 mail(s) became runs" in response.get_data(as_text=True)
    response = client.post("/inbox/delete", data={"mail_ids": [c.id]}, follow_redirects=True)
    assert "1 mail(s) deleted." in response.get_data(as_text=True)
    assert c.location == "deleted"


def test_deleted_mails_restore_and_purge_for_admins_only(client, login_as):
    login_as("admin", "operator")
    mail = ingest_message(simple_mail("To delete", message_id="<del@x>")).mail
    db.session.commit()
    client.post("/inbox/delete", data={"mail_ids": [mail.id]})
    assert "To delete" in client.get("/inbox/deleted").get_data(as_text=True)
    client.post("/inbox/deleted/restore", data={"mail_ids": [mail.id]})
    assert mail.location == "inbox"
    client.post("/inbox/delete", data={"mail_ids": [mail.id]})
    client.post("/switch-role", data={"role": "operator"})
    assert client.post("/inbox/deleted/purge", data={"mail_ids": [mail.id]}).status_code == 403
    client.post("/switch-role", data={"role": "admin"})
    response = client.post("/inbox/deleted/purge", data={"mail_ids": [mail.id]}, follow_redirects=True)
    assert "1 mail(s) permanently deleted." in response.get_data(as_text=True)
    assert db.session.get(MailMessage, mail.id) is None


def test_upload_eml_files_including_garbage(client, login_as):
    login_as("operator")
    files = [(io.BytesIO(fixture_mail(SUCCESS)), "a.eml"), (io.BytesIO(fixture_mail(SUCCESS)), "a-again.eml"),
             (io.BytesIO(b"\xff\xfe garbage"), "broken.eml")]
    response = client.post("/inbox/upload", data={"files": files}, content_type="multipart/form-data",
                           follow_redirects=True)
    assert "3 file(s) uploaded: 2 new mail(s), 0 became runs of known jobs, 1 already stored." in \
        response.get_data(as_text=True)
    assert client.post("/inbox/upload", data={}, follow_redirects=True).status_code == 200


def test_reparse_one_and_all(client, login_as):
    login_as("operator")
    mail = _ingest(SUCCESS)
    mail.parser_key, mail.parse_error, mail.identity_key = None, "old parser bug", None
    waiting = _ingest(SUCCESS, "<waiting@pbx>")
    db.session.commit()
    response = client.post(f"/inbox/{mail.id}/reparse", follow_redirects=True)
    assert "Re-parsed with 3cx_backup: still waiting for approval." in response.get_data(as_text=True)
    # A job for this identity appears; the re-parse pass turns the waiting mails into runs.
    job = Job(customer_id=make_customer().id, from_address=mail.from_address, backup_software="3CX",
              backup_type=mail.backup_type, job_name=mail.job_name)
    job.refresh_identity_key()
    db.session.add(job)
    db.session.commit()
    done, runs = reparse.run_once(datetime.now(UTC), actor_username="tester")
    assert (done, runs) == (2, 2)
    assert waiting.location == "processed" and db.session.query(JobRun).count() == 2
    status = client.get("/inbox/reparse-status").get_json()
    assert status == {"running": False, "done": 2, "total": 2, "status": "ok",
                      "summary": "2 Inbox mail(s) re-parsed, 2 became runs of known jobs", "error": None}


def test_viewers_do_not_see_the_inbox(client, login_as):
    login_as("viewer")
    assert client.get("/inbox").status_code == 403
    assert 'id="nav-inbox"' not in client.get("/dashboard").get_data(as_text=True)
