from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

RUN_STATUSES: tuple[str, ...] = ("success", "warning", "failed", "missed")
# Worst first: the order used wherever one status must stand for several runs.
STATUS_SEVERITY = {"failed": 4, "missed": 3, "warning": 2, "success": 1}

_SPACES = re.compile(r"\s+")


def normalize_identity_part(value: str | None) -> str:
    """Case- and whitespace-insensitive form of one identity part."""
    return _SPACES.sub(" ", (value or "").strip()).casefold()


def job_identity_key(from_address: str | None, backup_software: str | None, backup_type: str | None,
                     job_name: str | None) -> str:
    """The normalised job identity: (sender address, backup software, backup type, job name)."""
    return "\x1f".join(normalize_identity_part(p) for p in (from_address, backup_software, backup_type, job_name))


class Job(db.Model):
    __tablename__ = "jobs"
    __table_args__ = (
        # One live job per identity; a soft-deleted job frees its identity.
        Index("uq_jobs_identity_key_live", "identity_key", unique=True,
              postgresql_where=text("deleted_at IS NULL"), sqlite_where=text("deleted_at IS NULL")),
        Index("ix_jobs_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    from_address: Mapped[str | None] = mapped_column(String(255))
    backup_software: Mapped[str] = mapped_column(String(100), nullable=False)
    backup_type: Mapped[str] = mapped_column(String(100), nullable=False)
    job_name: Mapped[str] = mapped_column(String(255), nullable=False)
    identity_key: Mapped[str] = mapped_column(String(800), nullable=False)
    informational: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cove_account_id: Mapped[int | None] = mapped_column(Integer)
    # Learned schedule, cached as JSON (services.schedules) with the moment it was learned.
    learned_schedule_json: Mapped[str | None] = mapped_column(Text)
    schedule_learned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Missed runs are only created for slots after this moment: when the current schedule started to
    # expect runs (first learned, or set by hand). NULL while nothing is expected.
    schedule_expected_since_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # learned | manual | none
    schedule_mode: Mapped[str] = mapped_column(String(10), nullable=False, default="learned")
    manual_schedule_json: Mapped[str | None] = mapped_column(Text)
    paused_until: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    customer = relationship("Customer", back_populates="jobs")
    runs = relationship("JobRun", back_populates="job", passive_deletes=True, lazy="dynamic")

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def refresh_identity_key(self) -> None:
        self.identity_key = job_identity_key(self.from_address, self.backup_software, self.backup_type, self.job_name)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.backup_software}/{self.backup_type}/{self.job_name}>"


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job_id", "external_id"),
        # One missed run per expected slot; NULL for every other run, and NULLs never collide.
        UniqueConstraint("job_id", "missed_slot_at"),
        # A mail becomes at most one run, however often an import is retried.
        UniqueConstraint("mail_message_id"),
        CheckConstraint("status IN ('success', 'warning', 'failed', 'missed')", name="status_known"),
        CheckConstraint("effective_status IN ('success', 'warning', 'failed', 'missed')",
                        name="effective_status_known"),
        # The Run Checks queue: unreviewed runs per job.
        Index("ix_job_runs_unreviewed_job_id", "job_id", postgresql_where=text("reviewed_at IS NULL"),
              sqlite_where=text("reviewed_at IS NULL")),
        Index("ix_job_runs_job_id_run_at", "job_id", "run_at"),
        Index("ix_job_runs_run_at", "run_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # What the source reported; never changed afterwards.
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    # What every page, count and report uses: the status after overrides and "Mark as success".
    effective_status: Mapped[str] = mapped_column(String(10), nullable=False)
    override_id: Mapped[int | None] = mapped_column(ForeignKey("overrides.id", ondelete="SET NULL"))
    marked_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marked_success_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    informational: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    mail_message_id: Mapped[int | None] = mapped_column(ForeignKey("mail_messages.id", ondelete="SET NULL"))
    # NULL for runs from mail; "cove_api" for Cove imports.
    source_type: Mapped[str | None] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(255))
    missed_slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message: Mapped[str | None] = mapped_column(Text)
    remark: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    autotask_ticket_id: Mapped[int | None] = mapped_column(Integer)
    autotask_ticket_number: Mapped[str | None] = mapped_column(String(64))
    autotask_ticket_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    autotask_ticket_created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    autotask_ticket_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    job = relationship("Job", back_populates="runs")
    mail_message = relationship("MailMessage", foreign_keys=[mail_message_id])
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id])
    override = relationship("Override")
    object_links = relationship("RunObjectLink", passive_deletes=True, order_by="RunObjectLink.id")

    def __init__(self, **kwargs) -> None:
        # A new run starts with the reported status; overrides are applied after it is created.
        kwargs.setdefault("effective_status", kwargs.get("status"))
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        return f"<JobRun {self.id} job={self.job_id} {self.status} {self.run_at:%Y-%m-%d %H:%M}>"
