"""Customers mapped to Autotask companies, and the state of each mapping.

A mapping stores the company's id and its name as it was when mapped. Its status says whether
tickets can be created for the customer:

- ``ok``: the company exists, is active, and still has the stored name;
- ``renamed``: it exists and is active, but Autotask now calls it something else (tickets still
  work; mapping it again takes the new name);
- ``missing``: the company no longer exists in Autotask;
- ``invalid``: the company is inactive, and Autotask refuses tickets for it;
- NULL: not mapped.

The company data comes from the caller (one search, one get, or the sync pass's batch), so these
functions make no outbound call.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select

from ..clients.autotask import AutotaskClient, Company
from ..extensions import db
from ..models import Customer, User
from .audit import record_audit

MAPPING_STATUSES: tuple[str, ...] = ("ok", "renamed", "missing", "invalid")
# Statuses that let a ticket be created.
TICKET_READY = frozenset({"ok", "renamed"})
STATUS_LABELS = {
    "ok": "Mapped",
    "renamed": "Renamed in Autotask",
    "missing": "Company gone",
    "invalid": "Company inactive",
    "unchecked": "Not checked yet",
}


class MappingError(ValueError):
    """A mapping request that cannot be carried out; the message is shown to the user."""


@dataclass(frozen=True)
class MappingChange:
    customer_id: int
    customer_name: str
    old_status: str | None
    new_status: str
    autotask_name: str | None


def mapping_status(stored_name: str | None, company: Company | None) -> str:
    if company is None:
        return "missing"
    if not company.is_active:
        return "invalid"
    if (stored_name or "").strip().casefold() != company.name.strip().casefold():
        return "renamed"
    return "ok"


def mapping_problem(customer: Customer) -> str | None:
    """Why no Autotask ticket can be created for this customer, or None when it can."""
    if customer.autotask_company_id is None:
        return (f"Customer {customer.name} is not mapped to an Autotask company; map it on the customer's page "
                "first.")
    if customer.autotask_mapping_status == "missing":
        return (f"The Autotask company of {customer.name} ({customer.autotask_company_name}, id "
                f"{customer.autotask_company_id}) no longer exists in Autotask; map the customer again.")
    if customer.autotask_mapping_status == "invalid":
        return (f"The Autotask company of {customer.name} ({customer.autotask_company_name}) is inactive in "
                "Autotask, which refuses tickets for it; activate it there or map the customer again.")
    return None


def map_customer_to_company(user: User, customer: Customer, company: Company) -> Customer:
    """Map ``customer`` to ``company`` as Autotask just gave it (read it, do not trust a browser's copy)."""
    if company.id == 0:
        raise MappingError("The Autotask owner company (id 0) is your own company, not a customer.")
    customer.autotask_company_id = company.id
    customer.autotask_company_name = company.name[:255]
    customer.autotask_mapping_status = mapping_status(customer.autotask_company_name, company)
    inactive = " (inactive in Autotask: no tickets until it is activated)" if not company.is_active else ""
    record_audit("autotask_mapping",
                 f"Customer {customer.name} mapped to Autotask company {company.name} (id {company.id}){inactive}",
                 user)
    db.session.flush()
    return customer


def map_customer_via_autotask(user: User, customer_id: int, company_id: int, client: AutotaskClient) -> Customer:
    """Read company ``company_id`` from Autotask, then map the customer to it.

    Autotask is asked before the customer is read, so call this with no transaction open.
    """
    company = client.get_company(company_id)
    if company is None:
        raise MappingError(f"Autotask has no company with id {company_id}.")
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise MappingError("The customer was deleted meanwhile.")
    return map_customer_to_company(user, customer, company)


def check_company_mapping(company_id: int, client: AutotaskClient) -> list[MappingChange]:
    """Check the customers mapped to one company against Autotask now, as the sync pass does for all.

    Autotask is asked before anything is read here, so call this with no transaction open.
    """
    company = client.get_company(company_id)
    return apply_company_statuses([company_id], {company_id: company} if company is not None else {})


def mapping_counts() -> dict[str | None, int]:
    """How many customers have each mapping status: None for unmapped, "unchecked" for mapped but not
    checked yet."""
    rows = db.session.execute(select(Customer.autotask_company_id.is_(None), Customer.autotask_mapping_status,
                                     func.count(Customer.id))
                              .group_by(Customer.autotask_company_id.is_(None), Customer.autotask_mapping_status))
    counts: dict[str | None, int] = {}
    for unmapped, status, count in rows:
        key = None if unmapped else (status or "unchecked")
        counts[key] = counts.get(key, 0) + count
    return counts


def unmap_customer(user: User, customer: Customer) -> Customer:
    if customer.autotask_company_id is None:
        return customer
    old = f"{customer.autotask_company_name} (id {customer.autotask_company_id})"
    customer.autotask_company_id = None
    customer.autotask_company_name = None
    customer.autotask_mapping_status = None
    record_audit("autotask_mapping", f"Customer {customer.name} unmapped from Autotask company {old}", user)
    db.session.flush()
    return customer


def mapped_company_ids() -> list[int]:
    return sorted(set(db.session.scalars(select(Customer.autotask_company_id)
                                         .where(Customer.autotask_company_id.is_not(None)))))


def apply_company_statuses(checked_ids: Collection[int], companies: Mapping[int, Company]) -> list[MappingChange]:
    """Set the status of every customer mapped to one of ``checked_ids`` from ``companies`` (those of
    the checked ids that still exist, by id: an absent one was deleted in Autotask).

    Customers mapped to other ids (mapped while the check ran) are left alone. Each change is written
    to the audit log.
    """
    changes: list[MappingChange] = []
    ids = sorted(set(checked_ids))
    if not ids:
        return changes
    customers = db.session.scalars(select(Customer).where(Customer.autotask_company_id.in_(ids))
                                   .order_by(Customer.id))
    for customer in customers:
        company = companies.get(customer.autotask_company_id)
        status = mapping_status(customer.autotask_company_name, company)
        if status == customer.autotask_mapping_status:
            continue
        change = MappingChange(customer.id, customer.name, customer.autotask_mapping_status, status,
                               company.name if company is not None else None)
        customer.autotask_mapping_status = status
        detail = {"ok": "the company is as mapped again",
                  "renamed": f"Autotask now calls the company {change.autotask_name!r}",
                  "missing": f"company {customer.autotask_company_id} no longer exists in Autotask",
                  "invalid": "the company is inactive in Autotask"}[status]
        record_audit("autotask_mapping", f"Autotask mapping of {customer.name}: "
                                         f"{change.old_status or 'unchecked'} → {status} ({detail})")
        changes.append(change)
    db.session.flush()
    return changes
