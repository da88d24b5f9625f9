"""A loopback fake of Cove Data Protection's JSON-RPC management API (Login, EnumerateAccountStatistics).

It follows shared/protocols/cove-jsonrpc.md ("What a faithful fake must do"): one ``POST /jsonapi``
endpoint, case-sensitive method and parameter names, the visa at the top level of every answer
(a new one each time, older unexpired ones still accepted, 15 minutes of life), JSON-RPC errors
with HTTP 200, ``result.result`` double nesting, every value a string, columns without a value
omitted, keys spelled as requested, offset paging, and error 13501 for columns an API user may
not read (the legacy D02/D03 statistics).

Where the document leaves a fact open, the fake picks one and says so:

- the code of an expired or unknown visa is not documented: :data:`VISA_ERROR_CODE` (-32001);
- the error for refused credentials follows a third-party observation (code -32603, data 2100);
- wrongly cased or unknown parameter names answer -32602 (the JSON-RPC "invalid params" code);
- ``Filter``, ``OrderBy`` and ``Totals`` are not evaluated: a request using them is refused, so a
  client that starts relying on them notices here rather than in production.

Tests drive it through :func:`running_cove_fake` and the switches on :class:`CoveFake`; every
call it answered is kept in :attr:`CoveFake.calls`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import random
import re
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .loopback import LoopbackFake, LoopbackHandler, LoopbackHTTPServer, send_answer

DEFAULT_USERNAME = "api-user@msp.example"
DEFAULT_PASSWORD = "fake-cove-token-0123456789"
DEFAULT_PARTNER_NAME = "Example MSP (api-user@msp.example)"
DEFAULT_PARTNER_ID = 33491
# Fixed so that a seed alone decides every generated value; pass reference_at for "now"-relative data.
DEFAULT_REFERENCE_AT = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
VISA_LIFETIME_SECONDS = 15 * 60
PATH = "/jsonapi"

VISA_ERROR_CODE = -32001
INVALID_PARAMS_CODE = -32602
METHOD_NOT_FOUND_CODE = -32601
INVALID_REQUEST_CODE = -32600
PARSE_ERROR_CODE = -32700
LOGIN_ERROR_CODE = -32603
LOGIN_ERROR_DATA = 2100
SECURITY_ERROR_CODE = 13501

_QUERY_KEYS = frozenset(
    {
        "PartnerId",
        "Filter",
        "ExcludedPartners",
        "SelectionMode",
        "Labels",
        "StartRecordNumber",
        "RecordsCount",
        "OrderBy",
        "Columns",
        "Totals",
    }
)
_REQUIRED_QUERY_KEYS = ("PartnerId", "StartRecordNumber", "RecordsCount", "Columns")
_SELECTION_MODES = frozenset({"Undefined", "Merged", "PerInstallation", "Count"})
_LOGIN_KEYS = frozenset({"partner", "username", "password"})

# Legacy short codes the doc says are "still accepted", mapped to the new notation.
_LEGACY_COLUMNS = {
    "AN": "I1",
    "AL": "I2",
    "CD": "I4",
    "TS": "I6",
    "AR": "I8",
    "US": "I14",
    "OS": "I16",
    "VN": "I17",
    "MN": "I18",
    "OT": "I32",
    "AP": "I78",
    "T0": "D9F0",
    "TB": "D9F8",
    "TL": "D9F9",
    "T7": "D9F6",
}
_STAT_CODE = re.compile(r"D0*(\d{1,3})F0*(\d{1,2})", re.IGNORECASE)
_FORBIDDEN_STAT = re.compile(r"D[23]F\d+")


def canonical_column(code: str) -> str:
    """One spelling per column, so ``D01F00``, ``D1F00`` and ``D1F0`` name the same value."""
    text = code.strip()
    text = _LEGACY_COLUMNS.get(text, text)
    match = _STAT_CODE.fullmatch(text)
    if match:
        return f"D{int(match.group(1))}F{int(match.group(2))}"
    return text.upper()


# --------------------------------------------------------------------------------------------
# Accounts


@dataclass
class FakeCoveAccount:
    account_id: int
    partner_id: int
    flags: list[str] | None
    # Canonical column -> value, as Cove stores it (every value a string). Absent = no value.
    settings: dict[str, str]

    def get(self, code: str) -> str | None:
        return self.settings.get(canonical_column(code))

    def set(self, code: str, value: str | int | None) -> None:
        key = canonical_column(code)
        if value is None or value == "":
            self.settings.pop(key, None)
        else:
            self.settings[key] = str(value)


@dataclass(frozen=True)
class FakePartner:
    partner_id: int
    name: str


@dataclass(frozen=True)
class RecordedCall:
    """One request the fake answered."""

    http_status: int
    method: str | None  # the JSON-RPC method, None when the body was not readable
    body: Any  # the parsed request body
    visa_sent: str | None  # the top-level visa of the request
    visa_issued: str | None  # the visa the answer carried
    error_code: int | None
    error_message: str | None
    account_count: int | None  # accounts in an EnumerateAccountStatistics answer

    @property
    def query(self) -> dict[str, Any]:
        params = self.body.get("params") if isinstance(self.body, dict) else None
        query = params.get("query") if isinstance(params, dict) else None
        return query if isinstance(query, dict) else {}


_SERVER_SOURCES = (1, 2, 10, 11, 4, 14, 8, 6, 15, 7)
_M365_SOURCES = (19, 20, 5, 23)
_STATUS_WEIGHTS = {5: 70, 8: 8, 2: 5, 1: 3, 3: 2, 6: 2, 7: 2, 9: 2, 10: 1, 11: 2, 12: 1, 4: 1, 0: 1}
_CUSTOMER_NAMES = ("Customer", "Café", "Bäckerei", "Müller Holding", "Örebro Office")


_STATUS_POPULATION = list(_STATUS_WEIGHTS)
_STATUS_CUM_WEIGHTS = list(itertools.accumulate(_STATUS_WEIGHTS.values()))


def _weighted_status(rng: random.Random) -> int:
    return rng.choices(_STATUS_POPULATION, cum_weights=_STATUS_CUM_WEIGHTS)[0]


def _colour_bar(rng: random.Random, last_code: int, days_offline: int) -> str:
    digits = rng.choices("55555555558821", k=28)
    for position in range(min(days_offline, 28)):
        digits[27 - position] = "0"
    # One digit per day cannot hold 10-12; such a last day keeps a digit of the generated history.
    if days_offline == 0 and 0 <= last_code <= 9:
        digits[27] = str(last_code)
    return "".join(digits)


def generate_accounts(
    count: int,
    *,
    seed: int = 0,
    root_partner_id: int = DEFAULT_PARTNER_ID,
    reference_at: datetime = DEFAULT_REFERENCE_AT,
    first_account_id: int = 1_000_001,
) -> tuple[list[FakePartner], list[FakeCoveAccount]]:
    """``count`` accounts spread over sub-customers of ``root_partner_id``, the same for the same seed.

    A mix the importer must cope with: servers, workstations and Microsoft 365 tenants; every
    status code 0-12 among the first thirteen accounts, then a weighted mix; some accounts offline
    for days (trailing zero days on the colour bar), some never backed up, some with ``Flags: null``,
    an empty I78, old-style ``"D1,D2"`` I78 values, missing computer names and non-ASCII names.
    """
    rng = random.Random(seed)
    reference_ts = int(reference_at.timestamp())
    customer_count = max(1, min(500, count // 25 or 1))
    partners = [
        FakePartner(
            root_partner_id + 1 + index,
            f"{_CUSTOMER_NAMES[index % len(_CUSTOMER_NAMES)]} {index + 1:03d}",
        )
        for index in range(customer_count)
    ]
    accounts = []
    for index in range(count):
        account_id = first_account_id + index
        partner = partners[rng.randrange(customer_count)]
        roll = rng.random()
        kind = "server" if roll < 0.45 else "workstation" if roll < 0.8 else "m365"
        status = index if index < 13 else _weighted_status(rng)
        days_offline = rng.randint(2, 20) if kind == "workstation" and rng.random() < 0.08 else 0

        settings: dict[str, str] = {"I8": partner.name}
        if kind == "m365":
            sources = [19, *rng.sample([20, 5, 23], rng.randint(0, 3))]
            settings["I1"] = f"m365-{partner.partner_id}-{index:05d}"
        else:
            sources = [1, 2]
            if kind == "server":
                sources += rng.sample(_SERVER_SOURCES[2:], rng.randint(0, 3))
            prefix = "SRV" if kind == "server" else "WS"
            settings["I1"] = f"{prefix.lower()}-{account_id:x}"
            if rng.random() > 0.03:
                settings["I18"] = f"{prefix}-{index:05d}" if index % 97 else f"{prefix}-Bür{index:05d}"
            settings["I32"] = "2" if kind == "server" else "1"
        if index % 211 == 5:
            settings["I78"] = ""
        elif index % 53 == 7:
            settings["I78"] = ",".join(f"D{number}" for number in sources)
        else:
            settings["I78"] = "".join(f"D{number:02d}" for number in sources)

        if status != 0:
            # Nightly at a per-account hour; the last session is the latest such moment before the reference.
            hour = rng.choice((19, 20, 21, 22, 23, 0, 1, 2, 3))
            day_start = reference_at.replace(hour=0, minute=0, second=0, microsecond=0)
            session_at = day_start + timedelta(hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
            while session_at > reference_at:
                session_at -= timedelta(days=1)
            session_at -= timedelta(days=days_offline)
            session_ts = int(session_at.timestamp())
            success_ts = session_ts if status == 5 else session_ts - 86_400 * rng.choice((1, 1, 2, 3, 12))
            settings["D9F0"] = str(status)
            settings["D9F15"] = str(session_ts)
            settings["D9F9"] = str(success_ts)
            settings["D9F6"] = str(rng.randint(1, 40) if status in (2, 8, 9) else 0)
            settings["D9F8"] = _colour_bar(rng, status, days_offline)
            for number in sources:
                if number in (2, 3):
                    continue
                source_status = status if number == sources[0] or rng.random() < 0.5 else 5
                source_session_ts = session_ts - rng.randint(0, 1800)
                settings[f"D{number}F0"] = str(source_status)
                settings[f"D{number}F15"] = str(source_session_ts)
                settings[f"D{number}F9"] = str(
                    source_session_ts if source_status == 5 else success_ts - rng.randint(0, 1800)
                )
                settings[f"D{number}F6"] = str(rng.randint(1, 20) if source_status in (2, 8, 9) else 0)
        else:
            # Never backed up: I78 as configured, no session columns at all.
            settings["D9F8"] = "0" * 28
        settings["I4"] = str(reference_ts - 86_400 * rng.randint(30, 2000))
        settings["I14"] = str(rng.randint(0, 4 * 10**12))
        flags: list[str] | None = None if rng.random() < 0.3 else ["AutoDeployed"] if rng.random() < 0.6 else []
        accounts.append(FakeCoveAccount(account_id, partner.partner_id, flags, settings))
    return partners, accounts


@functools.lru_cache(maxsize=8)
def _generated(
    count: int, seed: int, root_partner_id: int, reference_at: datetime
) -> tuple[list[FakePartner], list[FakeCoveAccount]]:
    # Generating thousands of accounts costs more than copying them, and most tests start the
    # same fake over and over.
    return generate_accounts(count, seed=seed, root_partner_id=root_partner_id, reference_at=reference_at)


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class _FakeHTTPServer(LoopbackHTTPServer):
    def __init__(self, fake: CoveFake) -> None:
        super().__init__(fake, LoopbackHandler)


class _RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data


@dataclass
class _HttpFault:
    status: int
    remaining: int


@dataclass
class _InjectedError:
    code: int
    message: str
    remaining: int
    method: str | None
    data: Any = None
    skip: int = 0  # matching calls answered normally first


@dataclass
class _Answer:
    payload: dict[str, Any]
    account_count: int | None = None


# --------------------------------------------------------------------------------------------
# The fake


class CoveFake(LoopbackFake):
    """Accounts behind a Cove JSON-RPC endpoint, with switches for the failure modes.

    Switches (thread-safe; they affect requests made after the call):

    - :attr:`reject_credentials`: Login answers the refused-credentials error, even for the right ones.
    - :meth:`expire_visas`: every visa issued so far is expired; new ones (from a new Login) work.
    - :meth:`advance_clock`: move the fake's clock, e.g. past the 15 minutes a visa lives.
    - :meth:`fail_next`: the next N requests answer HTTP 5xx (503 by default) with an HTML body.
    - :meth:`slow_next`: the next N requests (or all) wait before answering; ``after`` lets some pass first.
    - :meth:`error_next`: the next N calls (of one method, or any) answer a given JSON-RPC error;
      ``after`` lets that many matching calls succeed first (an error on the second page).
    - :attr:`forbidden_columns`: column codes (any spelling) answered with error 13501, on top of
      the D02/D03 statistics that always are.
    - :attr:`latin1_responses`: answers are encoded as Latin-1 instead of UTF-8.
    """

    def __init__(
        self,
        *,
        accounts: int = 0,
        seed: int = 0,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        partner_name: str = DEFAULT_PARTNER_NAME,
        partner_id: int = DEFAULT_PARTNER_ID,
        reference_at: datetime = DEFAULT_REFERENCE_AT,
        visa_lifetime: float = VISA_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.username = username
        self.password = password
        self.partner_name = partner_name
        self.partner_id = partner_id
        self.reference_at = reference_at
        self.visa_lifetime = visa_lifetime

        self.reject_credentials = False
        self.latin1_responses = False
        self.forbidden_columns: set[str] = set()

        self.calls: list[RecordedCall] = []
        self.server_errors: list[str] = []

        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._clock = clock
        self._clock_offset = 0.0
        self._visas: dict[str, float] = {}  # visa -> issued at (fake clock)
        self._http_faults: list[_HttpFault] = []
        self._errors: list[_InjectedError] = []
        self._delay_seconds = 0.0
        self._delay_remaining: int | None = 0
        self._delay_skip = 0

        partners, generated = _generated(accounts, seed, partner_id, reference_at)
        self._partners: dict[int, FakePartner] = {p.partner_id: p for p in partners}
        # Copies: tests alter accounts, and the generated set is shared between fakes.
        self._accounts: dict[int, FakeCoveAccount] = {
            a.account_id: FakeCoveAccount(
                a.account_id, a.partner_id, None if a.flags is None else list(a.flags), dict(a.settings)
            )
            for a in generated
        }
        self._ordered: list[FakeCoveAccount] | None = None

        self._lifecycle_init()
        self.url = ""

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.url = f"http://127.0.0.1:{self._serve(_FakeHTTPServer(self), 'cove-fake', poll_interval=0.01)}{PATH}"

    def client_settings(self) -> dict[str, str]:
        """The plain values a Cove client needs to talk to this fake."""
        return {"api_url": self.url, "username": self.username, "password": self.password}

    # ---- switches ---------------------------------------------------------------------------

    def expire_visas(self) -> None:
        with self._lock:
            self._visas.clear()

    def advance_clock(self, seconds: float) -> None:
        with self._lock:
            self._clock_offset += seconds

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._http_faults.append(_HttpFault(status, count))

    def slow_next(self, seconds: float, count: int | None = None, *, after: int = 0) -> None:
        """Delay the next ``count`` answers (``None``: all of them) by ``seconds``, after ``after`` prompt ones."""
        with self._lock:
            self._delay_seconds = seconds
            self._delay_remaining = count
            self._delay_skip = after

    def error_next(
        self, code: int, message: str, *, count: int = 1, method: str | None = None, data: Any = None,
        after: int = 0,
    ) -> None:
        with self._lock:
            self._errors.append(_InjectedError(code, message, count, method, data, after))

    def clear_log(self) -> None:
        with self._lock:
            self.calls.clear()

    def calls_of(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    # ---- accounts ---------------------------------------------------------------------------

    @property
    def partners(self) -> list[FakePartner]:
        with self._lock:
            return list(self._partners.values())

    def accounts(self) -> list[FakeCoveAccount]:
        """Every account, in the order enumeration returns them (by account id)."""
        with self._lock:
            return list(self._sorted())

    def account(self, account_id: int) -> FakeCoveAccount:
        with self._lock:
            return self._accounts[account_id]

    def add_partner(self, name: str) -> FakePartner:
        with self._lock:
            partner = FakePartner(max([self.partner_id, *self._partners]) + 1, name)
            self._partners[partner.partner_id] = partner
            return partner

    def add_account(
        self,
        settings: Mapping[str, str | int],
        *,
        account_id: int | None = None,
        partner_id: int | None = None,
        flags: list[str] | None = None,
    ) -> FakeCoveAccount:
        """Add an account with exactly these columns (any spelling; values are stringified)."""
        with self._lock:
            if account_id is None:
                account_id = max(self._accounts, default=1_000_000) + 1
            if account_id in self._accounts:
                raise ValueError(f"account {account_id} exists")
            if partner_id is None:
                partner_id = next(iter(self._partners), self.partner_id)
            account = FakeCoveAccount(account_id, partner_id, flags, {})
            for code, value in settings.items():
                account.set(code, value)
            self._accounts[account_id] = account
            self._ordered = None
            return account

    def remove_account(self, account_id: int) -> None:
        with self._lock:
            del self._accounts[account_id]
            self._ordered = None

    def set_column(self, account_id: int, code: str, value: str | int | None) -> None:
        """Set (or with None remove) one column of an account."""
        with self._lock:
            self._accounts[account_id].set(code, value)

    def advance_session(
        self,
        account_id: int,
        *,
        status: int = 5,
        at: datetime | None = None,
        datasource_statuses: Mapping[int, int] | None = None,
    ) -> datetime:
        """Record a new last session for an account, as Cove would after the next backup.

        The session time defaults to one day after the previous one. Data sources take the same
        status unless ``datasource_statuses`` ({data source number: status}) says otherwise. The
        colour bar moves on by the days that passed. Returns the new session time.
        """
        with self._lock:
            account = self._accounts[account_id]
            previous = account.get("D9F15")
            if at is None:
                base = (
                    datetime.fromtimestamp(int(previous), tz=UTC)
                    if previous
                    else self.reference_at.replace(minute=0, second=0, microsecond=0)
                )
                at = base + timedelta(days=1)
            session_ts = int(at.timestamp())
            account.set("D9F0", status)
            account.set("D9F15", session_ts)
            if status == 5:
                account.set("D9F9", session_ts)
            days_passed = 1
            if previous:
                days_passed = max(1, (at.date() - datetime.fromtimestamp(int(previous), tz=UTC).date()).days)
            bar = (account.get("D9F8") or "0" * 28) + "0" * (days_passed - 1) + (str(status) if status <= 9 else "0")
            account.set("D9F8", bar[-28:])
            numbers = {
                int(match.group(1))
                for code in account.settings
                if (match := _STAT_CODE.fullmatch(code)) and int(match.group(1)) != 9
            }
            for number in sorted(numbers | set(datasource_statuses or {})):
                source_status = (datasource_statuses or {}).get(number, status)
                account.set(f"D{number}F0", source_status)
                account.set(f"D{number}F15", session_ts)
                if source_status == 5:
                    account.set(f"D{number}F9", session_ts)
            return at

    # ---- internals: state -------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock() + self._clock_offset

    def _sorted(self) -> list[FakeCoveAccount]:
        if self._ordered is None:
            self._ordered = sorted(self._accounts.values(), key=lambda account: account.account_id)
        return self._ordered

    def _issue_visa(self) -> str:
        visa = secrets.token_urlsafe(24)
        self._visas[visa] = self._now()
        return visa

    def _visa_valid(self, visa: Any) -> bool:
        if not isinstance(visa, str):
            return False
        issued = self._visas.get(visa)
        return issued is not None and self._now() - issued <= self.visa_lifetime

    def _take_http_fault(self) -> _HttpFault | None:
        with self._lock:
            for fault in self._http_faults:
                if fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
            return None

    def _take_error(self, method: str) -> _InjectedError | None:
        with self._lock:
            for error in self._errors:
                if error.remaining > 0 and error.method in (None, method):
                    if error.skip > 0:
                        error.skip -= 1
                        continue
                    error.remaining -= 1
                    return error
            return None

    def _take_delay(self) -> float:
        with self._lock:
            if self._delay_seconds <= 0:
                return 0.0
            if self._delay_skip > 0:
                self._delay_skip -= 1
                return 0.0
            if self._delay_remaining is None:
                return self._delay_seconds
            if self._delay_remaining <= 0:
                return 0.0
            self._delay_remaining -= 1
            return self._delay_seconds

    # ---- internals: HTTP --------------------------------------------------------------------

    def _handle(self, handler: LoopbackHandler, http_method: str) -> None:
        if http_method != "POST":  # JSON-RPC is POST only
            send_answer(handler, 405, b"Method Not Allowed", "text/plain")
            return
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        delay = self._take_delay()
        if delay:
            self._stop.wait(delay)

        body: Any = None
        with contextlib.suppress(UnicodeDecodeError, ValueError):
            body = json.loads(raw.decode("utf-8"))
        method: str | None = body.get("method") if isinstance(body, dict) else None
        method = method if isinstance(method, str) else None

        fault = self._take_http_fault()
        if handler.path.split("?", 1)[0] != PATH:
            self._record(404, method, body, None, None)
            send_answer(handler, 404, b"<html><body>404 Not Found</body></html>", "text/html")
            return
        if fault is not None:
            # What a load balancer in front of the API sends: HTML, not JSON-RPC.
            self._record(fault.status, method, body, None, None)
            page = f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>".encode()
            send_answer(handler, fault.status, page, "text/html")
            return

        request_id: Any = None
        answer: _Answer
        try:
            if body is None:
                raise _RpcError(PARSE_ERROR_CODE, "Parse error")
            if not isinstance(body, dict):
                raise _RpcError(INVALID_REQUEST_CODE, "Invalid request")
            request_id = body.get("id")
            if body.get("jsonrpc") != "2.0" or method is None:
                raise _RpcError(INVALID_REQUEST_CODE, "Invalid request")
            answer = self._dispatch(method, body)
        except _RpcError as problem:
            error = {"code": problem.code, "message": problem.message, "data": problem.data}
            answer = _Answer({"error": error})
        except Exception:
            self.server_errors.append(traceback.format_exc())
            answer = _Answer({"error": {"code": -32603, "message": "The fake Cove server failed", "data": None}})

        payload = {"id": request_id, "jsonrpc": "2.0", **answer.payload}
        error = payload.get("error")
        self._record(
            200,
            method,
            body,
            payload.get("visa"),
            error,
            answer.account_count,
        )
        encoded = json.dumps(payload, ensure_ascii=False)
        data = encoded.encode("latin-1", errors="replace") if self.latin1_responses else encoded.encode("utf-8")
        charset = "ISO-8859-1" if self.latin1_responses else "utf-8"
        send_answer(handler, 200, data, f"application/json; charset={charset}")

    def _record(
        self,
        status: int,
        method: str | None,
        body: Any,
        visa_issued: Any,
        error: Any,
        account_count: int | None = None,
    ) -> None:
        visa_sent = body.get("visa") if isinstance(body, dict) else None
        with self._lock:
            self.calls.append(
                RecordedCall(
                    http_status=status,
                    method=method,
                    body=body,
                    visa_sent=visa_sent if isinstance(visa_sent, str) else None,
                    visa_issued=visa_issued,
                    error_code=error.get("code") if isinstance(error, dict) else None,
                    error_message=error.get("message") if isinstance(error, dict) else None,
                    account_count=account_count,
                )
            )

    # ---- internals: methods -----------------------------------------------------------------

    def _dispatch(self, method: str, body: dict[str, Any]) -> _Answer:
        params = body.get("params")
        if method == "Login":
            return self._login(params)
        if method != "EnumerateAccountStatistics":
            raise _RpcError(METHOD_NOT_FOUND_CODE, f"Method not found: {method}")
        with self._lock:
            if not self._visa_valid(body.get("visa")):
                raise _RpcError(VISA_ERROR_CODE, "Visa is expired or invalid. Please log in again.")
            injected = self._take_error(method)
            if injected is not None:
                raise _RpcError(injected.code, injected.message, injected.data)
            result, count = self._enumerate(params)
            return _Answer({"result": {"result": result}, "visa": self._issue_visa()}, account_count=count)

    def _login(self, params: Any) -> _Answer:
        if not isinstance(params, dict):
            raise _RpcError(INVALID_PARAMS_CODE, "Invalid params: params must be an object")
        unknown = sorted(set(params) - _LOGIN_KEYS)
        if unknown:
            raise _RpcError(INVALID_PARAMS_CODE, f"Invalid params: unknown parameter {unknown[0]!r}")
        for name in ("username", "password"):
            if not isinstance(params.get(name), str):
                raise _RpcError(INVALID_PARAMS_CODE, f"Invalid params: missing parameter {name!r}")
        with self._lock:
            injected = self._take_error("Login")
            if injected is not None:
                raise _RpcError(injected.code, injected.message, injected.data)
            refused = (
                self.reject_credentials
                or params["username"] != self.username
                or params["password"] != self.password
                or ("partner" in params and params["partner"] != self.partner_name)
            )
            if refused:
                raise _RpcError(LOGIN_ERROR_CODE, "Unknown partner/username or bad password", LOGIN_ERROR_DATA)
            now = int(self.reference_at.timestamp())
            user = {
                "EmailAddress": self.username,
                "FirstLoginTime": now - 86_400 * 400,
                "FirstName": "API",
                "Flags": ["SecurityOfficer", "NonInteractive"],
                "FullName": "User",
                "Id": 50193,
                "LastLoginTime": now,
                "Name": self.username,
                "PartnerId": self.partner_id,
                "Password": None,
                "PhoneNumber": "",
                "RoleId": 1,
                "Title": "",
                "TwoFactorAuthenticationStatus": "Disabled",
            }
            return _Answer({"result": {"result": user}, "visa": self._issue_visa()})

    def _enumerate(self, params: Any) -> tuple[list[dict[str, Any]], int]:
        if not isinstance(params, dict) or set(params) != {"query"}:
            found = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise _RpcError(INVALID_PARAMS_CODE, f"Invalid params: expected exactly 'query', got {found}")
        query = params["query"]
        if not isinstance(query, dict):
            raise _RpcError(INVALID_PARAMS_CODE, "Invalid params: query must be an object")
        unknown = sorted(set(query) - _QUERY_KEYS)
        if unknown:
            raise _RpcError(INVALID_PARAMS_CODE, f"Invalid params: unknown query field {unknown[0]!r}")
        for name in _REQUIRED_QUERY_KEYS:
            if name not in query:
                raise _RpcError(INVALID_PARAMS_CODE, f"Invalid params: missing query field {name!r}")
        for name in ("PartnerId", "StartRecordNumber", "RecordsCount"):
            value = query[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _RpcError(INVALID_PARAMS_CODE, f"Invalid params: {name} must be a non-negative integer")
        columns = query["Columns"]
        if not isinstance(columns, list) or not all(isinstance(code, str) for code in columns):
            raise _RpcError(INVALID_PARAMS_CODE, "Invalid params: Columns must be an array of strings")
        for name in ("Filter", "OrderBy"):
            if query.get(name):
                raise _RpcError(INVALID_PARAMS_CODE, f"Invalid params: the fake does not evaluate {name}")
        if query.get("Totals"):
            raise _RpcError(INVALID_PARAMS_CODE, "Invalid params: the fake does not compute Totals")
        if "SelectionMode" in query and query["SelectionMode"] not in _SELECTION_MODES:
            raise _RpcError(INVALID_PARAMS_CODE, "Invalid params: unknown SelectionMode")

        forbidden = {canonical_column(code) for code in self.forbidden_columns}
        wanted = [(code, canonical_column(code)) for code in columns]
        for _code, canonical in wanted:
            if _FORBIDDEN_STAT.fullmatch(canonical) or canonical in forbidden:
                raise _RpcError(SECURITY_ERROR_CODE, "Operation failed because of security reasons (error 13501)")

        partner_id = query["PartnerId"]
        if partner_id == self.partner_id:
            allowed = None
        elif partner_id in self._partners:
            allowed = {partner_id}
        else:
            raise _RpcError(SECURITY_ERROR_CODE, "Operation failed because of security reasons (error 13501)")
        excluded = set(query.get("ExcludedPartners") or [])
        selected = [
            account
            for account in self._sorted()
            if (allowed is None or account.partner_id in allowed) and account.partner_id not in excluded
        ]
        start, count = query["StartRecordNumber"], query["RecordsCount"]
        page = selected[start : start + count]
        result = []
        for account in page:
            # Alphabetical keys, as Cove lists them; spelled as requested; no value, no entry.
            values = {code: account.settings[canonical] for code, canonical in wanted if canonical in account.settings}
            result.append(
                {
                    "AccountId": account.account_id,
                    "Flags": list(account.flags) if account.flags is not None else None,
                    "PartnerId": account.partner_id,
                    "Settings": [{code: values[code]} for code in sorted(values)],
                }
            )
        return result, len(result)


@contextlib.contextmanager
def running_cove_fake(accounts: int = 0, seed: int = 0, **options: Any) -> Iterator[CoveFake]:
    """Start a :class:`CoveFake` with ``accounts`` generated accounts on a loopback port; stop it after.

    ``options`` go to :class:`CoveFake` (username, password, partner_name, partner_id,
    reference_at, visa_lifetime, clock). A bug inside the fake fails the test at exit.
    """
    fake = CoveFake(accounts=accounts, seed=seed, **options)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    if fake.server_errors:
        raise AssertionError("the fake Cove server failed:\n" + "\n".join(fake.server_errors))
