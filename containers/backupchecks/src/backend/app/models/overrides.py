"""Overrides: known, accepted problems that should count as success."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

OVERRIDE_LEVELS = ("global", "object")
ERROR_MATCH_TYPES = ("contains", "exact", "starts", "ends")


class Override(db.Model):
    __tablename__ = "overrides"
    __table_args__ = (
        CheckConstraint("level IN ('global', 'object')", name="level_known"),
        CheckConstraint("error_match IN ('contains', 'exact', 'starts', 'ends')", name="error_match_known"),
        # An object-level override always belongs to one job.
        CheckConstraint("level = 'global' OR job_id IS NOT NULL", name="object_level_has_job"),
        Index("ix_overrides_job_id", "job_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(10), nullable=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    # Object level: one object of the job by name; empty means the whole job.
    object_name: Mapped[str | None] = mapped_column(String(512))
    # Global criteria; empty matches anything.
    backup_software: Mapped[str | None] = mapped_column(String(100))
    backup_type: Mapped[str | None] = mapped_column(String(100))
    status_match: Mapped[str | None] = mapped_column(String(10))
    error_text: Mapped[str | None] = mapped_column(Text)
    error_match: Mapped[str] = mapped_column(String(10), nullable=False, default="contains")
    treat_as_success: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    comment: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    job = relationship("Job")
    created_by = relationship("User")
