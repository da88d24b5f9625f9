"""Cove Data Protection accounts as the last import saw them: the staging table of the Cove import.

Every account Cove lists is kept here, linked to a job or not (seeds, "Inbox-Style Flow"). An
account without a live job waits on the Cove Accounts page; a linked one becomes runs of its job.
The link's source of truth is ``Job.cove_account_id`` (exported with the installation);
``CoveAccount.job_id`` mirrors it for the accounts page and is kept in step by the link actions and
the import pass.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class CoveAccount(db.Model):
    __tablename__ = "cove_accounts"
    __table_args__ = (Index("ix_cove_accounts_job_id", "job_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Cove's AccountId.
    account_id: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)
    # The device's own (sub-)customer in Cove.
    partner_id: Mapped[int | None] = mapped_column(Integer)
    account_name: Mapped[str | None] = mapped_column(String(255))  # I1
    computer_name: Mapped[str | None] = mapped_column(String(255))  # I18
    customer_name: Mapped[str | None] = mapped_column(String(255))  # I8
    datasource_types: Mapped[str | None] = mapped_column(String(255))  # I78, raw
    # Server | Workstation | Microsoft 365 (cove_mapping.derive_account_type).
    account_type: Mapped[str] = mapped_column(String(20), nullable=False)
    last_status_code: Mapped[int | None] = mapped_column(Integer)  # D09F00
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # D09F15
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # D09F09
    colorbar_28d: Mapped[str | None] = mapped_column(String(64))  # D09F08
    # Every column Cove returned, flattened ({code: value}) as canonical JSON: linking an account
    # imports its last session from here at once, and an unchanged account costs no UPDATE.
    stats_json: Mapped[str] = mapped_column(Text, nullable=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    job = relationship("Job")

    def __repr__(self) -> str:
        return f"<CoveAccount {self.account_id} {self.account_name!r} job={self.job_id}>"
