"""Test set-up shared by every suite.

Database: PostgreSQL when TEST_DATABASE_URL is set, otherwise a throwaway SQLite file. Either way
the schema is built by the migrations (as in production), once per session, and every test runs
inside a transaction that is rolled back afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from backend.app import create_app
from backend.app.config import AppConfig
from backend.app.database import upgrade_schema
from backend.app.extensions import db

from .factories import DEFAULT_PASSWORD, make_user

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def _normalise(url: str) -> str:
    return "postgresql+psycopg2://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


def _reset_postgres_schema(url: str) -> None:
    """Start from an empty schema so the migrations are what builds it."""
    database = urlsplit(url).path.lstrip("/")
    if "test" not in database:
        # The suite drops everything in the schema; refuse anything that does not look like a test database.
        raise pytest.UsageError(
            f"TEST_DATABASE_URL must name a test database (its name contains 'test'), got {database!r}")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def separate_database_url(tmp_path, name: str) -> str:
    """A database of its own, outside the per-test transaction, for tests of concurrency: an empty
    PostgreSQL database ``bc_test_<name>`` beside TEST_DATABASE_URL's, or an SQLite file."""
    if not TEST_DATABASE_URL:
        return f"sqlite:///{tmp_path / f'{name}.sqlite'}"
    base = _normalise(TEST_DATABASE_URL)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS bc_test_{name}"))
        conn.execute(text(f"CREATE DATABASE bc_test_{name}"))
    admin.dispose()
    return base.rsplit("/", 1)[0] + f"/bc_test_{name}"


def make_test_config(database_url: str) -> AppConfig:
    return AppConfig(env="testing", secret_key="test-secret-key-not-for-production", port=8080,
                     database_url=database_url, background_jobs=False, log_level="WARNING")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DATABASE_URL:
        url = _normalise(TEST_DATABASE_URL)
        _reset_postgres_schema(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    app = create_app(make_test_config(database_url), overrides={"WTF_CSRF_ENABLED": False}, run_migrations=False)
    app.instance_path = str(tmp_path_factory.mktemp("instance"))
    upgrade_schema(app)
    return app


@pytest.fixture(autouse=True)
def _rollback_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run the test inside one outer transaction and roll it back at the end.

    The app's own commits become savepoint releases inside that transaction. Tests that do not use
    the database (no ``app`` fixture) skip all of this.
    """
    if "app" not in request.fixturenames:
        yield
        return
    app: Flask = request.getfixturevalue("app")
    with app.app_context():
        engines = db._app_engines[app]
        real_engine = engines[None]
        connection = real_engine.connect()
        transaction = connection.begin()
        real_session = db.session
        # Flask-SQLAlchemy picks the bind from its engine map, so the connection goes there.
        engines[None] = connection
        db.session = db._make_scoped_session({"join_transaction_mode": "create_savepoint"})
        try:
            yield
        finally:
            db.session.remove()
            db.session = real_session
            engines[None] = real_engine
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def login(client: FlaskClient, username: str, password: str = DEFAULT_PASSWORD):
    return client.post("/login", data={"username": username, "password": password}, follow_redirects=False)


@pytest.fixture
def login_as(client: FlaskClient):
    """Log the test client in as a new user holding ``roles`` (the first is active)."""

    def _login(*roles: str, username: str | None = None):
        user = make_user(*roles, username=username)
        db.session.commit()
        response = login(client, user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return _login
