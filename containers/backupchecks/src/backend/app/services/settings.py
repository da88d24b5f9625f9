"""System settings: one row, created on first use."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ..extensions import db
from ..models import DEFAULT_UI_TIMEZONE, SystemSettings, User
from .audit import record_audit


def get_settings() -> SystemSettings:
    settings = db.session.get(SystemSettings, 1)
    if settings is None:
        settings = SystemSettings(id=1, ui_timezone=DEFAULT_UI_TIMEZONE)
        db.session.add(settings)
        db.session.flush()
    return settings


def ui_zone() -> ZoneInfo:
    """The zone every time in the UI is shown in, and schedules are learned in."""
    try:
        return ZoneInfo(get_settings().ui_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_UI_TIMEZONE)


def timezone_choices() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def update_general_settings(user: User, ui_timezone: str) -> SystemSettings:
    try:
        ZoneInfo(ui_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {ui_timezone!r}") from None
    settings = get_settings()
    old = settings.ui_timezone
    settings.ui_timezone = ui_timezone
    if old != ui_timezone:
        record_audit("settings_updated", f"UI timezone changed from {old} to {ui_timezone}", user)
    db.session.flush()
    return settings
