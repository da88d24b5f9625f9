"""Showing UTC instants in the UI timezone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import g


def current_zone() -> ZoneInfo:
    """The UI zone, read once per request."""
    zone = g.get("ui_zone")
    if zone is None:
        from .services.settings import ui_zone

        zone = g.ui_zone = ui_zone()
    return zone


def local(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(current_zone())


def format_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """The ``localtime`` filter: called for every time on every page, so it does no more than this."""
    if value is None:
        return ""
    return value.astimezone(current_zone()).strftime(fmt)
