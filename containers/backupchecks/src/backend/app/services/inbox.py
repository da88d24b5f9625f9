"""What people do with mails in the Inbox: approve (assign a customer), delete, restore, re-parse."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import Customer, Job, MailMessage, User
from ..models.types import utcnow
from .audit import record_audit
from .mail_ingest import apply_parse, create_run_from_mail, find_live_job, normalized_from_stored, process_parsed_mail


class InboxError(ValueError):
    """An inbox action that cannot be done; the message is shown to the user."""


@dataclass(frozen=True)
class ApprovalResult:
    job: Job
    job_created: bool
    runs_created: int


def _waiting_with_identity(identity_key: str) -> list[MailMessage]:
    return list(db.session.scalars(
        select(MailMessage).where(MailMessage.location == "inbox", MailMessage.identity_key == identity_key,
                                  MailMessage.parse_error.is_(None))
        .order_by(MailMessage.received_at)))


def approve_inbox_mail(actor: User, mail: MailMessage, customer: Customer) -> ApprovalResult:
    """Create the mail's job for ``customer`` and turn every waiting mail of that job into a run."""
    if mail.location != "inbox":
        raise InboxError("This mail is no longer in the Inbox.")
    if not mail.parsed or mail.identity_key is None:
        raise InboxError("Only a parsed mail can be approved; re-parse it or delete it.")
    job = find_live_job(mail.identity_key)
    created = job is None
    if job is None:
        job = Job(customer_id=customer.id, from_address=mail.from_address, backup_software=mail.backup_software,
                  backup_type=mail.backup_type, job_name=mail.job_name, informational=mail.informational)
        job.refresh_identity_key()
        db.session.add(job)
        db.session.flush()
    waiting = _waiting_with_identity(mail.identity_key)
    for waiting_mail in waiting:
        create_run_from_mail(job, waiting_mail)
    if created:
        record_audit("job_created", f"Job {job.backup_software} / {job.backup_type} / {job.job_name} created for "
                     f"{customer.name} from the Inbox; {len(waiting)} mail(s) processed", actor)
    else:
        record_audit("inbox_processed", f"{len(waiting)} mail(s) of existing job {job.job_name} "
                     f"({job.customer.name}) processed", actor)
    return ApprovalResult(job=job, job_created=created, runs_created=len(waiting))


def approve_inbox_mails(actor: User, mails: Sequence[MailMessage], customer: Customer) -> list[ApprovalResult]:
    """Bulk approve: one job per distinct identity among ``mails``, all for ``customer``."""
    results, done = [], set()
    for mail in mails:
        if mail.identity_key in done or mail.location != "inbox":
            continue
        results.append(approve_inbox_mail(actor, mail, customer))
        done.add(mail.identity_key)
    return results


_WORDS = re.compile(r"[a-z0-9]+")


def _domain(address: str | None) -> str | None:
    return address.rsplit("@", 1)[1].lower() if address and "@" in address else None


@dataclass(frozen=True)
class CustomerSuggestion:
    customer: Customer
    reason: str


def suggest_customer(mail: MailMessage) -> CustomerSuggestion | None:
    """The customer whose earlier approvals look most like this mail: same sender address, then the
    same sender domain, then jobs whose names share words with this one."""
    if mail.from_address:
        same_sender = db.session.execute(
            select(Customer, func.count(Job.id)).join(Job, Job.customer_id == Customer.id)
            .where(func.lower(Job.from_address) == mail.from_address.lower(), Job.deleted_at.is_(None))
            .group_by(Customer.id).order_by(func.count(Job.id).desc()).limit(1)).first()
        if same_sender:
            return CustomerSuggestion(same_sender[0], f"{same_sender[1]} job(s) from {mail.from_address}")
    domain = _domain(mail.from_address)
    if domain:
        rows = db.session.execute(select(Customer, Job.from_address).join(Job, Job.customer_id == Customer.id)
                                  .where(Job.from_address.ilike(f"%@{domain}"), Job.deleted_at.is_(None))).all()
        counts = Counter(customer.id for customer, _ in rows)
        if counts:
            best = max(counts, key=counts.get)
            customer = next(c for c, _ in rows if c.id == best)
            return CustomerSuggestion(customer, f"{counts[best]} job(s) from @{domain}")
    words = set(_WORDS.findall((mail.job_name or "").lower())) - {"backup", "job", "daily", "copy"}
    if words:
        scores: Counter = Counter()
        customers: dict[int, Customer] = {}
        for customer, job_name in db.session.execute(
                select(Customer, Job.job_name).join(Job, Job.customer_id == Customer.id)
                .where(Job.deleted_at.is_(None))):
            overlap = len(words & set(_WORDS.findall(job_name.lower())))
            if overlap:
                scores[customer.id] += overlap
                customers[customer.id] = customer
        if scores:
            best = max(scores, key=scores.get)
            return CustomerSuggestion(customers[best], "similar job names")
    return None


def delete_mails(actor: User, mails: Sequence[MailMessage]) -> int:
    now_at = utcnow()
    count = 0
    for mail in mails:
        if mail.location != "inbox":
            continue
        mail.location = "deleted"
        mail.deleted_at = now_at
        mail.deleted_by_id = actor.id
        count += 1
    if count:
        record_audit("mail_deleted", f"{count} mail(s) deleted from the Inbox", actor,
                     details="\n".join(f"{m.id}: {m.subject}" for m in mails if m.location == "deleted"))
    db.session.flush()
    return count


def restore_mails(actor: User, mails: Sequence[MailMessage]) -> int:
    count = 0
    for mail in mails:
        if mail.location != "deleted":
            continue
        mail.location = "inbox"
        mail.deleted_at = None
        mail.deleted_by_id = None
        process_parsed_mail(mail)
        count += 1
    if count:
        record_audit("mail_restored", f"{count} mail(s) restored to the Inbox", actor)
    db.session.flush()
    return count


def purge_mails(actor: User, mails: Sequence[MailMessage]) -> int:
    """Permanently delete mails that were soft-deleted first."""
    targets = [m for m in mails if m.location == "deleted"]
    if len(targets) != len(mails):
        raise InboxError("Only deleted mails can be deleted permanently; delete them from the Inbox first.")
    for mail in targets:
        db.session.delete(mail)
    if targets:
        record_audit("mail_purged", f"{len(targets)} deleted mail(s) permanently removed", actor,
                     details="\n".join(f"{m.internet_message_id}: {m.subject}" for m in targets))
    db.session.flush()
    return len(targets)


def reparse_mail(mail: MailMessage) -> bool:
    """Parse a stored inbox mail again; True when it became a run of a known job."""
    if mail.location != "inbox":
        return False
    apply_parse(mail, normalized_from_stored(mail))
    return process_parsed_mail(mail) is not None


def inbox_mail_ids() -> list[int]:
    return list(db.session.scalars(select(MailMessage.id).where(MailMessage.location == "inbox")
                                   .order_by(MailMessage.id)))


def inbox_count() -> int:
    return db.session.scalar(select(func.count(MailMessage.id)).where(MailMessage.location == "inbox")) or 0
