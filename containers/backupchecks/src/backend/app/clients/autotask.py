"""Thin Autotask PSA REST (v1.0) client: zone lookup, companies, tickets, ticket notes and picklists.

The wire format and its pitfalls are described in shared/protocols/autotask-rest.md. In short:

- Every Autotask tenant lives in one zone with its own REST root. Unless a base URL is configured,
  the root is looked up once from the API username with the unauthenticated ``zoneInformation`` call.
- Every other call carries three headers (``ApiIntegrationCode``, ``UserName``, ``Secret``); there is
  no token. A 401 means wrong credentials or the wrong zone, so a looked-up zone is looked up again
  once before the 401 becomes an :class:`AutotaskAuthError`.
- Create and update answer ``200 {"itemId": n}`` without the entity; the ticket number is read back.
- A missing record is ``200 {"item": null}`` (sometimes a 404); both read as ``None`` here.
- Updates are PATCHes with only the changed fields. A PUT nulls every writable field it does not
  carry, which is how ticket descriptions get wiped, so this client has no PUT at all.
- Queries page through ``pageDetails.nextPageUrl``; after a POST query the same body is POSTed there.
- Errors are ``{"errors": ["..."]}``. Validation failures come back as HTTP 500, so a 500 is never
  retried (retrying a create could only fail again or, worse, succeed twice); 429 and 503 are.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import requests
from urllib3.exceptions import NewConnectionError

from .http import ConnectionReport, ConnectionStep, connection_reason, parse_retry_after

log = logging.getLogger(__name__)

# Any zone host answers zoneInformation; this is the one Datto's own examples use.
DEFAULT_ZONE_LOOKUP_BASE_URL = "https://webservices.autotask.net/atservicesrest"
API_VERSION = "V1.0"
MAX_PAGE_SIZE = 500
# System value of the ticket status picklist; every tenant has it and it cannot be changed.
TICKET_STATUS_COMPLETE = 5
# The Autotask owner company ("zero company") that every tenant has.
OWNER_COMPANY_ID = 0

_RETRYABLE_STATUSES = frozenset({429, 503})
# One `in` filter per query with at most this many ids. Datto documents no REST limit; the SOAP API
# capped a query at 500 conditions, so this stays well below that.
_IDS_PER_QUERY = 200
_ENTITY_NAME = re.compile(r"^[A-Za-z]+$")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_COMPANY_FIELDS = ("id", "companyName", "companyNumber", "isActive")

Filter = Mapping[str, Any]
"""One query filter item: ``{"op": "eq", "field": "status", "value": 5}``, or a group
``{"op": "or", "items": [...]}``; a UDF filter adds ``"udf": True``. See the protocol notes for the ops."""


class AutotaskError(Exception):
    """An Autotask call failed. ``str()`` reads like "Autotask 500: Value does not fall within ...".

    ``errors`` holds the API's own error strings; ``message`` is them joined, fit for the UI and the
    audit log. ``status`` is None when no HTTP answer came (timeouts, refused connections).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: Sequence[str] = (),
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = tuple(errors)
        self.method = method
        self.path = path

    def __str__(self) -> str:
        return f"Autotask {self.status}: {self.message}" if self.status else f"Autotask: {self.message}"


class AutotaskAuthError(AutotaskError):
    """Autotask refused the API user, secret or integration code, or does not know the user at all."""


@dataclass(frozen=True)
class ZoneInfo:
    zone_name: str
    url: str  # the REST root exactly as zoneInformation gave it (without the version)
    web_url: str  # the web UI of the zone, for links people click
    ci: int | None
    api_url: str  # ``url`` normalised and with the API version appended: what every call is built on


@dataclass(frozen=True)
class PicklistValue:
    value: str  # a string even for integer fields: compare with str(ticket["status"])
    label: str
    is_default: bool
    sort_order: int
    parent_value: str  # for dependent picklists (subIssueType -> issueType); "" otherwise
    is_active: bool
    is_system: bool


@dataclass(frozen=True)
class FieldInfo:
    name: str
    data_type: str
    is_required: bool
    is_read_only: bool
    is_picklist: bool
    picklist_parent_field: str
    picklist_values: tuple[PicklistValue, ...]


@dataclass(frozen=True)
class Company:
    id: int
    name: str
    company_number: str | None
    is_active: bool


class CreatedTicket(NamedTuple):
    id: int
    # None only when the ticket was created but reading it back failed: the id is what counts, and
    # get_ticket(id) gives the number later.
    ticket_number: str | None






def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request surely did not reach Autotask, so even a create may be retried."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason: Any = exc.args[0] if exc.args else None
    return isinstance(getattr(reason, "reason", reason), NewConnectionError)


def _api_root(url: str) -> str:
    """A REST root with the API version, e.g. ``https://webservices5.autotask.net/ATServicesRest/V1.0``.

    zoneInformation gives the root without the version and with a trailing slash, and live answers
    have been seen with doubled slashes; configured URLs may or may not carry the version already.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        # The Secret header would cross the network in clear text.
        raise ValueError(f"Autotask must be reached over https, got {url!r}")
    segments = [segment for segment in parts.path.split("/") if segment]
    if not segments or segments[-1].lower() != API_VERSION.lower():
        segments.append(API_VERSION)
    return urlunsplit((parts.scheme, parts.netloc, "/" + "/".join(segments), "", ""))


def _entity(name: str) -> str:
    # Entity names become path segments; anything but letters would let a caller reach other paths.
    if not _ENTITY_NAME.match(name):
        raise ValueError(f"not an Autotask entity name: {name!r}")
    return name


def _wire_value(value: Any) -> Any:
    """A field value as Autotask wants it: datetimes in UTC as ``yyyy-mm-ddThh:mm:ss.mmm``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware (UTC) datetime")
        moment = value.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return value


def _wire_filters(filters: Sequence[Filter]) -> list[dict[str, Any]]:
    wired: list[dict[str, Any]] = []
    for item in filters:
        entry = dict(item)
        if "value" in entry:
            value = entry["value"]
            entry["value"] = [_wire_value(v) for v in value] if isinstance(value, list) else _wire_value(value)
        if "items" in entry:
            entry["items"] = _wire_filters(entry["items"])
        wired.append(entry)
    return wired


def _error_messages(payload: Any) -> list[str]:
    """Autotask's ``errors`` string array; ASP.NET's ``Message`` for routing errors (404, 405)."""
    if not isinstance(payload, dict):
        return []
    errors = payload.get("errors")
    messages: list[str] = []
    if isinstance(errors, list):
        for error in errors:
            text = error.get("message") if isinstance(error, dict) else error
            if text is not None and str(text).strip():
                messages.append(str(text).strip())
    elif isinstance(errors, str) and errors.strip():
        messages.append(errors.strip())
    if not messages:
        for key in ("message", "Message"):
            if isinstance(payload.get(key), str) and payload[key].strip():
                messages.append(payload[key].strip())
                break
    return messages


def _error_from_response(response: requests.Response, method: str, path: str) -> AutotaskError:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    errors = _error_messages(payload)
    if errors:
        message = "; ".join(errors)
    else:
        # Not Autotask's envelope (a load balancer or proxy answered): keep a short, readable excerpt.
        text = " ".join(response.text.split())[:200]
        message = text or response.reason or "no details given"
    if response.status_code == 401:
        return AutotaskAuthError(
            f"The API username, secret or integration code was rejected ({message}). "
            "Check the three values and that the API user is active.",
            status=401,
            errors=errors,
            method=method,
            path=path,
        )
    if response.status_code == 403:
        message = f"The API user's security level does not allow this ({message})."
    return AutotaskError(message, status=response.status_code, errors=errors, method=method, path=path)


def _item_id(payload: Mapping[str, Any], what: str) -> int:
    item_id = payload.get("itemId")
    if isinstance(item_id, bool) or not isinstance(item_id, int | str) or not str(item_id).strip().isdigit():
        raise AutotaskError(f"{what}: Autotask answered without an itemId")
    return int(item_id)


def _picklist_value(item: Mapping[str, Any]) -> PicklistValue:
    return PicklistValue(
        value=str(item.get("value") if item.get("value") is not None else ""),
        label=str(item.get("label") or ""),
        is_default=bool(item.get("isDefaultValue")),
        sort_order=int(item.get("sortOrder") or 0),
        parent_value=str(item.get("parentValue") or ""),
        is_active=bool(item.get("isActive", True)),
        is_system=bool(item.get("isSystem")),
    )


def _field_info(item: Mapping[str, Any]) -> FieldInfo:
    values = item.get("picklistValues")
    return FieldInfo(
        name=str(item.get("name") or ""),
        data_type=str(item.get("dataType") or ""),
        is_required=bool(item.get("isRequired")),
        is_read_only=bool(item.get("isReadOnly")),
        is_picklist=bool(item.get("isPickList")),
        picklist_parent_field=str(item.get("picklistParentValueField") or ""),
        picklist_values=tuple(
            sorted(
                (_picklist_value(v) for v in values if isinstance(v, dict)),
                key=lambda v: (v.sort_order, v.label.casefold()),
            )
        )
        if isinstance(values, list)
        else (),
    )


def _company(item: Mapping[str, Any]) -> Company:
    number = item.get("companyNumber")
    return Company(
        id=int(item["id"]),
        name=str(item.get("companyName") or ""),
        company_number=str(number) if number not in (None, "") else None,
        is_active=bool(item.get("isActive", True)),
    )


def _chunks(values: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


class AutotaskClient:
    """Talks to one Autotask tenant as one API user. Build one per request or poller pass."""

    def __init__(
        self,
        *,
        username: str,
        secret: str,
        integration_code: str,
        session: requests.Session,
        base_url: str | None = None,
        zone_lookup_base_url: str = DEFAULT_ZONE_LOOKUP_BASE_URL,
        impersonation_resource_id: int | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 4,
        backoff_base: float = 1.0,
        max_retry_wait: float = 60.0,
    ) -> None:
        """``base_url`` pins the REST root (with or without ``/V1.0``); None looks the zone up.

        ``zone_lookup_base_url`` is where zoneInformation is asked (tests point it at the fake).
        """
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.username = username.strip()
        self.integration_code = integration_code.strip()
        self._secret = secret
        self._session = session
        self._configured_url = _api_root(base_url) if base_url and base_url.strip() else None
        self._zone_lookup_url = _api_root(zone_lookup_base_url) + "/zoneInformation"
        self._impersonation_resource_id = impersonation_resource_id
        self._timeout = timeout
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._max_retry_wait = max_retry_wait
        self._zone: ZoneInfo | None = None
        self._zone_lock = threading.Lock()
        self._fields: dict[str, tuple[FieldInfo, ...]] = {}

    def __repr__(self) -> str:
        # Deliberately without the secret, so a logged client leaks nothing.
        return f"AutotaskClient(username={self.username!r}, base_url={self._configured_url!r})"

    # ---- zone -------------------------------------------------------------------------------

    def _check_configured(self) -> None:
        missing = [
            name
            for name, value in (
                ("API username", self.username),
                ("secret", self._secret),
                ("API integration code", self.integration_code),
            )
            if not value
        ]
        if missing:
            raise AutotaskAuthError("Missing " + ", ".join(missing) + ".")

    def get_zone_information(self) -> ZoneInfo:
        """The zone of the API user (cached), also when a base URL is configured."""
        with self._zone_lock:
            if self._zone is not None:
                return self._zone
        if not self.username:
            raise AutotaskAuthError("Missing API username.")
        response = self._send("GET", self._zone_lookup_url, params={"user": self.username}, authenticated=False)
        payload = self._parse_json(response, "zoneInformation")
        url = payload.get("url")
        if not isinstance(url, str) or not url.strip():
            raise AutotaskError("zoneInformation answered without a url", status=response.status_code)
        try:
            api_url = _api_root(url)
        except ValueError as exc:
            raise AutotaskError(f"zoneInformation answered an unusable url: {exc}") from exc
        ci = payload.get("ci")
        zone = ZoneInfo(
            zone_name=str(payload.get("zoneName") or ""),
            url=url,
            web_url=str(payload.get("webUrl") or ""),
            ci=ci if isinstance(ci, int) and not isinstance(ci, bool) else None,
            api_url=api_url,
        )
        with self._zone_lock:
            self._zone = zone
        log.info("Autotask zone of %s: %s (%s)", self.username, zone.zone_name, api_url)
        return zone

    def zone_url(self) -> str:
        """The versioned REST root every call is built on: the configured one or the looked-up one."""
        if self._configured_url is not None:
            return self._configured_url
        return self.get_zone_information().api_url

    def _forget_zone(self) -> None:
        with self._zone_lock:
            self._zone = None

    # ---- HTTP -------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {
            "ApiIntegrationCode": self.integration_code,
            "UserName": self.username,
            "Secret": self._secret,
            "Accept": "application/json",
        }
        if self._impersonation_resource_id is not None:
            headers["ImpersonationResourceId"] = str(self._impersonation_resource_id)
        return headers

    def _backoff(self, attempt: int) -> float:
        return min(self._max_retry_wait, self._backoff_base * 2 ** (attempt - 1))

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        authenticated: bool = True,
        idempotent: bool = True,
    ) -> requests.Response:
        """One request with bounded retries; returns a 2xx answer or raises AutotaskError."""
        where = urlsplit(url).path
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=self._headers() if authenticated else {"Accept": "application/json"},
                    timeout=self._timeout,
                    # requests strips only Authorization on redirects, not a custom Secret header.
                    allow_redirects=not authenticated,
                )
            except requests.exceptions.SSLError as exc:
                # A certificate problem does not go away by retrying.
                raise AutotaskError(
                    f"{method} {where}: TLS verification failed: {exc}", method=method, path=where
                ) from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                timed_out = isinstance(exc, requests.Timeout)
                detail = (
                    f"no answer within {self._timeout:g} s"
                    if timed_out
                    else f"cannot connect: {connection_reason(exc)}"
                )
                if not idempotent and not _never_sent(exc):
                    # The request may have been carried out; sending it again could create a duplicate.
                    raise AutotaskError(
                        f"{method} {where}: {detail}; Autotask may still have carried it out, "
                        "so check there before trying again.",
                        method=method,
                        path=where,
                    ) from exc
                if attempt >= self._max_attempts:
                    raise AutotaskError(
                        f"{method} {where}: {detail} (gave up after {attempt} attempts)", method=method, path=where
                    ) from exc
                wait = self._backoff(attempt)
                log.warning("Autotask %s %s failed (%s); retrying in %.2f s", method, where, detail, wait)
                self._sleep(wait)
                continue
            except requests.RequestException as exc:
                raise AutotaskError(f"{method} {where}: {exc}", method=method, path=where) from exc

            if response.status_code < 300:
                return response
            if 300 <= response.status_code < 400:
                raise AutotaskError(
                    f"{method} {where}: unexpected redirect to {response.headers.get('Location')!r}",
                    status=response.status_code,
                    method=method,
                    path=where,
                )
            if response.status_code in _RETRYABLE_STATUSES and attempt < self._max_attempts:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                wait = self._backoff(attempt) if retry_after is None else min(retry_after, self._max_retry_wait)
                log.info("Autotask %s %s answered %s; retrying in %.2f s", method, where, response.status_code, wait)
                self._sleep(wait)
                continue
            if not authenticated and response.status_code == 500:
                # zoneInformation answers 500 for a blank or unknown user.
                error = _error_from_response(response, method, where)
                raise AutotaskAuthError(
                    f"The API username {self.username!r} is not known to Autotask ({error.message}).",
                    status=500,
                    errors=error.errors,
                    method=method,
                    path=where,
                )
            raise _error_from_response(response, method, where)

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotent: bool = True,
    ) -> requests.Response:
        """A call relative to the zone root; on a 401 a looked-up zone is looked up again once."""
        self._check_configured()
        rediscovered = False
        while True:
            url = f"{self.zone_url()}/{path}"
            try:
                return self._send(method, url, json=json, idempotent=idempotent)
            except AutotaskAuthError:
                if self._configured_url is not None or rediscovered:
                    raise
                # A tenant moved to another zone answers 401 on the old one.
                rediscovered = True
                old_url = self.zone_url()
                self._forget_zone()
                if self.zone_url() == old_url:
                    raise
                log.warning("Autotask zone of %s moved from %s to %s", self.username, old_url, self.zone_url())

    @staticmethod
    def _parse_json(response: requests.Response, what: str) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError as exc:
            raise AutotaskError(
                f"{what}: expected JSON, got {response.headers.get('Content-Type')!r}", status=response.status_code
            ) from exc
        if not isinstance(payload, dict):
            raise AutotaskError(f"{what}: expected a JSON object", status=response.status_code)
        return payload

    def _json(
        self, method: str, path: str, *, json: Any = None, idempotent: bool = True, what: str | None = None
    ) -> dict[str, Any]:
        response = self._request(method, path, json=json, idempotent=idempotent)
        return self._parse_json(response, what or f"{method} {path}")

    def _get_item(self, entity: str, item_id: int) -> dict[str, Any] | None:
        try:
            payload = self._json("GET", f"{_entity(entity)}/{int(item_id)}")
        except AutotaskError as exc:
            if exc.status == 404:
                return None
            raise
        item = payload.get("item")
        if item is None:
            return None
        if not isinstance(item, dict):
            raise AutotaskError(f"GET {entity}/{item_id}: 'item' is not an object")
        return item

    def _same_origin(self, next_url: str) -> str:
        """The next-page URL on the zone's own scheme and host.

        The URL comes from the answer; the Secret header must go nowhere but the zone itself.
        """
        zone = urlsplit(self.zone_url())
        link = urlsplit(next_url)
        if link.hostname != zone.hostname:
            log.warning("Autotask nextPageUrl points at %s; following it on %s", link.hostname, zone.hostname)
        return urlunsplit((zone.scheme, zone.netloc, link.path, link.query, ""))

    def _pages(self, entity: str, body: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Each page's items, following nextPageUrl (re-POSTing the same body) until it is null."""
        self._check_configured()
        path = f"{_entity(entity)}/query"
        payload = self._json("POST", path, json=body)
        seen: set[str] = set()
        while True:
            items = payload.get("items")
            if not isinstance(items, list):
                raise AutotaskError(f"POST {path}: answer without an items list")
            yield [item for item in items if isinstance(item, dict)]
            details = payload.get("pageDetails")
            next_link = details.get("nextPageUrl") if isinstance(details, dict) else None
            if not next_link:
                return
            url = self._same_origin(str(next_link))
            if url in seen:
                raise AutotaskError(f"POST {path}: Autotask returned the same next page twice; paging stopped")
            seen.add(url)
            # Absolute URL: a zone move in the middle of a listing ends it with the 401.
            payload = self._parse_json(self._send("POST", url, json=body), f"POST {path} (next page)")

    # ---- generic queries and metadata --------------------------------------------------------

    def query(
        self,
        entity: str,
        filters: Sequence[Filter],
        *,
        include_fields: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of ``entity`` matching all ``filters`` (an implicit AND), in Autotask's order.

        ``include_fields`` trims the items (``id`` is always added: Autotask needs it for paging past
        500). ``limit`` stops after that many items.
        """
        if not filters:
            raise ValueError("Autotask queries need at least one filter")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        if limit is not None:
            if limit < 1:
                raise ValueError(f"limit must be positive, got {limit}")
            page_size = min(page_size, limit)
        body: dict[str, Any] = {"MaxRecords": page_size, "filter": _wire_filters(filters)}
        if include_fields:
            fields = list(dict.fromkeys(include_fields))
            if not any(name.lower() == "id" for name in fields):
                fields.insert(0, "id")
            body["IncludeFields"] = fields
        results: list[dict[str, Any]] = []
        for items in self._pages(entity, body):
            results.extend(items)
            if limit is not None and len(results) >= limit:
                return results[:limit]
        return results

    def count(self, entity: str, filters: Sequence[Filter]) -> int:
        """How many items of ``entity`` match, without fetching them."""
        if not filters:
            raise ValueError("Autotask queries need at least one filter")
        path = f"{_entity(entity)}/query/count"
        payload = self._json("POST", path, json={"filter": _wire_filters(filters)})
        count = payload.get("queryCount")
        if isinstance(count, bool) or not isinstance(count, int):
            raise AutotaskError(f"POST {path}: answer without queryCount")
        return count

    def get_entity_information(self, entity: str) -> dict[str, Any]:
        """``{"name", "canCreate", "canQuery", "canUpdate", ...}`` of an entity for this API user."""
        payload = self._json("GET", f"{_entity(entity)}/entityInformation")
        info = payload.get("info")
        if not isinstance(info, dict):
            raise AutotaskError(f"GET {entity}/entityInformation: answer without info")
        return info

    def get_fields(self, entity: str, *, refresh: bool = False) -> tuple[FieldInfo, ...]:
        """The fields of an entity with their picklists; kept for the life of this client."""
        key = _entity(entity).lower()
        if refresh or key not in self._fields:
            payload = self._json("GET", f"{entity}/entityInformation/fields")
            fields = payload.get("fields")
            if not isinstance(fields, list):
                raise AutotaskError(f"GET {entity}/entityInformation/fields: answer without fields")
            self._fields[key] = tuple(_field_info(item) for item in fields if isinstance(item, dict))
        return self._fields[key]

    def get_picklist(self, entity: str, field: str) -> list[PicklistValue]:
        """The values of a picklist field, inactive ones included (flagged), in Autotask's sort order.

        Ticket defaults use entity "Tickets" and fields "queueID", "priority", "status", "issueType",
        "subIssueType" (values carry the issueType in ``parent_value``), "source", "ticketType";
        notes use "TicketNotes" with "noteType" and "publish". Field names compare case-insensitively.
        """
        for info in self.get_fields(entity):
            if info.name.lower() == field.lower():
                if not info.is_picklist:
                    raise AutotaskError(f"{entity}.{info.name} is not a picklist field")
                return list(info.picklist_values)
        raise AutotaskError(f"{entity} has no field named {field!r}")

    # ---- companies --------------------------------------------------------------------------

    def search_companies(self, text: str, limit: int = 25) -> list[Company]:
        """Companies whose name contains ``text`` (case-insensitive), inactive ones included, by name.

        A blank ``text`` lists the first ``limit`` companies.
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
        needle = text.strip()
        condition: dict[str, Any] = (
            {"op": "contains", "field": "companyName", "value": needle} if needle else {"op": "exist", "field": "id"}
        )
        items = self.query("Companies", [condition], include_fields=_COMPANY_FIELDS, limit=limit)
        return sorted((_company(item) for item in items), key=lambda c: (c.name.casefold(), c.id))

    def get_company(self, company_id: int) -> Company | None:
        """One company, or None when it does not exist (any more)."""
        item = self._get_item("Companies", company_id)
        return _company(item) if item is not None else None

    def get_companies(self, company_ids: Iterable[int]) -> dict[int, Company]:
        """The companies that still exist among ``company_ids``, by id: one query per 200 ids.

        Missing ids are simply absent, which is how a mapping check sees deleted companies.
        """
        wanted = sorted({int(company_id) for company_id in company_ids})
        found: dict[int, Company] = {}
        for chunk in _chunks(wanted, _IDS_PER_QUERY):
            condition = {"op": "in", "field": "id", "value": chunk}
            for item in self.query("Companies", [condition], include_fields=_COMPANY_FIELDS):
                company = _company(item)
                found[company.id] = company
        return found

    # ---- tickets ----------------------------------------------------------------------------

    def create_ticket(self, fields: Mapping[str, Any]) -> CreatedTicket:
        """Create a ticket and read back its number.

        ``fields`` use the API's names (``companyID``, ``queueID``, ``title``, ``description``,
        ``status``, ``priority``, ``issueType``, ``subIssueType``, ``source``, ``dueDateTime``, ...);
        None values are left out, aware datetimes are sent in UTC. Which fields are required is
        tenant configuration (see ``get_fields``). A timeout is not retried: the ticket may exist.
        """
        body = {name: _wire_value(value) for name, value in fields.items() if value is not None}
        if any(name.lower() == "id" for name in body):
            raise ValueError("a new ticket cannot carry an id")
        payload = self._json("POST", "Tickets", json=body, idempotent=False, what="Creating the ticket")
        ticket_id = _item_id(payload, "Creating the ticket")
        try:
            ticket = self.get_ticket(ticket_id)
        except AutotaskError as exc:
            log.warning("Autotask ticket %s was created but reading its number failed: %s", ticket_id, exc)
            return CreatedTicket(ticket_id, None)
        number = ticket.get("ticketNumber") if ticket is not None else None
        return CreatedTicket(ticket_id, str(number) if number else None)

    def get_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        """The ticket as Autotask gives it, or None when it does not exist (deleted in the PSA)."""
        return self._get_item("Tickets", ticket_id)

    def query_tickets(
        self,
        *,
        ids: Iterable[int] | None = None,
        filters: Sequence[Filter] = (),
        include_fields: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Tickets by id and/or filter, every page followed.

        With ``ids``, tickets deleted in Autotask are simply absent from the result; a status of
        :data:`TICKET_STATUS_COMPLETE` means completed. Ids go in chunks of 200 per query.
        """
        if ids is None:
            if not filters:
                raise ValueError("query_tickets needs ids or filters")
            return self.query("Tickets", filters, include_fields=include_fields, page_size=page_size)
        wanted = sorted({int(ticket_id) for ticket_id in ids})
        tickets: list[dict[str, Any]] = []
        for chunk in _chunks(wanted, _IDS_PER_QUERY):
            conditions = [{"op": "in", "field": "id", "value": chunk}, *filters]
            tickets.extend(self.query("Tickets", conditions, include_fields=include_fields, page_size=page_size))
        return tickets

    def update_ticket(self, ticket_id: int, changed_fields: Mapping[str, Any]) -> int:
        """Change only ``changed_fields`` of a ticket (PATCH with those fields and the id).

        Pass only the fields that actually change, never a whole ticket read back earlier: every
        field in the body is written, and Autotask returns rich text (the description) as plain text,
        so writing it back loses its formatting. A None or blank ``description`` is refused outright,
        because a wiped description is the one mistake this integration must never make. Returns
        the ticket id; with nothing to change no request is sent.
        """
        body: dict[str, Any] = {}
        for name, value in changed_fields.items():
            if name.lower() == "id":
                raise ValueError("the ticket id is the ticket_id argument, not a field to change")
            if name.lower() == "description" and (value is None or not str(value).strip()):
                raise ValueError("refusing to clear a ticket's description")
            body[name] = _wire_value(value)
        if not body:
            return int(ticket_id)
        payload = self._json("PATCH", "Tickets", json={"id": int(ticket_id), **body}, what="Updating the ticket")
        return _item_id(payload, "Updating the ticket")

    def create_ticket_note(
        self, ticket_id: int, *, description: str, note_type: int, publish: int, title: str | None = None
    ) -> int:
        """Add a note to a ticket (through the ticket's URL, as child entities must be); its id.

        ``note_type`` and ``publish`` are picklist values of TicketNotes. Whether ``title`` is
        required depends on the ticket category in Autotask. A timeout is not retried.
        """
        body: dict[str, Any] = {
            "ticketID": int(ticket_id),
            "description": description,
            "noteType": note_type,
            "publish": publish,
        }
        if title is not None:
            body["title"] = title
        payload = self._json(
            "POST", f"Tickets/{int(ticket_id)}/Notes", json=body, idempotent=False, what="Adding the ticket note"
        )
        return _item_id(payload, "Adding the ticket note")

    # ---- diagnostics ------------------------------------------------------------------------

    def test_connection(self) -> ConnectionReport:
        """Check zone, credentials and ticket rights without changing anything; never raises."""
        steps: list[ConnectionStep] = []
        names = ("zone", "credentials", "tickets")

        def finish(reason: str) -> ConnectionReport:
            done = {step.name for step in steps}
            skipped = [ConnectionStep(name, False, f"Skipped: {reason}") for name in names if name not in done]
            return ConnectionReport(tuple(steps + skipped))

        try:
            self._check_configured()
            if self._configured_url is not None:
                message = f"Using the configured API URL {self._configured_url}."
            else:
                zone = self.get_zone_information()
                message = f"Zone {zone.zone_name or '(unnamed)'}: {zone.api_url}."
        except (AutotaskError, ValueError) as exc:
            steps.append(ConnectionStep("zone", False, str(exc)))
            return finish("no zone")
        steps.append(ConnectionStep("zone", True, message))

        try:
            # The owner company exists in every tenant, so this only fails on credentials or rights.
            owner = self.get_company(OWNER_COMPANY_ID)
        except (AutotaskError, ValueError) as exc:
            steps.append(ConnectionStep("credentials", False, str(exc)))
            return finish("not signed in")
        owner_name = f" of {owner.name}" if owner is not None and owner.name else ""
        steps.append(ConnectionStep("credentials", True, f"Signed in as {self.username} to the tenant{owner_name}."))

        try:
            info = self.get_entity_information("Tickets")
        except (AutotaskError, ValueError) as exc:
            steps.append(ConnectionStep("tickets", False, str(exc)))
            return ConnectionReport(tuple(steps))
        missing = [verb for verb in ("create", "query", "update") if not info.get(f"can{verb.capitalize()}")]
        if missing:
            steps.append(
                ConnectionStep("tickets", False, f"The API user cannot {' or '.join(missing)} tickets in Autotask.")
            )
        else:
            steps.append(ConnectionStep("tickets", True, "The API user can create, query and update tickets."))
        return ConnectionReport(tuple(steps))
