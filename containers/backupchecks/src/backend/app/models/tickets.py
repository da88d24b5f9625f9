"""Tickets and remarks: known problems, scoped to what they are about and linked to the runs they explain.

The rules are the seeds' ("Ticketing and Autotask"): a ticket or remark is open for a scope while
``COALESCE(scope.resolved_at, ticket.resolved_at) IS NULL``; every new run gets the open ones linked
(ticket_job_runs / remark_job_runs), and those links stay when the ticket is resolved, as the audit
trail of old runs. There is no date-based resolved logic anywhere.

A scope says what a ticket or remark is about. Each criterion that is set must match: customer, job,
backup software, backup type, and for an object scope the object (a run matches when it reported
that object). A job scope sets only ``job_id``; a customer scope only ``customer_id``; a software
scope ``backup_software`` and optionally ``backup_type``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

SCOPE_TYPES: tuple[str, ...] = ("customer", "job", "software", "object")
# How a run got its link: by the linking function for a new run, by hand, or by an Autotask ticket.
LINK_SOURCES: tuple[str, ...] = ("auto", "manual", "autotask")


class Ticket(db.Model):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # T20260123.0001 (generated, Autotask's own format) or a number from another PSA.
    ticket_code: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # Shown through its scopes on runs of this day and later (the seeds' job-scope display source).
    active_from_date: Mapped[date] = mapped_column(Date, nullable=False)
    # When the problem started, as the operator knows it.
    start_date: Mapped[date | None] = mapped_column(Date)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Set when this ticket mirrors an Autotask ticket (created from Run Checks or linked by number).
    autotask_ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    autotask_ticket_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    autotask_ticket_created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Deleted in Autotask: stops propagating like a resolve, but the ticket no longer exists there.
    autotask_ticket_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    scopes = relationship("TicketScope", back_populates="ticket", passive_deletes=True,
                          cascade="all, delete-orphan", order_by="TicketScope.id")
    created_by = relationship("User", foreign_keys=[created_by_id])
    resolved_by = relationship("User", foreign_keys=[resolved_by_id])

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None

    def __repr__(self) -> str:
        return f"<Ticket {self.ticket_code}>"


class Remark(db.Model):
    __tablename__ = "remarks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    # The active window: linked to runs of these days (until is open-ended when NULL).
    active_from_date: Mapped[date] = mapped_column(Date, nullable=False)
    active_until_date: Mapped[date | None] = mapped_column(Date)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    scopes = relationship("RemarkScope", back_populates="remark", passive_deletes=True,
                          cascade="all, delete-orphan", order_by="RemarkScope.id")
    created_by = relationship("User", foreign_keys=[created_by_id])
    resolved_by = relationship("User", foreign_keys=[resolved_by_id])

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None

    def __repr__(self) -> str:
        return f"<Remark {self.id}>"


class _ScopeColumns:
    """The criteria a ticket scope and a remark scope share."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope_type: Mapped[str] = mapped_column(String(10), nullable=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    backup_software: Mapped[str | None] = mapped_column(String(100))
    backup_type: Mapped[str | None] = mapped_column(String(100))
    customer_object_id: Mapped[int | None] = mapped_column(ForeignKey("customer_objects.id", ondelete="CASCADE"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class TicketScope(_ScopeColumns, db.Model):
    __tablename__ = "ticket_scopes"
    __table_args__ = (
        CheckConstraint("scope_type IN ('customer', 'job', 'software', 'object')", name="scope_type_known"),
        Index("ix_ticket_scopes_ticket_id", "ticket_id"),
        Index("ix_ticket_scopes_job_id", "job_id"),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)

    ticket = relationship("Ticket", back_populates="scopes")
    customer = relationship("Customer")
    job = relationship("Job")
    customer_object = relationship("CustomerObject")


class RemarkScope(_ScopeColumns, db.Model):
    __tablename__ = "remark_scopes"
    __table_args__ = (
        CheckConstraint("scope_type IN ('customer', 'job', 'software', 'object')", name="scope_type_known"),
        Index("ix_remark_scopes_remark_id", "remark_id"),
        Index("ix_remark_scopes_job_id", "job_id"),
    )

    remark_id: Mapped[int] = mapped_column(ForeignKey("remarks.id", ondelete="CASCADE"), nullable=False)

    remark = relationship("Remark", back_populates="scopes")
    customer = relationship("Customer")
    job = relationship("Job")
    customer_object = relationship("CustomerObject")


class TicketJobRun(db.Model):
    __tablename__ = "ticket_job_runs"
    __table_args__ = (Index("ix_ticket_job_runs_job_run_id", "job_run_id"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_runs.id", ondelete="CASCADE"), primary_key=True)
    link_source: Mapped[str] = mapped_column(String(10), nullable=False, default="auto")
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class RemarkJobRun(db.Model):
    __tablename__ = "remark_job_runs"
    __table_args__ = (Index("ix_remark_job_runs_job_run_id", "job_run_id"),)

    remark_id: Mapped[int] = mapped_column(ForeignKey("remarks.id", ondelete="CASCADE"), primary_key=True)
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_runs.id", ondelete="CASCADE"), primary_key=True)
    link_source: Mapped[str] = mapped_column(String(10), nullable=False, default="auto")
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
