"""Settings from the environment, parsed strictly.

Every variable read here is documented in the README. A bad value stops start-up with a
:class:`ConfigError` naming the variable, because a half-configured monitoring tool that starts
anyway is worse than one that refuses to.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(RuntimeError):
    """A configuration variable is missing or has a value we cannot use."""


@dataclass(frozen=True)
class AppConfig:
    env: str
    secret_key: str
    port: int
    database_url: str
    background_jobs: bool
    log_level: str

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def _read(environ: Mapping[str, str], name: str) -> str | None:
    """A variable's value, or the contents of the file named by NAME_FILE (Docker secrets)."""
    file_var = f"{name}_FILE"
    if environ.get(file_var):
        path = Path(environ[file_var])
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{file_var}: cannot read {path}: {exc.strerror}") from exc
    value = environ.get(name)
    return value if value not in (None, "") else None


def _int(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _read(environ, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _read(environ, name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _database_url(environ: Mapping[str, str], instance_path: Path) -> str:
    url = _read(environ, "DATABASE_URL")
    if url:
        if not url.startswith(("postgresql", "sqlite")):
            scheme = url.split(":")[0]
            raise ConfigError(f"DATABASE_URL: only postgresql:// and sqlite:// URLs are supported, got {scheme!r}")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg2://" + url[len("postgresql://"):]
        return url
    pg_parts = {name: _read(environ, name) for name in ("POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "DB_HOST")}
    if any(pg_parts.values()):
        missing = [name for name in ("POSTGRES_DB", "POSTGRES_USER", "DB_HOST") if not pg_parts[name]]
        if missing:
            raise ConfigError(f"{missing[0]}: required when any of POSTGRES_DB, POSTGRES_USER, DB_HOST is set")
        port = _int(environ, "DB_PORT", 5432, 1, 65535)
        password = pg_parts["POSTGRES_PASSWORD"] or ""
        credentials = quote(pg_parts["POSTGRES_USER"] or "", safe="")
        if password:
            credentials += ":" + quote(password, safe="")
        database = quote(pg_parts["POSTGRES_DB"] or "", safe="")
        return f"postgresql+psycopg2://{credentials}@{pg_parts['DB_HOST']}:{port}/{database}"
    return f"sqlite:///{instance_path / 'backupchecks.sqlite'}"


def load_config(environ: Mapping[str, str] | None = None, instance_path: Path | None = None) -> AppConfig:
    environ = os.environ if environ is None else environ
    instance_path = instance_path or Path.cwd() / "instance"
    env = (_read(environ, "APP_ENV") or "production").lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV: must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    secret_key = _read(environ, "APP_SECRET_KEY")
    if secret_key is None:
        if env == "production":
            raise ConfigError("APP_SECRET_KEY: required when APP_ENV=production (use a long random value)")
        # Outside production a per-process key is fine: sessions simply end when the process does.
        secret_key = os.urandom(32).hex()
    elif env == "production" and len(secret_key) < 16:
        raise ConfigError("APP_SECRET_KEY: must be at least 16 characters in production")
    log_level = (_read(environ, "LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"LOG_LEVEL: must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    return AppConfig(
        env=env,
        secret_key=secret_key,
        port=_int(environ, "APP_PORT", 8080, 1, 65535),
        database_url=_database_url(environ, instance_path),
        background_jobs=_bool(environ, "APP_BACKGROUND_JOBS", env == "production"),
        log_level=log_level,
    )
