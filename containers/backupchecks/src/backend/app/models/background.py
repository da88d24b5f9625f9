"""State of the background passes: a lease so one instance runs a pass at a time, and the outcome
of the last pass for the settings page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class BackgroundTask(db.Model):
    __tablename__ = "background_tasks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    lease_holder: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # ok | error | running
    last_status: Mapped[str | None] = mapped_column(String(10))
    last_summary: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Progress of a long pass (re-parse), for the progress bar.
    progress_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
