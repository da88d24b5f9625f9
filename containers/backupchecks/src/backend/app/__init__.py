"""Backupchecks: the application factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from .config import AppConfig, load_config
from .database import MIGRATIONS_DIR, configure_sqlite, render_migration_item, upgrade_schema
from .extensions import bootstrap, csrf, db, login_manager, migrate

SRC_DIR = Path(__file__).resolve().parents[2]


def create_app(config: AppConfig | None = None, *, overrides: dict[str, Any] | None = None,
               run_migrations: bool | None = None, start_background: bool | None = None) -> Flask:
    """Build the app.

    ``config`` defaults to the environment (see config.py). ``run_migrations`` defaults to on
    outside testing, so a container start upgrades the schema before it serves. ``start_background``
    defaults to APP_BACKGROUND_JOBS (never in testing); CLI commands pass False.
    """
    app = Flask(__name__, template_folder=str(SRC_DIR / "templates"), static_folder=str(SRC_DIR / "static"))
    config = config or load_config(instance_path=Path(app.instance_path))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    app.config.update(
        BACKUPCHECKS=config,
        SECRET_KEY=config.secret_key,
        SQLALCHEMY_DATABASE_URI=config.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True} if config.database_url.startswith("postgresql") else {},
        TESTING=config.env == "testing",
        BOOTSTRAP_SERVE_LOCAL=True,
        BOOTSTRAP_BTN_STYLE="primary",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.is_production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=config.is_production,
        WTF_CSRF_TIME_LIMIT=None,  # a morning review can keep a tab open for hours
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
    )
    if overrides:
        app.config.update(overrides)

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True,
                     render_item=render_migration_item)
    csrf.init_app(app)
    bootstrap.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"

    from . import models  # noqa: F401  (register every table with SQLAlchemy)
    from .auth import bp as auth_bp
    from .documentation import bp as documentation_bp
    from .errors import register_error_handlers
    from .main import bp as main_bp
    from .web import register_template_helpers

    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(documentation_bp)
    register_error_handlers(app)
    register_template_helpers(app)

    from .cli import register_commands

    register_commands(app)

    if run_migrations is None:
        run_migrations = config.env != "testing"
    if run_migrations:
        upgrade_schema(app)
    if start_background is None:
        start_background = config.background_jobs and config.env != "testing"
    if start_background:
        from .jobs.runner import start_background_jobs

        start_background_jobs(app)
    return app

