"""The Cove settings tab and the Cove Accounts page, through the test client, against the fake Cove server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.app.clients.cove import CoveClient
from backend.app.extensions import db
from backend.app.jobs import cove_import
from backend.app.models import AuditLog, CoveAccount, Customer, Job, JobRun
from backend.app.services.cove_settings import CoveSettingsInput, update_cove_settings
from backend.app.services.secrets import decrypt_secret
from backend.app.services.settings import get_settings
from tests.fakes.cove_server import (
    DEFAULT_REFERENCE_AT,
    LOGIN_ERROR_CODE,
    SECURITY_ERROR_CODE,
    CoveFake,
    running_cove_fake,
)

from ..factories import make_customer, make_job, make_user

NOW = DEFAULT_REFERENCE_AT + timedelta(minutes=30)
FIRST_ID = 1_000_001


@pytest.fixture
def fake() -> Iterator[CoveFake]:
    with running_cove_fake(accounts=120, seed=5) as running:
        yield running


def form_for(fake: CoveFake, **changes: str) -> dict[str, str]:
    settings = fake.client_settings()
    form = {"enabled": "y", "api_url": settings["api_url"], "username": settings["username"],
            "password": settings["password"], "import_enabled": "y", "interval_minutes": "30",
            "offline_warning_days": "3", "offline_failed_days": "7"}
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def configure(fake: CoveFake, **changes) -> None:
    settings = fake.client_settings()
    values = {"enabled": True, "api_url": settings["api_url"], "username": settings["username"],
              "password": settings["password"], "import_enabled": True, "interval_minutes": 30, **changes}
    update_cove_settings(make_user("admin"), CoveSettingsInput(**values))
    db.session.commit()


def import_from(fake: CoveFake, now_at=NOW, **options):
    def factory() -> CoveClient:
        settings = get_settings()
        return CoveClient(api_url=settings.cove_api_url, username=settings.cove_api_username,
                          password=decrypt_secret(settings.cove_api_password_encrypted), session=fake.session(),
                          sleep=lambda _s: None, **{"timeout": 5.0, **options})

    return cove_import.run_once(now_at, force=True, client_factory=factory)


def row(account_id: int) -> CoveAccount:
    return db.session.scalar(select(CoveAccount).where(CoveAccount.account_id == account_id))


# ---- settings -----------------------------------------------------------------------------------


def test_save_encrypts_the_password_and_never_shows_it(client, login_as, fake):
    login_as("admin")
    response = client.post("/settings/cove", data=form_for(fake, interval_minutes="45"))
    assert response.status_code == 302
    settings = get_settings()
    password = fake.password
    assert settings.cove_enabled and settings.cove_import_enabled and settings.cove_import_interval_minutes == 45
    assert settings.cove_api_password_encrypted and password not in settings.cove_api_password_encrypted
    page = client.get("/settings/cove").get_data(as_text=True)
    assert password not in page and settings.cove_api_password_encrypted not in page
    assert 'id="password-stored"' in page and f'value="{fake.username}"' in page
    # Saving without typing a password keeps the stored one.
    stored = settings.cove_api_password_encrypted
    client.post("/settings/cove", data=form_for(fake, password=""))
    assert settings.cove_api_password_encrypted == stored
    client.post("/settings/cove", data=form_for(fake, password="another-token"))
    assert decrypt_secret(settings.cove_api_password_encrypted) == "another-token"
    entries = db.session.scalars(select(AuditLog).where(AuditLog.event_type == "settings_updated"))
    messages = [entry.message for entry in entries]
    assert any("Cove settings saved" in m and "password replaced" in m for m in messages)
    assert password not in " ".join(messages) and "another-token" not in " ".join(messages)


def test_defaults_and_garbage(client, login_as, fake):
    login_as("admin")
    page = client.get("/settings/cove").get_data(as_text=True)
    assert 'value="https://api.backup.management/jsonapi"' in page and 'value="30"' in page
    assert "Partner id" in page and "not known yet" in page
    page = client.post("/settings/cove", data=form_for(fake, interval_minutes="0")).get_data(as_text=True)
    assert "Number must be between 5 and 1440" in page
    page = client.post("/settings/cove", data=form_for(fake, api_url="http://cove.example/jsonapi"),
                       follow_redirects=True).get_data(as_text=True)
    assert "API URL must be an https:// address" in page
    page = client.post("/settings/cove", data=form_for(fake, offline_warning_days="7", offline_failed_days="7"),
                       follow_redirects=True).get_data(as_text=True)
    assert "must exceed the days before a warning" in page
    page = client.post("/settings/cove", data=form_for(fake, username="", password=""),
                       follow_redirects=True).get_data(as_text=True)
    assert "before enabling Cove Data Protection" in page
    assert not get_settings().cove_enabled


def test_unreadable_password_after_a_key_change_is_explained(app, client, login_as, fake):
    login_as("admin")
    client.post("/settings/cove", data=form_for(fake))
    old_key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a-different-key-than-before"
    try:
        page = client.get("/settings/cove").get_data(as_text=True)
        assert 'id="password-unreadable"' in page
        report = client.post("/settings/cove/test-connection", data=form_for(fake, password="")).get_json()
        assert report["ok"] is False and "APP_SECRET_KEY changed" in report["message"]
    finally:
        app.config["SECRET_KEY"] = old_key


def test_test_connection_returns_and_saves_the_partner_id(client, login_as, fake):
    login_as("admin")
    report = client.post("/settings/cove/test-connection", data=form_for(fake)).get_json()
    assert report == {"ok": True, "partner_id": fake.partner_id,
                      "message": f"Logged in as {fake.username}; partner id {fake.partner_id}."}
    assert get_settings().cove_partner_id == fake.partner_id
    assert f"<strong>{fake.partner_id}</strong>" in client.get("/settings/cove").get_data(as_text=True)
    # The stored password is used when none is typed.
    client.post("/settings/cove", data=form_for(fake))
    assert client.post("/settings/cove/test-connection", data=form_for(fake, password="")).get_json()["ok"]


def test_test_connection_explains_refusals_and_errors(client, login_as, fake):
    login_as("admin")
    report = client.post("/settings/cove/test-connection", data=form_for(fake, password="wrong")).get_json()
    assert report["ok"] is False and report["partner_id"] is None
    assert report["message"] == f"Cove Login error {LOGIN_ERROR_CODE}: Unknown partner/username or bad password"
    fake.error_next(-32000, "Service temporarily unavailable", method="Login")
    report = client.post("/settings/cove/test-connection", data=form_for(fake)).get_json()
    assert report["ok"] is False and "Service temporarily unavailable" in report["message"]
    report = client.post("/settings/cove/test-connection", data=form_for(fake, api_url="ftp://x")).get_json()
    assert report["ok"] is False and "https://" in report["message"]
    assert get_settings().cove_partner_id is None


@pytest.mark.parametrize(("setup", "shown"), [
    ("credentials", "Unknown partner/username or bad password"),
    ("jsonrpc", "error 13501"),
    ("timeout", "no answer within 0.5 s"),
])
def test_a_failed_pass_is_shown_on_the_settings_and_accounts_pages(client, login_as, fake, setup, shown):
    login_as("admin")
    configure(fake)
    options = {}
    if setup == "credentials":
        fake.reject_credentials = True
    elif setup == "jsonrpc":
        fake.error_next(SECURITY_ERROR_CODE, "Operation failed because of security reasons (error 13501)",
                        count=2, method="EnumerateAccountStatistics")
    else:
        fake.slow_next(1.5, count=1, after=1)
        options = {"timeout": 0.5, "max_attempts": 1}
    summary = import_from(fake, **options)
    assert summary.errors
    page = client.get("/settings/cove").get_data(as_text=True)
    assert 'id="last-import-errors"' in page and shown in page and "badge text-bg-danger" in page
    accounts_page = client.get("/cove/accounts").get_data(as_text=True)
    assert "Error" in accounts_page.split('id="cove-last-import"')[1].split("</p>")[0]


def test_run_now_needs_cove_enabled(client, login_as, fake):
    login_as("admin")
    response = client.post("/settings/cove/run-now", follow_redirects=True)
    assert "Enable Cove Data Protection and save the settings first." in response.get_data(as_text=True)


def test_settings_tab_and_roles(client, login_as):
    login_as("admin", "operator")
    assert "Cove Data Protection" in client.get("/settings").get_data(as_text=True)
    client.post("/switch-role", data={"role": "operator"})
    assert client.get("/settings/cove").status_code == 403
    assert client.post("/settings/cove/test-connection").status_code == 403
    assert client.post("/settings/cove/run-now").status_code == 403
    assert client.get("/cove/accounts").status_code == 200


# ---- the accounts page --------------------------------------------------------------------------


def test_navbar_link_only_when_enabled_and_only_for_staff(client, login_as, fake):
    login_as("admin", "operator", "viewer")
    assert "Cove Accounts" not in client.get("/dashboard").get_data(as_text=True)
    configure(fake)
    assert 'href="/cove/accounts"' in client.get("/dashboard").get_data(as_text=True)
    client.post("/switch-role", data={"role": "operator"})
    assert 'href="/cove/accounts"' in client.get("/dashboard").get_data(as_text=True)
    client.post("/switch-role", data={"role": "viewer"})
    assert 'href="/cove/accounts"' not in client.get("/dashboard").get_data(as_text=True)
    assert client.get("/cove/accounts").status_code == 403
    assert client.post(f"/cove/accounts/{1}/unlink").status_code == 403


def test_unmatched_accounts_are_listed_searchable_and_paged(client, login_as, fake):
    login_as("operator")
    configure(fake)
    import_from(fake)
    page = client.get("/cove/accounts").get_data(as_text=True)
    assert 'id="unmatched-count">120<' in page and 'id="matched-count">0<' in page
    assert page.count('class="cove-row"') == 50 and "Page 1 of 3" in page
    assert client.get("/cove/accounts?page=3").get_data(as_text=True).count('class="cove-row"') == 20
    # Readable data sources, the derived type, the mapped status.
    server = next(a for a in fake.accounts()[13:] if a.get("I32") == "2" and (a.get("I78") or "").startswith("D01D02"))
    found = client.get("/cove/accounts", query_string={"q": server.get("I1")}).get_data(as_text=True)
    assert found.count('class="cove-row"') == 1
    assert "Files and Folders, System State" in found and "<td>Server</td>" in found
    # Search by computer and by customer; filter by type.
    computer = client.get("/cove/accounts", query_string={"q": server.get("I18")}).get_data(as_text=True)
    assert f'data-account-id="{server.account_id}"' in computer
    customer = server.get("I8")
    by_customer = client.get("/cove/accounts", query_string={"q": customer}).get_data(as_text=True)
    expected = sum(1 for a in fake.accounts() if a.get("I8") == customer)
    assert by_customer.count('class="cove-row"') == min(50, expected)
    m365 = client.get("/cove/accounts", query_string={"type": "Microsoft 365"}).get_data(as_text=True)
    rows = m365.split("<tbody>")[1].split("</tbody>")[0]
    assert "<td>Microsoft 365</td>" in rows and "<td>Server</td>" not in rows and "<td>Workstation</td>" not in rows


def test_create_link_and_unlink_through_the_page(client, login_as, fake):
    login_as("operator")
    configure(fake)
    import_from(fake)
    account = row(FIRST_ID + 20)
    customer = make_customer("Page Customer")
    db.session.commit()
    response = client.post(f"/cove/accounts/{account.id}/link",
                           data={"action": "create", "customer_id": customer.id,
                                 "return_to": "/cove/accounts?q=abc"})
    assert response.status_code == 302 and response.headers["Location"] == "/cove/accounts?q=abc"
    job = db.session.scalar(select(Job).where(Job.cove_account_id == account.account_id))
    assert job.customer_id == customer.id and job.backup_software == "Cove Data Protection"
    assert job.backup_type == account.account_type and job.job_name == account.account_name
    runs = db.session.scalars(select(JobRun).where(JobRun.job_id == job.id)).all()
    assert len(runs) == 1 and runs[0].source_type == "cove_api"
    page = client.get("/cove/accounts").get_data(as_text=True)
    assert "run(s) imported" in page and 'id="unmatched-count">119<' in page
    matched = client.get("/cove/accounts?view=matched").get_data(as_text=True)
    assert f'href="/jobs/{job.id}"' in matched and "Page Customer" in matched

    # A new customer typed in the modal; and linking to an existing job.
    other = row(FIRST_ID + 21)
    client.post(f"/cove/accounts/{other.id}/link", data={"action": "create", "new_customer_name": "Typed Customer"})
    assert db.session.scalar(select(Customer).where(Customer.name == "Typed Customer")) is not None
    third = row(FIRST_ID + 22)
    existing = make_job(make_customer(), job_name="Existing job")
    db.session.commit()
    client.post(f"/cove/accounts/{third.id}/link", data={"action": "link", "job_id": existing.id})
    assert existing.cove_account_id == third.account_id and third.job_id == existing.id
    assert db.session.scalar(select(func.count(JobRun.id)).where(JobRun.job_id == existing.id)) == 1

    # Unlink: the account waits again, the job keeps its run.
    response = client.post(f"/cove/accounts/{third.id}/unlink", follow_redirects=True)
    assert "the job keeps its runs" in response.get_data(as_text=True)
    db.session.expire_all()
    assert existing.cove_account_id is None and third.job_id is None
    assert db.session.scalar(select(func.count(JobRun.id)).where(JobRun.job_id == existing.id)) == 1
    assert 'id="unmatched-count">118<' in client.get("/cove/accounts").get_data(as_text=True)


def test_link_mistakes_are_explained(client, login_as, fake):
    login_as("operator")
    configure(fake)
    import_from(fake)
    account = row(FIRST_ID + 20)
    page = client.post(f"/cove/accounts/{account.id}/link", data={"action": "create"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Choose a customer, or type the name of a new one." in page
    page = client.post(f"/cove/accounts/{account.id}/link", data={"action": "link", "job_id": "999999"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Choose the job to link the account to." in page
    page = client.post(f"/cove/accounts/{account.id}/unlink", follow_redirects=True).get_data(as_text=True)
    assert "is not linked to a job" in page
    response = client.post(f"/cove/accounts/{account.id}/link",
                           data={"action": "create", "customer_id": "1", "return_to": "https://evil.example/"})
    assert response.headers["Location"] == "/cove/accounts"
    assert client.post("/cove/accounts/999999/link", data={"action": "create"}).status_code == 404
    assert db.session.scalar(select(func.count(Job.id)).where(Job.cove_account_id.is_not(None))) == 0


def test_the_page_says_when_cove_is_off(client, login_as, fake):
    login_as("admin")
    page = client.get("/cove/accounts").get_data(as_text=True)
    assert 'id="cove-disabled"' in page and "No unmatched accounts" in page and "never" in page
    configure(fake)
    import_from(fake)
    page = client.get("/cove/accounts").get_data(as_text=True)
    assert 'id="cove-disabled"' not in page and "120 account(s) (120 new" in page
