"""The Cove JSON-RPC client against the loopback Cove fake (real requests, real HTTP)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from backend.app.clients.cove import (
    PAGE_SIZE,
    CoveAuthError,
    CoveClient,
    CoveError,
    flatten_settings,
)
from backend.app.services.cove_mapping import DEFAULT_COLUMNS
from tests.fakes.cove_server import (
    LOGIN_ERROR_CODE,
    SECURITY_ERROR_CODE,
    VISA_ERROR_CODE,
    CoveFake,
    running_cove_fake,
)

COLUMNS = ["I1", "I18", "I8", "I78", "D09F00", "D09F09", "D09F15", "D09F08"]


class RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake() -> Iterator[CoveFake]:
    with running_cove_fake(accounts=600, seed=11) as running:
        yield running


def make_client(fake: CoveFake, **options: Any) -> CoveClient:
    settings: dict[str, Any] = {**fake.client_settings(), "sleep": RecordingSleep(), "timeout": 5.0}
    settings.update(options)
    return CoveClient(session=fake.session(), **settings)


def enumerate_calls(fake: CoveFake) -> list[Any]:
    return fake.calls_of("EnumerateAccountStatistics")


# ---- login ------------------------------------------------------------------------------------


def test_login_takes_the_visa_from_the_top_level_and_the_partner_id_from_the_result(fake: CoveFake) -> None:
    client = make_client(fake)

    assert client.login() == fake.partner_id

    (call,) = fake.calls
    assert call.body["method"] == "Login"
    assert call.body["params"] == {"username": fake.username, "password": fake.password}
    assert "visa" not in call.body
    assert call.visa_issued is not None
    list(client.enumerate_account_statistics(["I1"], page_size=1000))
    assert enumerate_calls(fake)[0].visa_sent == call.visa_issued


def test_wrong_credentials_raise_an_auth_error_with_code_and_message(fake: CoveFake) -> None:
    client = make_client(fake, password="not-the-password")

    with pytest.raises(CoveAuthError) as caught:
        client.login()

    assert caught.value.code == LOGIN_ERROR_CODE
    assert caught.value.message == "Unknown partner/username or bad password"
    assert str(caught.value) == f"Cove Login error {LOGIN_ERROR_CODE}: Unknown partner/username or bad password"
    assert fake.calls[-1].visa_issued is None


def test_rejected_credentials_stop_an_enumeration_before_any_page(fake: CoveFake) -> None:
    fake.reject_credentials = True
    client = make_client(fake)

    with pytest.raises(CoveAuthError):
        list(client.enumerate_account_statistics(COLUMNS))
    assert enumerate_calls(fake) == []


def test_connection_test_reports_the_partner_id_or_the_reason(fake: CoveFake) -> None:
    assert make_client(fake).test_connection() == (
        True,
        fake.partner_id,
        f"Logged in as {fake.username}; partner id {fake.partner_id}.",
    )
    ok, partner_id, message = make_client(fake, password="wrong").test_connection()
    assert (ok, partner_id) == (False, None)
    assert "bad password" in message
    ok, partner_id, message = make_client(fake, password="").test_connection()
    assert (ok, partner_id, message) == (False, None, "Cove Login: No username or password configured.")


def test_connection_test_never_raises_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = requests.Session()
    session.trust_env = False
    client = CoveClient(
        api_url=f"http://127.0.0.1:{port}/jsonapi",
        username="user",
        password="secret",
        session=session,
        sleep=RecordingSleep(),
        max_attempts=2,
    )
    ok, partner_id, message = client.test_connection()
    session.close()
    assert (ok, partner_id) == (False, None)
    assert "cannot connect" in message and "gave up after 2 attempts" in message


# ---- paging -----------------------------------------------------------------------------------


def test_enumeration_pages_by_250_until_a_short_page(fake: CoveFake) -> None:
    client = make_client(fake)

    accounts = list(client.enumerate_account_statistics(COLUMNS))

    assert [a.account_id for a in accounts] == [a.account_id for a in fake.accounts()]
    calls = enumerate_calls(fake)
    assert [call.query["StartRecordNumber"] for call in calls] == [0, 250, 500]
    assert [call.account_count for call in calls] == [250, 250, 100]
    for call in calls:
        assert set(call.body["params"]) == {"query"}
        assert call.query == {
            "PartnerId": fake.partner_id,
            "StartRecordNumber": call.query["StartRecordNumber"],
            "RecordsCount": PAGE_SIZE,
            "Columns": COLUMNS,
        }
        assert call.body["id"] == "jsonrpc" and call.body["jsonrpc"] == "2.0"


def test_a_full_last_page_costs_one_empty_page() -> None:
    with running_cove_fake(accounts=500, seed=2) as fake:
        accounts = list(make_client(fake).enumerate_account_statistics(COLUMNS))
        assert len(accounts) == 500
        assert [c.query["StartRecordNumber"] for c in enumerate_calls(fake)] == [0, 250, 500]
        assert enumerate_calls(fake)[-1].account_count == 0


def test_settings_are_flattened_and_omitted_columns_stay_absent(fake: CoveFake) -> None:
    never_backed_up = fake.accounts()[0]  # the generator gives the first account status 0
    accounts = {a.account_id: a for a in make_client(fake).enumerate_account_statistics(COLUMNS)}

    stats = accounts[never_backed_up.account_id]
    assert stats.partner_id == never_backed_up.partner_id
    assert "D09F15" not in stats.settings and "D09F00" not in stats.settings
    assert stats.settings["I1"] == never_backed_up.get("I1")
    assert all(isinstance(value, str) for a in accounts.values() for value in a.settings.values())
    null_flags = next(a for a in fake.accounts() if a.flags is None)
    assert accounts[null_flags.account_id].flags == ()


def test_keys_come_back_in_the_spelling_requested(fake: CoveFake) -> None:
    account = fake.accounts()[5]
    found = {a.account_id: a for a in make_client(fake).enumerate_account_statistics(["D9F0", "D09F00", "AN"])}
    assert found[account.account_id].settings == {
        "D9F0": account.get("D9F0"),
        "D09F00": account.get("D9F0"),
        "AN": account.get("I1"),
    }


def test_a_sub_customer_lists_only_its_own_accounts(fake: CoveFake) -> None:
    partner = fake.partners[0]
    client = make_client(fake)
    client.login()
    accounts = list(client.enumerate_account_statistics(["I8"], partner_id=partner.partner_id))
    assert accounts and {a.partner_id for a in accounts} == {partner.partner_id}
    assert {a.settings["I8"] for a in accounts} == {partner.name}


def test_an_account_added_during_paging_is_not_yielded_twice(fake: CoveFake) -> None:
    client = make_client(fake)
    iterator = client.enumerate_account_statistics(COLUMNS)
    first = [next(iterator) for _ in range(PAGE_SIZE)]
    # A lower id sorts first and shifts every later page by one: the next page repeats an account.
    fake.add_account({"I1": "late-arrival"}, account_id=1)
    rest = list(iterator)

    ids = [a.account_id for a in first + rest]
    assert len(ids) == len(set(ids)) == 600
    assert 1 not in ids  # it landed on a page already read; the next pass picks it up


# ---- the visa chain ---------------------------------------------------------------------------


def test_every_call_carries_the_visa_of_the_previous_answer(fake: CoveFake) -> None:
    list(make_client(fake).enumerate_account_statistics(COLUMNS))

    issued = [call.visa_issued for call in fake.calls]
    sent = [call.visa_sent for call in fake.calls]
    assert len(fake.calls) == 4  # Login + 3 pages
    assert None not in issued and len(set(issued)) == 4
    assert sent == [None, *issued[:-1]]


def test_an_expired_visa_is_renewed_by_one_login_and_the_page_repeated(fake: CoveFake) -> None:
    client = make_client(fake)
    iterator = client.enumerate_account_statistics(COLUMNS)
    first = [next(iterator) for _ in range(PAGE_SIZE)]
    fake.expire_visas()
    rest = list(iterator)

    assert len(first) + len(rest) == 600
    methods = [(call.method, call.error_code) for call in fake.calls]
    assert methods == [
        ("Login", None),
        ("EnumerateAccountStatistics", None),
        ("EnumerateAccountStatistics", VISA_ERROR_CODE),
        ("Login", None),
        ("EnumerateAccountStatistics", None),
        ("EnumerateAccountStatistics", None),
    ]
    assert [c.query["StartRecordNumber"] for c in enumerate_calls(fake)] == [0, 250, 250, 500]
    assert fake.calls[4].visa_sent == fake.calls[3].visa_issued


def test_a_visa_older_than_15_minutes_is_refused_and_renewed(fake: CoveFake) -> None:
    client = make_client(fake)
    client.login()
    fake.advance_clock(15 * 60 + 1)

    accounts = list(client.enumerate_account_statistics(["I1"], page_size=1000))

    assert len(accounts) == 600
    assert [call.error_code for call in enumerate_calls(fake)] == [VISA_ERROR_CODE, None]
    assert len(fake.calls_of("Login")) == 2


def test_an_error_that_survives_a_new_login_is_surfaced_with_code_and_message(fake: CoveFake) -> None:
    client = make_client(fake)

    with pytest.raises(CoveError) as caught:
        list(client.enumerate_account_statistics(["I1", "D02F00"]))

    error = caught.value
    assert not isinstance(error, CoveAuthError)
    assert error.code == SECURITY_ERROR_CODE
    assert error.message == "Operation failed because of security reasons (error 13501)"
    assert error.method == "EnumerateAccountStatistics"
    assert str(error).startswith("Cove EnumerateAccountStatistics error 13501: Operation failed")
    assert len(fake.calls_of("Login")) == 2  # the retry after a fresh login, then the error stands


def test_a_passing_error_is_recovered_by_the_retry(fake: CoveFake) -> None:
    fake.error_next(13000, "Temporary failure", method="EnumerateAccountStatistics")
    accounts = list(make_client(fake).enumerate_account_statistics(["I1"], page_size=1000))
    assert len(accounts) == 600
    assert [call.error_code for call in enumerate_calls(fake)] == [13000, None]


def test_the_default_columns_are_all_readable(fake: CoveFake) -> None:
    accounts = list(make_client(fake).enumerate_account_statistics(DEFAULT_COLUMNS))
    assert len(accounts) == 600
    assert all(call.error_code is None for call in fake.calls)


# ---- transport faults -------------------------------------------------------------------------


def test_5xx_answers_are_retried_with_backoff(fake: CoveFake) -> None:
    fake.fail_next(2, status=503)
    sleep = RecordingSleep()
    client = make_client(fake, sleep=sleep)

    assert client.login() == fake.partner_id
    assert sleep.calls == [1.0, 2.0]
    assert [call.http_status for call in fake.calls] == [503, 503, 200]


def test_5xx_answers_give_up_after_the_last_attempt(fake: CoveFake) -> None:
    fake.fail_next(10, status=502)
    client = make_client(fake, max_attempts=3)

    with pytest.raises(CoveError) as caught:
        client.login()

    assert caught.value.status == 502 and caught.value.code is None
    assert "gave up after 3 attempts" in str(caught.value)
    assert str(caught.value).startswith("Cove Login HTTP 502: ")
    assert len(fake.calls) == 3


def test_a_5xx_mid_enumeration_does_not_lose_a_page(fake: CoveFake) -> None:
    client = make_client(fake)
    iterator = client.enumerate_account_statistics(COLUMNS)
    first = [next(iterator) for _ in range(PAGE_SIZE)]
    fake.fail_next(1, status=500)
    assert len(first) + len(list(iterator)) == 600


def test_a_slow_answer_is_a_cove_error_after_the_timeout(fake: CoveFake) -> None:
    fake.slow_next(2.0)
    client = make_client(fake, timeout=0.2, max_attempts=2)

    started = time.monotonic()
    with pytest.raises(CoveError) as caught:
        client.login()

    assert time.monotonic() - started < 1.5
    assert str(caught.value) == "Cove Login: no answer within 0.2 s (gave up after 2 attempts)"


def test_latin1_answers_are_decoded() -> None:
    with running_cove_fake(accounts=0) as fake:
        fake.add_account({"I1": "büro-pc", "I8": "Café Zürich"})
        fake.latin1_responses = True
        (account,) = make_client(fake).enumerate_account_statistics(["I1", "I8"])
    assert account.settings == {"I1": "büro-pc", "I8": "Café Zürich"}


def test_a_non_json_answer_is_a_cove_error() -> None:
    with running_cove_fake() as fake:
        client = CoveClient(
            api_url=fake.url.replace("/jsonapi", "/elsewhere"),
            username=fake.username,
            password=fake.password,
            session=fake.session(),
        )
        with pytest.raises(CoveError) as caught:
            client.login()
    assert caught.value.status == 404


# ---- the fake's own strictness (what the client must get right) ------------------------------


def _post(fake: CoveFake, body: dict[str, Any]) -> dict[str, Any]:
    response = fake.session().post(fake.url, json=body, timeout=5)
    assert response.status_code == 200
    return response.json()


def test_the_fake_refuses_wrongly_cased_names(fake: CoveFake) -> None:
    # Cove documents method and parameter names as case-sensitive; the error it gives is not documented.
    login_body = {
        "jsonrpc": "2.0",
        "id": "1",
        "method": "Login",
        "params": {"username": fake.username, "password": fake.password},
    }
    visa = _post(fake, login_body)["visa"]
    query = {"PartnerId": fake.partner_id, "StartRecordNumber": 0, "RecordsCount": 5, "Columns": ["I1"]}

    def enumerate_with(method: str, params: dict[str, Any]) -> dict[str, Any]:
        return _post(fake, {"jsonrpc": "2.0", "id": "jsonrpc", "visa": visa, "method": method, "params": params})

    assert enumerate_with("enumerateAccountStatistics", {"query": query})["error"]["code"] == -32601
    assert enumerate_with("EnumerateAccountStatistics", {"Query": query})["error"]["code"] == -32602
    wrong_key = {**{k: v for k, v in query.items() if k != "PartnerId"}, "partnerId": fake.partner_id}
    assert enumerate_with("EnumerateAccountStatistics", {"query": wrong_key})["error"]["code"] == -32602
    login = _post(
        fake,
        {
            "jsonrpc": "2.0",
            "id": "1",
            "method": "Login",
            "params": {"Username": fake.username, "Password": fake.password},
        },
    )
    assert login["error"]["code"] == -32602 and "visa" not in login
    answer = enumerate_with("EnumerateAccountStatistics", {"query": query})
    assert answer["id"] == "jsonrpc" and len(answer["result"]["result"]) == 5 and answer["visa"] != visa


def test_flatten_settings_tolerates_odd_shapes() -> None:
    assert flatten_settings(None) == {}
    assert flatten_settings([{"I1": "a"}, "junk", {"I14": 5, "I8": None}, {"A": "1", "B": "2"}]) == {
        "I1": "a",
        "I14": "5",
        "A": "1",
        "B": "2",
    }


def test_the_partner_name_is_sent_when_configured(fake: CoveFake) -> None:
    assert make_client(fake, partner=fake.partner_name).login() == fake.partner_id
    assert fake.calls[-1].body["params"]["partner"] == fake.partner_name
    with pytest.raises(CoveAuthError):
        make_client(fake, partner="Another MSP").login()


def test_the_fake_leaves_no_thread_behind() -> None:
    before = set(threading.enumerate())
    with running_cove_fake(accounts=10) as fake:
        fake.slow_next(5.0)
        with pytest.raises(CoveError):
            make_client(fake, timeout=0.1, max_attempts=1).login()
        # A handler thread is still waiting out the delay here; stopping must end it.
    assert set(threading.enumerate()) <= before
