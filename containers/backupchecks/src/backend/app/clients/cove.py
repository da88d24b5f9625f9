"""Thin client for N-able Cove Data Protection's JSON-RPC management API (Login, EnumerateAccountStatistics).

The wire format is described in shared/protocols/cove-jsonrpc.md. In short:

- One URL for every method; the method and its parameters travel in a JSON-RPC 2.0 body, and
  their names are case-sensitive (``params.username``, ``params.query.PartnerId``).
- ``Login`` answers with the visa as a top-level member beside ``result``, and the user (with its
  ``PartnerId``) at ``result.result``. Every later call carries the visa as a top-level member,
  and every answer brings a new one, which replaces the old.
- Errors arrive with HTTP 200 as a JSON-RPC ``error`` object. Which code means "visa expired" is
  not documented, so any error on a call other than Login is answered by logging in again and
  repeating the call once; an error that survives that is surfaced as :class:`CoveError`.
- ``EnumerateAccountStatistics`` pages by offset (``StartRecordNumber``) with no cursor; a page
  shorter than ``RecordsCount`` is the last one.

A client keeps its visa between calls, so one instance serves one thread.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from .http import connection_reason

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.backup.management/jsonapi"
PAGE_SIZE = 250

_RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
_REQUEST_ID = "jsonrpc"


class CoveError(Exception):
    """A Cove call failed. ``str()`` reads like "Cove EnumerateAccountStatistics error 13501: Operation failed ..."."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        code: int | str | None = None,
        data: Any = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.code = code  # the JSON-RPC error code, when Cove sent an error object
        self.data = data
        self.status = status  # the HTTP status, when the failure was at the HTTP level

    def __str__(self) -> str:
        label = " ".join(
            part
            for part in (
                self.method or "",
                f"error {self.code}" if self.code is not None else "",
                f"HTTP {self.status}" if self.status is not None and self.code is None else "",
            )
            if part
        )
        return f"Cove {label}: {self.message}" if label else f"Cove: {self.message}"


class CoveAuthError(CoveError):
    """Login was refused (wrong username or password, locked or disabled user) or gave no visa."""


@dataclass(frozen=True)
class CoveAccountStats:
    """One device (account) of EnumerateAccountStatistics, with its settings flattened.

    ``settings`` maps each column code, spelled as requested, to Cove's string value; columns
    without a value are absent, as Cove omits them.
    """

    account_id: int
    partner_id: int | None
    flags: tuple[str, ...]
    settings: dict[str, str] = field(hash=False)


def flatten_settings(items: Any) -> dict[str, str]:
    """Cove's ``Settings`` list of single-key objects as one dict.

    Values are strings on the wire; anything else is stringified so readers see one type, and
    nulls are dropped like the columns Cove omits.
    """
    settings: dict[str, str] = {}
    if not isinstance(items, list):
        return settings
    for item in items:
        if not isinstance(item, dict):
            continue
        for code, value in item.items():
            if value is not None:
                settings[str(code)] = value if isinstance(value, str) else str(value)
    return settings


def _account_from_json(item: Mapping[str, Any]) -> CoveAccountStats | None:
    try:
        account_id = int(item["AccountId"])
    except (KeyError, TypeError, ValueError):
        return None
    try:
        partner_id: int | None = int(item["PartnerId"])
    except (KeyError, TypeError, ValueError):
        partner_id = None
    flags = item.get("Flags")
    return CoveAccountStats(
        account_id=account_id,
        partner_id=partner_id,
        flags=tuple(str(flag) for flag in flags) if isinstance(flags, list) else (),
        settings=flatten_settings(item.get("Settings")),
    )


def _decode_body(response: requests.Response) -> Any:
    """The JSON of an answer. Some Cove deployments send Latin-1 bytes; those decode as Latin-1."""
    raw = response.content
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return json.loads(text)




def _excerpt(response: requests.Response) -> str:
    text = " ".join(response.content[:400].decode("utf-8", errors="replace").split())
    return text[:200] or response.reason or "no details given"


class CoveClient:
    """Logs in to Cove and lists account statistics, keeping the visa chain alive."""

    def __init__(
        self,
        *,
        api_url: str = DEFAULT_API_URL,
        username: str,
        password: str,
        session: requests.Session,
        partner: str | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 4,
        backoff_base: float = 1.0,
        max_retry_wait: float = 30.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.api_url = api_url.strip()
        self.username = username.strip()
        self._password = password
        # Documented as required for interactive users; API users log in with username and password only.
        self.partner = (partner or "").strip() or None
        self._session = session
        self._timeout = timeout
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._max_retry_wait = max_retry_wait
        self._visa: str | None = None
        self.partner_id: int | None = None

    def __repr__(self) -> str:
        # Deliberately without the password or visa, so a logged client leaks nothing.
        return f"CoveClient(api_url={self.api_url!r}, username={self.username!r})"

    # ---- transport --------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        return min(self._max_retry_wait, self._backoff_base * 2 ** (attempt - 1))

    def _post(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST one JSON-RPC body with retries for transport faults; return the decoded answer.

        Retrying is safe: Login and EnumerateAccountStatistics change nothing on Cove's side.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._session.post(
                    self.api_url,
                    json=body,
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                )
            except requests.exceptions.SSLError as exc:
                # A certificate problem does not go away by retrying.
                raise CoveError(f"TLS verification failed: {exc}", method=method) from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self._max_attempts:
                    detail = (
                        f"no answer within {self._timeout:g} s"
                        if isinstance(exc, requests.Timeout)
                        else f"cannot connect to {self.api_url}: {connection_reason(exc)}"
                    )
                    raise CoveError(f"{detail} (gave up after {attempt} attempts)", method=method) from exc
                wait = self._backoff(attempt)
                log.warning("Cove %s failed (%s); retrying in %.2f s", method, exc, wait)
                self._sleep(wait)
                continue
            except requests.RequestException as exc:
                raise CoveError(str(exc), method=method) from exc

            if response.status_code in _RETRYABLE_STATUSES and attempt < self._max_attempts:
                wait = self._backoff(attempt)
                log.info("Cove %s answered HTTP %s; retrying in %.2f s", method, response.status_code, wait)
                self._sleep(wait)
                continue
            if response.status_code != 200:
                suffix = f" (gave up after {attempt} attempts)" if response.status_code in _RETRYABLE_STATUSES else ""
                raise CoveError(_excerpt(response) + suffix, method=method, status=response.status_code)
            try:
                payload = _decode_body(response)
            except ValueError as exc:
                raise CoveError(
                    f"expected JSON, got {response.headers.get('Content-Type')!r}: {_excerpt(response)}",
                    method=method,
                    status=response.status_code,
                ) from exc
            if not isinstance(payload, dict):
                raise CoveError("expected a JSON object", method=method, status=response.status_code)
            return payload

    @staticmethod
    def _error_from(method: str, payload: Mapping[str, Any], error_class: type[CoveError] = CoveError) -> CoveError:
        error = payload.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            message = str(error.get("message") or "no message given")
            return error_class(message, method=method, code=code, data=error.get("data"))
        return error_class(str(error), method=method)

    def _take_visa(self, payload: Mapping[str, Any]) -> None:
        # Every answer carries the next visa at the top level; keeping the newest keeps the chain alive.
        visa = payload.get("visa")
        if isinstance(visa, str) and visa:
            self._visa = visa

    # ---- calls ------------------------------------------------------------------------------

    def login(self) -> int:
        """Log in, keep the visa, and return the partner id the user belongs to."""
        if not self.username or not self._password:
            raise CoveAuthError("No username or password configured.", method="Login")
        params: dict[str, str] = {"username": self.username, "password": self._password}
        if self.partner:
            params["partner"] = self.partner
        body = {"jsonrpc": "2.0", "id": _REQUEST_ID, "method": "Login", "params": params}
        payload = self._post("Login", body)
        if payload.get("error") is not None:
            # N-able's own scripts treat a Login answer without a visa as refused credentials.
            raise self._error_from("Login", payload, CoveAuthError)
        visa = payload.get("visa")
        if not isinstance(visa, str) or not visa:
            raise CoveAuthError("Login answered without a visa.", method="Login")
        outer = payload.get("result")
        user = outer.get("result") if isinstance(outer, dict) else None
        try:
            partner_id = int(user["PartnerId"]) if isinstance(user, dict) else None
        except (KeyError, TypeError, ValueError):
            partner_id = None
        if partner_id is None:
            raise CoveError("Login answered without a PartnerId.", method="Login")
        self._visa = visa
        self.partner_id = partner_id
        return partner_id

    def call(self, method: str, params: Mapping[str, Any]) -> Any:
        """Call a visa-carrying method and return its ``result.result``.

        An error answer is taken for an expired visa the first time (the code for that is not
        documented): log in again and repeat the call once. A second error is the real one.
        """
        if self._visa is None:
            self.login()
        logged_in_again = False
        while True:
            body = {"jsonrpc": "2.0", "id": _REQUEST_ID, "visa": self._visa, "method": method, "params": params}
            payload = self._post(method, body)
            self._take_visa(payload)
            if payload.get("error") is None:
                break
            error = self._error_from(method, payload)
            if logged_in_again:
                raise error
            log.info("Cove %s answered %s; logging in again and retrying once", method, error)
            logged_in_again = True
            self.login()
        outer = payload.get("result")
        if not isinstance(outer, dict) or "result" not in outer:
            raise CoveError("answer has no result.result", method=method)
        return outer["result"]

    def enumerate_account_statistics(
        self,
        columns: Sequence[str],
        *,
        partner_id: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[CoveAccountStats]:
        """Every account under the partner (the login's own by default), one page at a time.

        Columns are passed through as spelled; Cove answers in the same spelling. The requests
        start on the first ``next()``.
        """
        wanted = [str(code).strip() for code in columns if str(code).strip()]
        if not wanted:
            raise ValueError("at least one column is needed")
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        return self._iter_accounts(wanted, partner_id, page_size)

    def _iter_accounts(self, columns: list[str], partner_id: int | None, page_size: int) -> Iterator[CoveAccountStats]:
        if partner_id is None:
            partner_id = self.partner_id if self.partner_id is not None else self.login()
        # Offset paging over a list that can change between pages repeats an account when one is
        # added before it; the import must see each account once.
        seen: set[int] = set()
        start = 0
        while True:
            query = {
                "PartnerId": partner_id,
                "StartRecordNumber": start,
                "RecordsCount": page_size,
                "Columns": columns,
            }
            items = self.call("EnumerateAccountStatistics", {"query": query})
            if not isinstance(items, list):
                raise CoveError("result.result is not a list of accounts", method="EnumerateAccountStatistics")
            for item in items:
                account = _account_from_json(item) if isinstance(item, dict) else None
                if account is None:
                    log.warning("Cove returned an account without a usable AccountId; skipped")
                    continue
                if account.account_id in seen:
                    continue
                seen.add(account.account_id)
                yield account
            if len(items) < page_size:
                return
            start += page_size

    def test_connection(self) -> tuple[bool, int | None, str]:
        """Log in and report ``(ok, partner_id, message)`` for the settings page; never raises."""
        try:
            partner_id = self.login()
        except CoveError as exc:
            return False, None, str(exc)
        except Exception as exc:
            # The settings page must show a message, not a server error, whatever went wrong.
            log.exception("Cove connection test failed unexpectedly")
            return False, None, f"Unexpected error: {exc}"
        return True, partner_id, f"Logged in as {self.username}; partner id {partner_id}."
