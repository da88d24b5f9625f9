"""The Autotask settings tab: secret handling, the zone, picklists and defaults, Test connection."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from backend.app.extensions import db
from backend.app.models import AuditLog
from backend.app.services.settings import get_settings

from ..factories import make_customer
from ..fakes.autotask_server import DEFAULT_ZONE_NAME, AutotaskFake, running_autotask_fake


@pytest.fixture
def fake() -> Iterator[AutotaskFake]:
    with running_autotask_fake() as running:
        yield running


def form(fake: AutotaskFake, **changes: str) -> dict[str, str]:
    values = {**fake.app_settings(), "enabled": "y", "sync_enabled": "y", "sync_interval_minutes": "10",
              "default_queue_id": "", "default_priority": "", "default_status": "", "default_issue_type": "",
              "default_source": ""}
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def select_options(page: str, name: str) -> list[tuple[str, str]]:
    block = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert block, name
    return re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', block.group(1))


def test_save_encrypts_the_secret_never_shows_it_and_finds_the_zone(client, login_as, fake):
    login_as("admin")
    response = client.post("/settings/autotask", data=form(fake))
    assert response.status_code == 302
    settings = get_settings()
    assert settings.autotask_secret_encrypted and fake.secret not in settings.autotask_secret_encrypted
    assert settings.autotask_enabled and settings.autotask_sync_interval_minutes == 10
    assert settings.autotask_zone_name == DEFAULT_ZONE_NAME
    assert settings.autotask_zone_url == fake.api_versioned_url

    page = client.get("/settings/autotask").get_data(as_text=True)
    assert fake.secret not in page and settings.autotask_secret_encrypted not in page
    assert 'id="secret-stored"' in page and f'value="{fake.username}"' in page
    assert DEFAULT_ZONE_NAME in page and fake.api_versioned_url in page

    # Saving without typing a secret keeps the stored one.
    stored = settings.autotask_secret_encrypted
    client.post("/settings/autotask", data=form(fake, secret="", sync_interval_minutes="30"))
    assert settings.autotask_secret_encrypted == stored and settings.autotask_sync_interval_minutes == 30
    messages = db.session.scalars(select(AuditLog.message).where(AuditLog.event_type == "settings_updated")).all()
    assert sum("secret replaced" in m for m in messages) == 1
    assert all(fake.secret not in m for m in messages)


def test_an_unknown_username_is_saved_with_a_warning_about_the_zone(client, login_as, fake):
    login_as("admin")
    page = client.post("/settings/autotask", data=form(fake, username="nobody@example.com"),
                       follow_redirects=True).get_data(as_text=True)
    assert "Autotask settings saved." in page
    assert "The zone of nobody@example.com could not be found" in page and "not known to Autotask" in page
    assert get_settings().autotask_zone_url is None


def test_garbage_is_refused_with_a_reason(client, login_as, fake):
    login_as("admin")
    page = client.post("/settings/autotask", data=form(fake, sync_interval_minutes="0")).get_data(as_text=True)
    assert "Number must be between 1 and 1440" in page
    page = client.post("/settings/autotask", data=form(fake, zone_lookup_url="http://autotask.example.com"),
                       follow_redirects=True).get_data(as_text=True)
    assert "Zone lookup URL must be an https:// address" in page
    page = client.post("/settings/autotask", data=form(fake, secret="", integration_code=""),
                       follow_redirects=True).get_data(as_text=True)
    assert "before enabling Autotask" in page
    assert not get_settings().autotask_enabled


def test_picklists_are_refreshed_and_the_defaults_are_chosen_by_label(client, login_as, fake):
    login_as("admin")
    client.post("/settings/autotask", data=form(fake))
    page = client.get("/settings/autotask").get_data(as_text=True)
    assert 'id="picklists-missing"' in page and select_options(page, "default_queue_id") == [("", "— none —")]

    page = client.post("/settings/autotask/picklists", follow_redirects=True).get_data(as_text=True)
    assert "Picklists refreshed from Autotask." in page
    settings = get_settings()
    cached = json.loads(settings.autotask_picklists_json)
    assert {"value": 29682833, "label": "Monitoring Alerts", "active": True, "default": True} in cached["queueID"]
    assert settings.autotask_picklists_refreshed_at is not None
    queues = select_options(page, "default_queue_id")
    assert ("29682833", "Monitoring Alerts") in queues and ("29683481", "Service Desk") in queues
    assert all(label != "Client Portal" for _, label in queues)  # inactive in Autotask: not offered
    assert ("5", "Complete") in select_options(page, "default_status")
    assert ("-1", "Client Portal") in select_options(page, "default_source")

    response = client.post("/settings/autotask", data=form(
        fake, secret="", default_queue_id="29683481", default_priority="1", default_status="1",
        default_issue_type="10", default_source="8"))
    assert response.status_code == 302
    assert (settings.autotask_default_queue_id, settings.autotask_default_priority, settings.autotask_default_status,
            settings.autotask_default_issue_type, settings.autotask_default_source) == (29683481, 1, 1, 10, 8)
    page = client.get("/settings/autotask").get_data(as_text=True)
    assert re.search(r'<option[^>]*selected[^>]*value="29683481"|<option[^>]*value="29683481"[^>]*selected', page)
    assert "default-problem" not in page

    # A value that is not in the picklist (or inactive there) is not a choice.
    page = client.post("/settings/autotask", data=form(fake, secret="", default_queue_id="8")).get_data(as_text=True)
    assert "Not a valid choice" in page and settings.autotask_default_queue_id == 29683481


def test_missing_required_defaults_are_pointed_out(client, login_as, fake):
    login_as("admin")
    client.post("/settings/autotask", data=form(fake))
    client.post("/settings/autotask/picklists")
    page = client.get("/settings/autotask").get_data(as_text=True)
    for label in ("queue", "priority", "status"):
        assert f"No default {label} is chosen." in page


def test_a_failed_picklist_refresh_says_why_and_keeps_the_old_lists(client, login_as, fake):
    login_as("admin")
    client.post("/settings/autotask", data=form(fake))
    client.post("/settings/autotask/picklists")
    cached = get_settings().autotask_picklists_json
    fake.reject_credentials = True
    page = client.post("/settings/autotask/picklists", follow_redirects=True).get_data(as_text=True)
    assert "Refreshing the picklists failed" in page and "rejected" in page
    assert get_settings().autotask_picklists_json == cached


def test_refreshing_without_credentials_says_what_is_missing(client, login_as):
    login_as("admin")
    page = client.post("/settings/autotask/picklists", follow_redirects=True).get_data(as_text=True)
    assert "Autotask is not configured" in page and "secret" in page


def test_test_connection_reports_each_step(client, login_as, fake):
    login_as("admin")
    report = client.post("/settings/autotask/test", data=form(fake)).get_json()
    assert report["ok"] is True
    assert [step["name"] for step in report["steps"]] == ["zone", "credentials", "tickets"]
    assert DEFAULT_ZONE_NAME in report["steps"][0]["message"]

    report = client.post("/settings/autotask/test", data=form(fake, secret="wrong")).get_json()
    assert report["ok"] is False and report["steps"][0]["ok"] is True
    assert not report["steps"][1]["ok"] and "rejected" in report["steps"][1]["message"]

    report = client.post("/settings/autotask/test", data=form(fake, username="nobody@example.com")).get_json()
    assert not report["steps"][0]["ok"] and "not known to Autotask" in report["steps"][0]["message"]

    # With nothing typed, the stored secret is used; nothing is saved by a test.
    client.post("/settings/autotask", data=form(fake))
    report = client.post("/settings/autotask/test", data=form(fake, secret="")).get_json()
    assert report["ok"] is True


def test_the_page_shows_the_last_sync(client, login_as, fake):
    from datetime import UTC, datetime

    from backend.app.jobs import autotask_sync
    from backend.app.services.autotask_settings import autotask_client_from_settings

    login_as("admin")
    client.post("/settings/autotask", data=form(fake))
    customer = make_customer("Alpha")
    customer.autotask_company_id, customer.autotask_company_name = 174, "Example Customer Alpha"
    db.session.commit()
    fake.reject_credentials = True
    autotask_sync.run_once(datetime.now(UTC), force=True,
                           client_factory=lambda: autotask_client_from_settings(get_settings(), fake.session()))
    page = client.get("/settings/autotask").get_data(as_text=True)
    assert 'id="last-sync"' in page and "text-bg-danger" in page and "rejected" in page
    assert "1 not mapped" not in page and "0 not mapped" in page


def test_only_admins_reach_the_autotask_settings(client, login_as):
    login_as("operator")
    assert client.get("/settings/autotask").status_code == 403
    for url in ("/settings/autotask", "/settings/autotask/test", "/settings/autotask/picklists",
                "/settings/autotask/sync-now"):
        assert client.post(url).status_code == 403, url


def test_sync_now_runs_a_pass_in_the_background(tmp_path):
    """The button starts a real pass in its own thread (own database, as in production): a ticket
    completed in Autotask is resolved without waiting for the interval."""
    import time

    from backend.app import create_app
    from backend.app.database import upgrade_schema
    from backend.app.jobs import autotask_sync
    from backend.app.models import BackgroundTask, Ticket

    from ..conftest import login, make_test_config, separate_database_url
    from ..factories import make_job, make_run, make_user
    from ..unit.test_autotask_sync import ticket_for

    app = create_app(make_test_config(separate_database_url(tmp_path, "autotask_sync_now")),
                     overrides={"WTF_CSRF_ENABLED": False}, run_migrations=False)
    app.instance_path = str(tmp_path)
    upgrade_schema(app)
    with running_autotask_fake() as fake:
        with app.app_context():
            from ..unit.test_autotask_sync import configure

            configure(fake)
            ticket = ticket_for(fake, make_run(make_job(), status="failed"))
            ticket_id = ticket.id
            fake.complete_ticket(ticket.autotask_ticket_id)
            admin = make_user("admin")
            db.session.commit()
            username = admin.username
            db.session.remove()
        client = app.test_client()
        assert login(client, username).status_code == 302
        page = client.post("/settings/autotask/sync-now", follow_redirects=True).get_data(as_text=True)
        assert "Sync started" in page
        with app.app_context():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                task = db.session.get(BackgroundTask, autotask_sync.TASK_NAME)
                if task is not None and task.last_status in ("ok", "error"):
                    break
                db.session.remove()
                time.sleep(0.05)
            assert task.last_status == "ok", task.last_error
            assert db.session.get(Ticket, ticket_id).resolved_at is not None
            db.session.remove()
            db.engine.dispose()
