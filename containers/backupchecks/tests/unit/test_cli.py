from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
import pytest
from sqlalchemy import func, select

from backend.app.cli import build_demo_app, main
from backend.app.extensions import db
from backend.app.models import Customer, Job, JobObjectLink, JobRun, MailMessage, Remark, Ticket, User


def test_create_admin_generates_and_prints_a_password(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create-admin", "--username", "root", "--email", "r@x.example"])
    assert result.exit_code == 0, result.output
    password = result.output.strip().split("Password: ")[1]
    user = db.session.scalar(select(User).where(User.username == "root"))
    assert user.roles == ["admin"] and user.check_password(password)


def test_create_admin_refuses_a_duplicate_and_a_weak_password(app):
    runner = app.test_cli_runner()
    args = ["users", "create-admin", "--username", "dup", "--password", "long enough!"]
    assert runner.invoke(args=args).exit_code == 0
    result = runner.invoke(args=["users", "create-admin", "--username", "dup", "--password", "long enough!"])
    assert result.exit_code == 1 and "already exists" in result.output
    result = runner.invoke(args=["users", "create-admin", "--username", "weak", "--password", "123"])
    assert result.exit_code == 1 and "at least 10 characters" in result.output


def test_demo_builds_a_complete_installation_from_nothing(tmp_path: Path):
    demo_app, credentials = build_demo_app(tmp_path / "demo")
    assert set(credentials) == {"admin", "operator", "viewer", "reporter"}
    with demo_app.app_context():
        assert db.session.query(Customer).count() == 5
        assert db.session.query(Job).count() == 11
        statuses = {s for (s,) in db.session.query(JobRun.status).distinct()}
        assert {"success", "warning", "failed"} <= statuses
        # Weeks of runs per job, dated by night; unknown jobs and unparsed mails wait in the Inbox.
        assert db.session.query(JobRun).count() > 11 * 15
        waiting = db.session.query(MailMessage).filter_by(location="inbox").all()
        assert any(m.parse_error for m in waiting) and any(m.parsed for m in waiting)
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        assert admin.roles == ["admin", "operator", "viewer", "reporter"]
        # Objects were last seen by the demo's (re-dated) runs, not on the fixture mails' original nights.
        newest_run_at = db.session.scalar(select(func.max(JobRun.run_at)))
        oldest_seen_at = db.session.scalar(select(func.min(JobObjectLink.last_seen_at)))
        assert newest_run_at - oldest_seen_at < timedelta(days=30)
        # A ticket on a failing run and a remark for one customer, as an operator leaves them.
        assert db.session.query(Ticket).count() == 1 and db.session.query(Remark).count() == 1
        db.session.remove()
        db.engine.dispose()
    demo_app.config["WTF_CSRF_ENABLED"] = False  # the browser tests cover the real form
    client = demo_app.test_client()
    response = client.post("/login", data={"username": "admin", "password": credentials["admin"]})
    assert response.status_code == 302
    assert "Acme Dental" in client.get("/customers").get_data(as_text=True)


def test_demo_refuses_a_used_folder(tmp_path: Path):
    (tmp_path / "backupchecks.sqlite").write_bytes(b"")
    with pytest.raises(click.ClickException, match="exists already"):
        build_demo_app(tmp_path)


def test_command_lists_its_commands_without_configuration():
    runner = click.testing.CliRunner()
    result = runner.invoke(main, ["--help"], env={"APP_ENV": "development"})
    assert result.exit_code == 0
    for command in ("demo", "users", "db"):
        assert command in result.output


def test_a_bad_configuration_is_one_clear_line_not_a_traceback():
    runner = click.testing.CliRunner()
    result = runner.invoke(main, ["users", "create-admin"], env={"APP_ENV": "production", "APP_SECRET_KEY": ""})
    assert result.exit_code == 2
    assert "Error: configuration: APP_SECRET_KEY: required when APP_ENV=production" in result.output
    assert "Traceback" not in result.output
