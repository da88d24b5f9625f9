"""The schema: built by the migrations, equal to the models, upgraded once under a lock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from backend.app import create_app
from backend.app.database import upgrade_schema
from backend.app.extensions import db
from backend.app.models import Customer

from ..conftest import make_test_config, separate_database_url


def test_models_and_migrations_agree(app):
    """Fails when a model changed without a migration (or a migration without the model)."""
    context = MigrationContext.configure(db.session.connection(), opts={"compare_type": True})
    diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; run `backupchecks db migrate`: {diff}"


def test_schema_has_named_constraints(app):
    inspector = inspect(db.engine)
    uniques = {u["name"] for u in inspector.get_unique_constraints("job_runs")}
    assert {"uq_job_runs_job_id_external_id", "uq_job_runs_job_id_missed_slot_at"} <= uniques
    fks = {fk["name"] for fk in inspector.get_foreign_keys("job_runs")}
    assert "fk_job_runs_job_id_jobs" in fks


# The canary pair: each test commits a row and checks that the other's row is not there. Whichever
# runs second proves that the per-test rollback isolates tests.
def test_isolation_canary_one(app):
    assert db.session.query(Customer).filter(Customer.name.like("canary %")).count() == 0
    db.session.add(Customer(name="canary one"))
    db.session.commit()
    assert db.session.query(Customer).filter_by(name="canary one").count() == 1


def test_isolation_canary_two(app):
    assert db.session.query(Customer).filter(Customer.name.like("canary %")).count() == 0
    db.session.add(Customer(name="canary two"))
    db.session.commit()
    assert db.session.query(Customer).filter_by(name="canary two").count() == 1




def test_concurrent_start_ups_migrate_once(tmp_path: Path):
    url = separate_database_url(tmp_path, "concurrent")
    apps = []
    for _ in range(3):
        app = create_app(make_test_config(url), run_migrations=False)
        app.instance_path = str(tmp_path)
        apps.append(app)
    errors: list[BaseException] = []

    def start(app):
        try:
            upgrade_schema(app)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    engine = create_engine(url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    assert len(versions) == 1


def test_start_up_fails_clearly_when_database_is_unreachable(tmp_path: Path):
    app = create_app(make_test_config("postgresql+psycopg2://nobody@127.0.0.1:9/none"), run_migrations=False)
    with pytest.raises(Exception, match="(?i)connect"):
        upgrade_schema(app)
