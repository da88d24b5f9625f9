"""System settings: one row, created on first use."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ..extensions import db
from ..models import DEFAULT_UI_TIMEZONE, SystemSettings, User
from .audit import record_audit
from .context_cache import cached, forget
from .secrets import encrypt_secret


def _load_settings() -> SystemSettings:
    settings = db.session.get(SystemSettings, 1)
    if settings is None:
        settings = SystemSettings(id=1, ui_timezone=DEFAULT_UI_TIMEZONE)
        db.session.add(settings)
        db.session.flush()
    return settings


def get_settings() -> SystemSettings:
    """The settings row. Held for the app context: the session's identity map keeps rows only while
    something refers to them, so without this every read in a request would query again. A commit
    expires it (the next read refreshes it); a new session or a rollback that dropped it reads it anew."""
    settings = cached("settings_row", _load_settings)
    if settings not in db.session:
        forget("settings_row")
        settings = cached("settings_row", _load_settings)
    return settings


def ui_zone() -> ZoneInfo:
    """The zone every time in the UI is shown in, and schedules are learned in."""
    return cached("ui_zone", _load_ui_zone)


def _load_ui_zone() -> ZoneInfo:
    try:
        return ZoneInfo(get_settings().ui_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_UI_TIMEZONE)


def missed_grace_minutes() -> int:
    return cached("missed_grace_minutes", lambda: get_settings().missed_grace_minutes)


def timezone_choices() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def update_general_settings(user: User, ui_timezone: str, missed_grace_minutes: int | None = None) -> SystemSettings:
    try:
        ZoneInfo(ui_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {ui_timezone!r}") from None
    if missed_grace_minutes is not None and not 0 <= missed_grace_minutes <= 1440:
        raise ValueError("Grace must be between 0 and 1440 minutes.")
    settings = get_settings()
    old = settings.ui_timezone
    settings.ui_timezone = ui_timezone
    if old != ui_timezone:
        record_audit("settings_updated", f"UI timezone changed from {old} to {ui_timezone}", user)
    if missed_grace_minutes is not None and missed_grace_minutes != settings.missed_grace_minutes:
        record_audit("settings_updated", f"Missed-run grace changed from {settings.missed_grace_minutes} to "
                     f"{missed_grace_minutes} minutes", user)
        settings.missed_grace_minutes = missed_grace_minutes
    forget("ui_zone", "missed_grace_minutes")
    db.session.flush()
    return settings


@dataclass(frozen=True)
class MailImportSettingsInput:
    tenant_id: str
    client_id: str
    client_secret: str | None  # empty or None: keep the stored one
    mailbox: str
    source_folder: str
    processed_folder: str
    authority_url: str
    graph_base_url: str
    enabled: bool
    interval_minutes: int
    batch_size: int


def _https_url(label: str, value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{label} must be an https:// address, got {value!r}")
    return value


def update_mail_import_settings(user: User, data: MailImportSettingsInput) -> SystemSettings:
    settings = get_settings()
    if not 1 <= data.interval_minutes <= 1440:
        raise ValueError("Interval must be between 1 and 1440 minutes.")
    if not 1 <= data.batch_size <= 1000:
        raise ValueError("Batch size must be between 1 and 1000.")
    if not data.source_folder.strip() or not data.processed_folder.strip():
        raise ValueError("Source and processed folder are required.")
    if data.source_folder.strip().lower() == data.processed_folder.strip().lower():
        raise ValueError("The processed folder must differ from the source folder.")
    authority = _https_url("Authority URL", data.authority_url)
    graph_base = _https_url("Graph URL", data.graph_base_url)
    has_secret = bool(data.client_secret) or bool(settings.graph_client_secret_encrypted)
    if data.enabled and not (data.tenant_id.strip() and data.client_id.strip() and has_secret and data.mailbox.strip()):
        raise ValueError("Fill in tenant id, client id, client secret and mailbox before enabling the import.")
    settings.graph_tenant_id = data.tenant_id.strip() or None
    settings.graph_client_id = data.client_id.strip() or None
    settings.graph_mailbox = data.mailbox.strip() or None
    settings.graph_source_folder = data.source_folder.strip()
    settings.graph_processed_folder = data.processed_folder.strip()
    settings.graph_authority_url = authority
    settings.graph_base_url = graph_base
    settings.mail_import_enabled = data.enabled
    settings.mail_import_interval_minutes = data.interval_minutes
    settings.mail_import_batch_size = data.batch_size
    if data.client_secret:
        settings.graph_client_secret_encrypted = encrypt_secret(data.client_secret)
    replaced = "; client secret replaced" if data.client_secret else ""
    record_audit("settings_updated", f"Mail import settings saved (import {'on' if data.enabled else 'off'}, "
                 f"every {data.interval_minutes} min, mailbox {settings.graph_mailbox or '-'}){replaced}", user)
    db.session.flush()
    return settings
