from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

MAIL_LOCATIONS: tuple[str, ...] = ("inbox", "processed", "deleted")


class MailMessage(db.Model):
    """A notification mail as received. Stored before anything else happens to it, so none is lost."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        Index("ix_mail_messages_location_received_at", "location", "received_at"),
        Index("ix_mail_messages_job_id", "job_id"),
        Index("ix_mail_messages_identity_key", "identity_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    graph_message_id: Mapped[str | None] = mapped_column(String(512))
    internet_message_id: Mapped[str] = mapped_column(String(998), unique=True, nullable=False)
    from_address: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(Text)
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    raw_mime: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # inbox: waiting for a person; processed: became a run; deleted: soft-deleted.
    location: Mapped[str] = mapped_column(String(20), nullable=False, default="inbox")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    parser_key: Mapped[str | None] = mapped_column(String(64))
    backup_software: Mapped[str | None] = mapped_column(String(100))
    backup_type: Mapped[str | None] = mapped_column(String(100))
    job_name: Mapped[str | None] = mapped_column(String(255))
    # Normalised job identity of the parse result (models.jobs.job_identity_key); NULL when unparsed.
    identity_key: Mapped[str | None] = mapped_column(String(800))
    # The run time the mail states, when it states one; otherwise the run is dated by received_at.
    run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parse_message: Mapped[str | None] = mapped_column(Text)
    overall_status: Mapped[str | None] = mapped_column(String(10))
    informational: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    parse_error: Mapped[str | None] = mapped_column(Text)
    parsed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    job = relationship("Job", foreign_keys=[job_id])
    objects = relationship("MailObject", back_populates="mail_message", passive_deletes=True,
                           cascade="all, delete-orphan", order_by="MailObject.id")

    @property
    def parsed(self) -> bool:
        return self.parser_key is not None and self.parse_error is None


class MailObject(db.Model):
    __tablename__ = "mail_objects"
    __table_args__ = (Index("ix_mail_objects_mail_message_id", "mail_message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mail_message_id: Mapped[int] = mapped_column(ForeignKey("mail_messages.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(512), nullable=False)
    object_type: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(10))
    error_message: Mapped[str | None] = mapped_column(Text)

    mail_message = relationship("MailMessage", back_populates="objects")
