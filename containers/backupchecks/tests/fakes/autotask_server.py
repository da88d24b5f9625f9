"""A loopback fake of the Autotask PSA REST API (v1.0), plain HTTP.

It follows shared/protocols/autotask-rest.md ("What a faithful fake must do"): the unauthenticated
zoneInformation lookup, the three authentication headers, case-insensitive paths, property and field
names, queries (GET ``?search=`` and POST) with Autotask's filter operators and nextPageUrl paging
(a POST query's next page is re-POSTed with the same body; a GET there answers 405), counts,
``{"item": null}`` for missing records, ticket create (200 ``{"itemId"}``, validated against the
picklists and required fields), PATCH that changes only the given keys and PUT that nulls every
writable field it does not carry, ticket notes through the parent URL, companies, entity metadata
with picklist values as strings, and ``{"errors": [...]}`` answers with Autotask's status codes.

Tests drive it through :func:`running_autotask_fake` and the switches on :class:`AutotaskFake`.
Everything it answered is kept in :attr:`AutotaskFake.requests`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import secrets
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .loopback import LoopbackFake, LoopbackHandler, LoopbackHTTPServer, send_answer

DEFAULT_USERNAME = "bc-api@example.com"
DEFAULT_SECRET = "fake-Secret$0123456789"
DEFAULT_INTEGRATION_CODE = "FAKEINTEGRATIONCODE0123456789AB"
DEFAULT_ZONE_NAME = "Fake Zone (loopback)"
DEFAULT_CI = 29681234

STATUS_NEW = 1
STATUS_COMPLETE = 5
OWNER_COMPANY_ID = 0
FIRST_TICKET_ID = 7001
MAX_RECORDS = 500

AUTH_FAILED = "Authentication failed"
_UNAVAILABLE_PAGE = b"<html><head><title>503 Service Unavailable</title></head><body>Service Unavailable</body></html>"
_ZONE_PREFIX = re.compile(r"^zone\d+$")

# Picklists: (value, label, is_default, is_active, is_system, parent_value). Values are the integers
# tickets carry; the metadata endpoint sends them as strings, as Autotask does.
_Pick = tuple[int, str, bool, bool, bool, int | None]
PICKLISTS: dict[str, dict[str, list[_Pick]]] = {
    "Tickets": {
        "status": [
            (1, "New", True, True, True, None),
            (5, "Complete", False, True, True, None),
            (7, "Waiting Customer", False, True, True, None),
            (8, "In Progress", False, True, False, None),
            (12, "Waiting Vendor (old)", False, False, False, None),
        ],
        "priority": [
            (4, "Critical", False, True, True, None),
            (1, "High", False, True, True, None),
            (2, "Medium", True, True, True, None),
            (3, "Low", False, True, True, None),
        ],
        "queueID": [
            (29682833, "Monitoring Alerts", True, True, False, None),
            (29683481, "Service Desk", False, True, False, None),
            (29683482, "Post Sale", False, True, False, None),
            (8, "Client Portal", False, False, True, None),
        ],
        "issueType": [
            (10, "Backup", False, True, False, None),
            (11, "Hardware", False, True, False, None),
            (12, "Network", False, True, False, None),
        ],
        "subIssueType": [
            (136, "Backup Failed", False, True, False, 10),
            (137, "Backup Warning", False, True, False, 10),
            (138, "Backup Missed", False, True, False, 10),
            (140, "Disk Failure", False, True, False, 11),
            (150, "Connectivity", False, True, False, 12),
        ],
        "source": [
            (-1, "Client Portal", False, True, True, None),
            (2, "Phone", False, True, False, None),
            (4, "Email", False, True, False, None),
            (8, "Monitoring Alert", True, True, False, None),
        ],
        "ticketType": [
            (1, "Service Request", True, True, True, None),
            (2, "Incident", False, True, True, None),
            (3, "Problem", False, True, True, None),
            (4, "Change Request", False, True, True, None),
            (5, "Alert", False, True, True, None),
        ],
        "ticketCategory": [
            (2, "AEM Alert", False, True, False, None),
            (3, "Standard", True, True, False, None),
        ],
    },
    "Companies": {
        "companyType": [
            (1, "Customer", True, True, True, None),
            (3, "Prospect", False, True, True, None),
            (7, "Vendor", False, True, True, None),
        ],
    },
    "TicketNotes": {
        "noteType": [
            (1, "Task Detail", True, True, True, None),
            (2, "Task Notes", False, True, True, None),
            (3, "Task Summary", False, True, True, None),
        ],
        "publish": [
            (1, "All Autotask Users", True, True, True, None),
            (2, "Internal Only", False, True, True, None),
        ],
    },
}


@dataclass(frozen=True)
class _Field:
    name: str
    data_type: str  # "integer", "string", "datetime", "boolean"
    required: bool = False
    read_only: bool = False
    length: int = 0
    reference: str = ""
    parent: str = ""  # picklist parent field


FIELDS: dict[str, list[_Field]] = {
    "Tickets": [
        _Field("id", "long", read_only=True),
        _Field("ticketNumber", "string", read_only=True, length=50),
        _Field("title", "string", required=True, length=255),
        _Field("description", "string", length=8000),
        _Field("companyID", "integer", required=True, reference="Company"),
        _Field("queueID", "integer"),
        _Field("status", "integer", required=True),
        _Field("priority", "integer", required=True),
        _Field("issueType", "integer"),
        _Field("subIssueType", "integer", parent="issueType"),
        _Field("source", "integer"),
        _Field("ticketType", "integer"),
        _Field("ticketCategory", "integer"),
        _Field("dueDateTime", "datetime"),
        _Field("createDate", "datetime", read_only=True),
        _Field("lastActivityDate", "datetime", read_only=True),
        _Field("completedDate", "datetime", read_only=True),
        _Field("resolution", "string", length=32000),
        _Field("assignedResourceID", "integer", reference="Resource"),
        _Field("assignedResourceRoleID", "integer", reference="Role"),
        _Field("contactID", "integer", reference="Contact"),
    ],
    "Companies": [
        _Field("id", "long", read_only=True),
        _Field("companyName", "string", required=True, length=100),
        _Field("companyNumber", "string", length=50),
        _Field("companyType", "integer", required=True),
        _Field("isActive", "boolean"),
        _Field("phone", "string", length=25),
    ],
    "TicketNotes": [
        _Field("id", "long", read_only=True),
        _Field("ticketID", "integer", required=True, reference="Ticket"),
        _Field("title", "string", length=250),
        _Field("description", "string", required=True, length=32000),
        _Field("noteType", "integer", required=True),
        _Field("publish", "integer", required=True),
        _Field("createDateTime", "datetime", read_only=True),
        _Field("lastActivityDate", "datetime", read_only=True),
        _Field("creatorResourceID", "integer", read_only=True, reference="Resource"),
    ],
}
USER_DEFINED_FIELDS: dict[str, list[str]] = {"Tickets": ["Backup Job"], "Companies": [], "TicketNotes": []}
_ENTITIES = {name.lower(): name for name in FIELDS}
_CAN_CREATE = {"Tickets": True, "Companies": True, "TicketNotes": True}

SEED_COMPANIES: list[tuple[int, str, str | None, bool]] = [
    (OWNER_COMPANY_ID, "Example MSP (Owner)", "0", True),
    (174, "Example Customer Alpha", "C-174", True),
    (175, "Example Customer Beta", "C-175", True),
    (176, "Sample Holding Group", "C-176", True),
    (177, "Sample Logistics", None, True),
    (178, "Former Customer Gamma", "C-178", False),
]


def _now_iso() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_datetime(value: str) -> str:
    """Autotask's accepted date-time text (``2030-03-21T00:00:00`` with optional ms and Z), normalised."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake answered, as the client sent it and as the fake replied."""

    method: str
    url: str  # absolute URL exactly as requested (still percent-encoded)
    path: str  # decoded path
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    kind: str  # "zone" or "api"
    status: int
    response_json: Any

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Fault:
    status: int
    remaining: int
    errors: list[str] | None  # None: an HTML page, as a load balancer answers
    retry_after: str | None
    match: str | None


@dataclass
class _Cursor:
    entity: str
    query: dict[str, Any]  # the parsed query model (filter, MaxRecords, IncludeFields)
    origin: str  # "GET" or "POST": which method the first page was asked with
    body: Any  # the POSTed JSON, which the next page must carry again
    search: str | None  # the GET form's search text
    after_id: int | None
    previous: _Cursor | None


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None


class _Problem(Exception):
    """Raised inside a route to answer with Autotask's ``{"errors": [...]}`` (or ASP.NET's ``Message``)."""

    def __init__(self, status: int, *errors: str, asp_net: bool = False) -> None:
        super().__init__(f"{status}: {'; '.join(errors)}")
        self.status = status
        self.errors = list(errors)
        self.asp_net = asp_net


def _validation(*errors: str) -> _Problem:
    # Autotask answers failed creates, updates and queries with HTTP 500.
    return _Problem(500, *errors)


class _FakeHTTPServer(LoopbackHTTPServer):
    def __init__(self, fake: AutotaskFake) -> None:
        super().__init__(fake, LoopbackHandler)


class AutotaskFake(LoopbackFake):
    """An in-memory Autotask tenant behind the REST API, with switches for failure modes.

    Switches (thread-safe; they affect requests made after the call):

    - :attr:`reject_credentials`: every authenticated call answers 401 ``{"errors": ["Authentication failed"]}``.
    - :attr:`deny_access`: every authenticated call answers 403 (insufficient security level).
    - :attr:`read_only_user`: ticket and note writes answer 500 with Autotask's permission text, and
      ``Tickets/entityInformation`` reports ``canCreate``/``canUpdate`` false.
    - :attr:`require_note_titles`: ticket notes without a title are refused (a ticket category setting).
    - :meth:`fail_next`, :meth:`throttle_next` (429), :meth:`unavailable_next` (503, an HTML page),
      :meth:`server_error_next` (500 ``errors``): the next N API calls, optionally only those whose
      ``"METHOD /path"`` contains ``match``, fail with an optional ``Retry-After``.
    - :meth:`slow_next`: the next N API calls (or all) wait before answering.
    - :meth:`move_zone`: the tenant moves to another zone; the old API root answers 401 and
      zoneInformation points at the new one.
    """

    def __init__(
        self,
        *,
        username: str = DEFAULT_USERNAME,
        secret: str = DEFAULT_SECRET,
        integration_code: str = DEFAULT_INTEGRATION_CODE,
        zone_name: str = DEFAULT_ZONE_NAME,
        seed: bool = True,
    ) -> None:
        self.username = username
        self.secret = secret
        self.integration_code = integration_code
        self.zone_name = zone_name

        self.reject_credentials = False
        self.deny_access = False
        self.read_only_user = False
        self.require_note_titles = False

        self.requests: list[RecordedRequest] = []
        self.next_links: list[str] = []
        self.server_errors: list[str] = []

        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._faults: list[_Fault] = []
        self._delay_seconds = 0.0
        self._delay_remaining: int | None = 0
        self._zone_prefix = ""  # "" or "zoneN": the path segment in front of ATServicesRest
        self._zone_generation = 1
        self._cursors: dict[str, _Cursor] = {}
        self._companies: dict[int, dict[str, Any]] = {}
        self._tickets: dict[int, dict[str, Any]] = {}
        self._notes: dict[int, dict[str, Any]] = {}
        self._next_ticket_id = FIRST_TICKET_ID
        self._next_note_id = 30001
        self._numbers_per_day: dict[str, int] = {}

        self._lifecycle_init()
        self.base_url = ""

        if seed:
            for company_id, name, number, active in SEED_COMPANIES:
                self.add_company(name, company_id=company_id, company_number=number, is_active=active)

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.base_url = f"http://127.0.0.1:{self._serve(_FakeHTTPServer(self), 'autotask-fake')}"

    @property
    def zone_lookup_base_url(self) -> str:
        """Where a client asks zoneInformation (the fake's stand-in for webservices.autotask.net)."""
        return f"{self.base_url}/atservicesrest"

    @property
    def api_url(self) -> str:
        """The REST root zoneInformation hands out: without the version, with a trailing slash."""
        prefix = f"/{self._zone_prefix}" if self._zone_prefix else ""
        return f"{self.base_url}{prefix}/ATServicesRest/"

    @property
    def api_versioned_url(self) -> str:
        return f"{self.api_url}V1.0"

    @property
    def web_url(self) -> str:
        return f"{self.base_url}/autotask-web/"

    def client_settings(self) -> dict[str, str]:
        """The plain values an Autotask client needs to talk to this fake."""
        return {
            "username": self.username,
            "secret": self.secret,
            "integration_code": self.integration_code,
            "zone_lookup_base_url": self.zone_lookup_base_url,
        }

    # ---- switches ---------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        errors: list[str] | None = None,
        retry_after: str | None = None,
        match: str | None = None,
    ) -> None:
        """The next ``count`` API calls (those whose "METHOD /path" contains ``match``) answer ``status``.

        ``errors`` None answers an HTML page, as a load balancer in front of Autotask does.
        """
        with self._lock:
            self._faults.append(_Fault(status, count, errors, retry_after, match))

    def throttle_next(self, count: int = 1, *, retry_after: str | None = None, match: str | None = None) -> None:
        # Datto documents no status or body for threshold exhaustion; 429 with an errors array is assumed.
        self.fail_next(
            429,
            count,
            errors=["The request could not be processed because the API request threshold was exceeded."],
            retry_after=retry_after,
            match=match,
        )

    def unavailable_next(self, count: int = 1, *, retry_after: str | None = None, match: str | None = None) -> None:
        self.fail_next(503, count, errors=None, retry_after=retry_after, match=match)

    def server_error_next(
        self,
        count: int = 1,
        *,
        message: str = "An unexpected error occurred while processing the request.",
        match: str | None = None,
    ) -> None:
        self.fail_next(500, count, errors=[message], match=match)

    def slow_next(self, seconds: float, count: int | None = None) -> None:
        """Delay the next ``count`` API answers (``None``: all of them) by ``seconds``."""
        with self._lock:
            self._delay_seconds = seconds
            self._delay_remaining = count

    def move_zone(self) -> str:
        """Move the tenant to a new zone (new API root); returns the new root."""
        with self._lock:
            self._zone_generation += 1
            self._zone_prefix = f"zone{self._zone_generation}"
            return self.api_url

    def app_settings(self) -> dict[str, str]:
        """The values Backupchecks' Autotask settings need to talk to this fake (its form field names)."""
        return {
            "username": self.username,
            "secret": self.secret,
            "integration_code": self.integration_code,
            "zone_lookup_url": self.zone_lookup_base_url,
        }

    def ticket_writes(self) -> list[RecordedRequest]:
        """Every request that tried to change an existing ticket (PATCH or PUT on /Tickets), answered or not."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.kind == "api"
                and request.method in ("PATCH", "PUT")
                and request.path.lower().rstrip("/").endswith("/tickets")
            ]

    def ticket_creates(self) -> list[RecordedRequest]:
        """Every POST /Tickets (successful or not), with the body the client sent."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.kind == "api"
                and request.method == "POST"
                and request.path.lower().rstrip("/").endswith("/tickets")
            ]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.next_links.clear()

    def api_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.kind == "api"]

    def zone_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.kind == "zone"]

    # ---- tenant state -----------------------------------------------------------------------

    def add_company(
        self,
        name: str,
        *,
        company_id: int | None = None,
        company_number: str | None = None,
        is_active: bool = True,
        company_type: int = 1,
    ) -> int:
        with self._lock:
            if company_id is None:
                company_id = max(self._companies, default=OWNER_COMPANY_ID) + 1
            if company_id in self._companies:
                raise ValueError(f"company {company_id} exists")
            self._companies[company_id] = {
                "id": company_id,
                "companyName": name,
                "companyNumber": company_number,
                "companyType": company_type,
                "isActive": is_active,
                "phone": "",
                "userDefinedFields": [],
            }
            return company_id

    def rename_company(self, company_id: int, name: str) -> None:
        with self._lock:
            self._companies[company_id]["companyName"] = name

    def set_company_active(self, company_id: int, active: bool) -> None:
        with self._lock:
            self._companies[company_id]["isActive"] = active

    def delete_company(self, company_id: int) -> None:
        with self._lock:
            del self._companies[company_id]

    def company(self, company_id: int) -> dict[str, Any] | None:
        with self._lock:
            found = self._companies.get(company_id)
            return copy.deepcopy(found) if found is not None else None

    def add_ticket(self, **fields: Any) -> int:
        """Put a ticket straight into the tenant (no validation), as if someone made it in Autotask."""
        with self._lock:
            values = {
                "title": "Ticket made in Autotask",
                "description": "",
                "companyID": 174,
                "queueID": 29682833,
                "status": STATUS_NEW,
                "priority": 2,
                **fields,
            }
            return self._insert_ticket(values)["id"]

    def ticket(self, ticket_id: int) -> dict[str, Any] | None:
        """The stored ticket as the API would give it, or None when it does not exist."""
        with self._lock:
            found = self._tickets.get(ticket_id)
            return copy.deepcopy(found) if found is not None else None

    def tickets(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(t) for _, t in sorted(self._tickets.items())]

    def complete_ticket(self, ticket_id: int, resolution: str | None = None) -> None:
        """Set the ticket to Complete, as a technician closing it in Autotask does."""
        with self._lock:
            ticket = self._tickets[ticket_id]
            ticket["status"] = STATUS_COMPLETE
            ticket["completedDate"] = _now_iso()
            ticket["lastActivityDate"] = ticket["completedDate"]
            if resolution is not None:
                ticket["resolution"] = resolution

    def reopen_ticket(self, ticket_id: int, status: int = 8) -> None:
        with self._lock:
            ticket = self._tickets[ticket_id]
            ticket["status"] = status
            ticket["completedDate"] = None
            ticket["lastActivityDate"] = _now_iso()

    def delete_ticket(self, ticket_id: int) -> None:
        """Remove the ticket (and its notes) from the tenant, as deleting it in Autotask does."""
        with self._lock:
            del self._tickets[ticket_id]
            for note_id in [n for n, note in self._notes.items() if note["ticketID"] == ticket_id]:
                del self._notes[note_id]

    def notes(self, ticket_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(n) for _, n in sorted(self._notes.items()) if n["ticketID"] == ticket_id]

    # ---- internals: state -------------------------------------------------------------------

    def _ticket_number(self) -> str:
        day = datetime.now(UTC).strftime("%Y%m%d")
        self._numbers_per_day[day] = self._numbers_per_day.get(day, 0) + 1
        return f"T{day}.{self._numbers_per_day[day]:04d}"

    def _insert_ticket(self, values: dict[str, Any]) -> dict[str, Any]:
        now = _now_iso()
        ticket: dict[str, Any] = {f.name: None for f in FIELDS["Tickets"]}
        ticket.update(values)
        ticket["id"] = self._next_ticket_id
        self._next_ticket_id += 1
        ticket["ticketNumber"] = self._ticket_number()
        ticket["createDate"] = now
        ticket["lastActivityDate"] = now
        ticket["completedDate"] = now if ticket.get("status") == STATUS_COMPLETE else None
        ticket.setdefault("userDefinedFields", [])
        ticket["userDefinedFields"] = ticket["userDefinedFields"] or [
            {"name": name, "value": None} for name in USER_DEFINED_FIELDS["Tickets"]
        ]
        self._tickets[ticket["id"]] = ticket
        return ticket

    def _store(self, entity: str) -> dict[int, dict[str, Any]]:
        return {"Tickets": self._tickets, "Companies": self._companies, "TicketNotes": self._notes}[entity]

    def _take_fault(self, where: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.match is None or fault.match.lower() in where.lower()):
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

    def _handle(self, handler: LoopbackHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        split = urlsplit(handler.path)
        segments = [unquote(segment) for segment in split.path.split("/") if segment]
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {name.lower(): ", ".join(handler.headers.get_all(name) or []) for name in handler.headers}
        lowered = [segment.lower() for segment in segments]
        prefix = lowered[0] if lowered and _ZONE_PREFIX.match(lowered[0]) else ""
        rest = segments[1:] if prefix else segments
        is_zone_lookup = [s.lower() for s in rest] == ["atservicesrest", "v1.0", "zoneinformation"]
        kind = "zone" if is_zone_lookup else "api"

        try:
            if is_zone_lookup:
                reply = self._zone_information(method, query)
            else:
                reply = self._api(method, prefix, rest, split.path, query, body, headers)
        except _Problem as problem:
            reply = self._error(problem)
        except Exception:
            self.server_errors.append(traceback.format_exc())
            reply = self._error(_Problem(500, "The fake Autotask server failed; see server_errors."))

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
        return _Reply(status=status, body=json.dumps(payload).encode(), headers=headers or {}, json_body=payload)

    def _error(self, problem: _Problem) -> _Reply:
        if problem.asp_net:
            # Routing errors come from ASP.NET Web API itself, in its own shape.
            return self._json(problem.status, {"Message": "; ".join(problem.errors)})
        return self._json(problem.status, {"errors": problem.errors})

    def _zone_information(self, method: str, query: dict[str, str]) -> _Reply:
        if method != "GET":
            raise _Problem(405, "The requested resource does not support http method '" + method + "'.", asp_net=True)
        user = query.get("user", "").strip()
        if not user or user.lower() != self.username.lower():
            # Autotask answers a blank or unknown user with a 500.
            raise _Problem(500, "Zone information could not be determined for the given user name.")
        return self._json(
            200, {"zoneName": self.zone_name, "url": self.api_url, "webUrl": self.web_url, "ci": DEFAULT_CI}
        )

    def _check_auth(self, prefix: str, headers: dict[str, str]) -> None:
        expected = (
            headers.get("apiintegrationcode") == self.integration_code
            and headers.get("username", "").lower() == self.username.lower()
            and headers.get("secret") == self.secret
        )
        # The credentials are only valid in the tenant's own zone.
        if self.reject_credentials or not expected or prefix != self._zone_prefix:
            raise _Problem(401, AUTH_FAILED)
        if self.deny_access:
            raise _Problem(403, "The logged in Resource does not have the adequate security level to do this.")

    def _api(
        self,
        method: str,
        prefix: str,
        rest: list[str],
        raw_path: str,
        query: dict[str, str],
        body: bytes,
        headers: dict[str, str],
    ) -> _Reply:
        lowered = [segment.lower() for segment in rest]
        if lowered[:2] != ["atservicesrest", "v1.0"] or len(rest) < 3:
            raise self._no_route(raw_path)
        delay = self._take_delay()
        if delay:
            self._stop.wait(delay)
        fault = self._take_fault(f"{method} {raw_path}")
        if fault is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            if fault.errors is None:
                return _Reply(fault.status, _UNAVAILABLE_PAGE, "text/html", extra)
            return self._json(fault.status, {"errors": fault.errors}, extra)
        self._check_auth(prefix, headers)

        entity = _ENTITIES.get(lowered[2])
        if entity is None:
            raise self._no_route(raw_path)
        payload: Any = None
        if method in ("POST", "PATCH", "PUT"):
            if body and "application/json" not in headers.get("content-type", "").lower():
                raise _Problem(
                    415,
                    f"The request entity's media type '{headers.get('content-type', '')}' is not supported for this "
                    "resource.",
                    asp_net=True,
                )
            try:
                payload = json.loads(body) if body else None
            except ValueError:
                raise _validation("The request body is not valid JSON.") from None
        with self._lock:
            return self._route(method, entity, rest[3:], raw_path, query, payload)

    def _no_route(self, raw_path: str) -> _Problem:
        return _Problem(
            404, f"No HTTP resource was found that matches the request URI '{self.base_url}{raw_path}'.", asp_net=True
        )

    def _not_allowed(self, method: str) -> _Problem:
        return _Problem(405, f"The requested resource does not support http method '{method}'.", asp_net=True)

    def _route(
        self, method: str, entity: str, rest: list[str], raw_path: str, query: dict[str, str], payload: Any
    ) -> _Reply:
        lowered = [segment.lower() for segment in rest]
        if not rest:
            if entity == "Companies" or method not in ("POST", "PATCH", "PUT"):
                raise self._not_allowed(method)
            if entity == "Tickets":
                return self._write_ticket(method, payload)
            raise self._not_allowed(method)
        if lowered[0] == "entityinformation":
            if method != "GET":
                raise self._not_allowed(method)
            return self._entity_information(entity, lowered[1:], raw_path)
        if lowered[0] == "query":
            return self._query_route(method, entity, lowered[1:], raw_path, query, payload)
        if not rest[0].lstrip("-").isdigit():
            raise self._no_route(raw_path)
        item_id = int(rest[0])
        if len(rest) == 1:
            if method != "GET":
                raise self._not_allowed(method)
            found = self._store(entity).get(item_id)
            return self._json(200, {"item": copy.deepcopy(found)})
        if entity == "Tickets" and lowered[1:] == ["notes"]:
            return self._ticket_notes(method, item_id, payload)
        raise self._no_route(raw_path)

    # ---- metadata ---------------------------------------------------------------------------

    def _entity_information(self, entity: str, rest: list[str], raw_path: str) -> _Reply:
        if not rest:
            writable = not (self.read_only_user and entity in ("Tickets", "TicketNotes"))
            info = {
                "name": entity[:-1] if entity != "Companies" else "Company",
                "canCreate": _CAN_CREATE[entity] and writable,
                "canDelete": False,
                "canQuery": True,
                "canUpdate": writable,
                "hasUserDefinedFields": bool(USER_DEFINED_FIELDS[entity]),
                "supportsWebhookCallouts": entity != "TicketNotes",
                "userAccessForCreate": "Allowed" if writable else "None",
                "userAccessForDelete": "None",
                "userAccessForQuery": "Allowed",
                "userAccessForUpdate": "Allowed" if writable else "None",
            }
            return self._json(200, {"info": info})
        if rest == ["fields"]:
            return self._json(200, {"fields": [self._field_json(entity, f) for f in FIELDS[entity]]})
        if rest == ["userdefinedfields"]:
            udfs = [
                {
                    "name": name,
                    "label": name,
                    "type": "string",
                    "dataType": "string",
                    "length": 100,
                    "isRequired": False,
                    "isReadOnly": False,
                    "isQueryable": True,
                    "isPickList": False,
                    "picklistValues": [],
                }
                for name in USER_DEFINED_FIELDS[entity]
            ]
            return self._json(200, {"fields": udfs})
        raise self._no_route(raw_path)

    @staticmethod
    def _field_json(entity: str, spec: _Field) -> dict[str, Any]:
        picks = PICKLISTS.get(entity, {}).get(spec.name)
        return {
            "name": spec.name,
            "dataType": spec.data_type,
            "length": spec.length,
            "isRequired": spec.required,
            "isReadOnly": spec.read_only,
            "isQueryable": True,
            "isReference": bool(spec.reference),
            "referenceEntityType": spec.reference,
            "isPickList": picks is not None,
            "picklistParentValueField": spec.parent,
            "isSupportedWebhookField": True,
            "picklistValues": [
                {
                    "value": str(value),
                    "label": label,
                    "isDefaultValue": default,
                    "sortOrder": position,
                    "parentValue": "" if parent is None else str(parent),
                    "isActive": active,
                    "isSystem": system,
                }
                for position, (value, label, default, active, system, parent) in enumerate(picks or [], start=1)
            ]
            if picks is not None
            else None,
        }

    # ---- field handling ---------------------------------------------------------------------

    @staticmethod
    def _spec(entity: str, name: str) -> _Field | None:
        for spec in FIELDS[entity]:
            if spec.name.lower() == name.lower():
                return spec
        return None

    def _coerce(self, entity: str, spec: _Field, value: Any) -> Any:
        """A value as the field's type; raises a validation problem as Autotask's model binding does."""
        if value is None:
            return None
        label = f"{entity[:-1] if entity != 'Companies' else 'Company'}.{spec.name}"
        if spec.data_type in ("integer", "long"):
            if isinstance(value, bool):
                raise _validation(f"{label}: '{value}' is not a valid integer.")
            if isinstance(value, int):
                return value
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value)
            raise _validation(f"{label}: '{value}' is not a valid integer.")
        if spec.data_type == "boolean":
            if not isinstance(value, bool):
                raise _validation(f"{label}: boolean values must be true or false.")
            return value
        if spec.data_type == "datetime":
            try:
                return _parse_datetime(str(value))
            except ValueError:
                raise _validation(f"{label}: '{value}' is not a valid date and time.") from None
        if not isinstance(value, str):
            raise _validation(f"{label}: a text value is required.")
        if spec.length and len(value) > spec.length:
            raise _validation(f"{label}: the value is longer than {spec.length} characters.")
        return value

    def _canonical_body(self, entity: str, payload: Any, *, allow_id: bool) -> dict[str, Any]:
        """The body with Autotask's field names (property names are case-insensitive) and typed values."""
        if not isinstance(payload, dict):
            raise _validation("The request body must be a JSON object.")
        result: dict[str, Any] = {}
        for name, value in payload.items():
            if name.lower() == "userdefinedfields":
                result["userDefinedFields"] = self._udfs(entity, value)
                continue
            spec = self._spec(entity, name)
            if spec is None:
                raise _validation(f"Unable to find {name} in the {entity[:-1]} entity.")
            if spec.read_only and not (allow_id and spec.name == "id"):
                raise _validation(f"{spec.name} is read-only.")
            result[spec.name] = self._coerce(entity, spec, value)
        return result

    def _udfs(self, entity: str, value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise _validation("userDefinedFields must be an array of {name, value}.")
        known = {name.lower(): name for name in USER_DEFINED_FIELDS[entity]}
        udfs = []
        for item in value:
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or name.lower() not in known:
                raise _validation(f"Unknown user-defined field: {name}.")
            raw = item.get("value")
            udfs.append({"name": known[name.lower()], "value": None if raw is None else str(raw)})
        return udfs

    def _check_picklists(self, entity: str, values: dict[str, Any], changed: set[str]) -> None:
        for name in changed:
            picks = PICKLISTS.get(entity, {}).get(name)
            value = values.get(name)
            if picks is None or value is None:
                continue
            match = next((p for p in picks if p[0] == value), None)
            if match is None or not match[3]:
                raise _validation(f"Value {value} is not a valid (active) value of the {name} picklist.")
            parent = match[5]
            spec = self._spec(entity, name)
            if parent is not None and spec is not None and values.get(spec.parent) != parent:
                raise _validation(f"{name} {value} does not belong to {spec.parent} {values.get(spec.parent)}.")

    def _check_required(self, entity: str, values: dict[str, Any]) -> None:
        missing = [
            spec.name
            for spec in FIELDS[entity]
            if spec.required and not spec.read_only and values.get(spec.name) in (None, "")
        ]
        if missing:
            raise _validation(*[f"{name} is required." for name in missing])

    def _check_ticket(self, values: dict[str, Any], changed: set[str]) -> None:
        self._check_required("Tickets", values)
        if values.get("queueID") is None and (
            values.get("assignedResourceID") is None or values.get("assignedResourceRoleID") is None
        ):
            raise _validation("A ticket needs a queueID or an assignedResourceID with an assignedResourceRoleID.")
        self._check_picklists("Tickets", values, changed)
        if "companyID" in changed:
            company = self._companies.get(values["companyID"])
            if company is None:
                raise _validation(f"Company {values['companyID']} does not exist.")
            if not company["isActive"]:
                raise _validation(f"Company {values['companyID']} is inactive; tickets cannot be added to it.")

    # ---- tickets ----------------------------------------------------------------------------

    def _write_ticket(self, method: str, payload: Any) -> _Reply:
        if self.read_only_user:
            raise _validation("The logged in Resource does not have the adequate permissions to update this entity.")
        if method == "POST":
            body = self._canonical_body("Tickets", payload, allow_id=False)
            values = {**{f.name: None for f in FIELDS["Tickets"]}, **body}
            self._check_ticket(values, set(body))
            ticket = self._insert_ticket(values)
            return self._json(200, {"itemId": ticket["id"]})

        body = self._canonical_body("Tickets", payload, allow_id=True)
        ticket_id = body.pop("id", None)
        if ticket_id is None:
            raise _validation("id is required to update a Ticket.")
        existing = self._tickets.get(ticket_id)
        if existing is None:
            raise _validation(
                "No matching records found. The logged in Resource may not have the required permissions."
            )
        if method == "PATCH":
            updated = {**existing, **body}
        else:
            # PUT: every writable field the body does not carry becomes null.
            writable = {f.name for f in FIELDS["Tickets"] if not f.read_only}
            updated = {**existing, **{name: None for name in writable}, **body}
            if "userDefinedFields" not in body:
                updated["userDefinedFields"] = [
                    {"name": name, "value": None} for name in USER_DEFINED_FIELDS["Tickets"]
                ]
        if "userDefinedFields" in body:
            merged = {udf["name"]: udf for udf in existing.get("userDefinedFields", [])}
            merged.update({udf["name"]: udf for udf in body["userDefinedFields"]})
            updated["userDefinedFields"] = list(merged.values())
        changed = set(body) if method == "PATCH" else set(body) | {f.name for f in FIELDS["Tickets"]}
        self._check_ticket(updated, changed)
        if updated.get("status") == STATUS_COMPLETE and existing.get("status") != STATUS_COMPLETE:
            updated["completedDate"] = _now_iso()
        elif updated.get("status") != STATUS_COMPLETE:
            updated["completedDate"] = None
        updated["lastActivityDate"] = _now_iso()
        self._tickets[ticket_id] = updated
        return self._json(200, {"itemId": ticket_id})

    def _ticket_notes(self, method: str, ticket_id: int, payload: Any) -> _Reply:
        if method == "GET":
            if ticket_id not in self._tickets:
                return self._json(200, self._page_json([], MAX_RECORDS, None, None))
            items = [copy.deepcopy(n) for _, n in sorted(self._notes.items()) if n["ticketID"] == ticket_id]
            return self._json(200, self._page_json(items, MAX_RECORDS, None, None))
        if method not in ("POST", "PATCH"):
            raise self._not_allowed(method)
        if self.read_only_user:
            raise _validation("The logged in Resource does not have the adequate permissions to create this entity.")
        if ticket_id not in self._tickets:
            raise _validation(f"Ticket {ticket_id} does not exist.")
        body = self._canonical_body("TicketNotes", payload, allow_id=method == "PATCH")
        if body.get("ticketID", ticket_id) != ticket_id:
            raise _validation("The ticketID in the body does not match the parent ticket in the URL.")
        body["ticketID"] = ticket_id
        if method == "PATCH":
            note_id = body.pop("id", None)
            note = self._notes.get(note_id) if note_id is not None else None
            if note is None or note["ticketID"] != ticket_id:
                raise _validation("No matching records found.")
            updated = {**note, **body}
            self._check_note(updated, set(body))
            updated["lastActivityDate"] = _now_iso()
            self._notes[note["id"]] = updated
            return self._json(200, {"itemId": note["id"]})
        values = {**{f.name: None for f in FIELDS["TicketNotes"]}, **body}
        self._check_note(values, set(body))
        now = _now_iso()
        values.update(id=self._next_note_id, createDateTime=now, lastActivityDate=now, creatorResourceID=29682885)
        self._next_note_id += 1
        self._notes[values["id"]] = values
        self._tickets[ticket_id]["lastActivityDate"] = now
        return self._json(200, {"itemId": values["id"]})

    def _check_note(self, values: dict[str, Any], changed: set[str]) -> None:
        self._check_required("TicketNotes", values)
        if self.require_note_titles and not (values.get("title") or "").strip():
            raise _validation("Title is required for notes on tickets of this category.")
        self._check_picklists("TicketNotes", values, changed)

    # ---- queries ----------------------------------------------------------------------------

    def _query_route(
        self, method: str, entity: str, rest: list[str], raw_path: str, query: dict[str, str], payload: Any
    ) -> _Reply:
        if method not in ("GET", "POST"):
            raise self._not_allowed(method)
        if rest == ["next"]:
            return self._next_page(method, entity, query, payload)
        search_text: str | None = None
        if method == "GET":
            search_text = query.get("search")
            if search_text is None:
                raise _validation("A search parameter is required.")
            try:
                source: Any = json.loads(search_text)
            except ValueError:
                raise _validation("The search parameter is not valid JSON.") from None
        else:
            source = payload
        model = self._query_model(entity, source)
        if rest == ["count"]:
            return self._json(200, {"queryCount": len(self._matching(entity, model))})
        if rest:
            raise self._no_route(raw_path)
        cursor = _Cursor(entity, model, method, payload, search_text, None, None)
        return self._serve_page(cursor)

    def _query_model(self, entity: str, source: Any) -> dict[str, Any]:
        if not isinstance(source, dict):
            raise _validation("The query must be a JSON object.")
        keys = {key.lower(): value for key, value in source.items()}
        unknown = set(keys) - {"maxrecords", "includefields", "filter"}
        if unknown:
            raise _validation(f"Unknown query properties: {', '.join(sorted(unknown))}.")
        filters = keys.get("filter")
        if not isinstance(filters, list) or not filters:
            raise _validation("A query needs a filter.")
        for condition in filters:
            self._check_condition(entity, condition)
        max_records = keys.get("maxrecords", MAX_RECORDS)
        if isinstance(max_records, bool) or not isinstance(max_records, int) or not 1 <= max_records <= MAX_RECORDS:
            raise _validation(f"MaxRecords must be between 1 and {MAX_RECORDS}.")
        include = keys.get("includefields")
        include_fields: list[str] | None = None
        if include:
            if not isinstance(include, list):
                raise _validation("IncludeFields must be an array of field names.")
            include_fields = []
            for name in include:
                if isinstance(name, str) and name.lower() == "userdefinedfields":
                    include_fields.append("userDefinedFields")
                    continue
                spec = self._spec(entity, str(name))
                if spec is None:
                    raise _validation(f"Unable to find {name} in the {entity[:-1]} entity.")
                include_fields.append(spec.name)
        return {"filter": filters, "MaxRecords": max_records, "IncludeFields": include_fields}

    def _check_condition(self, entity: str, condition: Any) -> None:
        if not isinstance(condition, dict):
            raise _validation("A filter item must be an object.")
        keys = {key.lower(): value for key, value in condition.items()}
        op = str(keys.get("op", "")).lower()
        if op in ("and", "or"):
            items = keys.get("items")
            if not isinstance(items, list) or not items:
                raise _validation(f"The {op} filter needs items.")
            for item in items:
                self._check_condition(entity, item)
            return
        if op not in _OPERATORS:
            raise _validation(f"Unknown filter operator: {keys.get('op')}.")
        name = keys.get("field")
        if not isinstance(name, str) or not name:
            raise _validation("A filter item needs a field.")
        udf = keys.get("udf")
        if udf not in (None, True, False):
            raise _validation("udf must be true or false.")
        if udf:
            if name.lower() not in {n.lower() for n in USER_DEFINED_FIELDS[entity]}:
                raise _validation(f"Unknown user-defined field: {name}.")
        elif self._spec(entity, name) is None:
            raise _validation(f"Unable to find {name} in the {entity[:-1]} entity.")
        if op in ("in", "notin") and not isinstance(keys.get("value"), list):
            raise _validation(f"The {op} filter needs an array value.")
        if op not in ("exist", "notexist", "in", "notin") and "value" not in keys:
            raise _validation(f"The {op} filter needs a value.")

    def _matching(self, entity: str, model: dict[str, Any]) -> list[dict[str, Any]]:
        items = [item for _, item in sorted(self._store(entity).items())]
        return [item for item in items if all(self._matches(entity, item, c) for c in model["filter"])]

    def _comparable(self, entity: str, name: str, udf: bool, value: Any) -> Any:
        if value is None:
            return None
        spec = None if udf else self._spec(entity, name)
        if spec is not None and spec.data_type in ("integer", "long"):
            try:
                return int(value)
            except (TypeError, ValueError):
                raise _validation(f"'{value}' is not a valid value for {spec.name}.") from None
        if spec is not None and spec.data_type == "datetime":
            try:
                return _parse_datetime(str(value))
            except ValueError:
                raise _validation(f"'{value}' is not a valid date and time.") from None
        if spec is not None and spec.data_type == "boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
        return str(value).casefold()

    def _matches(self, entity: str, item: dict[str, Any], condition: dict[str, Any]) -> bool:
        keys = {key.lower(): value for key, value in condition.items()}
        op = str(keys["op"]).lower()
        if op == "and":
            return all(self._matches(entity, item, c) for c in keys["items"])
        if op == "or":
            return any(self._matches(entity, item, c) for c in keys["items"])
        name = str(keys["field"])
        udf = bool(keys.get("udf"))
        if udf:
            raw = next(
                (u.get("value") for u in item.get("userDefinedFields", []) if u["name"].lower() == name.lower()), None
            )
        else:
            spec = self._spec(entity, name)
            assert spec is not None  # checked in _check_condition
            raw = item.get(spec.name)
        actual = self._comparable(entity, name, udf, raw)
        if op == "exist":
            return actual not in (None, "")
        if op == "notexist":
            return actual in (None, "")
        value = keys.get("value")
        if op in ("in", "notin"):
            values = [self._comparable(entity, name, udf, v) for v in value]
            return (actual in values) == (op == "in")
        expected = self._comparable(entity, name, udf, value)
        if op == "eq":
            return actual == expected
        if op == "noteq":
            return actual != expected
        if actual is None or expected is None:
            return False
        if op in ("contains", "beginswith", "endswith"):
            text, needle = str(actual), str(expected)
            return {
                "contains": needle in text,
                "beginswith": text.startswith(needle),
                "endswith": text.endswith(needle),
            }[op]
        try:
            return {
                "gt": actual > expected,
                "gte": actual >= expected,
                "lt": actual < expected,
                "lte": actual <= expected,
            }[op]
        except TypeError:
            raise _validation(f"The {op} filter cannot compare {name} with {value!r}.") from None

    def _cursor_url(self, cursor: _Cursor) -> str:
        token = secrets.token_urlsafe(18)
        self._cursors[token] = cursor
        url = f"{self.api_versioned_url}/{cursor.entity}/query/next?paging={token}"
        if cursor.origin == "GET" and cursor.search is not None:
            url += f"&search={quote(cursor.search, safe='')}"
        return url

    @staticmethod
    def _page_json(
        items: list[dict[str, Any]], request_count: int, previous: str | None, next_url: str | None
    ) -> dict[str, Any]:
        return {
            "items": items,
            "pageDetails": {
                "count": len(items),
                "requestCount": request_count,
                "prevPageUrl": previous,
                "nextPageUrl": next_url,
            },
        }

    def _serve_page(self, cursor: _Cursor) -> _Reply:
        model = cursor.query
        matching = self._matching(cursor.entity, model)
        if cursor.after_id is not None:
            matching = [item for item in matching if item["id"] > cursor.after_id]
        size = model["MaxRecords"]
        page = matching[:size]
        next_url: str | None = None
        if len(matching) > size:
            following = _Cursor(cursor.entity, model, cursor.origin, cursor.body, cursor.search, page[-1]["id"], cursor)
            next_url = self._cursor_url(following)
            self.next_links.append(next_url)
        previous = self._cursor_url(cursor.previous) if cursor.previous is not None else None
        include = model["IncludeFields"]
        items = [
            {key: copy.deepcopy(item.get(key)) for key in dict.fromkeys(["id", *include])}
            if include
            else copy.deepcopy(item)
            for item in page
        ]
        return self._json(200, self._page_json(items, size, previous, next_url))

    def _next_page(self, method: str, entity: str, query: dict[str, str], payload: Any) -> _Reply:
        cursor = self._cursors.get(query.get("paging", ""))
        if cursor is None or cursor.entity != entity:
            raise _validation("The paging token is invalid or has expired.")
        if method == "GET" and cursor.origin == "POST":
            # Seen against the live API: a POST query's next page cannot be fetched with a GET.
            raise self._not_allowed("GET")
        if method == "POST" and payload != cursor.body:
            raise _validation("The query in the request body does not match the paging token.")
        return self._serve_page(cursor)


_OPERATORS = frozenset(
    {"eq", "noteq", "gt", "gte", "lt", "lte", "beginswith", "endswith", "contains", "exist", "notexist", "in", "notin"}
)


@contextlib.contextmanager
def running_autotask_fake(**options: Any) -> Iterator[AutotaskFake]:
    """Start an :class:`AutotaskFake` on a loopback port; stop it (all threads joined) after.

    ``options`` go to :class:`AutotaskFake` (username, secret, integration_code, zone_name, seed).
    A bug inside the fake's routes fails the test at exit.
    """
    fake = AutotaskFake(**options)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    if fake.server_errors:
        raise AssertionError("the fake Autotask server failed:\n" + "\n".join(fake.server_errors))
