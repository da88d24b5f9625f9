"""Mapping customers to Autotask companies from the customer pages: search, map, check, unmap, badges."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.app.extensions import db

from ..factories import make_customer
from ..fakes.autotask_server import AutotaskFake, running_autotask_fake
from ..unit.test_autotask_sync import configure

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def fake() -> Iterator[AutotaskFake]:
    with running_autotask_fake() as running:
        yield running


def test_search_lists_companies_with_their_state(client, login_as, fake):
    configure(fake)
    login_as("operator")
    mapped = make_customer("Alpha")
    mapped.autotask_company_id, mapped.autotask_company_name, mapped.autotask_mapping_status = \
        174, "Example Customer Alpha", "ok"
    db.session.commit()

    answer = client.post("/autotask/companies/search", data={"q": "customer"}).get_json()
    assert answer["ok"] is True
    by_id = {company["id"]: company for company in answer["companies"]}
    assert set(by_id) == {174, 175, 178}
    assert by_id[174]["mapped_customers"] == ["Alpha"] and by_id[174]["number"] == "C-174"
    assert by_id[178]["active"] is False
    # The owner company (id 0, your own) is never offered.
    answer = client.post("/autotask/companies/search", data={"q": ""}).get_json()
    assert 0 not in [company["id"] for company in answer["companies"]]


def test_search_without_settings_or_with_a_failing_api_says_why(client, login_as, fake):
    login_as("operator")
    response = client.post("/autotask/companies/search", data={"q": "alpha"})
    assert response.status_code == 400 and "Autotask is not configured" in response.get_json()["message"]
    configure(fake)
    fake.server_error_next(message="The search broke.")
    response = client.post("/autotask/companies/search", data={"q": "alpha"})
    assert response.status_code == 502 and "The search broke." in response.get_json()["message"]


def test_map_check_and_unmap_from_the_customer_page(client, login_as, fake):
    configure(fake)
    login_as("operator")
    customer = make_customer("Alpha")
    db.session.commit()
    page = client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert 'id="autotask-unmapped"' in page and 'id="autotask-search"' in page

    page = client.post(f"/customers/{customer.id}/autotask/map", data={"company_id": "174"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Alpha is mapped to Autotask company Example Customer Alpha" in page
    assert (customer.autotask_company_id, customer.autotask_company_name, customer.autotask_mapping_status) == \
        (174, "Example Customer Alpha", "ok")
    assert 'data-mapping-status="ok"' in page and 'id="autotask-unmap"' in page

    # Renamed in Autotask: "Check now" sees it; the badge says so on both pages.
    fake.rename_company(174, "Alpha Holding")
    answer = client.post(f"/customers/{customer.id}/autotask/check", headers=FETCH).get_json()
    assert answer["ok"] is True and answer["mapping_status"] == "renamed"
    page = client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert 'data-mapping-status="renamed"' in page and "Renamed in Autotask" in page
    listing = client.get("/customers").get_data(as_text=True)
    assert 'data-mapping-status="renamed"' in listing and "Example Customer Alpha" in listing

    # Mapping again takes the new name.
    answer = client.post(f"/customers/{customer.id}/autotask/map", data={"company_id": "174"},
                         headers=FETCH).get_json()
    assert answer["mapping_status"] == "ok" and answer["company_name"] == "Alpha Holding"

    client.post(f"/customers/{customer.id}/autotask/unmap")
    assert customer.autotask_company_id is None and customer.autotask_mapping_status is None
    assert "not mapped" in client.get("/customers").get_data(as_text=True)


@pytest.mark.parametrize(("company_id", "status", "expected"), [
    ("178", 200, "company inactive"),
    ("999", 400, "Autotask has no company with id 999"),
    ("0", 400, "owner company"),
])
def test_mapping_to_an_inactive_unknown_or_owner_company(client, login_as, fake, company_id, status, expected):
    configure(fake)
    login_as("admin")
    customer = make_customer("Gamma")
    db.session.commit()
    response = client.post(f"/customers/{customer.id}/autotask/map", data={"company_id": company_id}, headers=FETCH)
    assert response.status_code == status and expected in response.get_json()["message"]


def test_a_deleted_company_shows_as_gone(client, login_as, fake):
    configure(fake)
    login_as("admin")
    customer = make_customer("Beta")
    db.session.commit()
    client.post(f"/customers/{customer.id}/autotask/map", data={"company_id": "175"})
    fake.delete_company(175)
    client.post(f"/customers/{customer.id}/autotask/check")
    assert customer.autotask_mapping_status == "missing"
    page = client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert "Company gone" in page and "no longer exists in Autotask" in page


def test_viewers_see_the_badge_but_cannot_map(client, login_as, fake):
    configure(fake)
    customer = make_customer("Alpha")
    customer.autotask_company_id, customer.autotask_company_name, customer.autotask_mapping_status = \
        174, "Example Customer Alpha", "invalid"
    db.session.commit()
    login_as("viewer")
    assert 'data-mapping-status="invalid"' in client.get("/customers").get_data(as_text=True)
    assert client.post("/autotask/companies/search", data={"q": "a"}).status_code == 403
    assert client.post(f"/customers/{customer.id}/autotask/map", data={"company_id": "174"}).status_code == 403
    assert client.post(f"/customers/{customer.id}/autotask/unmap").status_code == 403
    assert customer.autotask_company_id == 174
