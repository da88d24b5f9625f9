from __future__ import annotations

from pathlib import Path

import pytest

from backend.app.config import ConfigError, load_config


def test_defaults_outside_production(tmp_path: Path):
    config = load_config({"APP_ENV": "development"}, instance_path=tmp_path)
    assert config.env == "development" and config.port == 8080
    assert config.database_url == f"sqlite:///{tmp_path / 'backupchecks.sqlite'}"
    assert not config.background_jobs
    assert len(config.secret_key) == 64


def test_production_requires_a_secret_key(tmp_path: Path):
    with pytest.raises(ConfigError, match="^APP_SECRET_KEY: required when APP_ENV=production"):
        load_config({}, instance_path=tmp_path)  # production is the default
    with pytest.raises(ConfigError, match="^APP_SECRET_KEY: must be at least 16"):
        load_config({"APP_SECRET_KEY": "short"}, instance_path=tmp_path)
    config = load_config({"APP_SECRET_KEY": "x" * 32}, instance_path=tmp_path)
    assert config.is_production and config.background_jobs


@pytest.mark.parametrize(("environ", "message"), [
    ({"APP_ENV": "staging"}, "^APP_ENV: must be one of"),
    ({"APP_ENV": "development", "APP_PORT": "http"}, "^APP_PORT: expected a whole number"),
    ({"APP_ENV": "development", "APP_PORT": "70000"}, "^APP_PORT: must be between 1 and 65535"),
    ({"APP_ENV": "development", "DB_PORT": "x", "POSTGRES_DB": "d", "POSTGRES_USER": "u", "DB_HOST": "h"},
     "^DB_PORT: expected a whole number"),
    ({"APP_ENV": "development", "POSTGRES_DB": "d"}, "^POSTGRES_USER: required"),
    ({"APP_ENV": "development", "DATABASE_URL": "mysql://x"}, "^DATABASE_URL: only postgresql"),
    ({"APP_ENV": "development", "APP_BACKGROUND_JOBS": "sometimes"}, "^APP_BACKGROUND_JOBS: expected true or false"),
    ({"APP_ENV": "development", "LOG_LEVEL": "LOUD"}, "^LOG_LEVEL: must be"),
    ({"APP_ENV": "development", "APP_SECRET_KEY_FILE": "/nonexistent/secret"}, "^APP_SECRET_KEY_FILE: cannot read"),
])
def test_bad_values_name_the_variable(tmp_path: Path, environ: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        load_config(environ, instance_path=tmp_path)


def test_postgres_parts_build_a_psycopg2_url(tmp_path: Path):
    config = load_config({"APP_ENV": "development", "POSTGRES_DB": "bc", "POSTGRES_USER": "bc user",
                          "POSTGRES_PASSWORD": "p@ss/word", "DB_HOST": "postgres"}, instance_path=tmp_path)
    assert config.database_url == "postgresql+psycopg2://bc%20user:p%40ss%2Fword@postgres:5432/bc"


def test_database_url_wins_and_is_normalised(tmp_path: Path):
    config = load_config({"APP_ENV": "development", "DATABASE_URL": "postgresql://u@db/x", "POSTGRES_DB": "ignored"},
                         instance_path=tmp_path)
    assert config.database_url == "postgresql+psycopg2://u@db/x"


def test_secrets_from_files(tmp_path: Path):
    (tmp_path / "key").write_text("from-a-docker-secret-file\n")
    (tmp_path / "pw").write_text("s3cret\n")
    config = load_config({"APP_SECRET_KEY_FILE": str(tmp_path / "key"), "POSTGRES_DB": "bc", "POSTGRES_USER": "bc",
                          "POSTGRES_PASSWORD_FILE": str(tmp_path / "pw"), "DB_HOST": "db", "DB_PORT": "6543"},
                         instance_path=tmp_path)
    assert config.secret_key == "from-a-docker-secret-file"
    assert config.database_url == "postgresql+psycopg2://bc:s3cret@db:6543/bc"


def test_production_app_refuses_to_start_without_secret(monkeypatch: pytest.MonkeyPatch):
    from backend.app import create_app

    monkeypatch.delenv("APP_SECRET_KEY", raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError, match="APP_SECRET_KEY"):
        create_app()
