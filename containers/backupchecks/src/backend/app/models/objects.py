"""Objects a backup job protects (VMs, machines, shares, datasources) and their per-run results."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class CustomerObject(db.Model):
    __tablename__ = "customer_objects"
    __table_args__ = (UniqueConstraint("customer_id", "object_type", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(512), nullable=False)
    object_type: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class JobObjectLink(db.Model):
    """An object seen in a job's runs, with its most recent status."""

    __tablename__ = "job_object_links"
    __table_args__ = (UniqueConstraint("job_id", "customer_object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    customer_object_id: Mapped[int] = mapped_column(ForeignKey("customer_objects.id", ondelete="CASCADE"),
                                                    nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_status: Mapped[str | None] = mapped_column(String(10))
    last_error: Mapped[str | None] = mapped_column(Text)

    customer_object = relationship("CustomerObject")


class RunObjectLink(db.Model):
    """One object's result in one run."""

    __tablename__ = "run_object_links"
    __table_args__ = (
        UniqueConstraint("job_run_id", "customer_object_id"),
        Index("ix_run_object_links_customer_object_id", "customer_object_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_runs.id", ondelete="CASCADE"), nullable=False)
    customer_object_id: Mapped[int] = mapped_column(ForeignKey("customer_objects.id", ondelete="CASCADE"),
                                                    nullable=False)
    status: Mapped[str | None] = mapped_column(String(10))
    error_message: Mapped[str | None] = mapped_column(Text)
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer_object = relationship("CustomerObject")
