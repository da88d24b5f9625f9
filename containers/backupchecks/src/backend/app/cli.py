"""The `backupchecks` command: Flask's CLI built on the app factory, plus our own commands."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select
from werkzeug.serving import run_simple

from .extensions import db


def _create_cli_app() -> Flask:
    from flask.cli import NoAppException

    from . import create_app
    from .config import ConfigError

    # Commands decide for themselves whether to migrate (`db upgrade` must not race itself).
    try:
        return create_app(run_migrations=False, start_background=False)
    except ConfigError as exc:
        # Shown as one line ("Error: ...") instead of a traceback, also under --help.
        raise NoAppException(f"configuration: {exc}") from None


@click.group(cls=FlaskGroup, create_app=_create_cli_app, add_version_option=False, load_dotenv=False)
def main() -> None:
    """Backupchecks: monitor every backup job of every customer from one place."""


def register_commands(app: Flask) -> None:
    """Commands that need the configured app (database, settings)."""
    app.cli.add_command(users_group)
    app.cli.add_command(jobs_group)
    app.cli.add_command(import_mail_command)
    app.cli.add_command(schedule_group)


@click.group("schedule", help="Schedules.")
def schedule_group() -> None:
    pass


@schedule_group.command("infer")
@click.argument("runs_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tz", "zone_name", default=None, help="IANA timezone (default: the configured UI timezone).")
@with_appcontext
def schedule_infer(runs_file: Path, zone_name: str | None) -> None:
    """Learn a schedule from RUNS_FILE (a JSON list of ISO-8601 timestamps with offsets) and print it as JSON."""
    import json
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from .services.schedules import infer_schedule

    try:
        raw = json.loads(runs_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.ClickException(f"cannot read {runs_file}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{runs_file} is not JSON: {exc}") from None
    if not isinstance(raw, list):
        raise click.ClickException(f"{runs_file} must hold a JSON list of timestamps")
    run_times = []
    for index, value in enumerate(raw):
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise click.ClickException(f"item {index}: {value!r} is not an ISO-8601 timestamp") from None
        if moment.tzinfo is None:
            raise click.ClickException(f"item {index}: {value!r} has no offset")
        run_times.append(moment.astimezone(UTC))
    if zone_name:
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise click.ClickException(f"unknown timezone {zone_name!r}") from None
    else:
        from .services.settings import ui_zone

        zone = ui_zone()
    click.echo(json.dumps(infer_schedule(sorted(run_times), zone).to_dict()))


@click.group("jobs", help="Background passes.")
def jobs_group() -> None:
    pass


@jobs_group.command("run")
@with_appcontext
def jobs_run() -> None:
    """Run the background passes in this process until stopped (SIGTERM or Ctrl+C)."""
    import signal

    from flask import current_app

    from .jobs.runner import BackgroundRunner

    runner = BackgroundRunner(current_app._get_current_object())
    signal.signal(signal.SIGTERM, lambda *_: runner.stop(timeout=0))
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        runner.stop(timeout=0)


@click.command("import-mail")
@click.option("--dir", "directory", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of .eml files (searched recursively).")
@with_appcontext
def import_mail_command(directory: Path) -> None:
    """Import a folder of .eml files through the same ingest as the mailbox import."""
    from .services.mail_ingest import ingest_message

    files = sorted(p for p in directory.rglob("*.eml") if p.is_file())
    stored = duplicates = runs = failed = 0
    for path in files:
        try:
            result = ingest_message(path.read_bytes())
            db.session.commit()
        except OSError as exc:
            db.session.rollback()
            failed += 1
            click.echo(f"{path}: cannot read: {exc.strerror}", err=True)
            continue
        if result.created:
            stored += 1
            runs += result.run is not None
        else:
            duplicates += 1
    click.echo(f"{len(files)} file(s): {stored} stored, {duplicates} already stored, {runs} run(s) created, "
               f"{failed} unreadable")


@click.group("users", help="Manage users.")
def users_group() -> None:
    pass


@users_group.command("create-admin")
@click.option("--username", default="admin", show_default=True)
@click.option("--email", default=None)
@click.option("--password", default=None, help="Read from the BACKUPCHECKS_ADMIN_PASSWORD variable when not given; "
              "generated and printed when neither is set.")
@with_appcontext
def create_admin(username: str, email: str | None, password: str | None) -> None:
    """Create an admin user (the first one on a new installation)."""
    from flask import current_app

    from .database import schema_is_current, upgrade_schema
    from .services.users import UserError, create_user, generate_password

    if not schema_is_current():
        db.session.rollback()
        upgrade_schema(current_app)
    password = password or os.environ.get("BACKUPCHECKS_ADMIN_PASSWORD")
    generated = password is None
    password = password or generate_password()
    try:
        create_user(None, username, password, ["admin"], email)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Admin {username!r} created." + (f" Password: {password}" if generated else ""))


@click.command("demo")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the demo database (default: a new temporary folder).")
def demo_command(port: int, host: str, data_dir: Path | None) -> None:
    """Build a demo installation from nothing and serve it."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="backupchecks-demo-"))
    app, credentials = build_demo_app(data_dir)
    url = f"http://{host}:{port}"
    click.echo(f"\nBackupchecks demo — data in {data_dir}\n")
    click.echo(f"  Open {url}/ and log in as:")
    for username, password in credentials.items():
        click.echo(f"    {username:<9} {password}")
    click.echo("\n  (each user has the role of its name; admin holds every role.) Press Ctrl+C to stop.\n")
    sys.stdout.flush()
    # app.run() refuses to run inside a Flask CLI command; the server it would start is this one.
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


def build_demo_app(data_dir: Path) -> tuple[Flask, dict[str, str]]:
    """A new SQLite installation in ``data_dir`` with demo users and data; returns the app and the logins."""
    from . import create_app
    from .config import load_config
    from .database import upgrade_schema
    from .models import User
    from .services.demo import create_demo_users, seed_demo_data
    from .services.settings import ui_zone

    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / "backupchecks.sqlite"
    if database.exists():
        raise click.ClickException(f"{database} exists already; give an empty --data-dir")
    environ = {"APP_ENV": "development", "DATABASE_URL": f"sqlite:///{database}",
               "APP_SECRET_KEY": os.urandom(32).hex(), "APP_BACKGROUND_JOBS": "false",
               "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
    app = create_app(load_config(environ, instance_path=data_dir), run_migrations=False)
    app.instance_path = str(data_dir)
    upgrade_schema(app)
    with app.app_context():
        credentials = create_demo_users()
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        seed_demo_data(datetime.now(UTC), ui_zone(), admin)
        db.session.commit()
    return app, credentials


PARSE_KEYS = ("parser", "backup_software", "backup_type", "job_name", "overall_status", "informational", "objects")


@click.command("parse")
@click.argument("eml_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def parse_command(eml_file: Path, as_json: bool) -> None:
    """Parse one .eml file the way the import does and print the result."""
    import json

    from .parsers.normalize import normalize_eml
    from .parsers.registry import parse_mail

    try:
        raw = eml_file.read_bytes()
    except OSError as exc:
        click.echo(f"error: cannot read {eml_file}: {exc.strerror}", err=True)
        sys.exit(2)
    try:
        mail = normalize_eml(raw)
    except ValueError as exc:
        click.echo(f"error: {eml_file}: {exc}", err=True)
        sys.exit(2)
    outcome = parse_mail(mail)
    if outcome.result is not None:
        full = outcome.result.to_dict()
        data = {key: full[key] for key in PARSE_KEYS}
        data["objects"] = [{"name": o["name"], "type": o["type"], "status": o["status"], "error": o["error"]}
                           for o in full["objects"]]
    else:
        data = dict.fromkeys(PARSE_KEYS)
        data["parser"] = outcome.parser.key if outcome.parser else None
    if outcome.error:
        data["error"] = outcome.error
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    if outcome.parser is None:
        click.echo(f"No parser recognises this mail (from {mail.from_address!r}, subject {mail.subject!r}).")
        return
    if outcome.error:
        click.echo(f"Parser {outcome.parser.key} matched but could not parse the mail: {outcome.error}")
        return
    click.echo(f"Parser:   {data['parser']}\nSoftware: {data['backup_software']}\nType:     {data['backup_type']}\n"
               f"Job:      {data['job_name']}\nStatus:   {data['overall_status']}"
               f"{' (informational)' if data['informational'] else ''}")
    if full.get("run_at"):
        click.echo(f"Run at:   {full['run_at']}")
    if full.get("message"):
        click.echo(f"Message:  {full['message']}")
    for obj in data["objects"]:
        click.echo(f"  - {obj['name']} [{obj['type']}] {obj['status']}" + (f": {obj['error']}" if obj["error"] else ""))


# These build their own app and configuration (or need none), so they must not need the environment's.
main.add_command(demo_command)
main.add_command(parse_command)
