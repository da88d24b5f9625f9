"""Archiving and deleting jobs, and moving customers and jobs between installations (versioned JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from ..extensions import db
from ..models import Customer, Job, User, job_identity_key
from ..models.types import utcnow
from .audit import record_audit
from .customers import find_customer_by_name

EXPORT_FORMAT = "backupchecks-export"
EXPORT_VERSION = 1


class ImportError_(ValueError):
    """The file cannot be imported; the message says why."""


def archive_job(actor: User, job: Job) -> None:
    if job.archived_at is None:
        job.archived_at = utcnow()
        record_audit("job_archived", f"Job {job.job_name} ({job.customer.name}) archived", actor)
        db.session.flush()


def unarchive_job(actor: User, job: Job) -> None:
    if job.archived_at is not None:
        job.archived_at = None
        record_audit("job_unarchived", f"Job {job.job_name} ({job.customer.name}) unarchived", actor)
        db.session.flush()


def delete_job(actor: User, job: Job) -> None:
    """Soft delete: the job leaves every page and queue and frees its identity; its runs stay in the database."""
    if job.deleted_at is None:
        job.deleted_at = utcnow()
        record_audit("job_deleted", f"Job {job.job_name} ({job.customer.name}) deleted", actor)
        db.session.flush()


def export_installation() -> dict[str, Any]:
    customers = db.session.scalars(select(Customer).order_by(func.lower(Customer.name))).all()
    jobs = db.session.scalars(select(Job).where(Job.deleted_at.is_(None)).order_by(Job.id)).all()
    names = {c.id: c.name for c in customers}
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": utcnow().isoformat(),
        "customers": [{"name": c.name, "active": c.active, "notes": c.notes,
                       "autotask_company_id": c.autotask_company_id} for c in customers],
        "jobs": [{"customer": names[j.customer_id], "from_address": j.from_address,
                  "backup_software": j.backup_software, "backup_type": j.backup_type, "job_name": j.job_name,
                  "informational": j.informational, "archived": j.archived_at is not None,
                  "schedule_mode": j.schedule_mode, "manual_schedule": json.loads(j.manual_schedule_json)
                  if j.manual_schedule_json else None,
                  "paused_until": j.paused_until.isoformat() if j.paused_until else None,
                  "cove_account_id": j.cove_account_id, "notes": j.notes} for j in jobs],
    }


@dataclass
class ImportReport:
    customers_created: int = 0
    customers_existing: int = 0
    jobs_created: int = 0
    jobs_existing: int = 0
    errors: list[str] = field(default_factory=list)


def _text(item: dict, key: str, required: bool = False) -> str | None:
    value = item.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ImportError_(f"'{key}' is missing")
        return None
    if not isinstance(value, str):
        raise ImportError_(f"'{key}' must be text")
    return value.strip()


def import_installation(actor: User, raw: bytes) -> ImportReport:
    """Create the customers and jobs of an export that do not exist here yet (matched by name and by job
    identity). Existing rows are left as they are; bad entries are reported and skipped."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportError_(f"not a JSON file: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ImportError_("not a Backupchecks export (format field missing or different)")
    if data.get("version") != EXPORT_VERSION:
        raise ImportError_(f"export version {data.get('version')!r} is not supported (this installation reads "
                           f"version {EXPORT_VERSION})")
    if not isinstance(data.get("customers"), list) or not isinstance(data.get("jobs"), list):
        raise ImportError_("the export lacks its customers or jobs list")
    report = ImportReport()
    for number, item in enumerate(data["customers"], start=1):
        try:
            if not isinstance(item, dict):
                raise ImportError_("not an object")
            name = " ".join((_text(item, "name", required=True) or "").split())
            if find_customer_by_name(name):
                report.customers_existing += 1
                continue
            db.session.add(Customer(name=name, active=bool(item.get("active", True)), notes=_text(item, "notes"),
                                    autotask_company_id=item.get("autotask_company_id")
                                    if isinstance(item.get("autotask_company_id"), int) else None))
            db.session.flush()
            report.customers_created += 1
        except ImportError_ as exc:
            report.errors.append(f"customer {number}: {exc}")
    for number, item in enumerate(data["jobs"], start=1):
        try:
            if not isinstance(item, dict):
                raise ImportError_("not an object")
            customer = find_customer_by_name(_text(item, "customer", required=True) or "")
            if customer is None:
                raise ImportError_(f"customer {item.get('customer')!r} is not in the export nor here")
            values = {key: _text(item, key, required=key != "from_address")
                      for key in ("from_address", "backup_software", "backup_type", "job_name")}
            key = job_identity_key(**values)
            if db.session.scalar(select(Job.id).where(Job.identity_key == key, Job.deleted_at.is_(None))):
                report.jobs_existing += 1
                continue
            mode = item.get("schedule_mode") or "learned"
            if mode not in ("learned", "manual", "none"):
                raise ImportError_(f"unknown schedule_mode {mode!r}")
            paused = item.get("paused_until")
            job = Job(customer_id=customer.id, informational=bool(item.get("informational")), schedule_mode=mode,
                      manual_schedule_json=json.dumps(item["manual_schedule"]) if item.get("manual_schedule") else None,
                      paused_until=date.fromisoformat(paused) if paused else None, notes=_text(item, "notes"),
                      archived_at=utcnow() if item.get("archived") else None,
                      cove_account_id=item.get("cove_account_id") if isinstance(item.get("cove_account_id"), int)
                      else None, **values)
            job.refresh_identity_key()
            db.session.add(job)
            db.session.flush()
            report.jobs_created += 1
        except (ImportError_, ValueError) as exc:
            report.errors.append(f"job {number}: {exc}")
    record_audit("installation_imported",
                 f"Import: {report.customers_created} customer(s) and {report.jobs_created} job(s) created, "
                 f"{report.customers_existing + report.jobs_existing} already present, {len(report.errors)} error(s)",
                 actor, details="\n".join(report.errors) or None)
    return report
