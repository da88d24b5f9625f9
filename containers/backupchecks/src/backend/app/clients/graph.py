"""Thin Microsoft Graph mail client for one shared mailbox, with an app-only (client credentials) token.

The wire formats and msal's behaviour this relies on are described in
shared/protocols/graph-mail.md. In short:

- msal gets the token; its constructor does network I/O (tenant discovery), so the msal app is
  built on first use, not when this client is created.
- Every Graph call goes through one retry loop that honours ``Retry-After`` on 429/503/504
  (fractional values included), backs off exponentially when the header is absent, re-acquires
  the token once on an expired-token 401, and turns Graph's error envelope into a
  :class:`GraphError` whose ``str()`` is fit for the UI and the audit log.
- ``Prefer: IdType="ImmutableId"`` is sent on every request so message ids survive moves.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS
from msal.exceptions import MsalError

from .http import ConnectionReport, ConnectionStep, connection_reason, parse_retry_after

log = logging.getLogger(__name__)

DEFAULT_AUTHORITY_BASE_URL = "https://login.microsoftonline.com"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com"
GRAPH_API_VERSION = "v1.0"

# Names Graph accepts in place of a folder id (case-insensitive). Not exhaustive: these are the ones
# a mail-import setting can sensibly point at.
WELL_KNOWN_FOLDER_NAMES = frozenset(
    {
        "msgfolderroot",
        "inbox",
        "archive",
        "deleteditems",
        "drafts",
        "junkemail",
        "outbox",
        "sentitems",
        "clutter",
        "conversationhistory",
    }
)
ROOT_FOLDER = "msgfolderroot"

MESSAGE_FIELDS = ("id", "subject", "from", "receivedDateTime", "body", "hasAttachments", "internetMessageId")
MAX_PAGE_SIZE = 1000

_IMMUTABLE_IDS = 'IdType="ImmutableId"'
# msal itself renews a cached token that has less than this left; ours is given back to msal then.
_TOKEN_RENEW_MARGIN = 300.0
_RETRYABLE_STATUSES = frozenset({429, 503, 504})
_FOLDER_PAGE_SIZE = 100


class GraphError(Exception):
    """A Graph call failed. ``str()`` reads like "Graph 403 ErrorAccessDenied: Access is denied. ..."."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        label = " ".join(str(part) for part in (self.status, self.code) if part)
        return f"Graph {label}: {self.message}" if label else f"Graph: {self.message}"


class GraphAuthError(GraphError):
    """The token could not be obtained (wrong secret, unknown tenant, authority unreachable, ...)."""

    def __init__(self, error: str, error_description: str, *, status: int | None = None) -> None:
        super().__init__(error_description, status=status, code=error)
        self.error = error
        self.error_description = error_description

    def __str__(self) -> str:
        # Entra appends "Trace ID / Correlation ID / Timestamp" lines; the first line is the useful one
        # for a person, the full text stays in error_description for the audit log.
        first_line = self.error_description.strip().splitlines()[0] if self.error_description.strip() else ""
        return f"Token request failed ({self.error}): {first_line}"


@dataclass(frozen=True)
class GraphMessage:
    id: str
    internet_message_id: str | None
    subject: str
    from_address: str | None
    from_name: str | None
    received_at: datetime
    body_content_type: str
    body: str
    has_attachments: bool


@dataclass(frozen=True)
class GraphAttachment:
    id: str
    kind: str  # "file", "item" (an attached e-mail/event) or "reference" (a cloud link)
    name: str
    content_type: str | None
    size: int
    is_inline: bool
    content_id: str | None
    content: bytes | None  # decoded bytes for file attachments; Graph sends none for the other kinds


@dataclass(frozen=True)
class GraphFolder:
    id: str
    display_name: str
    parent_folder_id: str | None
    child_folder_count: int
    total_item_count: int


class _MsalHttpClient:
    """Hands msal the caller's session with our timeout added.

    msal applies no timeout to a caller-supplied http_client, and a token endpoint that hangs must
    not hang the importer. Delegating keeps the caller's TLS settings (``verify``, ``trust_env``).
    """

    def __init__(self, session: requests.Session, timeout: float) -> None:
        self._session = session
        self._timeout = timeout

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.post(url, **kwargs)

    def close(self) -> None:
        # The session belongs to the caller.
        return


def _segment(value: str) -> str:
    """A path segment: Graph ids contain '=', '/' and '+', which must not be read as path syntax."""
    return quote(value, safe="")


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"






def _parse_graph_datetime(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _split_path(path: str) -> list[str]:
    return [segment.strip() for segment in path.split("/") if segment.strip()]


def _error_from_response(response: requests.Response) -> GraphError:
    code: str | None = None
    message = ""
    request_id = response.headers.get("request-id")
    try:
        payload = response.json()
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        code = error.get("code") or None
        message = str(error.get("message") or "")
        inner = error.get("innerError") or error.get("innererror")
        if isinstance(inner, dict) and inner.get("request-id"):
            request_id = str(inner["request-id"])
    if not message:
        # Not a Graph envelope (a proxy or load balancer answered): keep a short, readable excerpt.
        text = " ".join(response.text.split())[:200]
        message = text or response.reason or "no details given"
    return GraphError(message, status=response.status_code, code=code, request_id=request_id)


def _folder_from_json(item: Mapping[str, Any]) -> GraphFolder:
    if not item.get("id"):
        raise GraphError("Graph returned a mail folder without an id")
    return GraphFolder(
        id=str(item["id"]),
        display_name=str(item.get("displayName") or ""),
        parent_folder_id=item.get("parentFolderId"),
        child_folder_count=int(item.get("childFolderCount") or 0),
        total_item_count=int(item.get("totalItemCount") or 0),
    )


def _message_from_json(item: Mapping[str, Any]) -> GraphMessage:
    sender = (item.get("from") or {}).get("emailAddress") or {}
    body = item.get("body") or {}
    return GraphMessage(
        id=str(item["id"]),
        internet_message_id=item.get("internetMessageId") or None,
        subject=str(item.get("subject") or ""),
        from_address=(sender.get("address") or "").strip() or None,
        from_name=(sender.get("name") or "").strip() or None,
        received_at=_parse_graph_datetime(str(item["receivedDateTime"])),
        body_content_type=str(body.get("contentType") or "html").lower(),
        body=str(body.get("content") or ""),
        has_attachments=bool(item.get("hasAttachments")),
    )


def _attachment_from_json(item: Mapping[str, Any]) -> GraphAttachment:
    odata_type = str(item.get("@odata.type") or "").lstrip("#").lower()
    kind = {
        "microsoft.graph.fileattachment": "file",
        "microsoft.graph.itemattachment": "item",
        "microsoft.graph.referenceattachment": "reference",
    }.get(odata_type, "file" if "contentBytes" in item else "item")
    content: bytes | None = None
    if kind == "file":
        try:
            content = base64.b64decode(item.get("contentBytes") or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise GraphError(f"attachment {item.get('name')!r} has invalid contentBytes: {exc}") from exc
    return GraphAttachment(
        id=str(item["id"]),
        kind=kind,
        name=str(item.get("name") or ""),
        content_type=item.get("contentType"),
        size=int(item.get("size") or 0),
        is_inline=bool(item.get("isInline")),
        content_id=item.get("contentId"),
        content=content,
    )


class GraphClient:
    """Reads, and moves, the mail of one mailbox through Graph v1.0 with an application token."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        mailbox: str,
        session: requests.Session,
        authority_base_url: str = DEFAULT_AUTHORITY_BASE_URL,
        graph_base_url: str = DEFAULT_GRAPH_BASE_URL,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        max_retry_wait: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.tenant_id = tenant_id.strip()
        self.client_id = client_id.strip()
        self.mailbox = mailbox.strip()
        self._client_secret = client_secret
        self._session = session
        self.authority_base_url = authority_base_url.strip().rstrip("/")
        self.graph_base_url = graph_base_url.strip().rstrip("/")
        self._timeout = timeout
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._max_retry_wait = max_retry_wait
        self._clock = clock
        self._msal_app: msal.ConfidentialClientApplication | None = None
        self._msal_lock = threading.Lock()
        # The last token msal gave, and the clock reading until which it is used without asking
        # msal again (asking costs more CPU than some Graph calls).
        self._token: tuple[str, float] | None = None

    def __repr__(self) -> str:
        # Deliberately without the secret, so a logged client leaks nothing.
        return f"GraphClient(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, mailbox={self.mailbox!r})"

    # ---- token ------------------------------------------------------------------------------

    @property
    def scope(self) -> str:
        return f"{self.graph_base_url}/.default"

    def _app(self) -> msal.ConfidentialClientApplication:
        with self._msal_lock:
            if self._msal_app is None:
                host = (urlsplit(self.authority_base_url).hostname or "").lower()
                self._msal_app = msal.ConfidentialClientApplication(
                    self.client_id,
                    client_credential=self._client_secret,
                    authority=f"{self.authority_base_url}/{_segment(self.tenant_id)}",
                    http_client=_MsalHttpClient(self._session, self._timeout),
                    # Any host msal does not know would send it to login.microsoftonline.com for
                    # instance discovery, which a national cloud proxy or a test fake cannot answer.
                    instance_discovery=None if host in WELL_KNOWN_AUTHORITY_HOSTS else False,
                    # Regional token endpoints only serve workloads running inside Azure; an ambient
                    # MSAL_FORCE_REGION must not silently redirect where this app gets tokens.
                    azure_region=False,
                )
            return self._msal_app

    def acquire_token(self) -> str:
        """An access token for Graph, from msal's cache while it is valid (5 minutes of margin).

        The token is kept here as well until msal would renew it, so most calls skip msal.
        """
        kept = self._token
        if kept is not None and self._clock() < kept[1]:
            return kept[0]
        missing = [
            name
            for name, value in (
                ("tenant id", self.tenant_id),
                ("client id", self.client_id),
                ("client secret", self._client_secret),
            )
            if not value
        ]
        if missing:
            raise GraphAuthError("not_configured", "Missing " + ", ".join(missing) + ".")
        try:
            result = self._app().acquire_token_for_client(scopes=[self.scope])
        except requests.Timeout as exc:
            raise GraphAuthError(
                "authority_unreachable", f"No answer from {self.authority_base_url} within {self._timeout:g} s."
            ) from exc
        except requests.RequestException as exc:
            raise GraphAuthError(
                "authority_unreachable", f"Cannot reach {self.authority_base_url}: {connection_reason(exc)}"
            ) from exc
        except (MsalError, ValueError, OSError) as exc:
            # msal raises ValueError when tenant discovery fails (unknown tenant, not https, ...)
            # and MsalServiceError for 5xx answers of the token endpoint.
            raise GraphAuthError("token_request_failed", str(exc)) from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if token:
            self._keep_token(str(token), result)
            return str(token)
        error = str(result.get("error") or "unknown_error") if isinstance(result, dict) else "unknown_error"
        description = str(result.get("error_description") or "") if isinstance(result, dict) else ""
        raise GraphAuthError(error, description or "The token endpoint returned no access token.")

    def _keep_token(self, token: str, result: Mapping[str, Any]) -> None:
        try:
            # expires_in: seconds left (msal also gives it for a cached token); refresh_in: when
            # msal would renew it early, if it would.
            usable = float(result.get("expires_in") or 0) - _TOKEN_RENEW_MARGIN
            if result.get("refresh_in"):
                usable = min(usable, float(result["refresh_in"]))
        except (TypeError, ValueError):
            usable = 0.0
        self._token = (token, self._clock() + usable) if usable > 0 else None

    def _forget_token(self) -> None:
        self._token = None
        with self._msal_lock:
            app = self._msal_app
        if app is None:
            return
        try:
            app.remove_tokens_for_client()
        except (requests.RequestException, MsalError, ValueError) as exc:
            # Only reachable with instance discovery on (Microsoft hosts); the retry that follows
            # will surface a lasting problem as an error of its own.
            log.warning("Could not drop the cached Graph token: %s", exc)

    # ---- transport --------------------------------------------------------------------------

    @property
    def _mailbox_url(self) -> str:
        if not self.mailbox:
            raise GraphError("No mailbox configured.", code="not_configured")
        return f"{self.graph_base_url}/{GRAPH_API_VERSION}/users/{quote(self.mailbox, safe='@')}"

    def _backoff(self, attempt: int) -> float:
        return min(self._max_retry_wait, self._backoff_base * 2 ** (attempt - 1))

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        prefer: tuple[str, ...] = (),
    ) -> requests.Response:
        """Send one Graph request with retries; return a 2xx response or raise GraphError."""
        attempt = 0
        token_renewed = False
        where = urlsplit(url).path
        while True:
            attempt += 1
            headers = {
                "Authorization": f"Bearer {self.acquire_token()}",
                # Preferences are request headers, not part of nextLink URLs, so they are resent here
                # on every request (every page included).
                "Prefer": ", ".join((_IMMUTABLE_IDS, *prefer)),
                "client-request-id": str(uuid.uuid4()),
            }
            try:
                response = self._session.request(
                    method, url, params=params, json=json, headers=headers, timeout=self._timeout
                )
            except requests.exceptions.SSLError as exc:
                # A certificate problem does not go away by retrying.
                raise GraphError(f"{method} {where}: TLS verification failed: {exc}", code="SSLError") from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self._max_attempts:
                    kind = "Timeout" if isinstance(exc, requests.Timeout) else "ConnectionError"
                    detail = (
                        f"no answer within {self._timeout:g} s"
                        if isinstance(exc, requests.Timeout)
                        else f"cannot connect: {connection_reason(exc)}"
                    )
                    raise GraphError(
                        f"{method} {where}: {detail} (gave up after {attempt} attempts)", code=kind
                    ) from exc
                wait = self._backoff(attempt)
                log.warning("Graph %s %s failed (%s); retrying in %.2f s", method, where, exc, wait)
                self._sleep(wait)
                continue
            except requests.RequestException as exc:
                raise GraphError(f"{method} {where}: {exc}", code=type(exc).__name__) from exc

            if response.status_code < 400:
                return response
            error = _error_from_response(response)
            if response.status_code == 401 and error.code == "InvalidAuthenticationToken" and not token_renewed:
                # The cached token expired or was revoked early: fetch a new one, once, without
                # counting it as a failed attempt.
                token_renewed = True
                attempt -= 1
                self._forget_token()
                continue
            if response.status_code in _RETRYABLE_STATUSES and attempt < self._max_attempts:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                wait = self._backoff(attempt) if retry_after is None else min(retry_after, self._max_retry_wait)
                log.info("Graph %s %s answered %s; retrying in %.2f s", method, where, response.status_code, wait)
                self._sleep(wait)
                continue
            raise error

    def _get_json(
        self, url: str, *, params: Mapping[str, str | int] | None = None, prefer: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        return self._parse_json(self._request("GET", url, params=params, prefer=prefer))

    @staticmethod
    def _parse_json(response: requests.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError as exc:
            raise GraphError(
                f"{urlsplit(response.url).path}: expected JSON, got {response.headers.get('Content-Type')!r}",
                status=response.status_code,
            ) from exc
        if not isinstance(payload, dict):
            raise GraphError(f"{urlsplit(response.url).path}: expected a JSON object", status=response.status_code)
        return payload

    def _pages(
        self, url: str, params: Mapping[str, str | int], prefer: tuple[str, ...] = ()
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's items, following @odata.nextLink verbatim until it is absent."""
        next_url: str | None = url
        next_params: Mapping[str, str | int] | None = params
        while next_url:
            page = self._get_json(next_url, params=next_params, prefer=prefer)
            value = page.get("value")
            # An empty page is legal mid-listing; only a missing nextLink ends the listing.
            yield [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
            link = page.get("@odata.nextLink")
            next_url = str(link) if link else None
            next_params = None  # the link already carries every query option

    # ---- messages ---------------------------------------------------------------------------

    def list_messages(
        self,
        folder: str,
        page_size: int = 50,
        *,
        received_after: datetime | None = None,
        body_content_type: str | None = None,
        fields: Sequence[str] = MESSAGE_FIELDS,
    ) -> Iterator[GraphMessage]:
        """Messages of a folder (id or well-known name), oldest first, fetched one page at a time.

        Graph pages with ``$skip``: moving messages out of the folder while iterating shifts the
        pages under the iterator and skips messages. Take a batch, move it, and list again.
        ``body_content_type`` "text" or "html" asks Graph to convert bodies; by default they
        arrive as stored (HTML for most notification mails). ``fields`` ($select) narrows what
        Graph sends; the ones not asked for stay empty in the result ("id" and "receivedDateTime"
        are always needed).
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        unknown = set(fields) - set(MESSAGE_FIELDS)
        if unknown or not {"id", "receivedDateTime"} <= set(fields):
            raise ValueError(f"fields must include id and receivedDateTime, from {MESSAGE_FIELDS}; got {fields}")
        params: dict[str, str | int] = {
            "$top": page_size,
            "$select": ",".join(fields),
            "$orderby": "receivedDateTime asc",
        }
        if received_after is not None:
            # Exchange requires the ordered property to lead the filter (InefficientFilter otherwise).
            params["$filter"] = f"receivedDateTime ge {received_after.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
        prefer: tuple[str, ...] = ()
        if body_content_type is not None:
            if body_content_type not in ("text", "html"):
                raise ValueError(f"body_content_type must be 'text' or 'html', got {body_content_type!r}")
            prefer = (f'outlook.body-content-type="{body_content_type}"',)
        url = f"{self._mailbox_url}/mailFolders/{_segment(folder)}/messages"
        # Arguments are checked above, when the call is made; the requests start on first next().
        return self._iter_messages(url, params, prefer, folder)

    def _iter_messages(
        self, url: str, params: Mapping[str, str | int], prefer: tuple[str, ...], folder: str
    ) -> Iterator[GraphMessage]:
        for items in self._pages(url, params, prefer):
            for item in items:
                if not item.get("id") or not item.get("receivedDateTime"):
                    # Teams chat items and similar oddities: nothing we could import or move.
                    log.warning("Skipping Graph item without id or receivedDateTime in folder %s", folder)
                    continue
                yield _message_from_json(item)

    def get_mime(self, message_id: str) -> bytes:
        """The message as raw RFC 822 MIME, exactly as Exchange stores it."""
        url = f"{self._mailbox_url}/messages/{_segment(message_id)}/$value"
        return self._request("GET", url).content

    def list_attachments(self, message_id: str) -> list[GraphAttachment]:
        url = f"{self._mailbox_url}/messages/{_segment(message_id)}/attachments"
        attachments: list[GraphAttachment] = []
        for items in self._pages(url, {}):
            attachments.extend(_attachment_from_json(item) for item in items if item.get("id"))
        return attachments

    def move_message(self, message_id: str, destination_folder_id: str) -> str:
        """Move a message and return its id in the destination.

        With immutable ids the id normally stays the same; without, Exchange gives the moved copy a
        new id and the old one answers 404. A 404 ErrorItemNotFound here can also mean an earlier
        attempt did move it and only the answer was lost.
        """
        url = f"{self._mailbox_url}/messages/{_segment(message_id)}/move"
        response = self._request("POST", url, json={"destinationId": destination_folder_id})
        payload = self._parse_json(response)
        new_id = payload.get("id")
        if not new_id:
            # Graph answers 201 with the moved message; without its id we cannot track the message.
            raise GraphError(
                f"move answered {response.status_code} without the moved message", status=response.status_code
            )
        return str(new_id)

    # ---- folders ----------------------------------------------------------------------------

    def get_folder(self, folder: str) -> GraphFolder:
        """A folder by id or well-known name."""
        return _folder_from_json(self._get_json(f"{self._mailbox_url}/mailFolders/{_segment(folder)}"))

    def _find_child(self, parent: str, display_name: str) -> GraphFolder | None:
        if parent.lower() == ROOT_FOLDER:
            url = f"{self._mailbox_url}/mailFolders"
        else:
            url = f"{self._mailbox_url}/mailFolders/{_segment(parent)}/childFolders"
        params: dict[str, str | int] = {
            "$filter": f"displayName eq {_odata_string(display_name)}",
            "$top": _FOLDER_PAGE_SIZE,
        }
        wanted = display_name.casefold()
        for items in self._pages(url, params):
            for item in items:
                if str(item.get("displayName") or "").casefold() == wanted and item.get("id"):
                    return _folder_from_json(item)
        return None

    def _find_top_level(self, name: str) -> GraphFolder | None:
        found = self._find_child(ROOT_FOLDER, name)
        if found is None and name.lower() in WELL_KNOWN_FOLDER_NAMES:
            # Display names are localised ("Postvak IN" for the inbox in Dutch); well-known names are not.
            try:
                found = self.get_folder(name.lower())
            except GraphError as exc:
                if exc.status != 404:
                    raise
        return found

    def find_folder(self, display_name_or_path: str) -> GraphFolder | None:
        """A folder by display name ("Processed"), path ("Inbox/Processed") or well-known name.

        The first segment is looked up among the top-level folders, the rest among each folder's
        children. Names compare case-insensitively, as in Outlook. ``None`` when any level is missing.
        """
        segments = _split_path(display_name_or_path)
        if not segments:
            raise ValueError("folder name is empty")
        current = self._find_top_level(segments[0])
        for segment in segments[1:]:
            if current is None:
                return None
            current = self._find_child(current.id, segment)
        return current

    def _create_folder(self, parent: str, display_name: str) -> GraphFolder:
        if parent.lower() == ROOT_FOLDER:
            url = f"{self._mailbox_url}/mailFolders"
        else:
            url = f"{self._mailbox_url}/mailFolders/{_segment(parent)}/childFolders"
        try:
            return _folder_from_json(self._parse_json(self._request("POST", url, json={"displayName": display_name})))
        except GraphError as exc:
            # Another worker (or a retried request whose answer was lost) created it first.
            if exc.code != "ErrorFolderExists":
                raise
        found = self._find_child(parent, display_name)
        if found is None:
            raise GraphError(f"folder {display_name!r} exists but cannot be found", code="ErrorFolderExists")
        return found

    def ensure_folder(self, name: str, parent: str = ROOT_FOLDER) -> GraphFolder:
        """Find or create a folder under ``parent`` (id or well-known name); ``name`` may be a path."""
        segments = _split_path(name)
        if not segments:
            raise ValueError("folder name is empty")
        current_id = parent
        folder: GraphFolder | None = None
        for position, segment in enumerate(segments):
            if position == 0 and parent.lower() == ROOT_FOLDER:
                folder = self._find_top_level(segment)
            else:
                folder = self._find_child(current_id, segment)
            if folder is None:
                folder = self._create_folder(current_id, segment)
                log.info("Created mail folder %r in %s", segment, self.mailbox)
            current_id = folder.id
        assert folder is not None  # segments is not empty
        return folder

    # ---- diagnostics ------------------------------------------------------------------------

    def test_connection(self, source_folder: str, processed_folder: str) -> ConnectionReport:
        """Check token, mailbox and both folders without changing anything; never raises."""
        steps: list[ConnectionStep] = []
        names = ("token", "mailbox", "source_folder", "processed_folder")

        def finish(reason: str = "an earlier step failed") -> ConnectionReport:
            done = {step.name for step in steps}
            skipped = [ConnectionStep(name, False, f"Skipped: {reason}") for name in names if name not in done]
            return ConnectionReport(tuple(steps + skipped))

        try:
            self.acquire_token()
        except GraphError as exc:
            steps.append(ConnectionStep("token", False, str(exc)))
            return finish("no access token")
        steps.append(ConnectionStep("token", True, f"Access token obtained for tenant {self.tenant_id}."))

        if not self.mailbox:
            steps.append(ConnectionStep("mailbox", False, "No mailbox configured."))
            return finish("no mailbox")
        try:
            # The inbox rather than /users/{id}: reading the user object needs User.Read.All,
            # which a mail importer has no business holding.
            self.get_folder("inbox")
        except GraphError as exc:
            steps.append(ConnectionStep("mailbox", False, str(exc)))
            return finish("mailbox not reachable")
        steps.append(ConnectionStep("mailbox", True, f"Mailbox {self.mailbox} is reachable."))

        source: GraphFolder | None = None
        if not _split_path(source_folder):
            steps.append(ConnectionStep("source_folder", False, "No source folder configured."))
        else:
            try:
                source = self.find_folder(source_folder)
            except GraphError as exc:
                steps.append(ConnectionStep("source_folder", False, str(exc)))
            else:
                if source is None:
                    steps.append(ConnectionStep("source_folder", False, f"Folder {source_folder!r} not found."))
                else:
                    steps.append(
                        ConnectionStep(
                            "source_folder",
                            True,
                            f"Found {source.display_name!r} with {source.total_item_count} messages.",
                        )
                    )

        if not _split_path(processed_folder):
            steps.append(ConnectionStep("processed_folder", False, "No processed folder configured."))
            return finish()
        try:
            processed = self.find_folder(processed_folder)
        except GraphError as exc:
            steps.append(ConnectionStep("processed_folder", False, str(exc)))
            return finish()
        if processed is None:
            steps.append(
                ConnectionStep(
                    "processed_folder", True, f"Folder {processed_folder!r} not found; the first import creates it."
                )
            )
        elif source is not None and processed.id == source.id:
            steps.append(
                ConnectionStep(
                    "processed_folder",
                    False,
                    "The processed folder is the source folder; imported mails would never leave it.",
                )
            )
        else:
            steps.append(ConnectionStep("processed_folder", True, f"Found {processed.display_name!r}."))
        return finish()
