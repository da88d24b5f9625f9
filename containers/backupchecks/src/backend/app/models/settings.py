from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

DEFAULT_UI_TIMEZONE = "Europe/Amsterdam"
DEFAULT_GRAPH_AUTHORITY_URL = "https://login.microsoftonline.com"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com"
DEFAULT_AUTOTASK_ZONE_LOOKUP_URL = "https://webservices.autotask.net/atservicesrest"


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

    # Autotask PSA (REST). The zone's REST root is looked up from the username and remembered here.
    autotask_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    autotask_username: Mapped[str | None] = mapped_column(String(255))
    # Encrypted with services.secrets; never sent back to the browser.
    autotask_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    autotask_integration_code: Mapped[str | None] = mapped_column(String(255))
    autotask_zone_lookup_url: Mapped[str] = mapped_column(String(255), nullable=False,
                                                          default=DEFAULT_AUTOTASK_ZONE_LOOKUP_URL)
    autotask_zone_url: Mapped[str | None] = mapped_column(String(255))
    autotask_zone_name: Mapped[str | None] = mapped_column(String(100))
    autotask_web_url: Mapped[str | None] = mapped_column(String(255))
    # Defaults for new tickets, chosen from the cached picklists.
    autotask_default_queue_id: Mapped[int | None] = mapped_column(Integer)
    autotask_default_priority: Mapped[int | None] = mapped_column(Integer)
    autotask_default_status: Mapped[int | None] = mapped_column(Integer)
    autotask_default_issue_type: Mapped[int | None] = mapped_column(Integer)
    autotask_default_source: Mapped[int | None] = mapped_column(Integer)
    # {"queueID": [{"value": 5, "label": "...", "active": true}, ...], ...} as last read from the API.
    autotask_picklists_json: Mapped[str | None] = mapped_column(Text)
    autotask_picklists_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    autotask_sync_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    autotask_sync_interval_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=15)

    # Cove Data Protection (JSON-RPC): its fields go here.
    cove_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    cove_api_url: Mapped[str] = mapped_column(String(255), nullable=False,
                                              default="https://api.backup.management/jsonapi")
    cove_api_username: Mapped[str | None] = mapped_column(String(255))
    # Encrypted with services.secrets; never sent back to the browser.
    cove_api_password_encrypted: Mapped[str | None] = mapped_column(Text)
    # The partner the API user belongs to, from the last successful login (Test connection or import).
    cove_partner_id: Mapped[int | None] = mapped_column(Integer)
    cove_import_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    cove_import_interval_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
    # Offline detection from the 28-day colour bar, for workstation accounts (no missed runs there).
    cove_offline_detection_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    cove_offline_warning_days: Mapped[int] = mapped_column(Integer, nullable=False, default=3)
    cove_offline_failed_days: Mapped[int] = mapped_column(Integer, nullable=False, default=7)

    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
