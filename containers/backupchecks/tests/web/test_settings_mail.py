from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from backend.app.extensions import db
from backend.app.models import AuditLog
from backend.app.services.settings import get_settings

from ..fakes.graph_server import running_graph_fake

FORM = {"tenant_id": "tenant-1", "client_id": "client-1", "client_secret": "s3cr3t-value-123",
        "mailbox": "backups@example.com", "source_folder": "Inbox", "processed_folder": "Done",
        "authority_url": "https://login.microsoftonline.com", "graph_base_url": "https://graph.microsoft.com",
        "enabled": "y", "interval_minutes": "10", "batch_size": "25"}


def test_save_encrypts_the_secret_and_never_shows_it(client, login_as):
    login_as("admin")
    assert client.post("/settings/mail", data=FORM).status_code == 302
    settings = get_settings()
    assert settings.graph_client_secret_encrypted and "s3cr3t-value-123" not in settings.graph_client_secret_encrypted
    assert settings.mail_import_enabled and settings.mail_import_interval_minutes == 10
    page = client.get("/settings/mail").get_data(as_text=True)
    assert "s3cr3t-value-123" not in page and settings.graph_client_secret_encrypted not in page
    assert 'id="secret-stored"' in page and 'value="tenant-1"' in page
    # Saving without typing a secret keeps the stored one.
    stored = settings.graph_client_secret_encrypted
    client.post("/settings/mail", data={**FORM, "client_secret": "", "mailbox": "other@example.com"})
    assert settings.graph_client_secret_encrypted == stored and settings.graph_mailbox == "other@example.com"
    entries = db.session.scalars(select(AuditLog).where(AuditLog.event_type == "settings_updated"))
    messages = [a.message for a in entries]
    assert any("client secret replaced" in m for m in messages) and "s3cr3t" not in " ".join(messages)


def test_garbage_is_refused_with_a_reason(client, login_as):
    login_as("admin")
    page = client.post("/settings/mail", data={**FORM, "interval_minutes": "0"}).get_data(as_text=True)
    assert "Number must be between 1 and 1440" in page
    page = client.post("/settings/mail", data={**FORM, "authority_url": "http://login.example"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Authority URL must be an https:// address" in page
    page = client.post("/settings/mail", data={**FORM, "processed_folder": "inbox"},
                       follow_redirects=True).get_data(as_text=True)
    assert "must differ from the source folder" in page
    page = client.post("/settings/mail", data={**FORM, "client_secret": "", "tenant_id": ""},
                       follow_redirects=True).get_data(as_text=True)
    assert "before enabling the import" in page
    assert not get_settings().mail_import_enabled


def test_unreadable_secret_after_a_key_change_is_explained(app, client, login_as):
    login_as("admin")
    client.post("/settings/mail", data=FORM)
    old_key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a-different-key-than-before"
    try:
        page = client.get("/settings/mail").get_data(as_text=True)
        assert 'id="secret-unreadable"' in page
    finally:
        app.config["SECRET_KEY"] = old_key


def test_test_connection_reports_each_step(client, login_as, tmp_path: Path, monkeypatch):
    login_as("admin")
    with running_graph_fake(tmp_path) as fake:
        # The app's requests session must trust the fake's test CA, as an installation trusts its proxy's CA.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_path))
        s = fake.client_settings()
        form = {**FORM, "tenant_id": s["tenant_id"], "client_id": s["client_id"], "client_secret": s["client_secret"],
                "mailbox": s["mailbox"], "authority_url": s["authority_base_url"],
                "graph_base_url": s["graph_base_url"]}
        report = client.post("/settings/mail/test", data=form).get_json()
        assert report["ok"] is True
        assert [step["ok"] for step in report["steps"]] == [True] * len(report["steps"])
        report = client.post("/settings/mail/test", data={**form, "client_secret": "wrong"}).get_json()
        assert report["ok"] is False and "AADSTS7000215" in report["steps"][0]["message"]
