"""Engine behaviour per database, and the schema upgrade run at start-up."""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from .extensions import db

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed 64-bit number works; it only has to be the same for every worker of one installation.
MIGRATION_LOCK_KEY = 0x4243_4D49_4752  # "BCMIGR"


def configure_sqlite(engine: Engine) -> None:
    """Make pysqlite behave: enforce foreign keys, and let SQLAlchemy own transactions.

    pysqlite starts transactions lazily on its own, which breaks SAVEPOINT (used by nested
    transactions and by the test suite); the documented fix is to switch that off and emit BEGIN.
    BEGIN IMMEDIATE takes the write lock up front: two workers that both read and then write would
    otherwise deadlock ("database is locked") instead of waiting for each other. WAL lets readers
    go on while one writes.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade_schema(app: Flask) -> None:
    """Upgrade to the newest migration, once even when several workers start together.

    PostgreSQL: a session advisory lock; SQLite: a lock file beside the database. The second worker
    waits, then finds the schema already at head and does nothing.
    """
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
                try:
                    upgrade(directory=str(MIGRATIONS_DIR))
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                    conn.commit()
        else:
            lock_path = Path(app.instance_path) / "migrate.lock"
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with open(lock_path, "w") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    upgrade(directory=str(MIGRATIONS_DIR))
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)
        log.info("database schema is up to date")


def render_migration_item(type_: str, obj, autogen_context):
    """Write our column types into migrations as plain SQLAlchemy types.

    Migrations must not import app code: it changes, and a landed migration never does.
    """
    from .models.types import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def schema_is_current() -> bool:
    """Whether the connected database is at the newest migration (inside an app context)."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask import current_app

    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config(str(MIGRATIONS_DIR)))
    context = MigrationContext.configure(db.session.connection())
    return set(context.get_current_heads()) == set(script.get_heads())
