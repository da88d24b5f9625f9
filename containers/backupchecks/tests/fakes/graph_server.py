"""A loopback HTTPS fake of Microsoft Graph mail and the Entra token endpoint.

It speaks the wire formats described in shared/protocols/graph-mail.md closely enough that the
production client (msal + requests) talks to it unchanged: tenant discovery, the client-credentials
token POST, mailbox folders, message listing with $top/$select/$filter/$orderby/$skip paging,
MIME download, attachments and moves, with Graph's error envelope.

Tests drive it through :func:`running_graph_fake` and the switches on :class:`GraphFake`
(throttling, outages, slow answers, token expiry, wrong credentials, failing moves). Everything it
answered is kept in :attr:`GraphFake.requests` for assertions.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.header
import email.utils
import html
import json
import re
import secrets
import ssl
import threading
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import requests

from .loopback import LoopbackFake, LoopbackHandler, LoopbackHTTPServer, send_answer
from .tls import make_test_certificates

GRAPH_VERSION = "v1.0"
DEFAULT_TENANT_ID = "8f1c2a4e-0d7b-4c55-9a3e-5b6f7c8d9e01"
DEFAULT_CLIENT_ID = "3b9e5c1d-7a2f-4e8b-b6c4-0f1e2d3c4b5a"
DEFAULT_CLIENT_SECRET = "fake-secret~value.0123456789"
DEFAULT_MAILBOX = "backups@example.com"

# Children of msgfolderroot that every Exchange Online mailbox has, keyed by well-known name.
_WELL_KNOWN_FOLDERS = {
    "inbox": "Inbox",
    "drafts": "Drafts",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
    "archive": "Archive",
    "junkemail": "Junk Email",
    "outbox": "Outbox",
}
_ROOT = "msgfolderroot"

# Properties of microsoft.graph.message that $select may name (lower-case -> Graph spelling).
_MESSAGE_PROPERTIES = {
    name.lower(): name
    for name in (
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "categories",
        "receivedDateTime",
        "sentDateTime",
        "hasAttachments",
        "internetMessageId",
        "subject",
        "bodyPreview",
        "importance",
        "parentFolderId",
        "conversationId",
        "isRead",
        "isDraft",
        "webLink",
        "body",
        "sender",
        "from",
        "toRecipients",
        "ccRecipients",
        "flag",
    )
}
_DEFAULT_PAGE_SIZE = 10
_MAX_PAGE_SIZE = 1000

_FILTER_CLAUSE = re.compile(r"^\s*([A-Za-z]+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$", re.IGNORECASE)
_DISPLAY_NAME_FILTER = re.compile(r"^\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Mailbox state


@dataclass
class FakeFolder:
    id: str
    display_name: str
    parent_id: str | None
    well_known_name: str | None = None
    hidden: bool = False


@dataclass
class FakeAttachment:
    id: str
    kind: str  # "file" or "item"
    name: str
    content_type: str | None
    content: bytes  # file bytes, or the attached message's MIME for an item attachment
    is_inline: bool
    content_id: str | None


@dataclass
class FakeMessage:
    key: int  # internal, never changes
    id: str  # regular id: replaced on every move, like Exchange does
    immutable_id: str
    folder_id: str
    mime: bytes
    subject: str
    from_name: str | None
    from_address: str | None
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    received_at: datetime
    sent_at: datetime
    internet_message_id: str
    html_body: str | None
    text_body: str | None
    attachments: list[FakeAttachment]

    @property
    def has_attachments(self) -> bool:
        # Graph reports false when the only attachments are inline (cid:) images.
        return any(not attachment.is_inline for attachment in self.attachments)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake answered, as the client sent it and as the fake replied."""

    method: str
    url: str  # absolute URL exactly as requested (raw, still percent-encoded)
    path: str  # decoded path
    query: dict[str, str]  # decoded names and values ("%24top" arrives as "$top")
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    kind: str  # "token", "discovery" or "graph"
    status: int
    response_json: Any

    @property
    def prefer(self) -> str:
        return self.headers.get("prefer", "")


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: str | None
    code: str
    message: str


@dataclass
class _MoveFault:
    remaining: int | None  # None: every time
    status: int
    after_move: bool


@dataclass
class _Page:
    items: list[Any]
    envelope: dict[str, Any]


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None


class _GraphProblem(Exception):
    """Raised inside a route to answer with Graph's error envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_literal_datetime(literal: str) -> datetime:
    """An OData DateTimeOffset literal (unquoted ISO 8601; a bare date means midnight UTC)."""
    text = literal.strip()
    if text.startswith("'"):
        # Graph rejects quoted date literals; so does the fake, to catch that client mistake.
        raise ValueError(f"quoted date literal {literal}")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _split_prefer(values: list[str]) -> dict[str, str]:
    preferences: dict[str, str] = {}
    for value in values:
        for item in value.split(","):
            name, _, setting = item.strip().partition("=")
            if name:
                preferences[name.strip().lower()] = setting.strip().strip('"')
    return preferences


def _html_from_text(text: str) -> str:
    escaped = html.escape(text).replace("\r\n", "\n").replace("\n", "<br>\r\n")
    return (
        '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        f"\r\n</head>\r\n<body>\r\n<div>{escaped}</div>\r\n</body>\r\n</html>\r\n"
    )


def _text_from_html(markup: str) -> str:
    without_tags = re.sub(r"(?is)<(script|style)\b.*?</\1>|<[^>]+>", "", markup)
    return html.unescape(without_tags).strip()


def _decoded(value: Any) -> str:
    """A header value with RFC 2047 encoded words decoded."""
    if value is None:
        return ""
    return str(email.header.make_header(email.header.decode_header(str(value))))


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    return [
        (_decoded(display), address)
        for display, address in email.utils.getaddresses([str(v) for v in message.get_all(name, [])])
        if address
    ]


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    raw = payload if isinstance(payload, bytes) else b""
    try:
        return raw.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        return raw.decode("utf-8", errors="replace")


@dataclass
class _ParsedMime:
    subject: str
    senders: list[tuple[str, str]]
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    sent_at: datetime | None
    internet_message_id: str | None
    html_body: str | None
    text_body: str | None
    attachment_parts: list[Message]


def _leaves(part: Message) -> Iterator[Message]:
    # Attached e-mails (message/rfc822) are attachments as a whole, so we do not descend into them.
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        yield part
        return
    payload = part.get_payload()
    for sub in payload if isinstance(payload, list) else []:
        yield from _leaves(sub)


def _parse_mime(raw: bytes) -> _ParsedMime:
    """Graph's view of a MIME message: the first inline text/html and text/plain parts are the
    bodies, every other leaf is an attachment.

    The compat32 parser is used on purpose: the modern email policy re-parses headers on every
    access and made adding a few hundred messages take seconds.
    """
    message = email.message_from_bytes(raw)
    html_body: str | None = None
    text_body: str | None = None
    attachment_parts: list[Message] = []
    for leaf in _leaves(message):
        content_type = leaf.get_content_type()
        is_attachment = leaf.get_content_disposition() == "attachment"
        if content_type == "text/html" and html_body is None and not is_attachment:
            html_body = _text_of(leaf)
        elif content_type == "text/plain" and text_body is None and not is_attachment:
            text_body = _text_of(leaf)
        elif leaf is not message:
            attachment_parts.append(leaf)
    sent_at: datetime | None = None
    if message["Date"]:
        try:
            sent_at = email.utils.parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            sent_at = None
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)
    message_id = str(message["Message-ID"]).strip() if message["Message-ID"] else None
    return _ParsedMime(
        subject=_decoded(message["Subject"]),
        senders=_addresses(message, "From"),
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        sent_at=sent_at,
        internet_message_id=message_id,
        html_body=html_body,
        text_body=text_body,
        attachment_parts=attachment_parts,
    )


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class _Handler(LoopbackHandler):
    def setup(self) -> None:
        # The handshake runs here, in the connection's own thread, so a client that connects and
        # stalls cannot block the accept loop.
        self.request.do_handshake()
        super().setup()


class _FakeHTTPServer(LoopbackHTTPServer):
    def __init__(self, fake: GraphFake, context: ssl.SSLContext) -> None:
        super().__init__(fake, _Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)


# --------------------------------------------------------------------------------------------
# The fake


class GraphFake(LoopbackFake):
    """In-memory mailbox behind a Graph + token endpoint, with switches for failure modes.

    Switches (all thread-safe, all affect only requests made after the call):

    - :meth:`throttle_next` / :meth:`unavailable_next`: the next N Graph requests answer 429 or
      503/504, with an optional ``Retry-After`` (integer or fractional, e.g. ``"0.05"``).
    - :meth:`slow_next`: the next N Graph requests (or all) wait before answering.
    - :meth:`expire_tokens`: every token issued so far is expired; Graph answers 401
      ``InvalidAuthenticationToken`` for them, new tokens work.
    - :attr:`reject_credentials`: the token endpoint answers 401 ``invalid_client`` (AADSTS7000215).
    - :attr:`deny_access`: every Graph request answers 403 ``ErrorAccessDenied``.
    - :attr:`read_only`: Graph POSTs (move, create folder) answer 403, like an app with Mail.Read only.
    - :meth:`fail_move`: the move of one message fails, before or after the move took effect.
    - :attr:`empty_first_page`: a listing's first page comes back empty with a nextLink.
    """

    def __init__(
        self,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        mailbox: str = DEFAULT_MAILBOX,
        token_lifetime: int = 3599,
        inbox_display_name: str = "Inbox",
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.mailbox = mailbox
        self.token_lifetime = token_lifetime

        self.reject_credentials = False
        self.deny_access = False
        self.read_only = False
        self.empty_first_page = False

        self.requests: list[RecordedRequest] = []
        self.next_links: list[str] = []
        self.server_errors: list[str] = []

        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._faults: list[_Fault] = []
        self._delay_seconds = 0.0
        self._delay_remaining: int | None = 0
        self._move_faults: dict[str, _MoveFault] = {}
        self._tokens: dict[str, int] = {}  # token -> generation it was issued in
        self._token_generation = 0
        self._sequence = 0
        self._folders: dict[str, FakeFolder] = {}
        self._well_known: dict[str, str] = {}
        self._messages: dict[int, FakeMessage] = {}
        self._message_index: dict[str, int] = {}  # regular and immutable ids -> key

        self._lifecycle_init()
        self.ca_path = Path()
        self.base_url = ""

        root = self._new_folder("Top of Information Store", None, well_known=_ROOT, hidden=True)
        for well_known, display_name in _WELL_KNOWN_FOLDERS.items():
            name = inbox_display_name if well_known == "inbox" else display_name
            self._new_folder(name, root.id, well_known=well_known)

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self, directory: Path) -> None:
        certificates = make_test_certificates(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificates.cert_path, certificates.key_path)
        self.ca_path = certificates.ca_path
        self.base_url = f"https://127.0.0.1:{self._serve(_FakeHTTPServer(self, context), 'graph-fake')}"

    @property
    def authority_base_url(self) -> str:
        return self.base_url

    @property
    def graph_base_url(self) -> str:
        return self.base_url

    def session(self) -> requests.Session:
        """A session that trusts the fake's CA.

        trust_env is off because REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment would
        otherwise override ``verify`` and the fake's certificate would be rejected.
        """
        session = super().session()
        session.verify = str(self.ca_path)
        return session

    def client_settings(self) -> dict[str, str]:
        """The plain values a Graph client needs to talk to this fake."""
        return {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "mailbox": self.mailbox,
            "authority_base_url": self.authority_base_url,
            "graph_base_url": self.graph_base_url,
        }

    # ---- switches ---------------------------------------------------------------------------

    def throttle_next(self, count: int, retry_after: str | None = "1") -> None:
        self._add_fault(429, count, retry_after, "TooManyRequests", "Please retry again later.")

    def unavailable_next(self, count: int, retry_after: str | None = None, status: int = 503) -> None:
        if status == 504:
            code, message = "UnknownError", "Gateway timeout."
        else:
            code, message = "serviceNotAvailable", "The service is temporarily unavailable. Retry later."
        self._add_fault(status, count, retry_after, code, message)

    def slow_next(self, seconds: float, count: int | None = None) -> None:
        """Delay the next ``count`` Graph answers (``None``: all of them) by ``seconds``."""
        with self._lock:
            self._delay_seconds = seconds
            self._delay_remaining = count

    def expire_tokens(self) -> None:
        with self._lock:
            self._token_generation += 1

    def fail_move(
        self, internet_message_id: str, *, times: int | None = 1, status: int = 500, after_move: bool = False
    ) -> None:
        """Fail the move of the message with this Internet Message-ID.

        ``after_move=True`` performs the move and then answers with the error, as when the answer
        is lost: the client sees a failure although the message already sits in the destination.
        """
        with self._lock:
            self._move_faults[internet_message_id] = _MoveFault(times, status, after_move)

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.next_links.clear()

    def graph_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.kind == "graph"]

    def token_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.kind == "token"]

    # ---- mailbox state ----------------------------------------------------------------------

    def add_folder(self, display_name: str, parent: str = _ROOT) -> FakeFolder:
        with self._lock:
            return self._new_folder(display_name, self.folder(parent).id)

    def folder(self, ref: str) -> FakeFolder:
        """A folder by id, well-known name, or display-name path such as ``"Inbox/Processed"``."""
        with self._lock:
            found = self._folder_by_ref(ref)
            if found is not None:
                return found
            current = self._folders[self._well_known[_ROOT]]
            for position, segment in enumerate(ref.split("/")):
                well_known = self._folder_by_ref(segment) if position == 0 else None
                if well_known is not None:
                    current = well_known
                    continue
                children = [
                    f
                    for f in self._folders.values()
                    if f.parent_id == current.id and f.display_name.casefold() == segment.casefold()
                ]
                if not children:
                    raise KeyError(ref)
                current = children[0]
            return current

    def add_message(self, raw: bytes, folder: str = "inbox", received_at: datetime | None = None) -> FakeMessage:
        """Deliver an RFC 822 message; Graph's view of it is derived from the MIME."""
        parsed = _parse_mime(raw)
        with self._lock:
            target = self.folder(folder)
            self._sequence += 1
            key = self._sequence
            received = (received_at or parsed.sent_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
            message = FakeMessage(
                key=key,
                id=self._new_id("AAMkAG"),
                immutable_id=self._new_id("AAkALg"),
                folder_id=target.id,
                mime=raw,
                subject=parsed.subject,
                from_name=(parsed.senders[0][0] or None) if parsed.senders else None,
                from_address=parsed.senders[0][1] if parsed.senders else None,
                to=parsed.to,
                cc=parsed.cc,
                received_at=received,
                sent_at=(parsed.sent_at or received).astimezone(UTC),
                internet_message_id=parsed.internet_message_id or f"<{uuid.uuid4().hex}@fake.graph>",
                html_body=parsed.html_body,
                text_body=parsed.text_body,
                attachments=self._attachments_from(parsed),
            )
            self._messages[key] = message
            self._message_index[message.id] = key
            self._message_index[message.immutable_id] = key
            return message

    def messages_in(self, folder: str) -> list[FakeMessage]:
        with self._lock:
            folder_id = self.folder(folder).id
            return [m for m in self._messages.values() if m.folder_id == folder_id]

    def message(self, internet_message_id: str) -> FakeMessage:
        with self._lock:
            for message in self._messages.values():
                if message.internet_message_id == internet_message_id:
                    return message
            raise KeyError(internet_message_id)

    # ---- internals: state -------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        # Opaque, case-sensitive and always containing '+', '/' and '=' so that a client that
        # forgets to URL-encode ids in paths fails here rather than against real Graph.
        raw = base64.b64encode(secrets.token_bytes(27)).decode()
        return f"{prefix}{raw[:12]}+{raw[12:24]}/{raw[24:]}AAA="

    def _new_folder(
        self, display_name: str, parent_id: str | None, *, well_known: str | None = None, hidden: bool = False
    ) -> FakeFolder:
        folder = FakeFolder(self._new_id("AQMkAD"), display_name, parent_id, well_known, hidden)
        self._folders[folder.id] = folder
        if well_known:
            self._well_known[well_known] = folder.id
        return folder

    def _folder_by_ref(self, ref: str) -> FakeFolder | None:
        folder_id = self._well_known.get(ref.lower(), ref)
        return self._folders.get(folder_id)

    def _attachments_from(self, parsed: _ParsedMime) -> list[FakeAttachment]:
        attachments = []
        for part in parsed.attachment_parts:
            content_id = part["Content-ID"]
            cid = str(content_id).strip().strip("<>") if content_id else None
            filename = _decoded(part.get_filename()) or None
            if part.get_content_type() == "message/rfc822":
                payload = part.get_payload()
                inner = payload[0] if isinstance(payload, list) and payload else None
                inner_bytes = inner.as_bytes() if isinstance(inner, Message) else b""
                name = (
                    filename or (_decoded(inner["Subject"]) if isinstance(inner, Message) else "") or "Attached message"
                )
                attachments.append(
                    FakeAttachment(self._new_id("AAMkAGAtt"), "item", name, None, inner_bytes, False, None)
                )
                continue
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            # Exchange treats a part the HTML body refers to by cid: as inline, whatever its disposition.
            referenced = cid is not None and parsed.html_body is not None and f"cid:{cid}" in parsed.html_body
            is_inline = part.get_content_disposition() == "inline" or referenced
            attachments.append(
                FakeAttachment(
                    self._new_id("AAMkAGAtt"),
                    "file",
                    filename or "attachment",
                    part.get_content_type(),
                    content,
                    is_inline,
                    cid,
                )
            )
        return attachments

    def _add_fault(self, status: int, count: int, retry_after: str | None, code: str, message: str) -> None:
        with self._lock:
            self._faults.append(_Fault(status, count, retry_after, code, message))

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
            return None

    def _take_delay(self) -> float:
        with self._lock:
            if self._delay_seconds <= 0:
                return 0.0
            if self._delay_remaining is None:
                return self._delay_seconds
            if self._delay_remaining <= 0:
                return 0.0
            self._delay_remaining -= 1
            return self._delay_seconds

    # ---- internals: HTTP --------------------------------------------------------------------

    def _handle(self, handler: _Handler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        split = urlsplit(handler.path)
        raw_segments = split.path.split("/")[1:]
        segments = [unquote(segment) for segment in raw_segments]
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers: dict[str, str] = {}
        for name in handler.headers:
            headers[name.lower()] = ", ".join(handler.headers.get_all(name) or [])
        prefer = _split_prefer(handler.headers.get_all("Prefer") or [])
        client_request_id = headers.get("client-request-id") or str(uuid.uuid4())
        kind = "graph" if segments[:1] == [GRAPH_VERSION] else "token"
        if segments[:2] == ["common", "discovery"] or segments[1:3] == ["v2.0", ".well-known"]:
            kind = "discovery"

        try:
            if kind == "graph":
                reply = self._graph(method, segments, split.path, query, body, headers, prefer)
            elif kind == "discovery":
                reply = self._discovery(method, segments)
            else:
                reply = self._token(method, segments, body)
        except _GraphProblem as problem:
            reply = self._graph_error(problem.status, problem.code, problem.message, client_request_id)
            reply.headers.update(problem.headers)
        except Exception:
            self.server_errors.append(traceback.format_exc())
            reply = self._graph_error(
                500,
                "ErrorInternalServerError",
                "The fake Graph server failed; see server_errors.",
                client_request_id,
            )

        if kind == "graph":
            request_id = str(uuid.uuid4())
            reply.headers.setdefault("request-id", request_id)
            reply.headers["client-request-id"] = client_request_id
            if isinstance(reply.json_body, dict) and "error" in reply.json_body:
                inner = reply.json_body["error"].get("innerError", {})
                reply.headers["request-id"] = inner.get("request-id", request_id)

        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method=method,
                    url=f"{self.base_url}{handler.path}",
                    path=unquote(split.path),
                    query=query,
                    headers=headers,
                    body=body,
                    kind=kind,
                    status=reply.status,
                    response_json=reply.json_body,
                )
            )
        send_answer(handler, reply.status, reply.body, reply.content_type, reply.headers)

    @staticmethod
    def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
        return _Reply(
            status=status,
            body=json.dumps(payload).encode(),
            content_type="application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8",
            headers=headers or {},
            json_body=payload,
        )

    def _graph_error(self, status: int, code: str, message: str, client_request_id: str) -> _Reply:
        now = datetime.now(UTC)
        payload = {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": now.strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": client_request_id,
                },
            }
        }
        return self._json(status, payload)

    # ---- token side -------------------------------------------------------------------------

    def _aad_error(self, status: int, error: str, code: int, text: str) -> _Reply:
        now = datetime.now(UTC)
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        description = (
            f"AADSTS{code}: {text}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}"
            f"\r\nTimestamp: {now.strftime('%Y-%m-%d %H:%M:%SZ')}"
        )
        return self._json(
            status,
            {
                "error": error,
                "error_description": description,
                "error_codes": [code],
                "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": f"{self.base_url}/error?code={code}",
            },
        )

    def _discovery(self, method: str, segments: list[str]) -> _Reply:
        host = urlsplit(self.base_url).netloc
        if method == "GET" and segments[:3] == ["common", "discovery", "instance"]:
            return self._json(
                200,
                {
                    "tenant_discovery_endpoint": (
                        f"{self.base_url}/{self.tenant_id}/v2.0/.well-known/openid-configuration"
                    ),
                    "api-version": "1.1",
                    "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
                },
            )
        if method != "GET" or segments[1:] != ["v2.0", ".well-known", "openid-configuration"]:
            return self._json(404, {"error": "not_found"})
        tenant = segments[0]
        if tenant != self.tenant_id:
            return self._aad_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
                "signing into the correct cloud.",
            )
        authority = f"{self.base_url}/{tenant}"
        return self._json(
            200,
            {
                "issuer": f"{authority}/v2.0",
                "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
                "token_endpoint": f"{authority}/oauth2/v2.0/token",
                "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
                "jwks_uri": f"{self.base_url}/{tenant}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            },
        )

    def _token(self, method: str, segments: list[str], body: bytes) -> _Reply:
        if method != "POST" or segments[1:] != ["oauth2", "v2.0", "token"]:
            return self._json(404, {"error": "not_found"})
        if segments[0] != self.tenant_id:
            return self._aad_error(400, "invalid_tenant", 90002, f"Tenant '{segments[0]}' not found.")
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            return self._aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        if form.get("client_id") != self.client_id:
            return self._aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory "
                f"'{self.tenant_id}'.",
            )
        if self.reject_credentials or form.get("client_secret") != self.client_secret:
            return self._aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{self.client_id}'.",
            )
        scope = form.get("scope", "")
        # Entra wants "<resource>/.default" for this grant; the fake does not know other resources.
        if not scope.endswith("/.default") or " " in scope:
            return self._aad_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                "scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        token = "eyJ0eXAiOiJKV1QiLCJub25jZSI6." + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = self._token_generation
        return self._json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token,
            },
        )

    # ---- Graph side -------------------------------------------------------------------------

    def _check_token(self, headers: dict[str, str]) -> None:
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="", authorization_uri="", client_id=""'}
        if scheme.lower() != "bearer" or not token.strip():
            raise _GraphProblem(401, "InvalidAuthenticationToken", "Access token is empty.", challenge)
        with self._lock:
            generation = self._tokens.get(token.strip())
            current = self._token_generation
        if generation is None:
            raise _GraphProblem(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.", challenge)
        if generation < current:
            raise _GraphProblem(
                401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.", challenge
            )

    def _graph(
        self,
        method: str,
        segments: list[str],
        raw_path: str,
        query: dict[str, str],
        body: bytes,
        headers: dict[str, str],
        prefer: dict[str, str],
    ) -> _Reply:
        delay = self._take_delay()
        if delay:
            self._stop.wait(delay)
        fault = self._take_fault()
        if fault is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            raise _GraphProblem(fault.status, fault.code, fault.message, extra)
        self._check_token(headers)

        rest = segments[1:]
        if rest[:1] == ["me"]:
            raise _GraphProblem(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        if len(rest) < 3 or rest[0].lower() != "users":
            raise _GraphProblem(400, "BadRequest", f"Resource not found for the segment '{'/'.join(rest[:1])}'.")
        if rest[1].lower() != self.mailbox.lower():
            raise _GraphProblem(404, "ErrorInvalidUser", f"The requested user '{rest[1]}' is invalid.")
        if self.deny_access or (self.read_only and method != "GET"):
            raise _GraphProblem(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")

        with self._lock:
            return self._route(method, rest[2:], raw_path, query, body, prefer)

    def _route(
        self,
        method: str,
        rest: list[str],
        raw_path: str,
        query: dict[str, str],
        body: bytes,
        prefer: dict[str, str],
    ) -> _Reply:
        lowered = [segment.lower() for segment in rest]
        immutable = prefer.get("idtype", "").lower() == "immutableid"
        applied = {"Preference-Applied": 'IdType="ImmutableId"'} if immutable else {}

        if lowered[0] == "mailfolders":
            if len(rest) == 1:
                if method == "POST":
                    return self._create_folder(self._folder_or_404(_ROOT), body)
                return self._list_folders(self._folder_or_404(_ROOT), raw_path, query)
            folder = self._folder_or_404(rest[1])
            if len(rest) == 2 and method == "GET":
                return self._json(200, self._folder_json(folder))
            if len(rest) == 3 and lowered[2] == "childfolders":
                if method == "POST":
                    return self._create_folder(folder, body)
                return self._list_folders(folder, raw_path, query)
            if len(rest) == 3 and lowered[2] == "messages" and method == "GET":
                return self._list_messages(folder, raw_path, query, prefer, applied)
            if len(rest) >= 4 and lowered[2] == "messages":
                message = self._message_or_404(rest[3])
                if message.folder_id != folder.id:
                    raise self._not_found()
                return self._message_route(method, message, rest[4:], query, body, prefer, applied)
        elif lowered[0] == "messages" and len(rest) >= 2:
            message = self._message_or_404(rest[1])
            return self._message_route(method, message, rest[2:], query, body, prefer, applied)
        raise _GraphProblem(400, "BadRequest", f"Resource not found for the segment '{rest[0]}'.")

    def _message_route(
        self,
        method: str,
        message: FakeMessage,
        rest: list[str],
        query: dict[str, str],
        body: bytes,
        prefer: dict[str, str],
        applied: dict[str, str],
    ) -> _Reply:
        immutable = bool(applied)
        lowered = [segment.lower() for segment in rest]
        if not rest and method == "GET":
            select = self._parse_select(query.get("$select"))
            return self._json(200, self._message_json(message, select, prefer, immutable), applied)
        if lowered == ["$value"] and method == "GET":
            return _Reply(200, message.mime, "message/rfc822", dict(applied))
        if lowered == ["move"] and method == "POST":
            return self._move(message, body, prefer, immutable, applied)
        if lowered[:1] == ["attachments"] and method == "GET":
            if len(rest) == 1:
                values = [self._attachment_json(a) for a in message.attachments]
                return self._json(
                    200, {"@odata.context": f"{self.base_url}/v1.0/$metadata#attachments", "value": values}, applied
                )
            attachment = next((a for a in message.attachments if a.id == rest[1]), None)
            if attachment is None:
                raise self._not_found()
            if len(rest) == 2:
                return self._json(200, self._attachment_json(attachment), applied)
            if lowered[2:] == ["$value"]:
                content_type = "message/rfc822" if attachment.kind == "item" else attachment.content_type
                return _Reply(200, attachment.content, content_type or "application/octet-stream")
        raise _GraphProblem(405, "ErrorInvalidRequest", "The OData request is not supported.")

    @staticmethod
    def _not_found() -> _GraphProblem:
        return _GraphProblem(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store., The process failed to get the correct properties.",
        )

    def _folder_or_404(self, ref: str) -> FakeFolder:
        folder = self._folder_by_ref(ref)
        if folder is None:
            raise self._not_found()
        return folder

    def _message_or_404(self, message_id: str) -> FakeMessage:
        key = self._message_index.get(message_id)
        if key is None:
            raise self._not_found()
        return self._messages[key]

    # folders

    def _folder_json(self, folder: FakeFolder) -> dict[str, Any]:
        children = [f for f in self._folders.values() if f.parent_id == folder.id]
        items = [m for m in self._messages.values() if m.folder_id == folder.id]
        return {
            "id": folder.id,
            "displayName": folder.display_name,
            "parentFolderId": folder.parent_id,
            "childFolderCount": len(children),
            "unreadItemCount": len(items),
            "totalItemCount": len(items),
            "sizeInBytes": sum(len(m.mime) for m in items),
            "isHidden": folder.hidden,
        }

    def _list_folders(self, parent: FakeFolder, raw_path: str, query: dict[str, str]) -> _Reply:
        include_hidden = query.get("includeHiddenFolders", "").lower() == "true"
        folders = [f for f in self._folders.values() if f.parent_id == parent.id and (include_hidden or not f.hidden)]
        if "$filter" in query:
            match = _DISPLAY_NAME_FILTER.match(query["$filter"])
            if match is None:
                raise _GraphProblem(
                    400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
                )
            wanted = match.group(1).replace("''", "'").casefold()
            folders = [f for f in folders if f.display_name.casefold() == wanted]
        page = self._page(folders, raw_path, query)
        return self._json(200, {**page.envelope, "value": [self._folder_json(f) for f in page.items]})

    def _create_folder(self, parent: FakeFolder, body: bytes) -> _Reply:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise _GraphProblem(400, "BadRequest", "Unable to read JSON request payload.") from None
        name = payload.get("displayName") if isinstance(payload, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise _GraphProblem(400, "ErrorInvalidRequest", "The displayName property is required.")
        siblings = [f for f in self._folders.values() if f.parent_id == parent.id]
        if any(f.display_name.casefold() == name.casefold() for f in siblings):
            raise _GraphProblem(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        folder = self._new_folder(name, parent.id)
        return self._json(201, self._folder_json(folder))

    # messages

    def _page(self, items: list[Any], raw_path: str, query: dict[str, str]) -> _Page:
        try:
            top = int(query.get("$top", _DEFAULT_PAGE_SIZE))
            skip = int(query.get("$skip", 0))
        except ValueError:
            raise _GraphProblem(400, "BadRequest", "Invalid $top or $skip value.") from None
        if not 1 <= top <= _MAX_PAGE_SIZE or skip < 0:
            raise _GraphProblem(400, "BadRequest", f"Invalid page size or offset: $top={top} $skip={skip}.")
        envelope: dict[str, Any] = {}
        if self.empty_first_page and "$skip" not in query:
            page_items: list[Any] = []
            next_skip: int | None = 0
        else:
            page_items = items[skip : skip + top]
            next_skip = skip + top if skip + top < len(items) else None
        if next_skip is not None:
            # Absolute, repeating every original option; requests' own encoding of the query is
            # replaced by a canonical one, as Graph does, so clients must not rebuild it.
            options = {**query, "$skip": str(next_skip)}
            link = f"{self.base_url}{raw_path}?{urlencode(options, quote_via=quote)}"
            self.next_links.append(link)
            envelope["@odata.nextLink"] = link
        return _Page(page_items, envelope)

    def _parse_select(self, select: str | None) -> list[str] | None:
        if not select:
            return None
        fields = []
        for name in select.split(","):
            canonical = _MESSAGE_PROPERTIES.get(name.strip().lower())
            if canonical is None:
                raise _GraphProblem(
                    400,
                    "RequestBroker--ParseUri",
                    f"Could not find a property named '{name.strip()}' on type 'microsoft.graph.message'.",
                )
            fields.append(canonical)
        return fields

    def _parse_filter(self, expression: str) -> tuple[list[str], list[Any]]:
        properties: list[str] = []
        predicates: list[Any] = []
        for clause in _AND.split(expression.strip()):
            match = _FILTER_CLAUSE.match(clause)
            if match is None:
                raise _GraphProblem(400, "BadRequest", f"Invalid filter clause: {clause}")
            name, operator, literal = match.group(1), match.group(2).lower(), match.group(3)
            canonical = _MESSAGE_PROPERTIES.get(name.lower())
            if canonical == "receivedDateTime":
                try:
                    value: Any = _parse_literal_datetime(literal)
                except ValueError:
                    raise _GraphProblem(400, "BadRequest", f"Invalid filter clause: {clause}") from None
            elif canonical == "hasAttachments" and literal.lower() in ("true", "false"):
                value = literal.lower() == "true"
            elif canonical == "subject" and literal.startswith("'") and literal.endswith("'"):
                value = literal[1:-1].replace("''", "'")
            else:
                raise _GraphProblem(400, "BadRequest", f"Invalid filter clause: {clause}")
            properties.append(canonical)
            predicates.append((canonical, operator, value))
        return properties, predicates

    @staticmethod
    def _matches(message: FakeMessage, predicates: list[Any]) -> bool:
        for name, operator, value in predicates:
            actual: Any = {
                "receivedDateTime": message.received_at,
                "hasAttachments": message.has_attachments,
                "subject": message.subject,
            }[name]
            if name == "subject":
                actual, value = actual.casefold(), value.casefold()
            result = {
                "eq": actual == value,
                "ne": actual != value,
                "gt": actual > value,
                "ge": actual >= value,
                "lt": actual < value,
                "le": actual <= value,
            }[operator]
            if not result:
                return False
        return True

    def _list_messages(
        self,
        folder: FakeFolder,
        raw_path: str,
        query: dict[str, str],
        prefer: dict[str, str],
        applied: dict[str, str],
    ) -> _Reply:
        select = self._parse_select(query.get("$select"))
        filter_properties: list[str] = []
        predicates: list[Any] = []
        if query.get("$filter"):
            filter_properties, predicates = self._parse_filter(query["$filter"])
        order: list[tuple[str, bool]] = []
        for item in (query.get("$orderby") or "receivedDateTime desc").split(","):
            name, _, direction = item.strip().partition(" ")
            canonical = _MESSAGE_PROPERTIES.get(name.lower())
            if canonical not in ("receivedDateTime", "subject") or direction.strip().lower() not in ("", "asc", "desc"):
                raise _GraphProblem(400, "BadRequest", f"Invalid $orderby clause: {item}")
            order.append((canonical, direction.strip().lower() == "desc"))
        if "$orderby" in query and filter_properties:
            # Exchange's rule: ordered properties must lead the filter, in the same order.
            ordered = [name for name, _ in order]
            leading = list(dict.fromkeys(filter_properties))[: len(ordered)]
            if leading != ordered:
                raise _GraphProblem(
                    400, "InefficientFilter", "The restriction or sort order is too complex for this operation."
                )

        messages = [m for m in self._messages.values() if m.folder_id == folder.id and self._matches(m, predicates)]
        messages.sort(key=lambda m: m.key)
        for name, descending in reversed(order):
            messages.sort(
                key=lambda m, name=name: m.received_at if name == "receivedDateTime" else m.subject.casefold(),
                reverse=descending,
            )
        page = self._page(messages, raw_path, query)
        selection = f"({','.join(select)})" if select else ""
        context = (
            f"{self.base_url}/v1.0/$metadata#users('{quote(self.mailbox)}')/mailFolders('{folder.id}')"
            f"/messages{selection}"
        )
        value = [self._message_json(m, select, prefer, bool(applied)) for m in page.items]
        headers = dict(applied)
        if "outlook.body-content-type" in prefer:
            content_type = prefer["outlook.body-content-type"]
            headers["Preference-Applied"] = ", ".join(
                [*applied.values(), f'outlook.body-content-type="{content_type}"']
            )
        return self._json(200, {"@odata.context": context, **page.envelope, "value": value}, headers)

    def _message_json(
        self, message: FakeMessage, select: list[str] | None, prefer: dict[str, str], immutable: bool
    ) -> dict[str, Any]:
        body_type = prefer.get("outlook.body-content-type", "html").lower()
        if body_type == "text":
            content = message.text_body if message.text_body is not None else _text_from_html(message.html_body or "")
        else:
            body_type = "html"
            content = message.html_body if message.html_body is not None else _html_from_text(message.text_body or "")
        sender = (
            {"emailAddress": {"name": message.from_name or message.from_address, "address": message.from_address}}
            if message.from_address
            else None
        )
        preview_source = (
            message.text_body if message.text_body is not None else _text_from_html(message.html_body or "")
        )
        full: dict[str, Any] = {
            "@odata.etag": f'W/"CQAAABYAAAD{message.key:08d}"',
            "id": message.immutable_id if immutable else message.id,
            "createdDateTime": _utc_iso(message.received_at),
            "lastModifiedDateTime": _utc_iso(message.received_at),
            "changeKey": f"CQAAABYAAAD{message.key:08d}",
            "categories": [],
            "receivedDateTime": _utc_iso(message.received_at),
            "sentDateTime": _utc_iso(message.sent_at),
            "hasAttachments": message.has_attachments,
            "internetMessageId": message.internet_message_id,
            "subject": message.subject,
            "bodyPreview": " ".join(preview_source.split())[:255],
            "importance": "normal",
            "parentFolderId": message.folder_id,
            "conversationId": f"AAQkAG{message.key:08d}=",
            "isRead": False,
            "isDraft": False,
            "webLink": f"https://outlook.office365.com/owa/?ItemID={quote(message.id, safe='')}",
            "body": {"contentType": body_type, "content": content},
            "sender": sender,
            "from": sender,
            "toRecipients": [{"emailAddress": {"name": n or a, "address": a}} for n, a in message.to],
            "ccRecipients": [{"emailAddress": {"name": n or a, "address": a}} for n, a in message.cc],
            "flag": {"flagStatus": "notFlagged"},
        }
        if select is None:
            return full
        return {key: full[key] for key in ("@odata.etag", "id", *select)}

    def _attachment_json(self, attachment: FakeAttachment) -> dict[str, Any]:
        common = {
            "id": attachment.id,
            "lastModifiedDateTime": _utc_iso(datetime.now(UTC) - timedelta(minutes=5)),
            "name": attachment.name,
            "contentType": attachment.content_type,
            "size": len(attachment.content),
            "isInline": attachment.is_inline,
        }
        if attachment.kind == "item":
            return {"@odata.type": "#microsoft.graph.itemAttachment", **common}
        return {
            "@odata.type": "#microsoft.graph.fileAttachment",
            **common,
            "contentId": attachment.content_id,
            "contentLocation": None,
            "contentBytes": base64.b64encode(attachment.content).decode(),
        }

    def _move(
        self, message: FakeMessage, body: bytes, prefer: dict[str, str], immutable: bool, applied: dict[str, str]
    ) -> _Reply:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise _GraphProblem(400, "BadRequest", "Unable to read JSON request payload.") from None
        destination_ref = payload.get("destinationId") if isinstance(payload, dict) else None
        if not isinstance(destination_ref, str) or not destination_ref:
            raise _GraphProblem(400, "ErrorInvalidRequest", "The destinationId property is required.")
        destination = self._folder_by_ref(destination_ref)
        if destination is None:
            raise _GraphProblem(400, "ErrorInvalidIdMalformed", "Id is malformed.")

        fault = self._move_faults.get(message.internet_message_id)
        if fault is not None and fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining < 0:
                del self._move_faults[message.internet_message_id]
                fault = None
        if fault is not None and not fault.after_move:
            raise _GraphProblem(
                fault.status, "ErrorInternalServerError", "An internal server error occurred. The operation failed."
            )

        # Exchange copies the item into the destination and deletes the original: new regular id,
        # old one gone; only the immutable id survives.
        del self._message_index[message.id]
        message.id = self._new_id("AAMkAG")
        message.folder_id = destination.id
        self._message_index[message.id] = message.key

        if fault is not None:
            raise _GraphProblem(
                fault.status, "ErrorInternalServerError", "An internal server error occurred. The operation failed."
            )
        payload_out = {
            "@odata.context": f"{self.base_url}/v1.0/$metadata#message",
            "@odata.type": "#microsoft.graph.message",
            **self._message_json(message, None, prefer, immutable),
        }
        return self._json(201, payload_out, applied)


@contextlib.contextmanager
def running_graph_fake(tmp_path: Path, **options: Any) -> Iterator[GraphFake]:
    """Start a :class:`GraphFake` on a loopback port with a fresh CA in ``tmp_path``; stop it after.

    ``options`` go to :class:`GraphFake` (tenant_id, client_id, client_secret, mailbox,
    token_lifetime, inbox_display_name). A bug inside the fake's routes fails the test at exit.
    """
    fake = GraphFake(**options)
    fake.start(tmp_path / "graph-fake-tls")
    try:
        yield fake
    finally:
        fake.stop()
    if fake.server_errors:
        raise AssertionError("the fake Graph server failed:\n" + "\n".join(fake.server_errors))
