"""The Graph mail client against the loopback Graph fake (real msal, real requests, real TLS)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

from backend.app.clients.graph import (
    MESSAGE_FIELDS,
    GraphAuthError,
    GraphClient,
    GraphError,
    _error_from_response,
)
from backend.app.clients.http import parse_retry_after
from tests.fakes.graph_server import GraphFake, running_graph_fake

BASE_TIME = datetime(2025, 3, 1, 22, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n% backup report\n" + bytes(range(256))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def _mail(
    n: int,
    *,
    subject: str | None = None,
    sender: str = "Veeam Backup <veeam@backup.example>",
    text: str | None = None,
    html: str | None = "<p>Backup job finished: <b>Success</b></p>",
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "backups@example.com"
    message["Subject"] = subject if subject is not None else f"[Success] Backup job {n:03d}"
    message["Message-ID"] = f"<job-{n:03d}@backup.example>"
    message["Date"] = "Sat, 01 Mar 2025 22:00:00 +0000"
    message.set_content(text if text is not None else f"Backup job {n:03d} finished: Success")
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def _raw_mail(n: int) -> bytes:
    """The bytes of ``_mail(n)``'s plain variant, built by hand: EmailMessage is slow for hundreds."""
    return (
        "From: Veeam Backup <veeam@backup.example>\r\n"
        "To: backups@example.com\r\n"
        f"Subject: [Success] Backup job {n:03d}\r\n"
        f"Message-ID: <job-{n:03d}@backup.example>\r\n"
        "Date: Sat, 01 Mar 2025 22:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "\r\n"
        f"Backup job {n:03d} finished: Success\r\n"
    ).encode()


def _mail_with_attachments() -> EmailMessage:
    message = _mail(900, subject="[Warning] Nightly NAS", html='<p>See <img src="cid:logo@backup.example"></p>')
    html_part = message.get_payload()[1]
    html_part.add_related(PNG, "image", "png", cid="<logo@backup.example>", filename="logo.png")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    forwarded = _mail(901, subject="Original failure notice")
    message.add_attachment(forwarded, filename="original.eml")
    return message


@contextmanager
def _refused_port() -> Iterator[int]:
    """A loopback port with nothing listening on it, for "cannot connect" cases."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    yield port


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphFake]:
    monkeypatch.delenv("MSAL_FORCE_REGION", raising=False)
    with running_graph_fake(tmp_path) as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _client(fake: GraphFake, sleeps: list[float], **overrides: Any) -> GraphClient:
    settings: dict[str, Any] = {**fake.client_settings(), "timeout": 5.0}
    settings.update(overrides)
    return GraphClient(**settings, session=fake.session(), sleep=sleeps.append)


@pytest.fixture
def client(fake: GraphFake, sleeps: list[float]) -> GraphClient:
    return _client(fake, sleeps)


def _listing_requests(fake: GraphFake) -> list[Any]:
    return [r for r in fake.graph_requests() if r.path.endswith("/messages") and r.method == "GET"]


# ---- token ----------------------------------------------------------------------------------


def test_token_is_requested_once_and_then_served_from_cache(
    fake: GraphFake, client: GraphClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An ambient region must not send the token request to "westeurope.127.0.0.1".
    monkeypatch.setenv("MSAL_FORCE_REGION", "westeurope")

    first = client.acquire_token()
    second = client.acquire_token()

    assert first == second
    assert first.startswith("eyJ")
    token_posts = fake.token_requests()
    assert len(token_posts) == 1
    form = dict(pair.split("=", 1) for pair in token_posts[0].body.decode().split("&"))
    assert form["grant_type"] == "client_credentials"
    assert form["client_id"] == fake.client_id
    assert requests.utils.unquote(form["scope"]) == f"{fake.graph_base_url}/.default"
    # Only the tenant discovery and the token POST: no instance discovery against Microsoft.
    assert [(r.method, r.kind) for r in fake.requests] == [("GET", "discovery"), ("POST", "token")]


def test_the_token_is_kept_until_msal_would_renew_it(tmp_path: Path, sleeps: list[float]) -> None:
    now = [1000.0]
    with running_graph_fake(tmp_path) as fake:
        client = _client(fake, sleeps, clock=lambda: now[0])
        token = client.acquire_token()
        for _ in range(3):
            client.get_folder("inbox")
        now[0] += 3599 - 300 - 1  # msal keeps a token until 5 minutes before it expires; so do we
        assert client.acquire_token() == token
        now[0] += 2  # past that: msal is asked again (and answers from its own cache here)
        assert client.acquire_token() == token
        assert len(fake.token_requests()) == 1
        assert [r.headers["authorization"] for r in fake.graph_requests()] == [f"Bearer {token}"] * 3


def test_a_token_msal_would_renew_at_once_is_not_kept(tmp_path: Path, sleeps: list[float]) -> None:
    # 200 s left is inside msal's 5-minute renewal margin: msal fetches a new token on each request,
    # and a token kept here would outlive what msal considers usable.
    with running_graph_fake(tmp_path, token_lifetime=200) as fake:
        client = _client(fake, sleeps)
        first = client.acquire_token()
        second = client.acquire_token()
        assert first != second
        assert len(fake.token_requests()) == 2


def test_wrong_credentials_raise_auth_error_with_the_aadsts_text(fake: GraphFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, client_secret="not-the-secret")

    with pytest.raises(GraphAuthError) as caught:
        client.acquire_token()

    assert caught.value.error == "invalid_client"
    assert caught.value.error_description.startswith("AADSTS7000215: Invalid client secret provided.")
    assert "Trace ID" in caught.value.error_description
    assert str(caught.value).startswith("Token request failed (invalid_client): AADSTS7000215: Invalid client secret")
    assert "Trace ID" not in str(caught.value)
    assert [r.status for r in fake.token_requests()] == [401]


def test_rejected_credentials_switch_and_graph_calls_surface_the_auth_error(
    fake: GraphFake, client: GraphClient
) -> None:
    fake.reject_credentials = True

    with pytest.raises(GraphAuthError, match="AADSTS7000215"):
        client.get_folder("inbox")

    assert fake.graph_requests() == []


def test_unknown_tenant_becomes_an_auth_error(fake: GraphFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, tenant_id="00000000-0000-0000-0000-000000000000")

    with pytest.raises(GraphAuthError) as caught:
        client.acquire_token()

    assert caught.value.error == "token_request_failed"
    assert "00000000-0000-0000-0000-000000000000" in str(caught.value)


def test_unreachable_authority_becomes_an_auth_error(fake: GraphFake, sleeps: list[float]) -> None:
    with _refused_port() as port:
        client = _client(fake, sleeps, authority_base_url=f"https://127.0.0.1:{port}")
        with pytest.raises(GraphAuthError) as caught:
            client.acquire_token()

    assert caught.value.error == "authority_unreachable"
    assert f"127.0.0.1:{port}" in str(caught.value)


# ---- listing and paging ---------------------------------------------------------------------


def test_listing_follows_next_links_verbatim_across_pages(fake: GraphFake, client: GraphClient) -> None:
    for n in range(237):
        fake.add_message(_raw_mail(n), received_at=BASE_TIME + timedelta(minutes=n))

    messages = list(client.list_messages("inbox", page_size=50))

    assert [m.subject for m in messages] == [f"[Success] Backup job {n:03d}" for n in range(237)]
    assert len({m.id for m in messages}) == 237
    listing = _listing_requests(fake)
    assert len(listing) == 5
    assert len(fake.next_links) == 4
    assert [r.url for r in listing[1:]] == fake.next_links
    assert [len(r.response_json["value"]) for r in listing] == [50, 50, 50, 50, 37]
    assert listing[0].query == {
        "$top": "50",
        "$select": "id,subject,from,receivedDateTime,body,hasAttachments,internetMessageId",
        "$orderby": "receivedDateTime asc",
    }
    # The Prefer header is not part of a nextLink; it must be resent on every page.
    assert all(r.prefer == 'IdType="ImmutableId"' for r in listing)
    assert [r.query["$skip"] for r in listing[1:]] == ["50", "100", "150", "200"]


def test_select_is_honoured_and_messages_are_mapped(fake: GraphFake, client: GraphClient) -> None:
    delivered = fake.add_message(_mail(7).as_bytes(), received_at=datetime(2025, 3, 2, 6, 30, 15, tzinfo=UTC))

    [message] = list(client.list_messages("inbox", page_size=10))

    [listing] = _listing_requests(fake)
    [item] = listing.response_json["value"]
    assert set(item) == {"@odata.etag", *MESSAGE_FIELDS}
    assert message.id == delivered.immutable_id
    assert message.internet_message_id == "<job-007@backup.example>"
    assert message.subject == "[Success] Backup job 007"
    assert message.from_address == "veeam@backup.example"
    assert message.from_name == "Veeam Backup"
    assert message.received_at == datetime(2025, 3, 2, 6, 30, 15, tzinfo=UTC)
    assert message.received_at.utcoffset() == timedelta(0)
    assert message.body_content_type == "html"
    assert message.body == "<p>Backup job finished: <b>Success</b></p>\n"
    assert message.has_attachments is False


def test_fields_narrow_the_select_and_the_rest_stays_empty(fake: GraphFake, client: GraphClient) -> None:
    fake.add_message(_mail(8).as_bytes(), received_at=datetime(2025, 3, 2, 6, 30, 15, tzinfo=UTC))

    [message] = list(client.list_messages("inbox", fields=("id", "internetMessageId", "receivedDateTime")))

    [listing] = _listing_requests(fake)
    assert listing.query["$select"] == "id,internetMessageId,receivedDateTime"
    [item] = listing.response_json["value"]
    assert set(item) == {"@odata.etag", "id", "internetMessageId", "receivedDateTime"}
    assert message.internet_message_id == "<job-008@backup.example>"
    assert message.received_at == datetime(2025, 3, 2, 6, 30, 15, tzinfo=UTC)
    assert (message.subject, message.body, message.from_address) == ("", "", None)
    for fields in (("id", "subject"), ("receivedDateTime", "internetMessageId"), ("id", "receivedDateTime", "bcc")):
        with pytest.raises(ValueError, match="fields"):
            client.list_messages("inbox", fields=fields)


def test_text_bodies_on_request_and_received_after_filter(fake: GraphFake, client: GraphClient) -> None:
    for n in range(6):
        fake.add_message(_mail(n).as_bytes(), received_at=BASE_TIME + timedelta(hours=n))

    messages = list(
        client.list_messages(
            "inbox", page_size=2, received_after=BASE_TIME + timedelta(hours=3), body_content_type="text"
        )
    )

    assert [m.subject for m in messages] == [f"[Success] Backup job {n:03d}" for n in (3, 4, 5)]
    assert {m.body_content_type for m in messages} == {"text"}
    assert messages[0].body == "Backup job 003 finished: Success\n"
    listing = _listing_requests(fake)
    assert listing[0].query["$filter"] == "receivedDateTime ge 2025-03-02T01:00:00Z"
    assert all(r.prefer == 'IdType="ImmutableId", outlook.body-content-type="text"' for r in listing)


def test_an_empty_page_does_not_end_the_listing(fake: GraphFake, client: GraphClient) -> None:
    fake.empty_first_page = True
    for n in range(3):
        fake.add_message(_mail(n).as_bytes(), received_at=BASE_TIME + timedelta(minutes=n))

    messages = list(client.list_messages("inbox", page_size=2))

    assert [m.internet_message_id for m in messages] == [f"<job-{n:03d}@backup.example>" for n in range(3)]
    assert [len(r.response_json["value"]) for r in _listing_requests(fake)] == [0, 2, 1]


def test_bad_listing_arguments_are_refused_before_any_request(fake: GraphFake, client: GraphClient) -> None:
    with pytest.raises(ValueError, match="between 1 and 1000"):
        client.list_messages("inbox", page_size=1001)
    with pytest.raises(ValueError, match="'text' or 'html'"):
        client.list_messages("inbox", body_content_type="markdown")

    assert fake.requests == []


# ---- MIME, attachments ----------------------------------------------------------------------


def test_mime_download_returns_the_raw_message(fake: GraphFake, client: GraphClient) -> None:
    raw = _mail_with_attachments().as_bytes()
    delivered = fake.add_message(raw)

    assert client.get_mime(delivered.immutable_id) == raw
    [request] = fake.graph_requests()
    # Ids carry '+', '/' and '=': all of them must be percent-encoded in the path.
    raw_path = request.url.split("?")[0]
    assert raw_path.endswith("/$value")
    assert "+" not in raw_path and "=" not in raw_path
    assert "%2B" in raw_path and "%2F" in raw_path and "%3D" in raw_path


def test_attachments_file_item_and_inline(fake: GraphFake, client: GraphClient) -> None:
    delivered = fake.add_message(_mail_with_attachments().as_bytes())

    [message] = list(client.list_messages("inbox"))
    attachments = {a.name: a for a in client.list_attachments(message.id)}

    assert message.has_attachments is True
    assert set(attachments) == {"logo.png", "report.pdf", "original.eml"}
    report = attachments["report.pdf"]
    assert (report.kind, report.content_type, report.content, report.size, report.is_inline) == (
        "file",
        "application/pdf",
        PDF,
        len(PDF),
        False,
    )
    logo = attachments["logo.png"]
    assert (logo.kind, logo.is_inline, logo.content_id, logo.content) == ("file", True, "logo@backup.example", PNG)
    original = attachments["original.eml"]
    assert (original.kind, original.content) == ("item", None)
    assert original.size == len(delivered.attachments[-1].content)


def test_inline_only_message_has_no_attachments_flag(fake: GraphFake, client: GraphClient) -> None:
    message = _mail(5, html='<p><img src="cid:chart@x"></p>')
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<chart@x>")
    fake.add_message(message.as_bytes())

    [listed] = list(client.list_messages("inbox"))

    assert listed.has_attachments is False
    assert [(a.kind, a.is_inline) for a in client.list_attachments(listed.id)] == [("file", True)]


# ---- folders --------------------------------------------------------------------------------


def test_find_folder_top_level_nested_quoted_and_missing(fake: GraphFake, client: GraphClient) -> None:
    processed = fake.add_folder("Processed", parent="inbox")
    quoted = fake.add_folder("Customer's backups")
    nested_quoted = fake.add_folder("O'Brien & Sons", parent=quoted.id)

    assert client.find_folder("Archive").id == fake.folder("archive").id
    assert client.find_folder("Inbox/Processed").id == processed.id
    assert client.find_folder(" inbox / PROCESSED ").id == processed.id
    assert client.find_folder("Customer's backups").id == quoted.id
    assert client.find_folder("Customer's backups/O'Brien & Sons").id == nested_quoted.id
    assert client.find_folder("Processed") is None
    assert client.find_folder("Inbox/Missing/Deeper") is None
    filters = [r.query["$filter"] for r in fake.graph_requests() if "$filter" in r.query]
    assert "displayName eq 'Customer''s backups'" in filters
    assert "displayName eq 'O''Brien & Sons'" in filters


def test_find_folder_accepts_well_known_names_of_localised_mailboxes(tmp_path: Path, sleeps: list[float]) -> None:
    with running_graph_fake(tmp_path, inbox_display_name="Postvak IN") as fake:
        verwerkt = fake.add_folder("Verwerkt", parent="inbox")
        client = _client(fake, sleeps)

        inbox = client.find_folder("Inbox")
        assert inbox is not None
        assert inbox.display_name == "Postvak IN"
        assert client.find_folder("inbox/Verwerkt").id == verwerkt.id
        assert client.find_folder("Postvak IN/Verwerkt").id == verwerkt.id


def test_ensure_folder_creates_once_then_finds(fake: GraphFake, client: GraphClient) -> None:
    created = client.ensure_folder("Backupchecks processed")
    again = client.ensure_folder("backupchecks PROCESSED")

    assert created.id == again.id
    assert created.display_name == "Backupchecks processed"
    assert fake.folder(created.id).parent_id == fake.folder("msgfolderroot").id
    posts = [r for r in fake.graph_requests() if r.method == "POST"]
    assert [(r.path.rsplit("/", 1)[-1], r.status) for r in posts] == [("mailFolders", 201)]


def test_ensure_folder_creates_each_missing_level_of_a_path(fake: GraphFake, client: GraphClient) -> None:
    folder = client.ensure_folder("Inbox/Processed/Veeam's")

    assert folder.display_name == "Veeam's"
    assert fake.folder("Inbox/Processed/Veeam's").id == folder.id
    assert client.find_folder("Inbox/Processed/Veeam's").id == folder.id
    posts = [r for r in fake.graph_requests() if r.method == "POST"]
    assert [r.path.rsplit("/", 1)[-1] for r in posts] == ["childFolders", "childFolders"]

    under_archive = client.ensure_folder("2025", parent="archive")
    assert fake.folder(under_archive.id).parent_id == fake.folder("archive").id


def test_ensure_folder_survives_a_concurrent_creation(
    fake: GraphFake, client: GraphClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another importer creates the folder between our lookup and our POST.
    existing = fake.add_folder("Processed")
    real_find_child = client._find_child
    calls: list[str] = []

    def find_child_missing_the_first_time(parent: str, name: str) -> Any:
        calls.append(name)
        return None if len(calls) == 1 else real_find_child(parent, name)

    monkeypatch.setattr(client, "_find_child", find_child_missing_the_first_time)

    assert client.ensure_folder("Processed").id == existing.id
    assert [r.status for r in fake.graph_requests() if r.method == "POST"] == [409]


# ---- move -----------------------------------------------------------------------------------


def test_move_returns_the_id_in_the_destination_and_the_regular_id_is_gone(
    fake: GraphFake, client: GraphClient
) -> None:
    delivered = fake.add_message(_mail(1).as_bytes())
    old_regular_id = delivered.id
    processed = client.ensure_folder("Inbox/Processed")
    [message] = list(client.list_messages("inbox"))

    new_id = client.move_message(message.id, processed.id)

    # The client asks for immutable ids, so the id is stable across the move.
    assert new_id == message.id == delivered.immutable_id
    [move] = [r for r in fake.graph_requests() if r.path.endswith("/move")]
    assert move.status == 201
    assert move.response_json["parentFolderId"] == processed.id
    assert [m.internet_message_id for m in fake.messages_in("Inbox/Processed")] == ["<job-001@backup.example>"]
    assert fake.messages_in("inbox") == []
    assert client.get_mime(new_id) == delivered.mime
    with pytest.raises(GraphError) as caught:
        client.get_mime(old_regular_id)
    assert (caught.value.status, caught.value.code) == (404, "ErrorItemNotFound")


def test_fake_move_without_immutable_ids_gives_a_new_id(fake: GraphFake, client: GraphClient) -> None:
    fake.add_message(_mail(2).as_bytes())
    session = fake.session()
    headers = {"Authorization": f"Bearer {client.acquire_token()}"}
    base = f"{fake.graph_base_url}/v1.0/users/{fake.mailbox}"

    listed = session.get(f"{base}/mailFolders/inbox/messages", headers=headers, timeout=5).json()["value"][0]
    encoded = requests.utils.quote(listed["id"], safe="")
    moved = session.post(
        f"{base}/messages/{encoded}/move", json={"destinationId": "archive"}, headers=headers, timeout=5
    )
    stale = session.get(f"{base}/messages/{encoded}", headers=headers, timeout=5)

    assert moved.status_code == 201
    assert moved.json()["id"] != listed["id"]
    assert moved.json()["internetMessageId"] == listed["internetMessageId"] == "<job-002@backup.example>"
    assert moved.json()["parentFolderId"] == fake.folder("archive").id
    assert stale.status_code == 404
    assert stale.json()["error"]["code"] == "ErrorItemNotFound"


def test_failed_move_leaves_the_message_and_lost_answer_moves_it(fake: GraphFake, client: GraphClient) -> None:
    first = fake.add_message(_mail(1).as_bytes())
    second = fake.add_message(_mail(2).as_bytes())
    processed = client.ensure_folder("Processed")
    fake.fail_move(first.internet_message_id)
    fake.fail_move(second.internet_message_id, after_move=True)

    for delivered in (first, second):
        with pytest.raises(GraphError) as caught:
            client.move_message(delivered.immutable_id, processed.id)
        assert (caught.value.status, caught.value.code) == (500, "ErrorInternalServerError")

    assert [m.key for m in fake.messages_in("inbox")] == [first.key]
    assert [m.key for m in fake.messages_in("Processed")] == [second.key]
    # The fault was for one attempt only: the next pass moves it.
    assert client.move_message(first.immutable_id, processed.id) == first.immutable_id


# ---- resilience -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "expected_sleeps"),
    [("2", [2.0, 2.0]), ("0.05", [0.05, 0.05]), ("3600", [60.0, 60.0])],
)
def test_throttling_waits_for_retry_after(
    fake: GraphFake, client: GraphClient, sleeps: list[float], retry_after: str, expected_sleeps: list[float]
) -> None:
    fake.add_message(_mail(1).as_bytes())
    fake.throttle_next(2, retry_after=retry_after)

    messages = list(client.list_messages("inbox"))

    assert [m.subject for m in messages] == ["[Success] Backup job 001"]
    assert sleeps == expected_sleeps
    assert [r.status for r in fake.graph_requests()] == [429, 429, 200]
    assert fake.graph_requests()[0].response_json["error"]["code"] == "TooManyRequests"


def test_unavailable_then_success_backs_off_exponentially(
    fake: GraphFake, client: GraphClient, sleeps: list[float]
) -> None:
    fake.unavailable_next(2)
    fake.unavailable_next(1, status=504, retry_after="0.5")

    assert client.get_folder("inbox").display_name == "Inbox"
    assert sleeps == [1.0, 2.0, 0.5]
    assert [r.status for r in fake.graph_requests()] == [503, 503, 504, 200]


def test_unavailable_forever_gives_up_after_bounded_attempts(
    fake: GraphFake, client: GraphClient, sleeps: list[float]
) -> None:
    fake.unavailable_next(1000)

    with pytest.raises(GraphError) as caught:
        client.get_folder("inbox")

    assert (caught.value.status, caught.value.code) == (503, "serviceNotAvailable")
    assert str(caught.value) == "Graph 503 serviceNotAvailable: The service is temporarily unavailable. Retry later."
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert len(fake.graph_requests()) == 5


def test_expired_token_mid_listing_is_renewed_once(fake: GraphFake, client: GraphClient) -> None:
    for n in range(30):
        fake.add_message(_raw_mail(n), received_at=BASE_TIME + timedelta(minutes=n))

    listing = client.list_messages("inbox", page_size=10)
    first_page = [next(listing) for _ in range(10)]
    fake.expire_tokens()
    rest = list(listing)

    assert [m.subject for m in first_page + rest] == [f"[Success] Backup job {n:03d}" for n in range(30)]
    assert len(fake.token_requests()) == 2
    statuses = [r.status for r in _listing_requests(fake)]
    assert statuses == [200, 401, 200, 200]
    assert _listing_requests(fake)[1].response_json["error"]["message"] == (
        "Lifetime validation failed, the token is expired."
    )
    # The retried page is the same nextLink, not a rebuilt URL.
    assert _listing_requests(fake)[1].url == _listing_requests(fake)[2].url == fake.next_links[0]


def test_error_envelope_becomes_a_readable_graph_error(fake: GraphFake, client: GraphClient) -> None:
    fake.deny_access = True

    with pytest.raises(GraphError) as caught:
        client.get_folder("inbox")

    [request] = fake.graph_requests()
    assert str(caught.value) == "Graph 403 ErrorAccessDenied: Access is denied. Check credentials and try again."
    assert caught.value.request_id == request.response_json["error"]["innerError"]["request-id"]
    assert caught.value.request_id


def test_unknown_mailbox_is_a_404_graph_error(fake: GraphFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, mailbox="nobody@example.com")

    with pytest.raises(GraphError) as caught:
        list(client.list_messages("inbox"))

    assert str(caught.value) == "Graph 404 ErrorInvalidUser: The requested user 'nobody@example.com' is invalid."
    assert sleeps == []


def test_error_parsing_accepts_innererror_spelling_and_non_graph_bodies() -> None:
    documented = requests.Response()
    documented.status_code = 400
    documented._content = (
        b'{"error":{"code":"InefficientFilter","message":"The restriction or sort order is too complex for this '
        b'operation.","innererror":{"request-id":"11111111-2222-3333-4444-555555555555"}}}'
    )
    proxy = requests.Response()
    proxy.status_code = 502
    proxy.reason = "Bad Gateway"
    proxy._content = b"<html><body>\n  upstream   connect error\n</body></html>"

    graph_error = _error_from_response(documented)
    proxy_error = _error_from_response(proxy)

    assert graph_error.request_id == "11111111-2222-3333-4444-555555555555"
    assert str(graph_error) == (
        "Graph 400 InefficientFilter: The restriction or sort order is too complex for this operation."
    )
    assert str(proxy_error) == "Graph 502: <html><body> upstream connect error </body></html>"


def test_slow_answer_beyond_the_timeout_becomes_a_graph_error(fake: GraphFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, timeout=0.2, max_attempts=2)
    client.acquire_token()  # the token endpoint is not slowed down; keep its time out of the measurement
    fake.slow_next(3.0)

    started = time.monotonic()
    with pytest.raises(GraphError) as caught:
        client.get_folder("inbox")
    elapsed = time.monotonic() - started

    assert caught.value.code == "Timeout"
    assert caught.value.status is None
    assert str(caught.value).startswith("Graph Timeout: GET /v1.0/users/backups@example.com/mailFolders/inbox:")
    assert "no answer within 0.2 s (gave up after 2 attempts)" in str(caught.value)
    assert sleeps == [1.0]
    assert elapsed < 1.5


def test_connection_refused_is_retried_then_raised(fake: GraphFake, sleeps: list[float]) -> None:
    with _refused_port() as port:
        client = _client(fake, sleeps, graph_base_url=f"https://127.0.0.1:{port}", max_attempts=3)
        client.acquire_token()  # the token comes from the fake; Graph itself is unreachable
        with pytest.raises(GraphError) as caught:
            client.get_folder("inbox")

    assert caught.value.code == "ConnectionError"
    assert "gave up after 3 attempts" in str(caught.value)
    assert sleeps == [1.0, 2.0]


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2.128") == pytest.approx(2.128)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    in_ten = (datetime.now(UTC) + timedelta(seconds=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 8.0 <= (parse_retry_after(in_ten) or 0.0) <= 10.0


# ---- test_connection ------------------------------------------------------------------------


def _steps(report: Any) -> list[tuple[str, bool]]:
    return [(step.name, step.ok) for step in report.steps]


def test_connection_report_for_a_good_setup(fake: GraphFake, client: GraphClient) -> None:
    fake.add_message(_mail(1).as_bytes())
    fake.add_message(_mail(2).as_bytes())

    report = client.test_connection("Inbox", "Inbox/Processed")

    assert report.ok is True
    assert _steps(report) == [("token", True), ("mailbox", True), ("source_folder", True), ("processed_folder", True)]
    messages = [step.message for step in report.steps]
    assert messages[2] == "Found 'Inbox' with 2 messages."
    assert messages[3] == "Folder 'Inbox/Processed' not found; the first import creates it."
    # Nothing was created by the check.
    assert [r for r in fake.graph_requests() if r.method != "GET"] == []


def test_connection_report_with_wrong_credentials(fake: GraphFake, sleeps: list[float]) -> None:
    client = _client(fake, sleeps, client_secret="wrong")

    report = client.test_connection("Inbox", "Processed")

    assert report.ok is False
    assert _steps(report) == [
        ("token", False),
        ("mailbox", False),
        ("source_folder", False),
        ("processed_folder", False),
    ]
    assert "AADSTS7000215" in report.steps[0].message
    assert report.steps[1].message == "Skipped: no access token"


def test_connection_report_with_access_denied_and_missing_folder(fake: GraphFake, client: GraphClient) -> None:
    fake.deny_access = True
    denied = client.test_connection("Inbox", "Processed")
    fake.deny_access = False
    missing = client.test_connection("Backups", "Backups")
    same = client.test_connection("Inbox", "inbox")

    assert _steps(denied)[:2] == [("token", True), ("mailbox", False)]
    assert denied.steps[1].message == "Graph 403 ErrorAccessDenied: Access is denied. Check credentials and try again."
    assert _steps(missing)[2:] == [("source_folder", False), ("processed_folder", True)]
    assert missing.steps[2].message == "Folder 'Backups' not found."
    assert _steps(same)[3] == ("processed_folder", False)


def test_connection_report_never_raises_when_nothing_is_reachable(fake: GraphFake, sleeps: list[float]) -> None:
    with _refused_port() as port:
        client = _client(fake, sleeps, authority_base_url=f"https://127.0.0.1:{port}", mailbox="")
        report = client.test_connection("", "")

    assert report.ok is False
    assert report.steps[0].name == "token"
    assert "Cannot reach" in report.steps[0].message


# ---- the fake itself ------------------------------------------------------------------------


def test_fake_enforces_graph_rules_the_client_relies_on(fake: GraphFake, client: GraphClient) -> None:
    for n in range(12):
        fake.add_folder(f"Customer {n:02d}")
    session = fake.session()
    headers = {"Authorization": f"Bearer {client.acquire_token()}"}
    base = f"{fake.graph_base_url}/v1.0"

    inefficient = session.get(
        f"{base}/users/{fake.mailbox}/mailFolders/inbox/messages",
        params={"$filter": "hasAttachments eq true and receivedDateTime ge 2025-01-01", "$orderby": "receivedDateTime"},
        headers=headers,
        timeout=5,
    )
    folders = session.get(f"{base}/users/{fake.mailbox}/mailFolders", headers=headers, timeout=5).json()
    me = session.get(f"{base}/me/messages", headers=headers, timeout=5)
    anonymous = session.get(f"{base}/users/{fake.mailbox}/mailFolders", timeout=5)

    assert inefficient.status_code == 400
    assert inefficient.json()["error"]["code"] == "InefficientFilter"
    assert len(folders["value"]) == 10  # Graph's default page size
    assert folders["@odata.nextLink"].startswith(f"{base}/users/{fake.mailbox}/mailFolders?")
    assert me.status_code == 400
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_fake_session_ignores_ca_bundle_from_the_environment(
    fake: GraphFake, client: GraphClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This bundle does not contain the fake's CA; with trust_env on, it would override verify.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", requests.certs.where())

    assert client.get_folder("inbox").display_name == "Inbox"


def test_fake_stops_every_thread_even_with_a_request_in_flight(tmp_path: Path, sleeps: list[float]) -> None:
    before = set(threading.enumerate())
    started = time.monotonic()
    with running_graph_fake(tmp_path) as fake:
        client = _client(fake, sleeps, timeout=0.2, max_attempts=1)
        client.acquire_token()
        fake.slow_next(30.0)
        with pytest.raises(GraphError):
            client.get_folder("inbox")

    assert set(threading.enumerate()) - before == set()
    assert time.monotonic() - started < 5.0
