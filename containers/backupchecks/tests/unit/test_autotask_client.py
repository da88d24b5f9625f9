"""The Autotask REST client against the loopback Autotask fake (real requests, real HTTP)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from backend.app.clients.autotask import (
    TICKET_STATUS_COMPLETE,
    AutotaskAuthError,
    AutotaskClient,
    AutotaskError,
    CreatedTicket,
)
from backend.app.clients.http import parse_retry_after
from tests.fakes.autotask_server import AutotaskFake, running_autotask_fake

DESCRIPTION = "Veeam job 'Nightly SERVER01' failed at 22:00.\nObjects: SERVER01 (error: disk full)"


@pytest.fixture
def fake() -> Iterator[AutotaskFake]:
    with running_autotask_fake() as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _client(fake: AutotaskFake, sleeps: list[float], **overrides: Any) -> AutotaskClient:
    settings: dict[str, Any] = {**fake.client_settings(), "timeout": 5.0}
    settings.update(overrides)
    return AutotaskClient(**settings, session=fake.session(), sleep=sleeps.append)


@pytest.fixture
def client(fake: AutotaskFake, sleeps: list[float]) -> AutotaskClient:
    return _client(fake, sleeps)


def _ticket_fields(**overrides: Any) -> dict[str, Any]:
    return {
        "companyID": 174,
        "queueID": 29682833,
        "title": "Backup failed: Nightly SERVER01",
        "description": DESCRIPTION,
        "status": 1,
        "priority": 2,
        "issueType": 10,
        "subIssueType": 136,
        "source": 8,
        "dueDateTime": datetime(2030, 3, 21, 6, 30, tzinfo=UTC),
        **overrides,
    }


def _calls(fake: AutotaskFake) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.api_requests()]


def _free_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


# ---- zone -----------------------------------------------------------------------------------


def test_zone_is_looked_up_from_the_username_once(fake: AutotaskFake, client: AutotaskClient) -> None:
    assert client.zone_url() == f"{fake.base_url}/ATServicesRest/V1.0"
    assert client.zone_url() == f"{fake.base_url}/ATServicesRest/V1.0"
    zone = client.get_zone_information()

    assert zone.zone_name == fake.zone_name
    assert zone.url == f"{fake.base_url}/ATServicesRest/"
    assert zone.web_url == fake.web_url
    assert zone.ci == 29681234
    [lookup] = fake.zone_requests()
    assert lookup.method == "GET"
    assert lookup.path == "/atservicesrest/V1.0/zoneInformation"
    assert lookup.query == {"user": fake.username}
    # zoneInformation needs no authentication, so the secret is not sent there.
    assert "secret" not in lookup.headers
    assert "apiintegrationcode" not in lookup.headers


def test_unknown_username_fails_the_zone_lookup_with_an_auth_error(fake: AutotaskFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, username="someone-else@example.com")

    with pytest.raises(AutotaskAuthError) as caught:
        client.zone_url()

    assert caught.value.status == 500
    assert str(caught.value) == (
        "Autotask 500: The API username 'someone-else@example.com' is not known to Autotask "
        "(Zone information could not be determined for the given user name.)."
    )
    assert [r.status for r in fake.zone_requests()] == [500]
    assert sleeps == []


def test_a_configured_base_url_skips_the_zone_lookup(fake: AutotaskFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, base_url=fake.api_url)

    company = client.get_company(174)

    assert client.zone_url() == f"{fake.base_url}/ATServicesRest/V1.0"
    assert company is not None and company.name == "Example Customer Alpha"
    assert fake.zone_requests() == []


def test_a_moved_zone_is_looked_up_again_after_a_401(fake: AutotaskFake, client: AutotaskClient) -> None:
    assert client.get_company(174) is not None
    new_root = fake.move_zone()

    company = client.get_company(175)

    assert company is not None and company.name == "Example Customer Beta"
    assert client.zone_url() == new_root + "V1.0"
    assert [r.status for r in fake.api_requests()] == [200, 401, 200]
    assert len(fake.zone_requests()) == 2


def test_a_configured_base_url_is_not_replaced_after_a_401(fake: AutotaskFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, base_url=fake.api_url)
    fake.move_zone()

    with pytest.raises(AutotaskAuthError):
        client.get_company(174)

    assert fake.zone_requests() == []


def test_plain_http_is_refused_except_on_loopback(fake: AutotaskFake) -> None:
    with pytest.raises(ValueError, match="https"):
        AutotaskClient(
            **fake.client_settings() | {"zone_lookup_base_url": "https://webservices.autotask.net/atservicesrest"},
            session=fake.session(),
            base_url="http://webservices5.autotask.net/ATServicesRest/",
        )


def test_repr_does_not_leak_the_secret(client: AutotaskClient, fake: AutotaskFake) -> None:
    assert fake.secret not in repr(client)
    assert fake.username in repr(client)


# ---- authentication and test_connection -----------------------------------------------------


def test_every_api_call_carries_the_three_authentication_headers(fake: AutotaskFake, client: AutotaskClient) -> None:
    client.get_company(0)

    [call] = fake.api_requests()
    assert call.headers["apiintegrationcode"] == fake.integration_code
    assert call.headers["username"] == fake.username
    assert call.headers["secret"] == fake.secret
    assert "authorization" not in call.headers


def test_wrong_credentials_raise_an_auth_error_with_a_clear_message(fake: AutotaskFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, integration_code="WRONGCODE")

    with pytest.raises(AutotaskAuthError) as caught:
        client.get_company(174)

    assert caught.value.status == 401
    assert caught.value.errors == ("Authentication failed",)
    assert str(caught.value) == (
        "Autotask 401: The API username, secret or integration code was rejected (Authentication failed). "
        "Check the three values and that the API user is active."
    )
    # One look at the zone again (it might have moved), then no retries.
    assert [r.status for r in fake.api_requests()] == [401]
    assert len(fake.zone_requests()) == 2
    assert sleeps == []


def test_missing_settings_fail_before_any_request(fake: AutotaskFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, secret="", integration_code=" ")

    with pytest.raises(AutotaskAuthError, match=r"Missing secret, API integration code\."):
        client.search_companies("example")

    assert fake.requests == []


def test_connection_test_passes_against_a_good_tenant(client: AutotaskClient) -> None:
    report = client.test_connection()

    assert report.ok
    assert [step.name for step in report.steps] == ["zone", "credentials", "tickets"]
    assert report.steps[0].message.startswith("Zone Fake Zone (loopback): http://127.0.0.1:")
    assert report.steps[1].message == "Signed in as bc-api@example.com to the tenant of Example MSP (Owner)."
    assert report.steps[2].message == "The API user can create, query and update tickets."


def test_connection_test_reports_wrong_credentials_without_raising(fake: AutotaskFake, sleeps: list[float]) -> None:
    report = _client(fake, sleeps, secret="not-the-secret").test_connection()

    assert not report.ok
    assert [(step.name, step.ok) for step in report.steps] == [
        ("zone", True),
        ("credentials", False),
        ("tickets", False),
    ]
    assert "secret or integration code was rejected (Authentication failed)" in report.steps[1].message
    assert report.steps[2].message == "Skipped: not signed in"


def test_connection_test_reports_an_unknown_user_and_a_read_only_user(fake: AutotaskFake, sleeps: list[float]) -> None:
    unknown = _client(fake, sleeps, username="nobody@example.com").test_connection()
    assert [(step.name, step.ok) for step in unknown.steps] == [
        ("zone", False),
        ("credentials", False),
        ("tickets", False),
    ]
    assert "'nobody@example.com' is not known to Autotask" in unknown.steps[0].message

    fake.read_only_user = True
    read_only = _client(fake, sleeps).test_connection()
    assert [(step.name, step.ok) for step in read_only.steps] == [
        ("zone", True),
        ("credentials", True),
        ("tickets", False),
    ]
    assert read_only.steps[2].message == "The API user cannot create or update tickets in Autotask."


# ---- picklists ------------------------------------------------------------------------------


def test_ticket_picklists_come_from_entity_information_fields(fake: AutotaskFake, client: AutotaskClient) -> None:
    status = client.get_picklist("Tickets", "status")
    queues = client.get_picklist("Tickets", "queueID")
    priorities = client.get_picklist("Tickets", "Priority")
    issue_types = client.get_picklist("Tickets", "issueType")
    sources = client.get_picklist("Tickets", "source")
    sub_issue_types = client.get_picklist("Tickets", "subIssueType")

    complete = next(value for value in status if value.label == "Complete")
    assert complete.value == str(TICKET_STATUS_COMPLETE)
    assert complete.is_system
    assert [(v.value, v.is_active) for v in status if v.label == "Waiting Vendor (old)"] == [("12", False)]
    assert [v.label for v in queues] == ["Monitoring Alerts", "Service Desk", "Post Sale", "Client Portal"]
    assert [v.value for v in queues if v.is_default] == ["29682833"]
    assert [v.label for v in priorities] == ["Critical", "High", "Medium", "Low"]
    assert {v.value: v.label for v in issue_types}["10"] == "Backup"
    assert {v.value: v.label for v in sources}["8"] == "Monitoring Alert"
    assert {v.label: v.parent_value for v in sub_issue_types}["Backup Failed"] == "10"
    # The field list is fetched once per client and entity.
    assert _calls(fake) == [("GET", "/ATServicesRest/V1.0/Tickets/entityInformation/fields")]


def test_note_picklists_and_unknown_fields(fake: AutotaskFake, client: AutotaskClient) -> None:
    assert [v.label for v in client.get_picklist("TicketNotes", "publish")] == ["All Autotask Users", "Internal Only"]

    with pytest.raises(AutotaskError, match="Tickets has no field named 'queue'"):
        client.get_picklist("Tickets", "queue")
    with pytest.raises(AutotaskError, match=r"Tickets\.title is not a picklist field"):
        client.get_picklist("Tickets", "title")
    with pytest.raises(ValueError, match="not an Autotask entity name"):
        client.get_picklist("Tickets/../Companies", "status")


# ---- companies ------------------------------------------------------------------------------


def test_company_search_is_case_insensitive_and_includes_inactive_companies(
    fake: AutotaskFake, client: AutotaskClient
) -> None:
    found = client.search_companies("  CUSTOMER ")

    assert [(c.id, c.name, c.is_active) for c in found] == [
        (174, "Example Customer Alpha", True),
        (175, "Example Customer Beta", True),
        (178, "Former Customer Gamma", False),
    ]
    assert found[0].company_number == "C-174"
    [call] = fake.api_requests()
    assert (call.method, call.path) == ("POST", "/ATServicesRest/V1.0/Companies/query")
    assert call.json == {
        "MaxRecords": 25,
        "filter": [{"op": "contains", "field": "companyName", "value": "CUSTOMER"}],
        "IncludeFields": ["id", "companyName", "companyNumber", "isActive"],
    }
    assert set(call.response_json["items"][0]) == {"id", "companyName", "companyNumber", "isActive"}


def test_company_search_respects_the_limit(fake: AutotaskFake, client: AutotaskClient) -> None:
    for n in range(5):
        fake.add_company(f"Sample Branch {n}")

    found = client.search_companies("", limit=3)

    assert len(found) == 3
    [call] = fake.api_requests()
    assert call.json["MaxRecords"] == 3
    assert call.json["filter"] == [{"op": "exist", "field": "id"}]
    assert call.response_json["pageDetails"]["nextPageUrl"] is not None  # more exist; none fetched


def test_get_company_follows_renames_and_deletions(fake: AutotaskFake, client: AutotaskClient) -> None:
    company = client.get_company(175)
    assert company is not None and company.name == "Example Customer Beta"

    fake.rename_company(175, "Example Customer Beta B.V.")
    renamed = client.get_company(175)
    assert renamed is not None and renamed.name == "Example Customer Beta B.V."

    fake.delete_company(175)
    assert client.get_company(175) is None
    assert fake.api_requests()[-1].response_json == {"item": None}

    by_id = client.get_companies([174, 175, 176, 174])
    assert sorted(by_id) == [174, 176]
    assert fake.api_requests()[-1].json["filter"] == [{"op": "in", "field": "id", "value": [174, 175, 176]}]


# ---- tickets: create, get, delete, complete -------------------------------------------------


def test_create_ticket_returns_the_id_and_reads_back_the_number(fake: AutotaskFake, client: AutotaskClient) -> None:
    created = client.create_ticket(_ticket_fields(contactID=None))

    assert isinstance(created, CreatedTicket)
    stored = fake.ticket(created.id)
    assert stored is not None
    assert created.ticket_number == stored["ticketNumber"]
    assert re.fullmatch(r"T\d{8}\.\d{4}", created.ticket_number or "")
    assert stored["description"] == DESCRIPTION
    assert stored["dueDateTime"] == "2030-03-21T06:30:00.000Z"
    assert _calls(fake) == [
        ("POST", "/ATServicesRest/V1.0/Tickets"),
        ("GET", f"/ATServicesRest/V1.0/Tickets/{created.id}"),
    ]
    post = fake.api_requests()[0]
    # None values are left out; datetimes go as UTC text.
    assert "contactID" not in post.json
    assert post.json["dueDateTime"] == "2030-03-21T06:30:00.000"
    assert post.response_json == {"itemId": created.id}
    assert post.headers["content-type"] == "application/json"


def test_create_ticket_validation_errors_are_reported_and_not_retried(
    fake: AutotaskFake, client: AutotaskClient, sleeps: list[float]
) -> None:
    with pytest.raises(AutotaskError) as caught:
        client.create_ticket(_ticket_fields(title=None, priority=None))

    assert caught.value.status == 500
    assert caught.value.errors == ("title is required.", "priority is required.")
    assert str(caught.value) == "Autotask 500: title is required.; priority is required."
    assert caught.value.method == "POST"
    assert fake.tickets() == []
    assert len(fake.api_requests()) == 1
    assert sleeps == []

    with pytest.raises(AutotaskError, match="Company 178 is inactive"):
        client.create_ticket(_ticket_fields(companyID=178))
    with pytest.raises(AutotaskError, match="subIssueType 140 does not belong to issueType 10"):
        client.create_ticket(_ticket_fields(subIssueType=140))
    with pytest.raises(ValueError, match="cannot carry an id"):
        client.create_ticket(_ticket_fields(id=5))


def test_a_failed_number_lookup_keeps_the_created_ticket_id(fake: AutotaskFake, client: AutotaskClient) -> None:
    fake.server_error_next(match="GET /ATServicesRest/V1.0/Tickets/")

    created = client.create_ticket(_ticket_fields())

    assert created.ticket_number is None
    assert fake.ticket(created.id) is not None
    assert client.get_ticket(created.id) is not None


def test_a_create_that_times_out_is_not_sent_again(fake: AutotaskFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, timeout=0.2)
    fake.slow_next(0.5, count=1)

    with pytest.raises(AutotaskError) as caught:
        client.create_ticket(_ticket_fields())

    assert caught.value.status is None
    assert "no answer within 0.2 s; Autotask may still have carried it out" in str(caught.value)
    assert sleeps == []
    deadline = time.monotonic() + 3
    while not fake.tickets() and time.monotonic() < deadline:
        time.sleep(0.02)
    # The slow create did happen; a retry would have made a second ticket.
    assert len(fake.tickets()) == 1
    assert [r.method for r in fake.api_requests()] == ["POST"]


def test_a_deleted_ticket_reads_as_none(fake: AutotaskFake, client: AutotaskClient) -> None:
    created = client.create_ticket(_ticket_fields())
    assert client.get_ticket(created.id) is not None

    fake.delete_ticket(created.id)

    assert client.get_ticket(created.id) is None
    assert client.get_ticket(999_999) is None
    assert client.query_tickets(ids=[created.id]) == []


def test_a_ticket_completed_in_autotask_shows_status_complete(fake: AutotaskFake, client: AutotaskClient) -> None:
    created = client.create_ticket(_ticket_fields())

    fake.complete_ticket(created.id, resolution="Disk cleaned up")

    ticket = client.get_ticket(created.id)
    assert ticket is not None
    assert ticket["status"] == TICKET_STATUS_COMPLETE
    assert ticket["completedDate"] is not None
    assert ticket["resolution"] == "Disk cleaned up"
    [polled] = client.query_tickets(ids=[created.id], include_fields=["status", "completedDate"])
    assert set(polled) == {"id", "status", "completedDate"}
    assert polled["status"] == TICKET_STATUS_COMPLETE


# ---- queries and paging ---------------------------------------------------------------------


def test_query_follows_next_page_urls_re_posting_the_same_body(fake: AutotaskFake, client: AutotaskClient) -> None:
    wanted = [fake.add_ticket(companyID=175, title=f"Backup failed {n}") for n in range(7)]
    fake.add_ticket(companyID=174, title="Other customer")

    tickets = client.query_tickets(filters=[{"op": "eq", "field": "companyID", "value": 175}], page_size=3)

    assert [t["id"] for t in tickets] == wanted
    calls = fake.api_requests()
    assert [(r.method, r.path) for r in calls] == [
        ("POST", "/ATServicesRest/V1.0/Tickets/query"),
        ("POST", "/ATServicesRest/V1.0/Tickets/query/next"),
        ("POST", "/ATServicesRest/V1.0/Tickets/query/next"),
    ]
    # The next pages are exactly the URLs the fake handed out, with the same body each time.
    assert [r.url for r in calls[1:]] == fake.next_links
    assert all(r.query["paging"] for r in calls[1:])
    assert [r.json for r in calls] == [
        {"MaxRecords": 3, "filter": [{"op": "eq", "field": "companyID", "value": 175}]}
    ] * 3
    assert [r.response_json["pageDetails"]["count"] for r in calls] == [3, 3, 1]
    assert calls[-1].response_json["pageDetails"]["nextPageUrl"] is None
    assert calls[0].response_json["pageDetails"]["prevPageUrl"] is None


def test_query_by_ids_goes_in_chunks_and_trims_fields(fake: AutotaskFake, client: AutotaskClient) -> None:
    ids = [fake.add_ticket(title=f"T{n}") for n in range(3)]

    found = client.query_tickets(ids=[*ids, *range(100_000, 100_447)], include_fields=["ticketNumber", "status"])

    assert sorted(t["id"] for t in found) == ids
    assert all(set(t) == {"id", "ticketNumber", "status"} for t in found)
    bodies = [r.json for r in fake.api_requests()]
    assert [len(body["filter"][0]["value"]) for body in bodies] == [200, 200, 50]
    assert all(body["filter"][0]["op"] == "in" and body["IncludeFields"][0] == "id" for body in bodies)
    assert client.query_tickets(ids=[]) == []
    assert len(fake.api_requests()) == 3
    with pytest.raises(ValueError, match="needs ids or filters"):
        client.query_tickets()


def test_count_and_grouped_filters(fake: AutotaskFake, client: AutotaskClient) -> None:
    fake.add_ticket(title="Backup failed: NAS01", status=1)
    fake.add_ticket(title="backup warning: NAS02", status=8)
    fake.add_ticket(title="Printer jam", status=1)
    fake.add_ticket(title="Backup failed: old", status=5)
    filters = [
        {"op": "noteq", "field": "status", "value": TICKET_STATUS_COMPLETE},
        {
            "op": "or",
            "items": [
                {"op": "beginsWith", "field": "title", "value": "backup"},
                {"op": "eq", "field": "priority", "value": 4},
            ],
        },
    ]

    assert client.count("Tickets", filters) == 2
    assert [t["title"] for t in client.query("Tickets", filters)] == ["Backup failed: NAS01", "backup warning: NAS02"]
    assert fake.api_requests()[0].response_json == {"queryCount": 2}


# ---- updates --------------------------------------------------------------------------------


def test_update_sends_only_the_changed_fields_and_the_description_survives(
    fake: AutotaskFake, client: AutotaskClient
) -> None:
    created = client.create_ticket(_ticket_fields())
    before = fake.ticket(created.id)
    fake.clear_log()

    changed = {"status": TICKET_STATUS_COMPLETE, "resolution": "Job ran fine"}
    assert client.update_ticket(created.id, changed) == created.id

    [patch] = fake.api_requests()
    assert (patch.method, patch.path) == ("PATCH", "/ATServicesRest/V1.0/Tickets")
    assert patch.json == {"id": created.id, "status": 5, "resolution": "Job ran fine"}
    assert patch.response_json == {"itemId": created.id}
    after = fake.ticket(created.id)
    assert before is not None and after is not None
    assert after["description"] == DESCRIPTION
    assert after["status"] == TICKET_STATUS_COMPLETE
    assert after["completedDate"] is not None
    unchanged = {"title", "queueID", "priority", "issueType", "subIssueType", "source", "dueDateTime", "companyID"}
    assert {key: after[key] for key in unchanged} == {key: before[key] for key in unchanged}


def test_update_refuses_to_clear_the_description_and_skips_empty_changes(
    fake: AutotaskFake, client: AutotaskClient
) -> None:
    created = client.create_ticket(_ticket_fields())
    fake.clear_log()

    for blank in (None, "", "   "):
        with pytest.raises(ValueError, match="refusing to clear a ticket's description"):
            client.update_ticket(created.id, {"Description": blank, "status": 8})
    with pytest.raises(ValueError, match="ticket_id argument"):
        client.update_ticket(created.id, {"id": created.id})
    assert client.update_ticket(created.id, {}) == created.id

    assert fake.api_requests() == []
    stored = fake.ticket(created.id)
    assert stored is not None and stored["description"] == DESCRIPTION


def test_update_validation_errors_leave_the_ticket_alone(fake: AutotaskFake, client: AutotaskClient) -> None:
    created = client.create_ticket(_ticket_fields())

    with pytest.raises(AutotaskError) as caught:
        client.update_ticket(created.id, {"status": 12})

    assert caught.value.status == 500
    assert "12 is not a valid (active) value of the status picklist" in str(caught.value)
    stored = fake.ticket(created.id)
    assert stored is not None and stored["status"] == 1


def test_the_fake_wipes_fields_on_put_which_is_why_the_client_patches(
    fake: AutotaskFake, client: AutotaskClient
) -> None:
    created = client.create_ticket(_ticket_fields())
    session = fake.session()
    headers = {"ApiIntegrationCode": fake.integration_code, "UserName": fake.username, "Secret": fake.secret}

    response = session.put(
        f"{fake.api_versioned_url}/Tickets",
        json={"id": created.id, "companyID": 174, "queueID": 29682833, "title": "t", "status": 8, "priority": 2},
        headers=headers,
        timeout=5,
    )

    assert response.status_code == 200
    assert response.json() == {"itemId": created.id}
    stored = fake.ticket(created.id)
    assert stored is not None
    assert stored["description"] is None
    assert stored["issueType"] is None


# ---- notes ----------------------------------------------------------------------------------


def test_ticket_notes_go_through_the_parent_ticket(fake: AutotaskFake, client: AutotaskClient) -> None:
    created = client.create_ticket(_ticket_fields())

    note_id = client.create_ticket_note(
        created.id, title="Backupchecks", description="Run of 2025-03-02 failed again.", note_type=1, publish=1
    )

    [note] = fake.notes(created.id)
    assert note["id"] == note_id
    assert note["description"] == "Run of 2025-03-02 failed again."
    post = fake.api_requests()[-1]
    assert (post.method, post.path) == ("POST", f"/ATServicesRest/V1.0/Tickets/{created.id}/Notes")
    assert post.json["ticketID"] == created.id

    fake.require_note_titles = True
    with pytest.raises(AutotaskError, match="Title is required"):
        client.create_ticket_note(created.id, description="No title", note_type=1, publish=1)


# ---- throttling, outages, errors, timeouts --------------------------------------------------


def test_429_is_retried_after_the_retry_after_delay(
    fake: AutotaskFake, client: AutotaskClient, sleeps: list[float]
) -> None:
    fake.throttle_next(2, retry_after="3")

    company = client.get_company(174)

    assert company is not None
    assert sleeps == [3.0, 3.0]
    assert [r.status for r in fake.api_requests()] == [429, 429, 200]


def test_503_from_a_load_balancer_is_retried_with_backoff(
    fake: AutotaskFake, client: AutotaskClient, sleeps: list[float]
) -> None:
    fake.unavailable_next(2)

    assert client.search_companies("Alpha")[0].id == 174
    assert sleeps == [1.0, 2.0]


def test_throttling_that_does_not_end_becomes_an_error(fake: AutotaskFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, max_attempts=3, max_retry_wait=10.0)
    fake.throttle_next(10, retry_after="120")

    with pytest.raises(AutotaskError) as caught:
        client.get_ticket(7001)

    assert caught.value.status == 429
    assert "API request threshold was exceeded" in str(caught.value)
    assert sleeps == [10.0, 10.0]
    assert len(fake.api_requests()) == 3


def test_a_500_is_reported_with_the_api_message_and_not_retried(
    fake: AutotaskFake, client: AutotaskClient, sleeps: list[float]
) -> None:
    fake.server_error_next(message="Value does not fall within the expected range.")

    with pytest.raises(AutotaskError) as caught:
        client.search_companies("Alpha")

    assert str(caught.value) == "Autotask 500: Value does not fall within the expected range."
    assert sleeps == []
    assert len(fake.api_requests()) == 1


def test_permission_and_routing_errors_read_well(fake: AutotaskFake, client: AutotaskClient) -> None:
    with pytest.raises(AutotaskError) as not_found:
        client.get_entity_information("Widgets")
    assert not_found.value.status == 404
    assert "No HTTP resource was found that matches the request URI" in str(not_found.value)

    fake.deny_access = True
    with pytest.raises(AutotaskError) as denied:
        client.get_company(174)
    assert not isinstance(denied.value, AutotaskAuthError)
    assert denied.value.status == 403
    assert str(denied.value).startswith("Autotask 403: The API user's security level does not allow this")


def test_a_slow_api_times_out_after_bounded_retries(fake: AutotaskFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, timeout=0.2, max_attempts=2)
    client.zone_url()
    fake.slow_next(1.0)

    with pytest.raises(AutotaskError) as caught:
        client.get_ticket(7001)

    assert caught.value.status is None
    assert str(caught.value) == (
        "Autotask: GET /ATServicesRest/V1.0/Tickets/7001: no answer within 0.2 s (gave up after 2 attempts)"
    )
    assert sleeps == [1.0]


def test_an_unreachable_api_is_an_error_and_creates_may_retry_it(fake: AutotaskFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, base_url=f"http://127.0.0.1:{_free_port()}/ATServicesRest/", max_attempts=2)

    with pytest.raises(AutotaskError, match=r"cannot connect: .*\(gave up after 2 attempts\)"):
        # Nothing was sent, so even a create is retried.
        client.create_ticket(_ticket_fields())

    assert sleeps == [1.0]


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# ---- the fake itself ------------------------------------------------------------------------


def test_the_fake_pages_get_queries_and_refuses_get_on_a_post_next_page(fake: AutotaskFake) -> None:
    for n in range(3):
        fake.add_ticket(title=f"Paged {n}")
    session = fake.session()
    headers = {"ApiIntegrationCode": fake.integration_code, "UserName": fake.username, "Secret": fake.secret}
    search = json.dumps({"maxRecords": 2, "filter": [{"op": "contains", "field": "Title", "value": "paged"}]})

    url = f"{fake.api_versioned_url}/tickets/query"
    first = session.get(url, params={"search": search}, headers=headers, timeout=5)
    second = session.get(first.json()["pageDetails"]["nextPageUrl"], headers=headers, timeout=5)

    assert [t["title"] for t in first.json()["items"] + second.json()["items"]] == ["Paged 0", "Paged 1", "Paged 2"]
    assert second.json()["pageDetails"]["prevPageUrl"] is not None

    posted = session.post(
        f"{fake.api_versioned_url}/Tickets/query",
        data=search,
        headers=headers | {"Content-Type": "application/json"},
        timeout=5,
    )
    refused = session.get(posted.json()["pageDetails"]["nextPageUrl"], headers=headers, timeout=5)
    assert refused.status_code == 405
    assert "does not support http method 'GET'" in refused.json()["Message"]


def test_the_fake_stops_cleanly_with_a_slow_answer_in_flight(sleeps: list[float]) -> None:
    before = {thread.ident for thread in threading.enumerate()}
    with running_autotask_fake() as fake:
        client = _client(fake, sleeps, timeout=0.2, max_attempts=1)
        fake.slow_next(30.0)
        with pytest.raises(AutotaskError):
            client.get_company(174)
        started = time.monotonic()
    assert time.monotonic() - started < 2
    assert {thread.ident for thread in threading.enumerate()} <= before
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{fake.base_url}/atservicesrest/v1.0/zoneInformation", timeout=1)
