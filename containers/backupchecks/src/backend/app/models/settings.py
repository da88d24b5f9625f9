from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

DEFAULT_UI_TIMEZONE = "Europe/Amsterdam"
DEFAULT_GRAPH_AUTHORITY_URL = "https://login.microsoftonline.com"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com"


class SystemSettings(db.Model):
    """The installation's settings: one row, created on first use."""

    __tablename__ = "system_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ui_timezone: Mapped[str] = mapped_column(String(64), nullable=False, default=DEFAULT_UI_TIMEZONE)
    # How long after a slot's tolerance window a run may still arrive before the slot counts as missed.
    missed_grace_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)

    # Mail import from a Microsoft 365 mailbox (Graph, app-only).
    graph_tenant_id: Mapped[str | None] = mapped_column(String(100))
    graph_client_id: Mapped[str | None] = mapped_column(String(100))
    # Encrypted with services.secrets; never sent back to the browser.
    graph_client_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    graph_mailbox: Mapped[str | None] = mapped_column(String(255))
    graph_source_folder: Mapped[str] = mapped_column(String(255), nullable=False, default="Inbox")
    graph_processed_folder: Mapped[str] = mapped_column(String(255), nullable=False, default="Backupchecks processed")
    graph_authority_url: Mapped[str] = mapped_column(String(255), nullable=False,
                                                     default=DEFAULT_GRAPH_AUTHORITY_URL)
    graph_base_url: Mapped[str] = mapped_column(String(255), nullable=False, default=DEFAULT_GRAPH_BASE_URL)
    mail_import_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    mail_import_interval_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=15)
    mail_import_batch_size: Mapped[int] = mapped_column(Integer, nullable=False, default=50)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
