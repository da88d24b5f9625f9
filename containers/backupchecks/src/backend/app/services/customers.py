"""Customers: create, edit, delete, and CSV import/export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import func, select

from ..extensions import db
from ..models import Customer, Job, User
from .audit import record_audit

CSV_COLUMNS = ("name", "active", "notes")
_TRUE = {"1", "true", "yes", "y", "on", "active"}
_FALSE = {"0", "false", "no", "n", "off", "inactive"}


class CustomerError(ValueError):
    """A customer change that cannot be made; the message is shown to the user."""


def find_customer_by_name(name: str) -> Customer | None:
    return db.session.scalar(select(Customer).where(func.lower(Customer.name) == name.strip().lower()))


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise CustomerError("Name is required.")
    if len(name) > 255:
        raise CustomerError("Name is longer than 255 characters.")
    return name


def create_customer(actor: User | None, name: str, active: bool = True, notes: str | None = None) -> Customer:
    name = _clean_name(name)
    if find_customer_by_name(name):
        raise CustomerError(f"A customer named {name!r} already exists.")
    customer = Customer(name=name, active=active, notes=(notes or "").strip() or None)
    db.session.add(customer)
    db.session.flush()
    record_audit("customer_created", f"Customer {name} created", actor)
    return customer


def update_customer(actor: User, customer: Customer, name: str, active: bool, notes: str | None) -> Customer:
    name = _clean_name(name)
    other = find_customer_by_name(name)
    if other is not None and other.id != customer.id:
        raise CustomerError(f"A customer named {name!r} already exists.")
    changes = []
    if name != customer.name:
        changes.append(f"renamed from {customer.name}")
        customer.name = name
    if active != customer.active:
        changes.append("activated" if active else "deactivated")
        customer.active = active
    notes = (notes or "").strip() or None
    if notes != customer.notes:
        changes.append("notes changed")
        customer.notes = notes
    if changes:
        record_audit("customer_updated", f"Customer {customer.name}: {'; '.join(changes)}", actor)
    db.session.flush()
    return customer


def delete_customer(actor: User, customer: Customer) -> None:
    job_count = db.session.scalar(select(func.count(Job.id)).where(Job.customer_id == customer.id)) or 0
    if job_count:
        raise CustomerError(
            f"{customer.name} still has {job_count} job(s); deactivate the customer instead, or delete its jobs first.")
    record_audit("customer_deleted", f"Customer {customer.name} deleted", actor)
    db.session.delete(customer)
    db.session.flush()


def export_customers_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for customer in db.session.scalars(select(Customer).order_by(func.lower(Customer.name))):
        writer.writerow([customer.name, "true" if customer.active else "false", customer.notes or ""])
    return out.getvalue()


@dataclass
class CsvImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def _parse_active(raw: str | None, line_no: int) -> bool:
    value = (raw or "").strip().lower()
    if value == "" or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise CustomerError(f"line {line_no}: active must be true or false, got {raw!r}")


def import_customers_csv(actor: User, text: str) -> CsvImportReport:
    """Create or update customers by name from CSV with a header row (name[, active][, notes]).

    Lines with errors are reported and skipped; every good line is applied, so one typo does not
    throw away a long list.
    """
    report = CsvImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "name" not in header:
        raise CustomerError("The CSV needs a header row with at least a 'name' column.")
    reader.fieldnames = header
    seen: set[str] = set()
    for line_no, row in enumerate(reader, start=2):
        try:
            name = _clean_name(row.get("name") or "")
            if name.lower() in seen:
                raise CustomerError(f"line {line_no}: {name!r} appears twice in the file")
            seen.add(name.lower())
            active = _parse_active(row.get("active"), line_no)
            notes = row.get("notes") if "notes" in header else None
        except CustomerError as exc:
            msg = str(exc)
            report.errors.append(msg if msg.startswith("line ") else f"line {line_no}: {msg}")
            continue
        existing = find_customer_by_name(name)
        if existing is None:
            db.session.add(Customer(name=name, active=active, notes=(notes or "").strip() or None))
            report.created += 1
            continue
        new_notes = existing.notes if notes is None else ((notes or "").strip() or None)
        if existing.active == active and existing.notes == new_notes:
            report.unchanged += 1
            continue
        existing.active = active
        existing.notes = new_notes
        report.updated += 1
    db.session.flush()
    record_audit("customers_imported",
                 f"CSV import: {report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
                 f"{len(report.errors)} error(s)", actor, details="\n".join(report.errors) or None)
    return report
