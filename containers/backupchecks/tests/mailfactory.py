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


def simple_mail(subject: str = "Backup report", *, sender: str = "reports@example.com", html: str | None = None,
                text: str = "See the attached report.", message_id: str = "<simple-1@example.com>",
                attachment: tuple[str, str, bytes] | None = None) -> bytes:
    """A small mail built with the stdlib: text (+ HTML) and an optional (name, type, bytes) attachment."""
    from email.message import EmailMessage
    from email.utils import format_datetime as _fmt

    message = EmailMessage()
    message["From"] = sender
    message["To"] = "backups@example.com"
    message["Subject"] = subject
    message["Date"] = _fmt(datetime(2026, 11, 24, 22, 5, 0).astimezone())
    message["Message-ID"] = message_id
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if attachment is not None:
        name, content_type, data = attachment
        maintype, subtype = content_type.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()
