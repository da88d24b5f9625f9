"""What people do with Cove accounts: create a job for one, link one to a job, unlink it; and the page's lists.

Linking writes both sides (``Job.cove_account_id`` and ``CoveAccount.job_id``) and imports the
account's current last session at once, from the statistics the last import stored: the run
appears without waiting for the next pass and without a call to Cove inside the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from ..extensions import db
from ..models import CoveAccount, Customer, Job, JobRun, User
from ..models.types import utcnow
from . import cove_mapping as cm
from .audit import record_audit
from .cove_import import StagedAccount, import_linked_account
from .mail_ingest import find_live_job

ACCOUNT_TYPES = (cm.TYPE_SERVER, cm.TYPE_WORKSTATION, cm.TYPE_M365)
JOB_NAME_LENGTH = 200


class CoveAccountError(ValueError):
    """A Cove account action that cannot be done; the message is shown to the user."""


@dataclass(frozen=True)
class LinkResult:
    job: Job
    job_created: bool
    runs: list[JobRun]
    errors: list[str]  # the immediate import's problems; the link stands, the next pass tries again


# ---- the page -----------------------------------------------------------------------------------


def _live_job_join():
    return and_(Job.id == CoveAccount.job_id, Job.deleted_at.is_(None))


def accounts_query(matched: bool, q: str = "", account_type: str = ""):
    """Unmatched accounts (no live job), or matched ones with their job and customer, filtered."""
    if matched:
        query = (select(CoveAccount, Job, Customer).join(Job, _live_job_join())
                 .join(Customer, Customer.id == Job.customer_id))
    else:
        query = select(CoveAccount).outerjoin(Job, _live_job_join()).where(Job.id.is_(None))
    if q:
        like = f"%{q.strip()}%"
        query = query.where(or_(CoveAccount.account_name.ilike(like), CoveAccount.computer_name.ilike(like),
                                CoveAccount.customer_name.ilike(like)))
    if account_type:
        query = query.where(CoveAccount.account_type == account_type)
    return query.order_by(func.lower(func.coalesce(CoveAccount.customer_name, "")),
                          func.lower(func.coalesce(CoveAccount.account_name, "")), CoveAccount.account_id)


def account_counts() -> tuple[int, int]:
    """(unmatched, matched)."""
    total = db.session.scalar(select(func.count(CoveAccount.id))) or 0
    matched = db.session.scalar(select(func.count(CoveAccount.id)).join(Job, _live_job_join())) or 0
    return total - matched, matched


def linkable_jobs() -> list:
    """Jobs neither archived nor deleted nor linked to a Cove account, for "Link to existing job": rows of
    (id, job_name, backup_software, backup_type, customer_name), Cove jobs first within each customer."""
    return list(db.session.execute(
        select(Job.id, Job.job_name, Job.backup_software, Job.backup_type, Customer.name.label("customer_name"))
        .join(Customer, Customer.id == Job.customer_id)
        .where(Job.deleted_at.is_(None), Job.archived_at.is_(None), Job.cove_account_id.is_(None))
        .order_by(func.lower(Customer.name), Job.backup_software != cm.BACKUP_SOFTWARE, func.lower(Job.job_name))))


# ---- actions ------------------------------------------------------------------------------------


def _check_free(account: CoveAccount, job: Job) -> None:
    if job.deleted_at is not None:
        raise CoveAccountError("That job has been deleted.")
    current = find_linked_job(account.account_id)
    if current is not None and current.id != job.id:
        raise CoveAccountError(f"Cove account {_name(account)} is already linked to job {current.job_name}; "
                               "unlink it first.")
    if job.cove_account_id is not None and job.cove_account_id != account.account_id:
        raise CoveAccountError(f"Job {job.job_name} is already linked to Cove account {job.cove_account_id}; "
                               "unlink that account first.")


def find_linked_job(account_id: int) -> Job | None:
    return db.session.scalar(select(Job).where(Job.cove_account_id == account_id, Job.deleted_at.is_(None))
                             .order_by(Job.id).limit(1))


def _name(account: CoveAccount) -> str:
    return account.account_name or account.computer_name or str(account.account_id)


def link_cove_account(actor: User | None, account: CoveAccount, job: Job, now_at: datetime | None = None,
                      *, created: bool = False) -> LinkResult:
    """Link an account to a job and import its current last session. Flushes."""
    _check_free(account, job)
    job.cove_account_id = account.account_id
    account.job_id = job.id
    db.session.flush()
    runs, summary = import_linked_account(StagedAccount.from_row(account), job.id, now_at or utcnow())
    if not created:
        record_audit("cove_account_linked", f"Cove account {_name(account)} ({account.account_id}) linked to job "
                     f"{job.job_name} ({job.customer.name}); {len(runs)} run(s) imported", actor)
    return LinkResult(job=job, job_created=created, runs=runs, errors=summary.errors)


def create_job_for_cove_account(actor: User | None, account: CoveAccount, customer: Customer,
                                now_at: datetime | None = None) -> LinkResult:
    """A new job for the account (Cove Data Protection, the account's type, its default name), linked. Flushes."""
    existing = find_linked_job(account.account_id)
    if existing is not None:
        raise CoveAccountError(f"Cove account {_name(account)} is already linked to job {existing.job_name}.")
    stats = StagedAccount.from_row(account).stats
    name = cm.default_job_name(account.account_id, stats)[:JOB_NAME_LENGTH]
    job = Job(customer_id=customer.id, from_address=None, backup_software=cm.BACKUP_SOFTWARE,
              backup_type=account.account_type, job_name=name)
    job.refresh_identity_key()
    if find_live_job(job.identity_key) is not None:
        # Job identity has no customer in it: two customers' devices may share a name.
        job.job_name = f"{name} (Cove {account.account_id})"
        job.refresh_identity_key()
        if find_live_job(job.identity_key) is not None:
            raise CoveAccountError(f"A job named {job.job_name} already exists; link the account to it instead.")
    db.session.add(job)
    db.session.flush()
    result = link_cove_account(actor, account, job, now_at, created=True)
    record_audit("job_created", f"Job {job.backup_software} / {job.backup_type} / {job.job_name} created for "
                 f"{customer.name} from Cove account {account.account_id}; {len(result.runs)} run(s) imported", actor)
    return result


def unlink_cove_account(actor: User | None, account: CoveAccount) -> Job | None:
    """Remove the account's link; the job keeps its runs, the account waits on the page again. Flushes."""
    jobs = list(db.session.scalars(select(Job).where(Job.cove_account_id == account.account_id)))
    if account.job is not None and account.job not in jobs:
        jobs.append(account.job)
    if not jobs:
        raise CoveAccountError(f"Cove account {_name(account)} is not linked to a job.")
    for job in jobs:
        if job.cove_account_id == account.account_id:
            job.cove_account_id = None
    live = next((job for job in jobs if job.deleted_at is None), jobs[0])
    account.job_id = None
    db.session.flush()
    record_audit("cove_account_unlinked", f"Cove account {_name(account)} ({account.account_id}) unlinked from job "
                 f"{live.job_name} ({live.customer.name})", actor)
    return live
