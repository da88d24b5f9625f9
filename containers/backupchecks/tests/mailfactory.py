"""Test mails: real fixture .eml files, with a new Message-ID/Date when a test needs copies."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "mails"


def fixture_mail(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def variant(raw: bytes, message_id: str, date_at: datetime | None = None) -> bytes:
    """The same mail with another Message-ID (and Date), as the next night's mail would be."""
    raw = re.sub(rb"(?im)^Message-ID:.*$", f"Message-ID: {message_id}".encode(), raw, count=1)
    if date_at is not None:
        raw = re.sub(rb"(?im)^Date:.*$", f"Date: {format_datetime(date_at)}".encode(), raw, count=1)
    return raw
