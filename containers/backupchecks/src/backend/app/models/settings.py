from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

DEFAULT_UI_TIMEZONE = "Europe/Amsterdam"


class SystemSettings(db.Model):
    """The installation's settings: one row, created on first use."""

    __tablename__ = "system_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ui_timezone: Mapped[str] = mapped_column(String(64), nullable=False, default=DEFAULT_UI_TIMEZONE)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
