"""Helpers every API client needs when talking HTTP with requests."""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds (Graph sends fractions) or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def connection_reason(exc: requests.RequestException) -> str:
    """The useful part of a requests connection error, without urllib3's pool and object reprs."""
    reason: Any = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the real error
    text = str(reason)
    # urllib3 prefixes "<urllib3.connection.HTTPSConnection object at 0x...>: ".
    return text.split(">: ", 1)[-1] if text.startswith("<") else text


@dataclass(frozen=True)
class ConnectionStep:
    """One step of a "Test connection" (token, mailbox, folder, ...), shown as a line in the UI."""

    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class ConnectionReport:
    steps: tuple[ConnectionStep, ...]

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)
