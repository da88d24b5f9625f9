"""Customer to Autotask company mappings: the four states, set when mapping and refreshed by the sync."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from backend.app.clients.autotask import Company
from backend.app.extensions import db
from backend.app.jobs import autotask_sync
from backend.app.models import AuditLog
from backend.app.services.autotask_mapping import (
    MappingError,
    map_customer_via_autotask,
    mapping_problem,
    mapping_status,
    unmap_customer,
)
from backend.app.services.autotask_settings import autotask_client_from_settings
from backend.app.services.settings import get_settings

from ..factories import make_customer, make_user
from ..fakes.autotask_server import AutotaskFake, running_autotask_fake
from .test_autotask_sync import configure

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[AutotaskFake]:
    with running_autotask_fake() as running:
        yield running


def sync_now(fake: AutotaskFake, at: datetime = NOW):
    return autotask_sync.run_once(at, force=True,
                                  client_factory=lambda: autotask_client_from_settings(get_settings(), fake.session()))


def test_status_from_a_company():
    active = Company(id=174, name="Example Customer Alpha", company_number="C-174", is_active=True)
    assert mapping_status("Example Customer Alpha", active) == "ok"
    assert mapping_status("example customer alpha ", active) == "ok"
    assert mapping_status("Alpha (old name)", active) == "renamed"
    assert mapping_status("Example Customer Alpha", None) == "missing"
    inactive = Company(id=178, name="Former Customer Gamma", company_number=None, is_active=False)
    assert mapping_status("Former Customer Gamma", inactive) == "invalid"


def test_mapping_reads_the_company_from_autotask(app, fake):
    configure(fake)
    admin = make_user("admin")
    customer = make_customer("Alpha")
    client = autotask_client_from_settings(get_settings(), fake.session())
    map_customer_via_autotask(admin, customer.id, 174, client)
    assert (customer.autotask_company_id, customer.autotask_company_name, customer.autotask_mapping_status) == \
        (174, "Example Customer Alpha", "ok")
    assert mapping_problem(customer) is None

    map_customer_via_autotask(admin, customer.id, 178, client)
    assert customer.autotask_mapping_status == "invalid" and "inactive" in mapping_problem(customer)

    with pytest.raises(MappingError, match="no company with id 999"):
        map_customer_via_autotask(admin, customer.id, 999, client)
    with pytest.raises(MappingError, match="owner company"):
        map_customer_via_autotask(admin, customer.id, 0, client)
    assert customer.autotask_company_id == 178

    unmap_customer(admin, customer)
    assert (customer.autotask_company_id, customer.autotask_mapping_status) == (None, None)
    assert "not mapped" in mapping_problem(customer)
    messages = db.session.scalars(select(AuditLog.message).where(AuditLog.event_type == "autotask_mapping")).all()
    assert any("mapped to Autotask company Example Customer Alpha" in m for m in messages)
    assert any("unmapped" in m for m in messages)


def test_the_sync_sets_ok_renamed_missing_and_invalid(app, fake):
    configure(fake)
    admin = make_user("admin")
    client = autotask_client_from_settings(get_settings(), fake.session())
    customers = {}
    for company_id, name in ((174, "Alpha"), (175, "Beta"), (176, "Holding"), (177, "Logistics")):
        customers[company_id] = make_customer(name)
        map_customer_via_autotask(admin, customers[company_id].id, company_id, client)
    unmapped = make_customer("Not in Autotask")
    db.session.commit()
    fake.rename_company(175, "Example Customer Beta B.V.")
    fake.delete_company(176)
    fake.set_company_active(177, False)

    summary = sync_now(fake)
    assert summary.errors == [] and summary.companies_checked == 4 and summary.mapping_changes == 3
    assert {c: customers[c].autotask_mapping_status for c in customers} == \
        {174: "ok", 175: "renamed", 176: "missing", 177: "invalid"}
    assert unmapped.autotask_mapping_status is None
    assert mapping_problem(customers[175]) is None  # renamed still takes tickets
    assert "no longer exists" in mapping_problem(customers[176])
    assert "inactive" in mapping_problem(customers[177])
    messages = db.session.scalars(select(AuditLog.message).where(AuditLog.event_type == "autotask_mapping")).all()
    assert any("Beta: ok → renamed" in m and "Example Customer Beta B.V." in m for m in messages)

    # The company gets its old name back and is activated: the mappings are ok again.
    fake.rename_company(175, "Example Customer Beta")
    fake.set_company_active(177, True)
    sync_now(fake, NOW.replace(hour=9))
    assert customers[175].autotask_mapping_status == "ok" and customers[177].autotask_mapping_status == "ok"
    assert customers[176].autotask_mapping_status == "missing"


def test_a_failed_company_check_leaves_the_statuses_alone(app, fake):
    configure(fake)
    customer = make_customer("Alpha")
    map_customer_via_autotask(make_user("admin"), customer.id, 174,
                              autotask_client_from_settings(get_settings(), fake.session()))
    db.session.commit()
    fake.server_error_next(message="Something broke.", match="/companies/query")
    summary = sync_now(fake)
    assert any("Something broke." in error for error in summary.errors)
    assert customer.autotask_mapping_status == "ok"
